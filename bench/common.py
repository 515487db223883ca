"""What every benchmark shares: its sizes (full or smoke), a scratch database, and how figures are
printed as a table and kept as JSON with the commit and the machine they came from."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SMOKE_RESULTS = RESULTS / "smoke"  # not committed: `make bench-smoke` only proves the scripts run
POSTGRES = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0–100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table, columns as wide as their widest cell."""
    cells = [[str(c) for c in header]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells[1:]]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return f"{value:,.1f}" if isinstance(value, float) else str(value)


def record(name: str, figures: dict[str, Any], smoke: bool) -> Path:
    """Write the figures as JSON (with commit, machine and time) and return the file."""
    folder = SMOKE_RESULTS if smoke else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    document = {"benchmark": name, "commit": commit(), "machine": machine(),
                "at": datetime.now(UTC).isoformat(timespec="seconds"), "smoke": smoke, "figures": figures}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path


def postgres_available() -> bool:
    try:
        with psycopg.connect(_admin_url(), connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def scratch_postgres(name: str | None = None, keep: bool = False) -> Iterator[str]:
    """A PostgreSQL database for one benchmark (created, and dropped afterwards unless `keep`);
    its SQLAlchemy URL. A named database is reused when it exists (for cached generated data)."""
    database = name or f"ksbb_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    try:
        yield make_url(POSTGRES).set(database=database).render_as_string(hide_password=False)
    finally:
        if not keep:
            with psycopg.connect(_admin_url(), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _admin_url() -> str:
    return make_url(POSTGRES).set(drivername="postgresql").render_as_string(hide_password=False)
