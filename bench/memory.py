"""Memory: the resident set size of the `web` and `worker` processes (`ksbb web`, `ksbb worker` as
subprocesses, send limiter off as in the intake benchmark), idle after start-up, at their peak under the
intake benchmark's load, and idle again after it. Read from /proc/<pid>/status (VmRSS, and VmHWM for the
peak the kernel saw). On PostgreSQL, the production set-up; on SQLite only when PostgreSQL is missing."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bench import common
from bench import telegram_load as tl
from bench.fake_telegram import FakeTelegram
from bench.intake import FULL, SMOKE, database
from bot.scheduler import HEARTBEAT
from storage.db import sync_url

NAME = "memory"
TARGET_MB = 200


def run(smoke: bool) -> dict[str, Any]:
    size = SMOKE if smoke else FULL
    settle = 0.5 if smoke else 5.0
    backend = "postgresql" if common.postgres_available() else "sqlite"
    if backend == "sqlite":
        print("memory: PostgreSQL not reachable, measuring on SQLite (web and worker, one machine)")
    with FakeTelegram() as fake, database(backend) as url:
        tl.migrate(url)
        load = tl.build_load(tl.populate(url, size.users), size.updates)
        port = tl.free_port()
        with tl.web(url, fake.base_url, port) as web, tl.worker(url, fake.base_url) as worker:
            processes = {"web": web.pid, "worker": worker.pid}
            _wait_for_heartbeat(url)
            time.sleep(settle)
            idle = {name: rss_mb(pid) for name, pid in processes.items()}
            with Sampler(processes) as sampler:
                result = asyncio.run(tl.post_all(port, load, size.concurrency))
                tl.wait_sent(url)
            time.sleep(settle)
            after = {name: rss_mb(pid) for name, pid in processes.items()}
            high_water = {name: status_mb(pid, "VmHWM") for name, pid in processes.items()}
    _check(result.statuses.get(200) == load.updates, f"web answered {dict(result.statuses)}")
    figures: dict[str, Any] = {"backend": backend, "updates": load.updates, "updates_per_s": round(result.rate, 1),
                               "processes": {}}
    rows = []
    for name in processes:
        peak = max(sampler.peak[name], high_water[name])
        figures["processes"][name] = {"idle_mb": idle[name], "peak_mb": peak, "after_mb": after[name]}
        rows.append([name, idle[name], peak, after[name], "met" if peak < TARGET_MB else "missed"])
    print(common.table(f"Memory (RSS, MB) of web and worker on {backend}, idle and under {load.updates:,} updates "
                       f"({result.rate:.0f}/s)", ["process", "idle", "peak under load", "idle after",
                                                   f"< {TARGET_MB} MB"], rows))
    common.record(NAME, figures, smoke)
    return figures


def status_mb(pid: int, field: str) -> float:
    """A size from /proc/<pid>/status (VmRSS, VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    raise LookupError(field)


def rss_mb(pid: int) -> float:
    return status_mb(pid, "VmRSS")


class Sampler:
    """Reads every process's RSS ten times a second in a thread, keeping each one's peak."""

    def __init__(self, processes: dict[str, int], interval: float = 0.1) -> None:
        self.processes = processes
        self.interval = interval
        self.peak = {name: 0.0 for name in processes}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            for name, pid in self.processes.items():
                self.peak[name] = max(self.peak[name], rss_mb(pid))


def _wait_for_heartbeat(url: str, timeout: float = 30) -> None:
    """Until the worker's scheduler has ticked once (it writes its heartbeat)."""
    engine = create_engine(sync_url(url), poolclass=NullPool)
    deadline = time.monotonic() + timeout
    try:
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                found = conn.execute(text("SELECT 1 FROM heartbeat WHERE name = :name"), {"name": HEARTBEAT}).first()
                conn.rollback()
                if found:
                    return
                time.sleep(0.1)
    finally:
        engine.dispose()
    raise RuntimeError("the worker did not start its scheduler")


def _check(ok: bool, problem: str) -> None:
    if not ok:
        raise AssertionError(f"memory: {problem}")
