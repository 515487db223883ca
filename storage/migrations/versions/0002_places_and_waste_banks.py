"""places, waste banks, accounts, ledger and waste reports

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kota',
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_kota'))
    )
    op.create_table('waste_bank',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('contact', sa.String(length=200), nullable=True),
    sa.Column('is_sample', sa.Boolean(), nullable=False),
    sa.Column('weighing_weekday', sa.Integer(), nullable=True),
    sa.Column('weighing_time', sa.Time(), nullable=True),
    sa.Column('weighing_minutes', sa.Integer(), nullable=False),
    sa.Column('next_member_number', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waste_bank'))
    )
    op.create_table('waste_category',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('group', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_waste_category'))
    )
    op.create_table('kecamatan',
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('kota_code', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['kota_code'], ['kota.code'], name=op.f('fk_kecamatan_kota_code_kota')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_kecamatan'))
    )
    with op.batch_alter_table('kecamatan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kecamatan_kota_code'), ['kota_code'], unique=False)

    op.create_table('price',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bank_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('category_code', sa.String(length=32), nullable=False),
    sa.Column('rupiah_per_kg', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['waste_bank.id'], name=op.f('fk_price_bank_id_waste_bank'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['category_code'], ['waste_category.code'], name=op.f('fk_price_category_code_waste_category')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price')),
    sa.UniqueConstraint('bank_id', 'category_code', 'effective_from', name='uq_price_bank_category_date')
    )
    with op.batch_alter_table('price', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_bank_id'), ['bank_id'], unique=False)

    op.create_table('kelurahan',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('kecamatan_code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['kecamatan_code'], ['kecamatan.code'], name=op.f('fk_kelurahan_kecamatan_code_kecamatan')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_kelurahan'))
    )
    with op.batch_alter_table('kelurahan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kelurahan_kecamatan_code'), ['kecamatan_code'], unique=False)

    op.create_table('rw',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kelurahan_code', sa.String(length=16), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['kelurahan_code'], ['kelurahan.code'], name=op.f('fk_rw_kelurahan_code_kelurahan')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rw')),
    sa.UniqueConstraint('kelurahan_code', 'number', name='uq_rw_kelurahan_number')
    )
    op.create_table('waste_bank_rw',
    sa.Column('rw_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bank_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['waste_bank.id'], name=op.f('fk_waste_bank_rw_bank_id_waste_bank'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rw_id'], ['rw.id'], name=op.f('fk_waste_bank_rw_rw_id_rw')),
    sa.PrimaryKeyConstraint('rw_id', name=op.f('pk_waste_bank_rw'))
    )
    with op.batch_alter_table('waste_bank_rw', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_waste_bank_rw_bank_id'), ['bank_id'], unique=False)

    op.create_table('account',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('bank_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_number', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['waste_bank.id'], name=op.f('fk_account_bank_id_waste_bank')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_account_person_id_person'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account')),
    sa.UniqueConstraint('bank_id', 'member_number', name='uq_account_bank_member'),
    sa.UniqueConstraint('person_id', 'bank_id', name='uq_account_person_bank')
    )
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_person_id'), ['person_id'], unique=False)

    op.create_table('waste_report',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('rw_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bank_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('photo', sa.String(length=200), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['waste_bank.id'], name=op.f('fk_waste_report_bank_id_waste_bank')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_waste_report_person_id_person'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rw_id'], ['rw.id'], name=op.f('fk_waste_report_rw_id_rw')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waste_report'))
    )
    with op.batch_alter_table('waste_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_waste_report_bank_id'), ['bank_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_waste_report_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_waste_report_reported_at'), ['reported_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_waste_report_rw_id'), ['rw_id'], unique=False)

    op.create_table('ledger_entry',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('report_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reverses_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_ledger_entry_account_id_account')),
    sa.ForeignKeyConstraint(['report_id'], ['waste_report.id'], name=op.f('fk_ledger_entry_report_id_waste_report')),
    sa.ForeignKeyConstraint(['reverses_id'], ['ledger_entry.id'], name=op.f('fk_ledger_entry_reverses_id_ledger_entry')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entry'))
    )
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entry_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entry_report_id'), ['report_id'], unique=False)

    op.create_table('waste_report_item',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('report_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('category_code', sa.String(length=32), nullable=False),
    sa.Column('grams', sa.Integer(), nullable=False),
    sa.Column('rupiah_per_kg', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_code'], ['waste_category.code'], name=op.f('fk_waste_report_item_category_code_waste_category')),
    sa.ForeignKeyConstraint(['report_id'], ['waste_report.id'], name=op.f('fk_waste_report_item_report_id_waste_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waste_report_item'))
    )
    with op.batch_alter_table('waste_report_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_waste_report_item_report_id'), ['report_id'], unique=False)

    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rw_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index(batch_op.f('ix_person_rw_id'), ['rw_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_person_rw_id_rw'), 'rw', ['rw_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_person_rw_id_rw'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_person_rw_id'))
        batch_op.drop_column('rw_id')

    with op.batch_alter_table('waste_report_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_waste_report_item_report_id'))

    op.drop_table('waste_report_item')
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entry_report_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entry_account_id'))

    op.drop_table('ledger_entry')
    with op.batch_alter_table('waste_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_waste_report_rw_id'))
        batch_op.drop_index(batch_op.f('ix_waste_report_reported_at'))
        batch_op.drop_index(batch_op.f('ix_waste_report_person_id'))
        batch_op.drop_index(batch_op.f('ix_waste_report_bank_id'))

    op.drop_table('waste_report')
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_person_id'))

    op.drop_table('account')
    with op.batch_alter_table('waste_bank_rw', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_waste_bank_rw_bank_id'))

    op.drop_table('waste_bank_rw')
    op.drop_table('rw')
    with op.batch_alter_table('kelurahan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kelurahan_kecamatan_code'))

    op.drop_table('kelurahan')
    with op.batch_alter_table('price', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_bank_id'))

    op.drop_table('price')
    with op.batch_alter_table('kecamatan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kecamatan_kota_code'))

    op.drop_table('kecamatan')
    op.drop_table('waste_category')
    op.drop_table('waste_bank')
    op.drop_table('kota')
