"""The outbox sender: leases rows, takes a token from the shared limiter, sends, records the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from itertools import groupby
from typing import Any, Protocol

from sqlalchemy import update

from bot import metrics
from bot.channels.errors import OptedOut, OutsideWindow, Permanent, Throttled, Unreachable
from bot.limiter import Limiter
from handlers.messages import Reply
from storage import outbox
from storage.db import Database
from storage.models import Identity, Outbox, Person
from storage.outbox import Priority
from storage.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hold:
    """A row a gate keeps from going now, with the row's new values (a status, a later time)."""

    values: dict[str, Any]


class Transport(Protocol):
    """Sends one reply to one address on one platform, raising the shared send errors."""

    channel: str

    async def send(self, address: str, reply: Reply) -> str | None: ...


class Gate(Protocol):
    """Decides at send time how a row may go on its platform (WhatsApp's 24-hour window): the reply
    as it is or changed (a template), or a Hold with the row's new values. `closed`: the platform
    just refused the reply because the window was closed."""

    async def prepare(self, row: Outbox, reply: Reply, closed: bool = False) -> Reply | Hold: ...


class Sender:
    """Delivers outbox rows in order per chat; any number of senders may share one database."""

    def __init__(
        self,
        db: Database,
        transports: Iterable[Transport],
        limiter: Limiter,
        owner: str,
        *,
        batch_size: int = 30,
        lease_seconds: float = 60.0,
        max_attempts: int = 5,
        idle_seconds: float = 1.0,
        retry_base_seconds: float = 2.0,
        gates: Mapping[str, Gate] | None = None,
    ) -> None:
        self.db = db
        self.transports = {transport.channel: transport for transport in transports}
        self.gates = dict(gates or {})
        self.limiter = limiter
        self.owner = owner
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.idle_seconds = idle_seconds
        self.retry_base_seconds = retry_base_seconds
        self._chats = _Turns()
        self._claiming = asyncio.Lock()
        self.wake = asyncio.Event()

    async def deliver(self, rows: Sequence[Outbox]) -> None:
        """Send the rows this process leased when it handled an update (its replies), as they were
        written; any whose lease ran out meanwhile are left to the sender that took them over."""
        now = utcnow()
        await self._send([row for row in rows if row.lease_until is not None and row.lease_until > now])

    async def drain_once(self, address: str | None = None, limit: int | None = None) -> int:
        """Claim and send one batch of due rows (at most `limit`); returns how many were claimed. Claims
        in one process take turns, so none sees a row that another is leasing as free."""
        async with self._claiming, self.db.transaction() as session:
            rows = await outbox.claim(
                session,
                self.owner,
                utcnow(),
                self.lease_seconds,
                limit or self.batch_size,
                channels=list(self.transports),
                address=address,
            )
        await self._send(rows)
        return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        """Drain the outbox until stopped in two lanes of half a batch each: while one lane's last
        sends are on their way and it records and claims, the other's rows wait at the limiter, so
        the window is not left idle at batch boundaries. A crash still sends at most one batch (both
        halves) twice."""
        half = max(1, self.batch_size // 2)
        await asyncio.gather(self._lane(stop, half), self._lane(stop, half))

    async def _lane(self, stop: asyncio.Event, size: int) -> None:
        """Drain batches of `size` until stopped, resting when there is nothing to send."""
        while not stop.is_set():
            try:
                claimed = await self.drain_once(limit=size)
            except Exception:
                log.exception("sender batch failed")
                claimed = 0
            if not claimed:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(stop.wait(), self.wake.wait()), self.idle_seconds)

    async def _send(self, rows: list[Outbox]) -> None:
        """Send a batch, then record every outcome in one transaction (a crash in between sends the
        batch's sent rows again once their lease runs out: at most one batch twice)."""
        if not rows:
            return
        pending = {row.id for row in rows}
        outcomes: list[Outcome] = []
        renewer = asyncio.create_task(self._renew(pending))
        try:
            chats = [list(group) for _, group in groupby(sorted(rows, key=_chat_order), key=_chat)]
            await asyncio.gather(*(self._send_chat(chat, pending, outcomes) for chat in chats))
        finally:
            renewer.cancel()
            await self._record(outcomes)

    async def _send_chat(self, rows: list[Outbox], pending: set[int], outcomes: list[Outcome]) -> None:
        """Send one chat's rows in order; a throttled row holds back the ones after it."""
        async with self._chats.turn(_chat(rows[0])):
            for index, row in enumerate(rows):
                outcome = await self._send_one(row)
                outcomes.append(outcome)
                pending.discard(row.id)
                if outcome.retry_after is not None:
                    not_before = utcnow() + timedelta(seconds=outcome.retry_after)
                    outcomes.extend(Outcome(later, {"not_before": not_before}) for later in rows[index + 1 :])
                    pending.difference_update(r.id for r in rows)
                    return

    async def _send_one(self, row: Outbox) -> Outcome:
        """Send a row, counting the attempt by channel and outcome (metrics.SENDS)."""
        outcome = await self._attempt(row)
        metrics.SENDS.labels(channel=row.channel, outcome=outcome.kind).inc()
        return outcome

    async def _attempt(self, row: Outbox) -> Outcome:
        """Send a row; the outcome says what to record and whether the platform throttled us."""
        reply = replace(Reply.from_body(row.body), row_id=row.id)
        if reply.expires_at is not None and reply.expires_at <= utcnow():
            return Outcome(row, {"status": outbox.EXPIRED}, kind="expired")
        try:
            reply, platform_id = await self._transmit(row, reply)
        except Held as held:
            return Outcome(row, held.values, kind="held")
        except Throttled as exc:
            return Outcome(row, {"not_before": utcnow() + timedelta(seconds=exc.retry_after)}, exc.retry_after,
                           kind="throttled")
        except Unreachable as exc:
            return Outcome(row, {"status": outbox.UNREACHABLE, "error": "unreachable"}, unreachable=True,
                           opted_out=isinstance(exc, OptedOut), kind="unreachable")
        except Permanent as exc:
            return Outcome(row, {"status": outbox.FAILED, "error": str(exc)[:200], "attempts": row.attempts + 1},
                           kind="failed")
        except Exception as exc:  # transient: network, 5xx, anything unexpected
            attempts = row.attempts + 1
            if attempts >= self.max_attempts:
                return Outcome(row, {"status": outbox.FAILED, "error": type(exc).__name__, "attempts": attempts},
                               kind="failed")
            backoff = timedelta(seconds=min(self.retry_base_seconds * 2 ** (attempts - 1), 300))
            return Outcome(row, {"attempts": attempts, "not_before": utcnow() + backoff, "error": type(exc).__name__},
                           kind="retry")
        return Outcome(row, {
            "status": outbox.SENT, "sent_at": utcnow(), "attempts": row.attempts + 1,
            "platform_message_id": platform_id, "template_sid": reply.template.sid if reply.template else None,
        }, forget=bool(row.body.get("forget")), kind="sent")

    async def _transmit(self, row: Outbox, reply: Reply) -> tuple[Reply, str | None]:
        """Through the row's gate (if its platform has one) and the limiter to the platform; a reply the
        platform refuses for a closed window goes once more as the gate's template."""
        gate = self.gates.get(row.channel)
        reply = await _through(gate, row, reply)
        await self.limiter.acquire(row.channel, row.address, Priority(row.priority))
        try:
            return reply, await self.transports[row.channel].send(row.address, reply)
        except OutsideWindow:
            if gate is None or reply.template is not None:
                raise
        reply = await _through(gate, row, reply, closed=True)
        await self.limiter.acquire(row.channel, row.address, Priority(row.priority))
        return reply, await self.transports[row.channel].send(row.address, reply)

    async def _record(self, outcomes: list[Outcome]) -> None:
        """Every outcome of a batch in one transaction: the rows' new values (sent rows that must not
        outlive their delivery deleted), unreachable identities and people who opted out marked."""
        if not outcomes:
            return
        now = utcnow()
        async with self.db.transaction() as session:
            await outbox.finish(session, self.owner, ((o.row.id, o.values) for o in outcomes if not o.forget))
            forgotten = [o.row.id for o in outcomes if o.forget]
            if forgotten:
                await outbox.forget(session, forgotten)
            for o in outcomes:
                if o.unreachable:
                    await session.execute(
                        update(Identity)
                        .where(Identity.channel == o.row.channel, Identity.address == o.row.address)
                        .values(unreachable_at=now)
                    )
                if o.opted_out and o.row.person_id is not None:
                    await session.execute(
                        update(Person).where(Person.id == o.row.person_id, Person.opted_out_at.is_(None))
                        .values(opted_out_at=now)
                    )

    async def _renew(self, pending: set[int]) -> None:
        """Keep the lease on rows still waiting for the limiter, so nobody else takes them."""
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            if pending:
                async with self.db.transaction() as session:
                    until = utcnow() + timedelta(seconds=self.lease_seconds)
                    await outbox.renew(session, self.owner, list(pending), until)


@dataclass(frozen=True)
class Outcome:
    """What became of one row: the values to record, and the platform's wait when it throttled us."""

    row: Outbox
    values: dict[str, Any]
    retry_after: float | None = None
    unreachable: bool = False
    opted_out: bool = False
    forget: bool = False
    kind: str = "waiting"  # for metrics.SENDS: sent, throttled, held, expired, unreachable, failed, retry


class _Turns:
    """One lock per chat, kept only while someone holds or waits for it (a broadcast to a million
    chats must not leave a million locks behind)."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def turn(self, chat: tuple[str, str]) -> AsyncIterator[None]:
        lock, users = self._locks.get(chat, (asyncio.Lock(), 0))
        self._locks[chat] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[chat]
            if users == 1:
                del self._locks[chat]
            else:
                self._locks[chat] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class Held(Exception):
    """A gate held the row back."""

    def __init__(self, values: dict[str, object]) -> None:
        super().__init__("held")
        self.values = values


async def _through(gate: Gate | None, row: Outbox, reply: Reply, closed: bool = False) -> Reply:
    if gate is None:
        return reply
    prepared = await gate.prepare(row, reply, closed)
    if isinstance(prepared, Hold):
        raise Held(prepared.values)
    return prepared


def _chat(row: Outbox) -> tuple[str, str]:
    return row.channel, row.address


def _chat_order(row: Outbox) -> tuple[str, str, int, int]:
    return row.channel, row.address, row.priority, row.id


async def _first(*waits: object) -> None:
    """Return when the first of several awaitables completes."""
    tasks = [asyncio.ensure_future(w) for w in waits]  # type: ignore[arg-type]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
