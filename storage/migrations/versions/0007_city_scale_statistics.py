"""city scale statistics: monthly rollups kept current by triggers, registered residents by index

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

The rollups hold, per Jakarta month (its first day), the verified grams per RW and category, who
reported in which RW, how many people reported per RW, and who reported in more than one RW (moved).
Triggers on waste_report and waste_report_item (and on the reporters rollup, for the last two) keep
them equal to what the reports say after every insert, update or delete (a status change, corrected
weights, an erased or joined person), on PostgreSQL and SQLite alike; storage/stats.py sums whole
months from them and reads only the rest of a range from the reports. The upgrade fills them from the
existing reports (refresh_stats_rollups() on PostgreSQL: also for a bulk load with triggers off).
A partial index on person (rw_id) where consent was given counts registered residents without the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# PostgreSQL: one function per table, and the refresh that fills the rollups from the reports (this
# upgrade, or after a bulk load with triggers off). Whatever is changed is taken away under its old
# keys and added under its new ones, categories in order (so concurrent writers lock rows alike).
POSTGRES_FUNCTIONS = [
    """CREATE FUNCTION stats_month(at timestamptz) RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE
       AS $$ SELECT date_trunc('month', at AT TIME ZONE 'Asia/Jakarta')::date $$""",
    """CREATE FUNCTION stats_count_items(report bigint, report_month date, rw bigint, sign integer) RETURNS void
       LANGUAGE sql AS $$
         INSERT INTO stats_verified_monthly AS s (month, rw_id, category_code, grams, items)
         SELECT report_month, rw, i.category_code, sign * sum(i.grams), sign * count(*)
         FROM waste_report_item i WHERE i.report_id = report GROUP BY i.category_code ORDER BY i.category_code
         ON CONFLICT (month, rw_id, category_code)
         DO UPDATE SET grams = s.grams + excluded.grams, items = s.items + excluded.items;
         DELETE FROM stats_verified_monthly WHERE month = report_month AND rw_id = rw AND items = 0;
       $$""",
    """CREATE FUNCTION stats_count_item(item_month date, rw bigint, category text, item_grams bigint, sign integer)
       RETURNS void LANGUAGE sql AS $$
         INSERT INTO stats_verified_monthly AS s (month, rw_id, category_code, grams, items)
         VALUES (item_month, rw, category, sign * item_grams, sign)
         ON CONFLICT (month, rw_id, category_code)
         DO UPDATE SET grams = s.grams + excluded.grams, items = s.items + excluded.items;
         DELETE FROM stats_verified_monthly
         WHERE month = item_month AND rw_id = rw AND category_code = category AND items = 0;
       $$""",
    """CREATE FUNCTION stats_count_reporter(report_month date, rw bigint, person bigint, sign integer) RETURNS void
       LANGUAGE sql AS $$
         INSERT INTO stats_reporters_monthly AS s (month, rw_id, person_id, reports)
         VALUES (report_month, rw, person, sign)
         ON CONFLICT (month, rw_id, person_id) DO UPDATE SET reports = s.reports + excluded.reports;
         DELETE FROM stats_reporters_monthly
         WHERE month = report_month AND rw_id = rw AND person_id = person AND reports = 0;
       $$""",
    """CREATE FUNCTION stats_report_changed() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status
            AND NEW.person_id IS NOT DISTINCT FROM OLD.person_id AND NEW.rw_id = OLD.rw_id
            AND NEW.reported_at = OLD.reported_at THEN
           RETURN NULL;
         END IF;
         IF TG_OP IN ('UPDATE', 'DELETE') THEN
           IF OLD.status = 'verified' THEN
             PERFORM stats_count_items(OLD.id, stats_month(OLD.reported_at), OLD.rw_id, -1);
           END IF;
           IF OLD.person_id IS NOT NULL THEN
             PERFORM stats_count_reporter(stats_month(OLD.reported_at), OLD.rw_id, OLD.person_id, -1);
           END IF;
         END IF;
         IF TG_OP IN ('INSERT', 'UPDATE') THEN
           IF NEW.status = 'verified' THEN
             PERFORM stats_count_items(NEW.id, stats_month(NEW.reported_at), NEW.rw_id, 1);
           END IF;
           IF NEW.person_id IS NOT NULL THEN
             PERFORM stats_count_reporter(stats_month(NEW.reported_at), NEW.rw_id, NEW.person_id, 1);
           END IF;
         END IF;
         IF TG_OP = 'DELETE' THEN
           RETURN OLD;  -- a BEFORE trigger: the items are still there to be taken away
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE FUNCTION stats_item_changed() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE
         report record;
       BEGIN
         IF TG_OP IN ('UPDATE', 'DELETE') THEN
           SELECT r.status, r.rw_id, r.reported_at INTO report FROM waste_report r WHERE r.id = OLD.report_id;
           IF FOUND AND report.status = 'verified' THEN  -- not found: the report's own trigger took it away
             PERFORM stats_count_item(stats_month(report.reported_at), report.rw_id, OLD.category_code, OLD.grams, -1);
           END IF;
         END IF;
         IF TG_OP IN ('INSERT', 'UPDATE') THEN
           SELECT r.status, r.rw_id, r.reported_at INTO report FROM waste_report r WHERE r.id = NEW.report_id;
           IF FOUND AND report.status = 'verified' THEN
             PERFORM stats_count_item(stats_month(report.reported_at), report.rw_id, NEW.category_code, NEW.grams, 1);
           END IF;
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE FUNCTION stats_reporter_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'INSERT' THEN
           INSERT INTO stats_reporter_counts_monthly AS c (month, rw_id, people) VALUES (NEW.month, NEW.rw_id, 1)
           ON CONFLICT (month, rw_id) DO UPDATE SET people = c.people + 1;
           IF EXISTS (SELECT 1 FROM stats_reporters_monthly s
                      WHERE s.month = NEW.month AND s.person_id = NEW.person_id AND s.rw_id <> NEW.rw_id) THEN
             INSERT INTO stats_movers_monthly (month, person_id) VALUES (NEW.month, NEW.person_id)
             ON CONFLICT DO NOTHING;
           END IF;
         ELSE
           UPDATE stats_reporter_counts_monthly SET people = people - 1 WHERE month = OLD.month AND rw_id = OLD.rw_id;
           DELETE FROM stats_reporter_counts_monthly WHERE month = OLD.month AND rw_id = OLD.rw_id AND people = 0;
           IF (SELECT count(*) FROM stats_reporters_monthly s
               WHERE s.month = OLD.month AND s.person_id = OLD.person_id) < 2 THEN
             DELETE FROM stats_movers_monthly WHERE month = OLD.month AND person_id = OLD.person_id;
           END IF;
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE FUNCTION refresh_stats_rollups() RETURNS void LANGUAGE plpgsql AS $$
       BEGIN
         ALTER TABLE stats_reporters_monthly DISABLE TRIGGER stats_reporter_counted;
         TRUNCATE stats_verified_monthly, stats_reporters_monthly, stats_reporter_counts_monthly, stats_movers_monthly;
         INSERT INTO stats_verified_monthly (month, rw_id, category_code, grams, items)
         SELECT stats_month(r.reported_at), r.rw_id, i.category_code, sum(i.grams), count(*)
         FROM waste_report r JOIN waste_report_item i ON i.report_id = r.id
         WHERE r.status = 'verified' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
         INSERT INTO stats_reporters_monthly (month, rw_id, person_id, reports)
         SELECT stats_month(r.reported_at), r.rw_id, r.person_id, count(*)
         FROM waste_report r WHERE r.person_id IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
         INSERT INTO stats_reporter_counts_monthly (month, rw_id, people)
         SELECT month, rw_id, count(*) FROM stats_reporters_monthly GROUP BY 1, 2 ORDER BY 1, 2;
         INSERT INTO stats_movers_monthly (month, person_id)
         SELECT month, person_id FROM stats_reporters_monthly GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY 1, 2;
         ALTER TABLE stats_reporters_monthly ENABLE TRIGGER stats_reporter_counted;
       END $$""",
    """CREATE TRIGGER stats_report_written AFTER INSERT OR UPDATE OF status, person_id, rw_id, reported_at
       ON waste_report FOR EACH ROW EXECUTE FUNCTION stats_report_changed()""",
    """CREATE TRIGGER stats_report_deleted BEFORE DELETE ON waste_report
       FOR EACH ROW EXECUTE FUNCTION stats_report_changed()""",
    """CREATE TRIGGER stats_item_written AFTER INSERT OR UPDATE OF report_id, category_code, grams OR DELETE
       ON waste_report_item FOR EACH ROW EXECUTE FUNCTION stats_item_changed()""",
    """CREATE TRIGGER stats_reporter_counted AFTER INSERT OR DELETE ON stats_reporters_monthly
       FOR EACH ROW EXECUTE FUNCTION stats_reporter_row_changed()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS stats_reporter_counted ON stats_reporters_monthly",
    "DROP TRIGGER IF EXISTS stats_item_written ON waste_report_item",
    "DROP TRIGGER IF EXISTS stats_report_deleted ON waste_report",
    "DROP TRIGGER IF EXISTS stats_report_written ON waste_report",
    "DROP FUNCTION IF EXISTS refresh_stats_rollups()",
    "DROP FUNCTION IF EXISTS stats_reporter_row_changed()",
    "DROP FUNCTION IF EXISTS stats_item_changed()",
    "DROP FUNCTION IF EXISTS stats_report_changed()",
    "DROP FUNCTION IF EXISTS stats_count_reporter(date, bigint, bigint, integer)",
    "DROP FUNCTION IF EXISTS stats_count_item(date, bigint, text, bigint, integer)",
    "DROP FUNCTION IF EXISTS stats_count_items(bigint, date, bigint, integer)",
    "DROP FUNCTION IF EXISTS stats_month(timestamptz)",
]

# SQLite: the same rules as trigger statements (times are stored as UTC text; Jakarta is UTC+7).
MONTH = "strftime('%Y-%m-01', {0}.reported_at, '+7 hours')"
ITEMS = """INSERT INTO stats_verified_monthly (month, rw_id, category_code, grams, items)
   SELECT {month}, {row}.rw_id, i.category_code, {sign} sum(i.grams), {sign} count(*)
   FROM waste_report_item i WHERE i.report_id = {row}.id AND {row}.status = 'verified' GROUP BY i.category_code
   ON CONFLICT (month, rw_id, category_code)
   DO UPDATE SET grams = grams + excluded.grams, items = items + excluded.items;"""
REPORTER = """INSERT INTO stats_reporters_monthly (month, rw_id, person_id, reports)
   SELECT {month}, {row}.rw_id, {row}.person_id, {sign}1 WHERE {row}.person_id IS NOT NULL
   ON CONFLICT (month, rw_id, person_id) DO UPDATE SET reports = reports + excluded.reports;"""
ITEM = """INSERT INTO stats_verified_monthly (month, rw_id, category_code, grams, items)
   SELECT strftime('%Y-%m-01', r.reported_at, '+7 hours'), r.rw_id, {row}.category_code, {sign}{row}.grams, {sign}1
   FROM waste_report r WHERE r.id = {row}.report_id AND r.status = 'verified'
   ON CONFLICT (month, rw_id, category_code)
   DO UPDATE SET grams = grams + excluded.grams, items = items + excluded.items;"""
# Rows that reached 0 go (looked up by their keys: the month and RW of the rows written).
EMPTIED_REPORT = """DELETE FROM stats_verified_monthly
   WHERE items = 0 AND month IN ({old_month}, {new_month}) AND rw_id IN (OLD.rw_id, {new}.rw_id);
   DELETE FROM stats_reporters_monthly
   WHERE reports = 0 AND month IN ({old_month}, {new_month}) AND rw_id IN (OLD.rw_id, {new}.rw_id);"""
EMPTIED_ITEM = """DELETE FROM stats_verified_monthly
   WHERE items = 0 AND (month, rw_id) IN (SELECT strftime('%Y-%m-01', r.reported_at, '+7 hours'), r.rw_id
                                         FROM waste_report r WHERE r.id IN (OLD.report_id, {new}.report_id));"""


def _sqlite_report(row: str, sign: str) -> str:
    month = MONTH.format(row)
    return ITEMS.format(month=month, row=row, sign=sign) + "\n" + REPORTER.format(month=month, row=row, sign=sign)


CHANGED = ("NEW.status IS NOT OLD.status OR NEW.person_id IS NOT OLD.person_id OR NEW.rw_id IS NOT OLD.rw_id "
           "OR NEW.reported_at IS NOT OLD.reported_at")
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER stats_report_inserted AFTER INSERT ON waste_report BEGIN
        {_sqlite_report('NEW', '')}
        END""",
    f"""CREATE TRIGGER stats_report_updated AFTER UPDATE OF status, person_id, rw_id, reported_at ON waste_report
        WHEN {CHANGED} BEGIN
        {_sqlite_report('OLD', '-')}
        {_sqlite_report('NEW', '')}
        {EMPTIED_REPORT.format(old_month=MONTH.format('OLD'), new_month=MONTH.format('NEW'), new='NEW')}
        END""",
    f"""CREATE TRIGGER stats_report_deleted BEFORE DELETE ON waste_report BEGIN
        {_sqlite_report('OLD', '-')}
        {EMPTIED_REPORT.format(old_month=MONTH.format('OLD'), new_month=MONTH.format('OLD'), new='OLD')}
        END""",
    f"""CREATE TRIGGER stats_item_inserted AFTER INSERT ON waste_report_item BEGIN
        {ITEM.format(row='NEW', sign='')}
        END""",
    f"""CREATE TRIGGER stats_item_updated AFTER UPDATE OF report_id, category_code, grams ON waste_report_item BEGIN
        {ITEM.format(row='OLD', sign='-')}
        {ITEM.format(row='NEW', sign='')}
        {EMPTIED_ITEM.format(new='NEW')}
        END""",
    f"""CREATE TRIGGER stats_item_deleted AFTER DELETE ON waste_report_item BEGIN
        {ITEM.format(row='OLD', sign='-')}
        {EMPTIED_ITEM.format(new='OLD')}
        END""",
]
SQLITE_REPORTER_TRIGGERS = [
    """CREATE TRIGGER stats_reporter_added AFTER INSERT ON stats_reporters_monthly BEGIN
        INSERT INTO stats_reporter_counts_monthly (month, rw_id, people) VALUES (NEW.month, NEW.rw_id, 1)
        ON CONFLICT (month, rw_id) DO UPDATE SET people = people + 1;
        INSERT INTO stats_movers_monthly (month, person_id) SELECT NEW.month, NEW.person_id
        WHERE EXISTS (SELECT 1 FROM stats_reporters_monthly s
                      WHERE s.month = NEW.month AND s.person_id = NEW.person_id AND s.rw_id <> NEW.rw_id)
        ON CONFLICT (month, person_id) DO NOTHING;
        END""",
    """CREATE TRIGGER stats_reporter_removed AFTER DELETE ON stats_reporters_monthly BEGIN
        UPDATE stats_reporter_counts_monthly SET people = people - 1 WHERE month = OLD.month AND rw_id = OLD.rw_id;
        DELETE FROM stats_reporter_counts_monthly WHERE month = OLD.month AND rw_id = OLD.rw_id AND people = 0;
        DELETE FROM stats_movers_monthly WHERE month = OLD.month AND person_id = OLD.person_id
          AND (SELECT count(*) FROM stats_reporters_monthly s
               WHERE s.month = OLD.month AND s.person_id = OLD.person_id) < 2;
        END""",
]
SQLITE_REFRESH = [
    "DELETE FROM stats_verified_monthly",
    "DELETE FROM stats_reporters_monthly",
    "DELETE FROM stats_reporter_counts_monthly",
    "DELETE FROM stats_movers_monthly",
    f"""INSERT INTO stats_verified_monthly (month, rw_id, category_code, grams, items)
        SELECT {MONTH.format('r')}, r.rw_id, i.category_code, sum(i.grams), count(*)
        FROM waste_report r JOIN waste_report_item i ON i.report_id = r.id
        WHERE r.status = 'verified' GROUP BY 1, 2, 3""",
    f"""INSERT INTO stats_reporters_monthly (month, rw_id, person_id, reports)
        SELECT {MONTH.format('r')}, r.rw_id, r.person_id, count(*)
        FROM waste_report r WHERE r.person_id IS NOT NULL GROUP BY 1, 2, 3""",
    """INSERT INTO stats_reporter_counts_monthly (month, rw_id, people)
        SELECT month, rw_id, count(*) FROM stats_reporters_monthly GROUP BY 1, 2""",
    """INSERT INTO stats_movers_monthly (month, person_id)
        SELECT month, person_id FROM stats_reporters_monthly GROUP BY 1, 2 HAVING count(*) > 1""",
]


def upgrade() -> None:
    op.create_table('stats_reporters_monthly',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('rw_id', BigId, autoincrement=False, nullable=False),
    sa.Column('person_id', BigId, autoincrement=False, nullable=False),
    sa.Column('reports', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'rw_id', 'person_id', name=op.f('pk_stats_reporters_monthly'))
    )
    with op.batch_alter_table('stats_reporters_monthly', schema=None) as batch_op:
        batch_op.create_index('ix_stats_reporters_monthly_person', ['month', 'person_id'], unique=False,
                              postgresql_include=['rw_id'])

    op.create_table('stats_reporter_counts_monthly',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('rw_id', BigId, autoincrement=False, nullable=False),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'rw_id', name=op.f('pk_stats_reporter_counts_monthly'))
    )
    op.create_table('stats_movers_monthly',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('person_id', BigId, autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('month', 'person_id', name=op.f('pk_stats_movers_monthly'))
    )
    op.create_table('stats_verified_monthly',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('rw_id', BigId, autoincrement=False, nullable=False),
    sa.Column('category_code', sa.String(length=32), nullable=False),
    sa.Column('grams', sa.BigInteger(), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'rw_id', 'category_code', name=op.f('pk_stats_verified_monthly'))
    )
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index('ix_person_registered', ['rw_id'], unique=False,
                              postgresql_where=sa.text('consent_at IS NOT NULL'),
                              sqlite_where=sa.text('consent_at IS NOT NULL'))
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        for statement in POSTGRES_FUNCTIONS:
            op.execute(statement)
        op.execute("SET LOCAL work_mem = '256MB'")  # the backfill groups every verified item once
        op.execute("SELECT refresh_stats_rollups()")
        op.execute("ANALYZE stats_verified_monthly, stats_reporters_monthly, stats_reporter_counts_monthly, "
                   "stats_movers_monthly")
    else:
        for statement in SQLITE_TRIGGERS + SQLITE_REFRESH + SQLITE_REPORTER_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for statement in POSTGRES_DROP:
            op.execute(statement)
    else:
        for name in ('stats_item_deleted', 'stats_item_updated', 'stats_item_inserted', 'stats_report_deleted',
                     'stats_report_updated', 'stats_report_inserted', 'stats_reporter_added', 'stats_reporter_removed'):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index('ix_person_registered', postgresql_where=sa.text('consent_at IS NOT NULL'),
                            sqlite_where=sa.text('consent_at IS NOT NULL'))
    op.drop_table('stats_movers_monthly')
    op.drop_table('stats_reporter_counts_monthly')
    op.drop_table('stats_verified_monthly')
    with op.batch_alter_table('stats_reporters_monthly', schema=None) as batch_op:
        batch_op.drop_index('ix_stats_reporters_monthly_person', postgresql_include=['rw_id'])
    op.drop_table('stats_reporters_monthly')
