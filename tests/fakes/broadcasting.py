"""Broadcast load for tests and benchmarks: many residents written at once, a broadcast enqueued now,
who received it how often, and `ksbb` processes (worker, web, run) to start, kill and stop."""

from __future__ import annotations

import html
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO

from sqlalchemy import insert, select

from bot.settings import Settings
from storage import broadcasts
from storage.db import Database
from storage.models import Identity, Person
from storage.places import get_or_create_rw
from storage.types import utcnow

ROOT = Path(__file__).resolve().parent.parent.parent
GELORA = "31.71.07.1001"  # a kelurahan whose RWs have no waste bank, so no weighing reminders join the traffic


def telegram_chat(base: int) -> Callable[[int], str]:
    """Telegram addresses: chat id `base` + the person's id."""
    return lambda person_id: str(base + person_id)


def whatsapp_number(prefix: str = "+62850") -> Callable[[int], str]:
    """WhatsApp addresses: `prefix` and the person's id in 7 digits."""
    return lambda person_id: f"{prefix}{person_id:07d}"


async def residents(
    db: Database, n: int, channel: str, address: Callable[[int], str], rw_number: int = 7, kelurahan: str = GELORA
) -> int:
    """n registered residents of one RW, each with one identity on `channel` that wrote just now (inside
    WhatsApp's 24-hour window); the RW's id. Bulk inserts, so it works on SQLite and PostgreSQL alike."""
    now = utcnow()
    async with db.transaction() as session:
        rw = (await get_or_create_rw(session, kelurahan, rw_number)).id
        person = {"locale": "id", "locale_chosen": True, "consent_version": "2026-11", "consent_at": now, "rw_id": rw,
                  "reminders": True, "created_at": now, "last_seen_at": now}
        await session.execute(insert(Person), [{**person, "name": f"Warga {i}"} for i in range(1, n + 1)])
        ids = (await session.execute(select(Person.id).where(Person.rw_id == rw))).scalars().all()
        await session.execute(insert(Identity), [
            {"person_id": pid, "key": f"{channel}:{address(pid)}", "channel": channel, "address": address(pid),
             "created_at": now, "last_inbound_at": now}
            for pid in ids
        ])
    return rw


async def broadcast_now(db: Database, rw: int, body: str) -> tuple[int, int]:
    """A broadcast to one RW, its outbox rows written in its own transaction; its id and recipient count."""
    async with db.transaction() as session:
        created = await broadcasts.create(session, None, broadcasts.segment_rws([rw]), body, utcnow())
        recipients = await broadcasts.enqueue(session, created, utcnow())
        return created.id, recipients or 0


def telegram_text(body: str) -> str:
    """A broadcast's text as the Bot API receives it (HTML-escaped)."""
    return html.escape(body)


def tally(deliveries: Iterable[tuple[object, str | None]], text: str) -> Counter[object]:
    """How many times each chat got `text`, from (chat, text) pairs of accepted sends."""
    return Counter(chat for chat, sent in deliveries if sent == text)


class BotProcesses:
    """`ksbb` subprocesses (worker, web, run) with one environment, each logging to its own file in `logs`.
    They run outside the repository and without this environment's KSBB settings, so neither a developer's
    .env nor their exported settings leak in."""

    def __init__(self, env: Mapping[str, str], logs: Path, program: Sequence[str] = ("-m", "bot.cli")) -> None:
        self.program = list(program)  # `ksbb` itself, or a wrapper taking its arguments
        settings = {name.upper() for name in Settings.model_fields}
        inherited = {key: value for key, value in os.environ.items() if key.upper() not in settings}
        self.env = {**inherited, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING", **env}
        self.logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []
        self.files: list[IO[bytes]] = []

    def start(self, *command: str) -> subprocess.Popen[bytes]:
        """Start `ksbb <command…>`."""
        log = self.logs / f"{'-'.join(command[:1])}-{len(self.processes)}.log"
        self.files.append(open(log, "wb"))  # noqa: SIM115 (closed in stop)
        process = subprocess.Popen([sys.executable, *self.program, *command], env=self.env, cwd=self.logs,
                                   stdout=self.files[-1], stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL, as a crash or an out-of-memory kill would."""
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        """SIGTERM every process still running (SIGKILL after 30 s) and close the logs."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for file in self.files:
            file.close()

    def stopped_cleanly(self) -> bool:
        """Every process ended by itself, by SIGTERM or by our SIGKILL."""
        return all(process.returncode in (0, -signal.SIGKILL) for process in self.processes)

    def tail(self, lines: int = 20) -> str:
        """The last lines of every log, for a failure message."""
        parts = []
        for file in self.files:
            file.flush()
            text = Path(file.name).read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {Path(file.name).name}\n" + "\n".join(text))
        return "\n".join(parts)
