"""Synthetic Telegram load for the intake and memory benchmarks: registered people prepared in bulk, each
person's updates scripted through real conversations (reports, menu, browsing RWs), posted to a webhook
with many requests in flight, and the servers (our web process, the echo baseline) started as subprocesses.

Scripts follow the bot's own choices: every tapped button is one the bot offered at that point, so a run
that leaves any reply saying "that choice is no longer there" or apologising is a broken script, not load."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import time as time_of_day
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.pool import NullPool

from bench.common import ROOT, percentile
from bot.settings import Settings
from handlers.consent import NOTICE_VERSION
from storage.db import Database, sync_url
from storage.models import (
    RW,
    Account,
    Collaborator,
    Identity,
    InboundRecord,
    Kelurahan,
    Outbox,
    Person,
    WasteBank,
    WasteBankRW,
    WasteCategory,
    WasteReport,
)
from storage.types import utcnow

TOKEN = "123456:BENCH-token-0123456789abcdefghijklmnop"
SECRET = "bench-webhook-secret"
BOT_ID = 7_000_000_001  # the fake's bot user
FIRST_USER_ID = 500_000_000
BANKS = 20  # RWs with a waste bank made for the benchmark; residents are spread over them
COLLABORATOR_SHARE = 0.1
REPORT, MENU, BROWSE = "report", "menu", "browse"
WEIGHTS = ("2 kg", "1,5 kg", "500 gram", "3kg", "5 ons", "750 gr", "1 kg", "2,5 kilo")
# Replies that mean the script went off the bot's path (keys of the catalogs).
OFF_SCRIPT = ("choice.stale", "choice.invalid", "input.unsupported", "error.apology", "session.expired",
              "command.unknown")

Action = tuple[str, str]  # ("text", text) | ("tap", callback data) | ("photo", "")


# --- Database ------------------------------------------------------------------------------------


def migrate(url: str) -> None:
    """`ksbb db upgrade` on the database (reference data and the sample catalog come with it), in this
    process and without Alembic's logging set-up."""
    from storage.schema import upgrade

    upgrade(url, quiet=True)


@dataclass(frozen=True)
class Browsing:
    """What browsing shows: the kota with target RWs, and each kota's list pages of RW ids."""

    kota_pages: dict[str, list[list[int]]]


@dataclass(frozen=True)
class Roster:
    """The prepared people: Telegram user ids, which are collaborators, and what they can tap."""

    user_ids: list[int]
    collaborators: frozenset[int]
    groups: dict[str, list[str]]  # category group → its categories, as the report flow offers them
    browsing: Browsing


def populate(url: str, users: int) -> Roster:
    """Registered residents (consent, name, RW with a waste bank, an account), a tenth of them also
    collaborators, and their Telegram identities: bulk inserts, outside any timing."""
    now = utcnow()
    engine = create_engine(sync_url(url), poolclass=NullPool)
    with engine.begin() as conn:
        used = select(RW.kelurahan_code)
        kelurahan = conn.execute(select(Kelurahan.code).where(Kelurahan.code.not_in(used))
                                 .order_by(Kelurahan.code).limit(BANKS)).scalars().all()
        rw_ids = _insert(conn, RW, [{"kelurahan_code": code, "number": 1} for code in kelurahan])
        members = [users // len(rw_ids) + (i < users % len(rw_ids)) for i in range(len(rw_ids))]
        bank_ids = _insert(conn, WasteBank, [
            {"name": f"Bank Sampah Uji {i + 1}", "is_sample": True, "weighing_weekday": i % 7,
             "weighing_time": time_of_day(8), "weighing_minutes": 120, "next_member_number": 1001 + members[i],
             "created_at": now} for i in range(len(rw_ids))])
        conn.execute(insert(WasteBankRW), [{"rw_id": r, "bank_id": b} for r, b in zip(rw_ids, bank_ids, strict=True)])
        person_ids = _insert(conn, Person, [
            {"locale": "id", "locale_chosen": True, "name": f"Warga Uji {i + 1}", "consent_version": NOTICE_VERSION,
             "consent_at": now, "rw_id": rw_ids[i % len(rw_ids)], "created_at": now, "last_seen_at": now}
            for i in range(users)])
        user_ids = [FIRST_USER_ID + i for i in range(users)]
        conn.execute(insert(Identity), [
            {"person_id": p, "key": f"telegram:{u}", "channel": "telegram", "address": str(u), "created_at": now,
             "last_inbound_at": now} for p, u in zip(person_ids, user_ids, strict=True)])
        conn.execute(insert(Account), [
            {"person_id": p, "bank_id": bank_ids[i % len(rw_ids)], "member_number": 1001 + i // len(rw_ids),
             "created_at": now} for i, p in enumerate(person_ids)])
        every = round(1 / COLLABORATOR_SHARE)
        collaborators = [i for i in range(users) if i % every == every - 1]
        if collaborators:
            conn.execute(insert(Collaborator), [
                {"person_id": person_ids[i], "type": "individual", "contact_name": f"Warga Uji {i + 1}",
                 "phone": f"+62812{i:08d}", "public": False, "created_at": now} for i in collaborators])
        categories = conn.execute(select(WasteCategory.code, WasteCategory.group)
                                  .order_by(WasteCategory.position)).all()
    engine.dispose()
    groups: dict[str, list[str]] = {}
    for code, group in categories:
        groups.setdefault(group, []).append(code)
    return Roster(user_ids, frozenset(user_ids[i] for i in collaborators), groups, asyncio.run(_browsing(url)))


def _insert(conn, model, rows: list[dict]) -> list[int]:  # type: ignore[no-untyped-def]
    statement = insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(conn.execute(statement, rows).scalars())


async def _browsing(url: str) -> Browsing:
    """The kota and list pages exactly as the browse flow builds them."""
    from handlers.collaborator.browse import PAGE
    from storage import catalog

    db = Database(url)
    try:
        async with db.transaction() as session:
            pages = {}
            for kota in await catalog.kota_counts(session):
                ids = [s.rw_id for s in await catalog.summaries(session, utcnow(), kota_code=kota.code)]
                pages[kota.code] = [ids[i:i + PAGE] for i in range(0, len(ids), PAGE)]
    finally:
        await db.dispose()
    return Browsing(pages)


# --- Scripts -------------------------------------------------------------------------------------


def report_session(rng: random.Random, groups: dict[str, list[str]]) -> list[Action]:
    """From the menu: one or two kinds of waste with a weight each, a photo or not, sent."""
    actions: list[Action] = [("tap", "menu:report")]
    for n, group in enumerate(rng.sample(sorted(groups), rng.choice((1, 1, 2)))):
        if n:
            actions.append(("tap", "more:yes"))
        actions.append(("tap", f"grp:{group}"))
        if len(groups[group]) > 1:
            actions.append(("tap", f"cat:{rng.choice(groups[group])}"))
        actions.append(("text", rng.choice(WEIGHTS)))
    actions.append(("tap", "more:no"))
    actions.append(("photo", "") if rng.random() < 0.25 else ("tap", "photo:skip"))
    actions.append(("tap", "confirm:send"))
    return actions


def menu_session(rng: random.Random) -> list[Action]:
    """One step in the menu and back to it: savings, bank information, help, or the menu typed again."""
    return [rng.choice((("tap", "menu:savings"), ("tap", "menu:info"), ("tap", "menu:help"), ("text", "/menu")))]


def browse_session(rng: random.Random, browsing: Browsing) -> list[Action]:
    """From the menu: a kota, maybe the next page, an RW in full, maybe back to the list and another, the menu."""
    kota = rng.choice(sorted(browsing.kota_pages))
    pages = browsing.kota_pages[kota]
    actions: list[Action] = [("tap", "menu:upgrading"), ("tap", f"kota:{kota}")]
    page = 0
    if len(pages) > 1 and rng.random() < 0.4:
        page = 1
        actions.append(("tap", "list:next"))
    actions.append(("tap", f"rw:{rng.choice(pages[page])}"))
    if rng.random() < 0.3:
        actions += [("tap", "rw:list"), ("tap", f"rw:{rng.choice(pages[page])}")]
    actions.append(("tap", "to:menu"))
    return actions


def script(rng: random.Random, roster: Roster, user_id: int, budget: int) -> list[tuple[str, Action]]:
    """One person's updates: the menu typed first, then sessions until the budget (the last one may stop
    halfway, as people do). Collaborators browse RWs; residents report (about 2 in 3 of their updates) or
    look around the menu."""
    steps: list[tuple[str, Action]] = [(MENU, ("text", "/menu"))]
    while len(steps) < budget:
        if user_id in roster.collaborators:
            kind, actions = BROWSE, browse_session(rng, roster.browsing)
        elif rng.random() < 0.29:
            kind, actions = REPORT, report_session(rng, roster.groups)
        else:
            kind, actions = MENU, menu_session(rng)
        steps += [(kind, action) for action in actions]
    return steps[:budget]


@dataclass
class Load:
    """Every person's updates as request bodies, in order; the mix of kinds; completed reports."""

    bodies: list[list[bytes]]
    mix: Counter[str]
    reports_sent: int
    taps: int

    @property
    def updates(self) -> int:
        return sum(len(b) for b in self.bodies)


def build_load(roster: Roster, updates: int, seed: int = 7) -> Load:
    """`updates` spread evenly over the roster, serialised before any timing."""
    rng = random.Random(seed)
    users = roster.user_ids
    budgets = [updates // len(users) + (i < updates % len(users)) for i in range(len(users))]
    update_ids = iter(range(1, updates + 1))
    bodies, mix, reports_sent, taps = [], Counter[str](), 0, 0
    for user_id, budget in zip(users, budgets, strict=True):
        message_ids = iter(range(1, 10 * budget + 10))
        person = []
        for kind, action in script(rng, roster, user_id, budget):
            mix[kind] += 1
            reports_sent += action == ("tap", "confirm:send")
            taps += action[0] == "tap"
            person.append(json.dumps(update_json(next(update_ids), user_id, next(message_ids), action)).encode())
        bodies.append(person)
    return Load(bodies, mix, reports_sent, taps)


def update_json(update_id: int, user_id: int, message_id: int, action: Action) -> dict:
    """A Telegram update: a text or photo message, or a button tap on the bot's last message."""
    user = {"id": user_id, "is_bot": False, "first_name": f"U{user_id}", "language_code": "id"}
    chat = {"id": user_id, "type": "private", "first_name": f"U{user_id}"}
    date = int(time.time())
    kind, value = action
    if kind == "tap":
        shown = {"message_id": message_id, "from": {"id": BOT_ID, "is_bot": True, "first_name": "KSBB"},
                 "chat": chat, "date": date, "text": "…"}
        return {"update_id": update_id, "callback_query": {
            "id": str(update_id), "from": user, "chat_instance": f"ci{user_id}", "data": value, "message": shown}}
    message: dict = {"message_id": message_id, "from": user, "chat": chat, "date": date}
    if kind == "photo":
        file_id = f"bench-photo-{update_id}"
        message["photo"] = [{"file_id": file_id, "file_unique_id": f"u{file_id}", "width": w, "height": w,
                             "file_size": 40_000} for w in (90, 800)]
    else:
        message["text"] = value
        if value.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(value)}]
    return {"update_id": update_id, "message": message}


# --- The client ----------------------------------------------------------------------------------


@dataclass
class Run:
    """One load run: wall time from the first request to the last answer, each request's latency."""

    elapsed: float
    latencies: list[float]
    statuses: Counter[int] = field(default_factory=Counter)
    answered_taps: int = 0  # taps answered in the webhook's response (answerCallbackQuery there)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000


async def post_all(port: int, load: Load, concurrency: int) -> Run:
    """Each person's updates in order (the next one after the answer to the last) over `concurrency` kept-alive
    connections, as Telegram delivers to a webhook. A minimal HTTP/1.1 client on asyncio streams: httpx spent
    about 4 ms of CPU per request here, which made the client, not the echo bot, the baseline's limit."""
    head = (b"POST /telegram HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"X-Telegram-Bot-Api-Secret-Token: " + SECRET.encode() + b"\r\nContent-Length: ")
    people: deque[Iterator[bytes]] = deque(iter(bodies) for bodies in load.bodies)
    run = Run(0.0, [])

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while people:
                person = people.popleft()
                body = next(person, None)
                if body is None:
                    continue
                began = time.perf_counter()
                writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
                status, content = await _response(reader)
                run.latencies.append(time.perf_counter() - began)
                run.statuses[status] += 1
                run.answered_taps += b'"answerCallbackQuery"' in content
                if not status:  # the server closed the connection
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                people.append(person)
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    run.elapsed = time.perf_counter() - began
    return run


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one response (0 and nothing when the connection closed instead)."""
    status_line = await reader.readline()
    if not status_line:
        return 0, b""
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return int(status_line.split()[1]), await reader.readexactly(length) if length else b""


# --- Servers -------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bot_environment(database_url: str, api_url: str | None = None) -> dict[str, str]:
    """This environment without any KSBB setting a developer may have set, plus the benchmark's."""
    fields = {name.lower() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.lower() not in fields}
    env.update(DATABASE_URL=database_url, LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    if api_url:
        env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=api_url, WEBHOOK_SECRET=SECRET)
    return env


@contextlib.contextmanager
def child(args: list[str], env: dict[str, str], port: int | None = None,
          stop: signal.Signals = signal.SIGTERM) -> Iterator[subprocess.Popen]:
    """A child process (in an empty directory, so no `.env` is read), ready once `port` accepts; stopped
    with `stop` at the end (SIGINT lets a profiler write its report)."""
    with tempfile.TemporaryDirectory(prefix="ksbb-bench-") as folder:
        log = Path(folder) / "stderr.log"
        with log.open("w") as stderr:
            process = subprocess.Popen([sys.executable, *args], env=env, cwd=folder, stdout=subprocess.DEVNULL,
                                       stderr=stderr)
        try:
            if port is not None:
                _wait_for_port(process, port, log)
            yield process
        finally:
            process.send_signal(stop)
            try:
                process.wait(timeout=60)  # a profiler may take a while to write its report
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            errors = [line for line in log.read_text().splitlines() if "ERROR" in line or "Traceback" in line]
            if errors:
                kept = Path(tempfile.gettempdir()) / f"ksbb-bench-{process.pid}.log"
                kept.write_text(log.read_text())
                print(f"  ({' '.join(args)[:60]} logged {len(errors)} error lines, kept in {kept}; the first: "
                      f"{errors[0][:200]})")


def _wait_for_port(process: subprocess.Popen, port: int, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port} within {timeout} s")


def web(database_url: str, api_url: str, port: int,
        profile: Path | None = None) -> contextlib.AbstractContextManager[subprocess.Popen]:
    """Our web process (`ksbb web`, send limiter off: bench/serve.py); with `profile`, under pyinstrument,
    which writes its text report there when the process stops."""
    profiler = ["-m", "pyinstrument", "-r", "text", "-o", str(profile)] if profile else []
    return child([*profiler, "-m", "bench.serve", "web", "--host", "127.0.0.1", "--port", str(port)],
                 bot_environment(database_url, api_url), port, signal.SIGINT if profile else signal.SIGTERM)


def worker(database_url: str, api_url: str) -> contextlib.AbstractContextManager[subprocess.Popen]:
    """Our worker process (`ksbb worker`, send limiter off)."""
    return child(["-m", "bench.serve", "worker"], bot_environment(database_url, api_url))


def echo(api_url: str, port: int) -> contextlib.AbstractContextManager[subprocess.Popen]:
    """The baseline echo bot."""
    return child(["-m", "bench.echo_bot", "--port", str(port), "--api", api_url],
                 bot_environment("sqlite://"), port)


# --- Checks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """What the database holds after a run."""

    handled: int
    failed: int
    outbox: Counter[str]
    retrying: Counter[str]  # pending rows a send failed for, by error: a sender loop retries them later
    off_script: int
    reports: int


def tally(url: str) -> Tally:
    from handlers.text.i18n import translate

    off_script = {translate(locale, key).split("{")[0][:40] for key in OFF_SCRIPT for locale in ("id", "en")}
    engine = create_engine(sync_url(url), poolclass=NullPool)
    with engine.connect() as conn:
        records = Counter(dict(conn.execute(select(InboundRecord.status, func.count()).group_by(InboundRecord.status))
                               .all()))
        outbox = Counter(dict(conn.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all()))
        retrying = Counter(dict(conn.execute(select(Outbox.error, func.count()).where(Outbox.status == "pending")
                                             .group_by(Outbox.error)).all()))
        texts = conn.execute(select(Outbox.body)).scalars()
        wrong = sum(1 for body in texts if any(str(body.get("text", "")).startswith(p) for p in off_script))
        reports = conn.execute(select(func.count()).select_from(WasteReport)).scalar_one()
    engine.dispose()
    return Tally(records["handled"], records["failed"], outbox, retrying, wrong, reports)


def wait_sent(url: str, timeout: float = 120) -> float:
    """Seconds until every reply was sent or tried (polled): no outbox row pending and still leased. A row
    whose send failed for a passing reason (a timeout) waits unleased for a sender loop to retry it, which
    the web process alone does not run (`ksbb worker` does)."""
    engine = create_engine(sync_url(url), poolclass=NullPool)
    began = time.perf_counter()
    try:
        with engine.connect() as conn:
            while time.perf_counter() - began < timeout:
                pending = conn.execute(text("SELECT count(*) FROM outbox WHERE status = 'pending' "
                                            "AND lease_owner IS NOT NULL")).scalar_one()
                conn.rollback()
                if not pending:
                    break
                time.sleep(0.1)
    finally:
        engine.dispose()
    return time.perf_counter() - began
