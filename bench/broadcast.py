"""Broadcast at the limit: a broadcast to 10,000 residents goes through the outbox to a fake platform that
enforces the real limits (Telegram: 30 in any sliding second overall, per chat a burst of 3 then 1 per
second; WhatsApp through Twilio: a configured messages-per-second), answers every request after 100 ms and
answers 429 beyond, while 50 people chat with the bot, each writing every 10 seconds. Our real `Sender` and
limiter, at the real settings, run in `ksbb` processes: on PostgreSQL the webhook process (`ksbb web`) answers
the people chatting and `ksbb worker` drains the broadcast (the limiter in the database, shared by both); on
SQLite one process (`ksbb run`: polling, sender and scheduler, the limiter in memory). Halfway through, the
process that drains the broadcast is killed with SIGKILL and started again.

Reported per platform and backend: everything delivered per second (broadcast and replies) as a share of
the platform's limit, the 429s received and how many of them our own pacing caused (the processes write every
limiter grant to a file, bench/traced.py: a 429 is ours when our grants already numbered the limit in the
second before it), how long after its grant a send reached the platform, the chatting people's reply latency
(from their message to the last reply of that step reaching the platform), and after the kill the recipients
who never got the broadcast and the copies sent twice. Baselines in the same run: the platform's own limit;
each fake's ceiling (a tight loop sending straight to it, limits off, 100 ms per answer), so the fake is known
not to be the bottleneck; and each limiter's ceiling (tokens per second when no rule makes it wait).

`python -m bench.broadcast --recipients 2000 --logs DIR postgresql` runs a shorter drill and keeps the
processes' logs, the grants and the fake's log of every send in DIR (not recorded)."""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import json
import math
import os
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import httpx
from sqlalchemy import text
from twilio.request_validator import RequestValidator

from bench import common
from bench.telegram_load import free_port, migrate
from bot.limiter import DatabaseLimiter, Limiter, MemoryLimiter, Rules
from storage.db import Database
from storage.outbox import Priority
from tests.fakes.broadcasting import BotProcesses, broadcast_now, residents, telegram_chat, whatsapp_number
from tests.fakes.telegram_api import SEND_METHODS, FakeBotAPI
from tests.fakes.twilio_api import FakeTwilioAPI, number_key
from tests.fakes.waiting import max_in_any_window

NAME = "broadcast"
TARGET_SHARE, TARGET_P99, TARGET_DUPLICATES = 0.97, 1.5, 30

TOKEN = "123456:BENCH-token-0123456789abcdefghijklmn"
SECRET = "bench-webhook-secret"
SID, AUTH, OURS = "AC" + "0" * 32, "bench-twilio-token", "+6281100000000"
PUBLIC = "https://ksbb.example.org"
GRANTS = "grants.log"
RECIPIENT_CHATS = 5_000_000  # Telegram chat id of a recipient: this + their person id
CHATTER_CHATS = 9_000_001
CHATTER_NUMBERS = "+62899"


@dataclass(frozen=True)
class Size:
    recipients: int
    chatters: int
    chat_every: float  # seconds between one chatting person's messages
    warm_up: float  # seconds of chatting before the broadcast
    telegram_per_second: int
    whatsapp_per_second: int
    lease_seconds: float  # the sender's lease; the killed process's rows come back after it
    ceiling_seconds: float
    kills: frozenset[str]  # the drills ("<backend> <platform>") whose drainer is killed halfway
    limiter_tokens: int  # taken from each limiter to find its ceiling
    side_by_side: bool  # all drills at once (smoke, to stay fast), or one after the other, each with the machine
    latency: float = 0.1
    chat_burst: int = 3
    chat_per_second: float = 1.0


FULL = Size(recipients=10_000, chatters=50, chat_every=10.0, warm_up=10.0, telegram_per_second=30,
            whatsapp_per_second=20, lease_seconds=60.0, ceiling_seconds=5.0,
            kills=frozenset({"postgresql telegram", "postgresql whatsapp", "sqlite telegram"}), limiter_tokens=600,
            side_by_side=False)
SMOKE = Size(recipients=100, chatters=10, chat_every=2.0, warm_up=0.5, telegram_per_second=150,
             whatsapp_per_second=100, lease_seconds=1.0, ceiling_seconds=0.1,
             kills=frozenset({"postgresql telegram"}),  # one restart is enough to keep the path alive
             limiter_tokens=60, side_by_side=True)


BACKENDS = ("postgresql", "sqlite")
PLATFORMS = ("telegram", "whatsapp")
Setup = Callable[[Size, str, Path, Sequence[str]], Awaitable[list[dict[str, Any]]]]


class Send(NamedTuple):
    """One send request the fake answered."""

    time: float  # time.monotonic() when it was answered
    chat: object
    ok: bool
    throttled: bool


class Platform(Protocol):
    """A fake platform as the drill sees it."""

    name: str
    limit: int

    def sends(self) -> list[Send]:
        """Every send request answered so far, in order."""
        ...

    def recipient(self, address: str) -> object:
        """The chat in the fake's log of an outbox address."""
        ...

    def chatter(self, index: int) -> object:
        """The chat of the index-th chatting person."""
        ...

    async def say(self, client: httpx.AsyncClient, index: int, turn: int) -> bool:
        """The index-th person writes their turn-th message to the bot; False if it was refused."""
        ...


class Telegram:
    """The fake Bot API; people write through our webhook (`webhook` set) or the polling loop."""

    name = "Telegram"
    MESSAGES = ("/start", "MENU")  # 2 replies, then 1

    def __init__(self, fake: FakeBotAPI, limit: int, webhook: str | None = None) -> None:
        self.fake, self.limit, self.webhook = fake, limit, webhook
        self._sends: list[Send] = []
        self._read = 0
        self._updates = itertools.count(1)

    def sends(self) -> list[Send]:
        calls = self.fake.requests[self._read :]
        self._read += len(calls)
        self._sends += [Send(c.monotonic, c.chat_id, c.ok, c.status == 429) for c in calls if c.method in SEND_METHODS]
        return self._sends

    def recipient(self, address: str) -> object:
        return int(address)

    def chatter(self, index: int) -> object:
        return CHATTER_CHATS + index

    async def say(self, client: httpx.AsyncClient, index: int, turn: int) -> bool:
        update = self.fake.message_update(CHATTER_CHATS + index, self.MESSAGES[turn % 2])
        if self.webhook is None:
            self.fake.push_update(update)
            return True
        update["update_id"] = next(self._updates)
        response = await client.post(self.webhook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        return response.status_code == 200


class WhatsApp:
    """The fake Twilio API; people write through our signed webhook."""

    name = "WhatsApp"
    MESSAGES = ("halo", "MENU")

    def __init__(self, fake: FakeTwilioAPI, limit: int, webhook: str) -> None:
        self.fake, self.limit, self.webhook = fake, limit, webhook
        self._sends: list[Send] = []
        self._messages = itertools.count(1)
        self._validator = RequestValidator(AUTH)

    def sends(self) -> list[Send]:
        new = self.fake.sent[len(self._sends) :]
        self._sends += [Send(m.time, number_key(m.to), m.ok, m.status == 429) for m in new]
        return self._sends

    def recipient(self, address: str) -> object:
        return address

    def chatter(self, index: int) -> object:
        return f"{CHATTER_NUMBERS}{index:07d}"

    async def say(self, client: httpx.AsyncClient, index: int, turn: int) -> bool:
        form = {"MessageSid": f"SM{next(self._messages):032x}", "AccountSid": SID,
                "From": f"whatsapp:{self.chatter(index)}", "To": f"whatsapp:{OURS}",
                "Body": self.MESSAGES[turn % 2], "NumMedia": "0"}
        signature = self._validator.compute_signature(PUBLIC + "/whatsapp", form)
        response = await client.post(self.webhook, data=form, headers={"X-Twilio-Signature": signature})
        return response.status_code == 200


class Drainer:
    """The process draining the outbox (`ksbb worker`, or `ksbb run` on SQLite): started, killed, restarted."""

    def __init__(self, processes: BotProcesses, *command: str) -> None:
        self.processes, self.command = processes, command
        self.process = processes.start(*command)

    def kill_and_restart(self) -> None:
        self.processes.kill(self.process)
        self.process = self.processes.start(*self.command)


@dataclass
class Chatting:
    """People writing to the bot at a steady pace (each every `every` seconds, spread evenly), whatever the
    bot does: when each message went, and how many the bot refused."""

    platform: Platform
    people: int
    every: float
    turns: list[tuple[object, float]] = field(default_factory=list)
    refused: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            await asyncio.gather(*(self._person(client, index, stop) for index in range(self.people)))

    async def _person(self, client: httpx.AsyncClient, index: int, stop: asyncio.Event) -> None:
        await asyncio.sleep(index * self.every / self.people)
        for turn in itertools.count():
            if stop.is_set():
                return
            started = time.monotonic()
            self.turns.append((self.platform.chatter(index), started))
            try:
                self.refused += not await self.platform.say(client, index, turn)
            except httpx.HTTPError:
                self.refused += 1
            await asyncio.sleep(max(0.0, started + self.every - time.monotonic()))


async def drill(platform: Platform, db: Database, drainer: Drainer, rw: int, size: Size, backend: str) -> dict[str, Any]:
    """Broadcast to the RW while people chat, kill the drainer at half (in the drills of `size.kills`), wait until
    every row is settled."""
    kill = f"{backend} {platform.name.lower()}" in size.kills
    chatting = Chatting(platform, size.chatters, size.chat_every)
    stop = asyncio.Event()
    people = asyncio.create_task(chatting.run(stop))
    try:
        await asyncio.sleep(size.warm_up)
        began = time.monotonic()
        broadcast_id, recipients = await broadcast_now(db, rw, f"Siaran {platform.name}: kerja bakti Minggu pagi")
        expected = {platform.recipient(address) for address in await _addresses(db, broadcast_id)}
        killed_at: tuple[float, int] | None = None
        deadline = began + 3 * recipients / platform.limit + size.lease_seconds + 60
        got: set[object] = set()
        read = len(platform.sends())
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            sends = platform.sends()
            got.update(send.chat for send in sends[read:] if send.ok and send.chat in expected)
            read = len(sends)
            if kill and killed_at is None and len(got) >= recipients // 2:
                killed_at = time.monotonic(), len(got)
                drainer.kill_and_restart()
            if len(got) >= recipients and not await _pending(db, broadcast_id):
                break
        await asyncio.sleep(min(2.0, size.chat_every / 4))  # the last replies
    finally:
        stop.set()
        await people
    await asyncio.sleep(min(1.0, size.chat_every / 4))
    statuses = await _statuses(db, broadcast_id)
    assert killed_at is not None or not kill, "the broadcast never reached half"
    with (drainer.processes.logs / f"sends-{platform.name.lower()}.jsonl").open("w") as log:  # for a closer look
        log.write(json.dumps({"began": began, "killed": killed_at and killed_at[0]}) + "\n")
        log.writelines(json.dumps([*send, send.chat in expected]) + "\n" for send in platform.sends())
    grants = _grants(drainer.processes.logs / GRANTS, platform)
    return analyse(platform, backend, size, expected, chatting, began, killed_at, statuses, grants)


def analyse(platform: Platform, backend: str, size: Size, expected: set[object], chatting: Chatting, began: float,
            killed_at: tuple[float, int] | None, statuses: dict[str, int],
            grants: list[tuple[float, object, float]]) -> dict[str, Any]:
    """The figures of one drill from the fake's log and our limiter's grants."""
    sends = platform.sends()
    delivered = [s for s in sends if s.ok]
    ours = sorted(s.time for s in delivered if s.chat in expected)
    killed, at_kill = killed_at or (math.inf, None)
    first, last = ours[0], ours[-1]
    last_before = max(t for t in ours if t < killed)
    first_after = min((t for t in ours if t > killed), default=None)
    around = [t for t in ours if t >= last_before]
    pause = max((b - a for a, b in itertools.pairwise(around)), default=0.0) if killed_at else None
    times = sorted(s.time for s in delivered)
    received = Counter(s.chat for s in delivered if s.chat in expected)
    steady = _rate(times, first, last_before)
    latencies_before = _latencies(delivered, chatting.turns, began, killed)
    latencies_after = _latencies(delivered, chatting.turns, killed, last)
    answered_before = [x for x in latencies_before if x is not None]
    answered_after = [x for x in latencies_after if x is not None]
    return {
        "backend": backend,
        "platform": platform.name,
        "limit_per_s": platform.limit,
        "recipients": len(expected),
        "chatters": size.chatters,
        "chat_every_s": size.chat_every,
        "delivered_per_s": round(steady, 2),
        "share_of_limit": round(steady / platform.limit, 4),
        "broadcast_per_s": round(_rate(ours, first, last_before), 2),
        "delivered_per_s_after_restart": round(_rate(times, first_after, last), 2) if first_after else None,
        "delivered_per_s_overall": round(_rate(times, first, last), 2),
        "most_in_any_second": max_in_any_window(t for t in times if first <= t <= last),
        "throttled_429_before_kill": sum(s.throttled for s in sends if s.time < killed),
        "throttled_429_after_kill": sum(s.throttled for s in sends if s.time >= killed),
        "throttled_429_by_the_window": sum(_window_full(times, s.time, platform.limit) for s in sends if s.throttled),
        **_pacing(grants, sends, platform.limit, began, last),
        "reply_p50_s": round(common.percentile(answered_before, 50), 3),
        "reply_p95_s": round(common.percentile(answered_before, 95), 3),
        "reply_p99_s": round(common.percentile(answered_before, 99), 3),
        "reply_max_s": round(max(answered_before, default=0.0), 3),
        "reply_p99_after_kill_s": round(common.percentile(answered_after, 99), 3),
        "turns": len(latencies_before) + len(latencies_after),
        "turns_unanswered": sum(x is None for x in latencies_before + latencies_after),
        "messages_refused": chatting.refused,
        "killed_after": at_kill,
        "longest_pause_after_kill_s": pause and round(pause, 2),
        "lost": len(expected - received.keys()),
        "duplicated": sum(n - 1 for n in received.values()),
        "outbox": statuses,
        "duration_s": round(last - first, 1),
    }


def _grants(path: Path, platform: Platform) -> list[tuple[float, object, float]]:
    """Our limiter's grants on the platform's channel (bench/traced.py): (moment let go, chat, seconds after the
    moment the limiter recorded)."""
    found = []
    for line in path.read_text().splitlines() if path.exists() else []:
        moment, channel, address, _, late = line.split()
        if channel == platform.name.lower():
            found.append((float(moment), platform.recipient(address), float(late) / 1000))
    return found


def _pacing(grants: list[tuple[float, object, float]], sends: list[Send], limit: int, start: float, end: float
            ) -> dict[str, Any]:
    """Our own pacing, from the grants: the most let go in any second, the 429s that our pacing caused (`limit`
    sends let go in the second before that one), how long after the moment the limiter recorded each send was let
    go, and how long after that it reached the platform (the spread of both is what the limiter's margin absorbs)."""
    granted = sorted(moment for moment, _, _ in grants)
    per_chat: dict[object, list[float]] = defaultdict(list)
    for moment, chat, _ in grants:
        per_chat[chat].append(moment)
    late = [after for moment, _, after in grants if start <= moment <= end]
    attempts: dict[object, list[Send]] = defaultdict(list)
    for send in sends:
        attempts[send.chat].append(send)
    delays, ours = [], 0
    for chat, tried in attempts.items():
        for granted_at, send in zip(sorted(per_chat.get(chat, ())), sorted(tried), strict=False):
            if start <= granted_at <= end:
                delays.append(send.time - granted_at)
                before = bisect.bisect_left(granted, granted_at) - bisect.bisect_right(granted, granted_at - 1.0)
                ours += send.throttled and before >= limit
    return {
        "our_most_in_any_second": max_in_any_window(t for t in granted if start <= t <= end),
        "throttled_429_by_our_pacing": ours,
        "let_go_after_recorded_ms": {p: round(1000 * common.percentile(late, p), 1) for p in (1, 50, 99)},
        "arrival_after_let_go_ms": {p: round(1000 * common.percentile(delays, p), 1) for p in (1, 50, 99)},
    }


def _window_full(times: Sequence[float], moment: float, limit: int) -> bool:
    """Whether `limit` sends were accepted in the second before `moment` (else a 429 was the chat's rule)."""
    return bisect.bisect_right(times, moment) - bisect.bisect_right(times, moment - 1.0) >= limit


def _rate(times: Sequence[float], start: float, end: float) -> float:
    """Sends per second from `start` to `end` (both moments of a send)."""
    inside = sum(start <= t <= end for t in times)
    return (inside - 1) / (end - start) if end > start else 0.0


def _latencies(delivered: list[Send], turns: list[tuple[object, float]], start: float, end: float) -> list[float | None]:
    """For each message written between `start` and `end`: how long until the last reply before that person's
    next message reached the platform (None: no reply)."""
    replies: dict[object, list[float]] = defaultdict(list)
    for send in delivered:
        replies[send.chat].append(send.time)
    by_person: dict[object, list[float]] = defaultdict(list)
    for chat, started in turns:
        by_person[chat].append(started)
    found: list[float | None] = []
    for chat, starts in by_person.items():
        for started, following in zip(starts, [*starts[1:], float("inf")], strict=True):
            if start <= started < end:
                answers = [t for t in replies[chat] if started <= t < following]
                found.append(max(answers) - started if answers else None)
    return found


async def _addresses(db: Database, broadcast_id: int) -> list[str]:
    async with db.transaction() as session:
        rows = await session.execute(text("SELECT address FROM outbox WHERE broadcast_id = :b"), {"b": broadcast_id})
        return [address for (address,) in rows]


async def _pending(db: Database, broadcast_id: int) -> int:
    async with db.transaction() as session:
        statement = text("SELECT count(*) FROM outbox WHERE broadcast_id = :b AND status = 'pending'")
        return int((await session.execute(statement, {"b": broadcast_id})).scalar_one())


async def _statuses(db: Database, broadcast_id: int) -> dict[str, int]:
    async with db.transaction() as session:
        statement = text("SELECT status, count(*) FROM outbox WHERE broadcast_id = :b GROUP BY status")
        return {status: int(n) for status, n in await session.execute(statement, {"b": broadcast_id})}


# --- The fakes' own ceiling ------------------------------------------------------------------------


async def ceiling(post: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]], seconds: float,
                  in_flight: int = 64) -> float:
    """Requests per second a fake answers to a tight loop with `in_flight` requests outstanding."""
    answered = 0
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=in_flight), timeout=30) as client:
        began = time.monotonic()
        end = began + seconds

        async def loop(index: int) -> None:
            nonlocal answered
            for n in itertools.count():
                if time.monotonic() >= end:
                    return
                try:
                    response = await post(client, index * 100_000 + n)
                except httpx.TransportError:  # a kept-alive connection the fake closed meanwhile: not counted
                    continue
                response.raise_for_status()
                answered += 1

        await asyncio.gather(*(loop(index) for index in range(in_flight)))
        return answered / (time.monotonic() - began)


async def ceilings(size: Size) -> dict[str, float]:
    with FakeBotAPI(token=TOKEN, latency=size.latency, global_per_second=None, chat_burst=None,
                    chat_per_second=None) as telegram:
        url = f"{telegram.base_url}{TOKEN}/sendMessage"
        bot_api = await ceiling(lambda client, n: client.post(url, json={"chat_id": n + 1, "text": "x"}),
                                size.ceiling_seconds)
    with FakeTwilioAPI(account_sid=SID, auth_token=AUTH, messages_per_second=None, latency=size.latency) as twilio:
        url = f"{twilio.base_url}/2010-04-01/Accounts/{SID}/Messages.json"
        twilio_api = await ceiling(lambda client, n: client.post(
            url, auth=(SID, AUTH), data={"To": f"whatsapp:+62{n:010d}", "From": f"whatsapp:{OURS}", "Body": "x"}),
            size.ceiling_seconds)
    return {"telegram": round(bot_api, 1), "whatsapp": round(twilio_api, 1)}


async def limiter_ceiling(url: str | None, tokens: int) -> dict[str, float]:
    """Tokens per second one process takes from each limiter when no rule makes it wait (every token to
    another chat): in memory (SQLite), and in the database (PostgreSQL: a transaction per token)."""
    rules = {"telegram": Rules(global_per_second=10**6, chat_burst=3, chat_per_second=1.0)}
    limiters: dict[str, Limiter] = {"memory": MemoryLimiter(rules)}
    db = Database(url) if url else None
    if db is not None:
        limiters["database"] = DatabaseLimiter(db, rules)
    found = {}
    try:
        for name, limiter in limiters.items():
            began = time.monotonic()
            await asyncio.gather(*(limiter.acquire("telegram", str(n), Priority.BULK) for n in range(tokens)))
            found[name] = round(tokens / (time.monotonic() - began), 1)
    finally:
        if db is not None:
            await db.dispose()
    return found


# --- Set-ups ---------------------------------------------------------------------------------------


def environment(url: str, size: Size, telegram: FakeBotAPI, twilio: FakeTwilioAPI | None = None) -> dict[str, str]:
    """The processes' settings: the real limits (raised at smoke size), the fakes' addresses."""
    env = {"DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": telegram.base_url,
           "WEBHOOK_SECRET": SECRET, "TELEGRAM_GLOBAL_PER_SECOND": str(size.telegram_per_second),
           "TELEGRAM_CHAT_BURST": str(size.chat_burst), "TELEGRAM_CHAT_PER_SECOND": str(size.chat_per_second),
           "SENDER_LEASE_SECONDS": str(size.lease_seconds)}
    if twilio is not None:
        env |= {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": AUTH, "TWILIO_WHATSAPP_FROM": OURS,
                "TWILIO_API_BASE_URL": twilio.base_url, "TWILIO_MPS": str(size.whatsapp_per_second),
                "PUBLIC_BASE_URL": PUBLIC}
    return env


def traced(logs: Path) -> list[str]:
    """`ksbb`, writing every limiter grant to the GRANTS file in `logs`."""
    return ["-m", "bench.traced", str(logs / GRANTS)]


def telegram_fake(size: Size) -> FakeBotAPI:
    return FakeBotAPI(token=TOKEN, latency=size.latency, global_per_second=size.telegram_per_second,
                      chat_burst=size.chat_burst, chat_per_second=size.chat_per_second)


async def until(condition: Callable[[], Awaitable[bool] | bool], what: str, processes: BotProcesses,
                timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if await result if isinstance(result, Awaitable) else result:
            return
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes.processes):
            raise RuntimeError(f"{what} did not start:\n{processes.tail()}")
        await asyncio.sleep(0.05)


async def postgresql(size: Size, url: str, logs: Path, platforms: Sequence[str] = PLATFORMS) -> list[dict[str, Any]]:
    """`ksbb web` answers the people chatting, `ksbb worker` drains; Telegram, then WhatsApp."""
    db = Database(url)
    with telegram_fake(size) as telegram, FakeTwilioAPI(
        account_sid=SID, auth_token=AUTH, messages_per_second=size.whatsapp_per_second, latency=size.latency
    ) as twilio:
        telegram_rw = await residents(db, size.recipients, "telegram", telegram_chat(RECIPIENT_CHATS), 7)
        whatsapp_rw = await residents(db, size.recipients, "whatsapp", whatsapp_number(), 8)
        port = free_port()
        processes = BotProcesses(environment(url, size, telegram, twilio), logs, traced(logs))
        try:
            processes.start("web", "--host", "127.0.0.1", "--port", str(port))
            drainer = Drainer(processes, "worker")
            await until(lambda: telegram.calls["getMe"] >= 2, "ksbb web and ksbb worker", processes)
            await until(lambda: _listening(port), "ksbb web", processes)
            web = f"http://127.0.0.1:{port}"
            drills = []
            if "telegram" in platforms:
                drills.append(drill(Telegram(telegram, size.telegram_per_second, web + "/telegram"), db, drainer,
                                    telegram_rw, size, "postgresql"))
            if "whatsapp" in platforms:
                drills.append(drill(WhatsApp(twilio, size.whatsapp_per_second, web + "/whatsapp"), db, drainer,
                                    whatsapp_rw, size, "postgresql"))
            if size.side_by_side:
                return list(await asyncio.gather(*drills))
            return [await one for one in drills]
        finally:
            processes.stop()
            await db.dispose()


async def sqlite(size: Size, url: str, logs: Path, platforms: Sequence[str] = PLATFORMS) -> list[dict[str, Any]]:
    """One `ksbb run` process: polling, the sender and the scheduler; Telegram only (WhatsApp needs the web
    process beside the sender, and two processes cannot share the in-memory limiter)."""
    db = Database(url)
    with telegram_fake(size) as telegram:
        rw = await residents(db, size.recipients, "telegram", telegram_chat(RECIPIENT_CHATS), 7)
        processes = BotProcesses(environment(url, size, telegram), logs, traced(logs))
        try:
            drainer = Drainer(processes, "run")
            await until(lambda: telegram.calls["getUpdates"] >= 1, "ksbb run", processes)
            return [await drill(Telegram(telegram, size.telegram_per_second), db, drainer, rw, size, "sqlite")]
        finally:
            processes.stop()
            await db.dispose()


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


# --- Report ----------------------------------------------------------------------------------------


def run(smoke: bool) -> dict[str, Any]:
    size = SMOKE if smoke else FULL
    figures = measure(size)
    common.record(NAME, figures, smoke)
    return figures


def measure(size: Size, backends: Sequence[str] = BACKENDS, platforms: Sequence[str] = PLATFORMS,
            logs: Path | None = None) -> dict[str, Any]:
    """Every drill at `size`; prints the table."""
    figures: dict[str, Any] = {"size": {}, "fake_ceiling_per_s": {}, "drills": []}
    figures["fake_ceiling_per_s"] = asyncio.run(ceilings(size))
    with contextlib.ExitStack() as stack:
        folder = logs or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ksbb-bench-broadcast-")))
        folder.mkdir(parents=True, exist_ok=True)
        setups: list[tuple[Setup, str, Path]] = []
        if "postgresql" in backends and common.postgres_available():
            setups.append((postgresql, stack.enter_context(common.scratch_postgres()), folder / "postgresql"))
        elif "postgresql" in backends:
            print("broadcast: PostgreSQL not reachable, measuring SQLite only")
            size = replace(size, kills=size.kills | {"sqlite telegram"})
        figures["size"] = {**asdict(size), "kills": sorted(size.kills)}
        if "sqlite" in backends and "telegram" in platforms:
            setups.append((sqlite, f"sqlite:///{folder}/ksbb.db", folder / "sqlite"))
        for _, url, folder_logs in setups:
            migrate(url)  # one at a time: Alembic's context is global
            folder_logs.mkdir(parents=True, exist_ok=True)
        postgres = next((url for setup, url, _ in setups if setup is postgresql), None)
        figures["limiter_ceiling_per_s"] = asyncio.run(limiter_ceiling(postgres, size.limiter_tokens))
        drills = [setup(size, url, folder_logs, platforms) for setup, url, folder_logs in setups]
        if size.side_by_side:
            async def side_by_side() -> list[list[dict[str, Any]]]:
                return await asyncio.gather(*drills)

            figures["drills"] = [drill for done in asyncio.run(side_by_side()) for drill in done]
        else:
            for one in drills:
                figures["drills"] += asyncio.run(one)
    figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(report(figures, size))
    return figures


def main() -> None:
    """Ad-hoc runs at other sizes (not recorded): `python -m bench.broadcast --recipients 2000 postgresql`."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--smoke", action="store_true", help="start from the smoke size (default: full)")
    parser.add_argument("--recipients", type=int)
    parser.add_argument("--platform", action="append", choices=PLATFORMS)
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this folder")
    parser.add_argument("backends", nargs="*", help="postgresql, sqlite (default: both)")
    args = parser.parse_args()
    size = SMOKE if args.smoke else FULL
    if args.recipients:
        size = replace(size, recipients=args.recipients)
    figures = measure(size, backends=args.backends or BACKENDS, platforms=args.platform or PLATFORMS, logs=args.logs)
    print(json.dumps(figures, indent=1))


def report(figures: dict[str, Any], size: Size) -> str:
    header = ["backend", "platform", "limit/s", "fake ceiling/s", "delivered/s", "of limit", "429s (ours)",
              "reply p99 s", "after kill/s", "lost", "duplicated"]
    rows = []
    for d in figures["drills"]:
        ceiling_per_s = figures["fake_ceiling_per_s"][d["platform"].lower()]
        rows.append([d["backend"], d["platform"], d["limit_per_s"], ceiling_per_s, d["delivered_per_s"],
                     f"{d['share_of_limit']:.1%}",
                     f"{d['throttled_429_before_kill'] + d['throttled_429_after_kill']} ({d['throttled_429_by_our_pacing']})",
                     f"{d['reply_p99_s']:.2f}", d["delivered_per_s_after_restart"] or "no kill", d["lost"],
                     d["duplicated"]])
    title = (f"Broadcast to {size.recipients:,} while {size.chatters} people chat (each every {size.chat_every:g} s),"
             f" answers after {size.latency * 1000:.0f} ms; the sender killed at half"
             f" (targets: >= {TARGET_SHARE:.0%} of the limit, no 429, reply p99 < {TARGET_P99} s, none lost,"
             f" <= {TARGET_DUPLICATES} duplicated)")
    return common.table(title, header, rows)


if __name__ == "__main__":
    main()
