"""reference data: Jakarta places, waste categories, default prices, sample waste bank

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

from storage.reference import load_reference_data

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    load_reference_data(op.get_bind())


def downgrade() -> None:
    pass
