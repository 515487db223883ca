"""One inbound message, one transaction: dedupe record, locked conversation, flow step, outbox rows."""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from bot.logs import pseudonym
from handlers.dialog.machine import Context, Dialog
from handlers.messages import Inbound, Reply
from handlers.text.i18n import translate
from storage import outbox
from storage.conversations import lock_conversation
from storage.db import Database
from storage.inbound import record_inbound
from storage.outbox import Priority
from storage.people import find_identity, identify
from storage.roles import roles_of
from storage.types import utcnow

log = logging.getLogger(__name__)

# The database cannot be reached, or no pooled connection came free in time: not a bug of the step.
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)

HANDLED, DUPLICATE, FAILED = "handled", "duplicate", "failed"
UNAVAILABLE_OUTCOME = "unavailable"  # only counted: the platform delivers the message again


class Duplicate(Exception):
    """The update was handled before: whatever its step began is rolled back."""


async def _record(session: AsyncSession, message: Inbound, status: str, now: datetime, person_id: int | None = None) -> None:
    """The inbound record that makes a redelivery a duplicate; raises Duplicate if it exists already."""
    if not await record_inbound(session, message.channel, message.bot, message.platform_id, status, now, person_id):
        raise Duplicate


class DatabaseUnavailable(Exception):
    """The database could not be reached; the platform should deliver the update again."""


@dataclass(frozen=True)
class Outcome:
    """How an inbound message ended, with its replies as written (committed, leased to this process)."""

    status: str
    replies: tuple[outbox.Outbox, ...] = ()

    @property
    def reply_ids(self) -> tuple[int, ...]:
        return tuple(row.id for row in self.replies)


class Engine:
    """Handles inbound messages exactly once, leaving the replies leased to this process."""

    def __init__(
        self, db: Database, dialog: Dialog, owner: str, default_locale: str, lease_seconds: float
    ) -> None:
        self.db = db
        self.dialog = dialog
        self.owner = owner
        self.default_locale = default_locale
        self.lease_seconds = lease_seconds

    async def handle(self, message: Inbound) -> Outcome:
        """Run the step in one transaction; on a bug, record the failure and apologise instead.
        Counted by channel and outcome, and timed (metrics.INBOUND, metrics.STEP_SECONDS)."""
        started = time.perf_counter()
        try:
            outcome = await self._handle_or_apologise(message)
        except DatabaseUnavailable:
            metrics.INBOUND.labels(channel=message.channel, outcome=UNAVAILABLE_OUTCOME).inc()
            raise
        metrics.INBOUND.labels(channel=message.channel, outcome=outcome.status).inc()
        metrics.STEP_SECONDS.labels(channel=message.channel).observe(time.perf_counter() - started)
        return outcome

    async def _handle_or_apologise(self, message: Inbound) -> Outcome:
        try:
            return await self._handle(message)
        except UNAVAILABLE as exc:
            raise DatabaseUnavailable(str(getattr(exc, "orig", None) or exc)[:200]) from exc
        except Exception:
            log.exception("step failed for %s (update %s)", pseudonym(message.sender), message.platform_id)
        try:
            return await self._record_failure(message)
        except UNAVAILABLE as exc:
            raise DatabaseUnavailable(str(getattr(exc, "orig", None) or exc)[:200]) from exc

    async def _handle(self, message: Inbound) -> Outcome:
        try:
            async with self.db.transaction() as session:
                return await self._step(session, message, utcnow())
        except Duplicate:
            return Outcome(DUPLICATE)

    async def _step(self, session: AsyncSession, message: Inbound, now: datetime) -> Outcome:
        if not message.private:
            await _record(session, message, HANDLED, now)
            row = self._row(message, Reply(translate(self.default_locale, "group.private_only")), None, now)
            session.add(row)
            await session.flush()
            return Outcome(HANDLED, (row,))
        identity = await identify(session, message.sender, message.channel, message.address, self.default_locale, now)
        await _record(session, message, HANDLED, now, identity.person_id)
        conversation = await lock_conversation(session, identity.person_id, now)
        ctx = Context(
            session, identity.person, identity, now, copy.deepcopy(conversation.data),
            roles=await roles_of(session, identity.person_id), terms=self.dialog.terms,
            templates=self.dialog.templates, message=message,
        )
        await self.dialog.turn(ctx, conversation, message)
        if ctx.erased:  # the record went with the person; kept anonymous, so a redelivery is still a duplicate
            await _record(session, message, HANDLED, now)
        person_id = None if ctx.erased else identity.person_id
        rows = [self._row(message, reply, person_id, now) for reply in ctx.replies]
        session.add_all(rows)
        await session.flush()
        return Outcome(HANDLED, tuple(rows))

    async def _record_failure(self, message: Inbound) -> Outcome:
        now = utcnow()
        async with self.db.transaction() as session:
            if not await record_inbound(session, message.channel, message.bot, message.platform_id, FAILED, now):
                return Outcome(DUPLICATE)
            identity = await find_identity(session, message.sender)
            locale = identity.person.locale if identity else self.default_locale
            row = self._row(message, Reply(translate(locale, "error.apology")), identity.person_id if identity else None, now)
            session.add(row)
            await session.flush()
            return Outcome(FAILED, (row,))

    def _row(self, message: Inbound, reply: Reply, person_id: int | None, now: datetime) -> outbox.Outbox:
        return outbox.new_row(
            channel=message.channel,
            address=message.address,
            body=reply.to_body(),
            priority=Priority.REPLY,
            now=now,
            person_id=person_id,
            lease_owner=self.owner,
            lease_seconds=self.lease_seconds,
        )

