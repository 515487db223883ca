"""A city's worth of data for the city-scale benchmark, generated set-based on PostgreSQL: one
`INSERT … SELECT generate_series` per table, values drawn from `hashint8extended` so every
generation is the same, then `VACUUM ANALYZE`. The full-size database is kept under a name carrying
the generator's version and reused while its marker table says it is complete."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from bench import common
from storage.reference import rows

VERSION = 1  # bump when the generated data changes: a new database is generated under a new name
ANCHOR = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # the data's "now": two years of reports end here
SPAN = timedelta(days=730)
HOLD = timedelta(hours=72)
MARKER = "bench_city"  # version, anchor, sizes, complete: what the database holds
BENCH_RWS = "bench_city_rw"  # idx → rw_id, bank_id: the generated city's RWs
BULK_TABLES = ("person", "channel_identity", "account", "waste_report", "waste_report_item", "ledger_entry",
               "pledge", "pledge_event")


@dataclass(frozen=True)
class Size:
    residents: int
    rws: int
    reports: int
    pledges: int
    target_rws: int  # RWs listed for upgrading, besides the sample catalog's
    collaborators: int


FULL = Size(residents=1_000_000, rws=2_700, reports=10_000_000, pledges=50_000, target_rws=675, collaborators=5_000)
SMOKE = Size(residents=2_000, rws=60, reports=20_000, pledges=100, target_rws=12, collaborators=40)


def database_name() -> str:
    return f"ksbb_city_v{VERSION}"


def h(x: str, salt: int, modulo: int) -> str:
    """SQL for a well-mixed value of `x` in [0, modulo), the same on every run."""
    return f"mod(hashint8extended(({x})::bigint, {salt}) & 1073741823, {modulo})"


def migrate(url: str) -> None:
    """`alembic upgrade head`, quietly (what `release` runs on deploy)."""
    config = Config(str(common.ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def is_complete(url: str) -> bool:
    """Whether the database holds a complete generation of this version."""
    with psycopg.connect(_libpq(url)) as conn:
        if conn.execute("SELECT to_regclass(%s)", (MARKER,)).fetchone()[0] is None:
            return False
        row = conn.execute(f"SELECT version, complete FROM {MARKER}").fetchone()
        return row is not None and row[0] == VERSION and bool(row[1])


def drop_database(name: str) -> None:
    with psycopg.connect(common._admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_older_versions() -> list[str]:
    """Drop the cached databases of earlier generator versions (they only take disk)."""
    with psycopg.connect(common._admin_url(), autocommit=True) as conn:
        names = [n for (n,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'ksbb_city_v%'")]
    old = [n for n in names if n != database_name()]
    for name in old:
        drop_database(name)
    return old


def generate(url: str, size: Size, say=print) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Migrate the empty database to head and fill it; seconds per step."""
    migrate(url)
    steps: dict[str, float] = {}
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        _session(conn)
        conn.execute(f"CREATE TABLE {MARKER} (version int, anchor timestamptz, sizes jsonb, complete bool)")
        conn.execute(f"INSERT INTO {MARKER} VALUES (%s, %s, %s, false)",
                     (VERSION, ANCHOR, psycopg.types.json.Jsonb(asdict(size))))
        dropped = _drop_indexes(conn)
        params = _params(size)
        for name, statements in _steps(size):
            began = time.monotonic()
            with conn.transaction():
                for statement in statements:
                    conn.execute(statement, params)
            steps[name] = time.monotonic() - began
            say(f"  generated {name} in {steps[name]:.1f} s")
        began = time.monotonic()
        for definition in dropped:
            conn.execute(definition)
        steps["indexes"] = time.monotonic() - began
        say(f"  rebuilt {len(dropped)} indexes in {steps['indexes']:.1f} s")
        began = time.monotonic()
        rebuild_rollups(conn)
        steps["rollups"] = time.monotonic() - began
        _bump_sequences(conn)
        began = time.monotonic()
        conn.execute("VACUUM (ANALYZE)")
        steps["vacuum_analyze"] = time.monotonic() - began
        say(f"  vacuum analyze in {steps['vacuum_analyze']:.1f} s")
        conn.execute(f"UPDATE {MARKER} SET complete = true")
    return steps


def rebuild_rollups(conn: psycopg.Connection[Any]) -> None:
    """Recompute the rollup tables from the rows loaded with triggers off (none before migration 0007)."""
    if conn.execute("SELECT to_regproc('refresh_stats_rollups')").fetchone()[0] is not None:
        conn.execute("SELECT refresh_stats_rollups()")


def _session(conn: psycopg.Connection[Any]) -> None:
    """A generator session: no waiting for the WAL, big sorts, and (as superuser) triggers and
    foreign-key checks off while loading (the data is consistent by construction)."""
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute("SET work_mem = '256MB'")
    try:
        conn.execute("SET session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        pass


def _drop_indexes(conn: psycopg.Connection[Any]) -> list[str]:
    """Drop the secondary indexes of the bulk tables (not primary keys or unique constraints); their
    definitions, to create them again after loading."""
    found = conn.execute(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
           WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""",
        (list(BULK_TABLES),),
    ).fetchall()
    for name, _definition in found:
        conn.execute(f'DROP INDEX "{name}"')
    return [definition for _name, definition in found]


def _bump_sequences(conn: psycopg.Connection[Any]) -> None:
    """Sequences past the explicit ids the generator wrote."""
    for table in ("rw", "waste_bank", "person", "channel_identity", "account", "waste_report", "waste_report_item",
                  "ledger_entry", "upgrade_offer", "pledge", "pledge_event"):
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                     f"(SELECT coalesce(max(id), 1) FROM {table}))")


def _params(size: Size) -> dict[str, Any]:
    return {"anchor": ANCHOR, "start": ANCHOR - SPAN, "span_s": SPAN.total_seconds(), "hold": HOLD,
            **asdict(size)}


def _categories() -> str:
    """The waste categories with their default price, numbered from 0, as a VALUES list."""
    values = ", ".join(f"({i}, '{r['code']}', {int(r['rupiah_per_kg'])})"
                       for i, r in enumerate(rows("waste_categories.csv")))
    return f"(VALUES {values}) AS cat(i, code, price)"


def _steps(size: Size) -> list[tuple[str, list[str]]]:
    categories = len(rows("waste_categories.csv"))
    items = f"1 + {h('r.id', 31, 3)}"  # 1–3 items per report
    category = f"mod({h('r.id', 32, categories)} + 5 * k, {categories})"  # 5 is prime to 14: distinct
    grams = f"200 + {h('r.id * 8 + k', 33, 5000)}"
    estimate = f"(({grams}) * cat.price + 500) / 1000"
    return [
        ("rws and banks", [
            f"CREATE TABLE {BENCH_RWS} (idx int PRIMARY KEY, rw_id bigint NOT NULL, bank_id bigint)",
            """INSERT INTO rw (kelurahan_code, number)
               SELECT k.code, g / k.n + 1
               FROM generate_series(0, %(rws)s - 1) g
               JOIN (SELECT code, row_number() OVER (ORDER BY code) - 1 AS i, count(*) OVER () AS n FROM kelurahan) k
                 ON k.i = mod(g, k.n)
               ON CONFLICT (kelurahan_code, number) DO NOTHING""",
            f"""INSERT INTO {BENCH_RWS} (idx, rw_id)
               SELECT g, rw.id FROM generate_series(0, %(rws)s - 1) g
               JOIN (SELECT code, row_number() OVER (ORDER BY code) - 1 AS i, count(*) OVER () AS n FROM kelurahan) k
                 ON k.i = mod(g, k.n)
               JOIN rw ON rw.kelurahan_code = k.code AND rw.number = g / k.n + 1""",
            # Two thirds of the RWs have a waste bank of their own (one may exist already: the sample).
            f"""UPDATE {BENCH_RWS} b SET bank_id = wr.bank_id FROM waste_bank_rw wr WHERE wr.rw_id = b.rw_id""",
            f"""UPDATE {BENCH_RWS} b SET bank_id = (SELECT max(id) FROM waste_bank) + b.idx + 1
               WHERE b.bank_id IS NULL AND mod(b.idx, 3) <> 0""",
            f"""INSERT INTO waste_bank (id, name, address, is_sample, weighing_weekday, weighing_time, weighing_minutes,
                                        next_member_number, created_at)
               SELECT b.bank_id, 'Bank Sampah Unit RW ' || lpad(rw.number::text, 3, '0') || ' ' || kel.name,
                      'RW ' || lpad(rw.number::text, 3, '0') || ', ' || kel.name, false, mod(b.idx, 7),
                      time '08:00', 120,
                      1001, %(start)s
               FROM {BENCH_RWS} b JOIN rw ON rw.id = b.rw_id JOIN kelurahan kel ON kel.code = rw.kelurahan_code
               WHERE b.bank_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM waste_bank w WHERE w.id = b.bank_id)""",
            f"""INSERT INTO waste_bank_rw (rw_id, bank_id) SELECT rw_id, bank_id FROM {BENCH_RWS}
               WHERE bank_id IS NOT NULL ON CONFLICT (rw_id) DO NOTHING""",
        ]),
        ("residents", [
            # Residents registered over the two years, spread over the RWs; 2 % said BERHENTI.
            f"""INSERT INTO person (id, locale, locale_chosen, name, consent_version, consent_at, rw_id, reminders,
                                    opted_out_at, created_at, last_seen_at)
               SELECT g, CASE WHEN {h('g', 1, 10)} = 0 THEN 'en' ELSE 'id' END, true, 'Warga ' || g, '2026-11', t,
                      b.rw_id,
                      {h('g', 2, 10)} <> 0, CASE WHEN {h('g', 3, 50)} = 0 THEN t + interval '30 days' END, t,
                      t + (%(anchor)s - t) * ({h('g', 4, 1000000)} / 1000000.0)
               FROM generate_series(1, %(residents)s) g
               CROSS JOIN LATERAL (SELECT %(start)s::timestamptz + interval '1 second' * {h('g', 5, 1000000)}
                                          * (%(span_s)s / 1000000.0) AS t) at
               JOIN {BENCH_RWS} b ON b.idx = {h('g', 6, size.rws)}""",
            # WhatsApp for 70 %, Telegram for 30 %; one in ten joined the other channel too; 1 % unreachable.
            f"""INSERT INTO channel_identity (id, person_id, key, channel, address, created_at, last_inbound_at,
                                              unreachable_at)
               SELECT 2 * p.id - c.second, p.id, c.channel || ':' || c.address, c.channel, c.address, p.created_at,
                      p.last_seen_at - interval '1 hour' * c.second,
                      CASE WHEN {h('p.id * 2 + c.second', 7, 100)} = 0 THEN p.last_seen_at END
               FROM person p
               CROSS JOIN LATERAL (VALUES (0, {h('p.id', 8, 10)} < 7), (1, {h('p.id', 8, 10)} >= 7)) AS w(second, wa)
               CROSS JOIN LATERAL (SELECT CASE WHEN w.wa THEN 'whatsapp' ELSE 'telegram' END AS channel,
                                          CASE WHEN w.wa THEN '+62812' || lpad(p.id::text, 8, '0')
                                               ELSE (100000000 + p.id)::text END AS address,
                                          w.second) c
               WHERE p.id <= %(residents)s AND (c.second = 0 OR {h('p.id', 9, 10)} = 0)""",
        ]),
        ("accounts", [
            # Every resident of an RW with a bank is its member; numbers from 1001 in order of joining.
            f"""INSERT INTO account (person_id, bank_id, member_number, created_at)
               SELECT p.id, b.bank_id, 1000 + row_number() OVER (PARTITION BY b.bank_id ORDER BY p.id), p.created_at
               FROM person p JOIN {BENCH_RWS} b ON b.rw_id = p.rw_id
               WHERE b.bank_id IS NOT NULL AND p.id <= %(residents)s""",
            """UPDATE waste_bank w SET next_member_number = m.top + 1
               FROM (SELECT bank_id, max(member_number) AS top FROM account GROUP BY bank_id) m
               WHERE m.bank_id = w.id""",
            """CREATE TEMP TABLE reporter AS
               SELECT row_number() OVER (ORDER BY a.person_id) AS seq, a.id AS account_id, a.person_id, p.rw_id,
                      a.bank_id
               FROM account a JOIN person p ON p.id = a.person_id""",
            "ALTER TABLE reporter ADD PRIMARY KEY (seq)",
            "CREATE INDEX ON reporter (person_id)",
            "ANALYZE reporter",
        ]),
        ("waste reports", [
            # Evenly over two years; 60 % from the most active fifth of members. A fifth are weigh-ins
            # (verified, 1 % reversed); self-reports of the last two weeks mostly await weighing.
            f"""INSERT INTO waste_report (id, person_id, rw_id, bank_id, source, status, photo, reported_at, decided_at,
                                          decided_by, settled_by_id, reject_reason)
               SELECT g, r.person_id, r.rw_id, r.bank_id, s.source, s.status, NULL, t.at,
                      CASE WHEN s.status <> 'reported' THEN least(t.at + interval '1 day' * {h('g', 14, 7)}, %(anchor)s)
                      END,
                      NULL, NULL, CASE WHEN s.status = 'rejected' THEN 'Foto tidak jelas' END
               FROM generate_series(1, %(reports)s) g
               CROSS JOIN LATERAL (SELECT %(start)s::timestamptz
                                          + interval '1 second' * ((g - 1) * (%(span_s)s / %(reports)s)) AS at) t
               CROSS JOIN LATERAL (SELECT (SELECT count(*) FROM reporter) AS members) m
               JOIN reporter r ON r.seq = 1 + CASE WHEN {h('g', 10, 10)} < 6
                                                   THEN mod({h('g', 11, 1 << 30)}, greatest(m.members / 5, 1))
                                                   ELSE mod({h('g', 11, 1 << 30)}, m.members) END
               CROSS JOIN LATERAL (
                 SELECT CASE WHEN {h('g', 12, 5)} = 0 THEN 'weighin' ELSE 'self' END AS source,
                        CASE WHEN {h('g', 12, 5)} = 0 THEN
                               CASE WHEN {h('g', 13, 100)} = 0 THEN 'reversed' ELSE 'verified' END
                             WHEN t.at > %(anchor)s - interval '14 days' THEN
                               CASE WHEN {h('g', 13, 100)} < 55 THEN 'reported'
                                    WHEN {h('g', 13, 100)} < 85 THEN 'verified'
                                    WHEN {h('g', 13, 100)} < 92 THEN 'settled' ELSE 'rejected' END
                             ELSE CASE WHEN {h('g', 13, 100)} < 2 THEN 'reported'
                                       WHEN {h('g', 13, 100)} < 72 THEN 'verified'
                                       WHEN {h('g', 13, 100)} < 92 THEN 'settled' ELSE 'rejected' END
                        END AS status) s""",
        ]),
        ("report items", [
            f"""INSERT INTO waste_report_item (report_id, category_code, grams, rupiah_per_kg)
               SELECT r.id, cat.code, {grams}, cat.price
               FROM waste_report r CROSS JOIN LATERAL generate_series(0, {items} - 1) k
               JOIN {_categories()} ON cat.i = {category}""",
        ]),
        ("ledger", [
            # A deposit for each verified report (and each reversed weigh-in, with its reversal).
            f"""INSERT INTO ledger_entry (account_id, amount, kind, report_id, created_at)
               SELECT a.account_id, v.amount, 'deposit', r.id, r.decided_at
               FROM waste_report r
               JOIN reporter a ON a.person_id = r.person_id
               CROSS JOIN LATERAL (SELECT sum({estimate}) AS amount
                                   FROM generate_series(0, {items} - 1) k JOIN {_categories()} ON cat.i = {category}) v
               WHERE r.status IN ('verified', 'reversed')""",
            """INSERT INTO ledger_entry (account_id, amount, kind, report_id, reverses_id, created_at)
               SELECT e.account_id, -e.amount, 'reversal', e.report_id, e.id, r.decided_at + interval '1 hour'
               FROM ledger_entry e JOIN waste_report r ON r.id = e.report_id
               WHERE r.status = 'reversed' AND e.kind = 'deposit'""",
        ]),
        ("upgrading catalog and pledges", _pledge_steps(size)),
    ]


def _pledge_steps(size: Size) -> list[str]:
    """Target RWs with their three offers, collaborators, their pledges (mostly lapsed or moving along;
    an offer taken whole is held by at most one live pledge), and residents' gifts of savings."""
    gifts = max(size.pledges // 25, 1)
    collaborator_pledges = size.pledges - gifts
    statuses = ("CASE WHEN x < 30 THEN 'lapsed' WHEN x < 40 THEN 'cancelled' WHEN x < 45 THEN 'rejected' "
                "WHEN x < 65 THEN 'confirmed' WHEN x < 85 THEN 'received' WHEN x < 95 THEN 'in_progress' "
                "ELSE 'completed' END")
    whole = "CASE WHEN x < 60 THEN 'lapsed' WHEN x < 85 THEN 'cancelled' ELSE 'rejected' END"
    return [
        f"""INSERT INTO upgrade_rw (rw_id, families, population, needs, contact, payment, year, works, is_sample,
                                    updated_at)
           SELECT b.rw_id, 300 + {h('b.idx', 40, 700)}, 1000 + {h('b.idx', 41, 3000)},
                  '{{"items": ["taman", "mck", "drainase"]}}'::jsonb, 'Ketua RW', 'Melalui agregator', 2026, 'planned',
                  false, %(start)s
           FROM {BENCH_RWS} b WHERE mod(b.idx, greatest(%(rws)s / %(target_rws)s, 1)) = 2
           ON CONFLICT (rw_id) DO NOTHING""",
        f"""INSERT INTO upgrade_offer (rw_id, package_code, target, assumed)
           SELECT u.rw_id, p.code,
                  (p.cost_min + {h('u.rw_id * 4 + p.position', 42, 1000)} * (p.cost_max - p.cost_min) / 1000)
                  / 10000000 * 10000000, false
           FROM upgrade_rw u CROSS JOIN upgrade_package p
           ON CONFLICT (rw_id, package_code) DO NOTHING""",
        """CREATE TEMP TABLE bench_offer AS
           SELECT row_number() OVER (ORDER BY o.id) - 1 AS seq, o.id, o.rw_id, o.target, p.shared, p.alternative
           FROM upgrade_offer o JOIN upgrade_package p ON p.code = o.package_code""",
        """CREATE TEMP TABLE bench_shared AS
           SELECT row_number() OVER (ORDER BY id) - 1 AS seq, id, rw_id FROM bench_offer WHERE shared""",
        # Collaborators: people of their own, after the residents.
        """INSERT INTO person (id, locale, locale_chosen, name, consent_version, consent_at, rw_id, reminders,
                                created_at, last_seen_at)
           SELECT %(residents)s + g, 'id', true, 'Kolaborator ' || g, '2026-11', %(start)s, NULL, true, %(start)s,
                  %(anchor)s - interval '1 hour' * g
           FROM generate_series(1, %(collaborators)s) g""",
        """INSERT INTO channel_identity (id, person_id, key, channel, address, created_at, last_inbound_at)
           SELECT 2 * p.id, p.id, 'telegram:' || (500000000 + p.id), 'telegram', (500000000 + p.id)::text,
                  p.created_at, p.last_seen_at
           FROM person p WHERE p.id > %(residents)s""",
        f"""INSERT INTO collaborator (person_id, type, organisation, contact_name, phone, email, public, created_at)
           SELECT p.id, (ARRAY['individual', 'company', 'foundation', 'aggregator'])[1 + {h('p.id', 43, 4)}],
                  'Organisasi ' || p.id, 'Kontak ' || p.id, '+62813' || lpad(p.id::text, 8, '0'), NULL,
                  {h('p.id', 44, 2)} = 0, p.created_at
           FROM person p WHERE p.id > %(residents)s""",
        # Collaborators' pledges over the last 20 months; those of the last 72 hours still held.
        f"""INSERT INTO pledge (id, offer_id, person_id, source, giver_rw_id, amount, status, expires_at, reason,
                                created_at, updated_at)
           SELECT g, o.id, %(residents)s + 1 + {h('g', 45, size.collaborators)}, 'pledge', NULL,
                  CASE WHEN o.shared THEN 1000000 * (1 + {h('g', 46, 5)}) ELSE o.target END,
                  CASE WHEN t.at > %(anchor)s - %(hold)s THEN 'pledged'
                       WHEN o.shared THEN {statuses} ELSE {whole} END,
                  t.at + %(hold)s, NULL, t.at, least(t.at + interval '1 day' * {h('g', 47, 20)}, %(anchor)s)
           FROM generate_series(1, {collaborator_pledges}) g
           CROSS JOIN LATERAL (SELECT %(anchor)s - interval '1 minute' * {h('g', 48, 600 * 24 * 60)} AS at,
                                      {h('g', 49, 100)} AS x) t
           JOIN bench_offer o ON o.seq = mod({h('g', 50, 1 << 30)}, (SELECT count(*) FROM bench_offer))""",
        # One RW in three has its Utama or Lengkap offer taken by its earliest pledge.
        """UPDATE pledge p SET status = (ARRAY['confirmed', 'received', 'in_progress', 'completed'])[1 + mod(p.id, 4)]
           FROM (SELECT DISTINCT ON (o.rw_id) pl.id
                 FROM pledge pl JOIN bench_offer o ON o.id = pl.offer_id
                 WHERE o.alternative AND mod(o.rw_id, 3) = 0 AND pl.status <> 'pledged'
                 ORDER BY o.rw_id, pl.created_at, pl.id) first
           WHERE p.id = first.id""",
        # Active members' gifts of savings to Bersama offers, taken from their balance.
        f"""INSERT INTO pledge (id, offer_id, person_id, source, giver_rw_id, amount, status, created_at, updated_at)
           SELECT {collaborator_pledges} + g, s.id, r.person_id, 'sedekah', r.rw_id, 5000 * (1 + {h('g', 51, 20)}),
                  'received', t.at, t.at
           FROM generate_series(1, {gifts}) g
           CROSS JOIN LATERAL (SELECT %(anchor)s - interval '1 minute' * {h('g', 52, 600 * 24 * 60)} AS at) t
           JOIN bench_shared s ON s.seq = mod({h('g', 53, 1 << 30)}, (SELECT count(*) FROM bench_shared))
           JOIN reporter r
             ON r.seq = 1 + mod({h('g', 54, 1 << 30)}, greatest((SELECT count(*) FROM reporter) / 5, 1))""",
        f"""INSERT INTO ledger_entry (account_id, amount, kind, pledge_id, created_at)
           SELECT r.account_id, -p.amount, 'sedekah', p.id, p.created_at
           FROM pledge p JOIN reporter r ON r.person_id = p.person_id
           WHERE p.source = 'sedekah' AND p.id > {collaborator_pledges}""",
        """INSERT INTO pledge_event (id, pledge_id, status, at, by, reason)
           SELECT p.id, p.id, p.status, p.updated_at, p.person_id, NULL FROM pledge p WHERE p.id > 0
           ON CONFLICT (id) DO NOTHING""",
    ]
