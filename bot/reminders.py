"""The reminders the scheduler sends: residents from 18.00 the evening before their bank's weighing
until it starts, and coordinators' digest on Mondays from 07.00 to 12.00 (Jakarta time).

Everything is computed from the tables at each tick, so a changed schedule needs no job change. Each
item is claimed once per (kind, target, occurrence) in the transaction that queues it, so restarts and
second workers never repeat one; an item whose window has passed is never computed, so never sent late."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.dialog.machine import Duty
from handlers.messages import Reply
from handlers.text.formatting import date_long, number, time_of_day, weight
from handlers.text.i18n import N_, translate
from storage import clock, outbox, reminders, stats
from storage.models import Person
from storage.outbox import REMINDER, Priority
from storage.schedule import claim_occurrence

REMINDER_FROM = time(18, 0)  # on the evening before weighing day
DIGEST_WEEKDAY, DIGEST_FROM, DIGEST_UNTIL = 0, time(7, 0), time(12, 0)
BATCH = 500  # items queued per duty and tick at most; the rest follow a minute later

WEIGHING_TEXT = {True: N_("reminder.weighing_tomorrow"), False: N_("reminder.weighing_today")}


def next_weighing(weekday: int, at: time, now: datetime) -> datetime:
    """The start of the first weighing after `now`."""
    local = clock.local(now)
    day = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
    start = clock.at(day, at)
    return start if start > local else start + timedelta(days=7)


def reminder_opens(start: datetime) -> datetime:
    """When the reminder for a weighing becomes due: 18.00 the evening before."""
    return clock.at(start.date() - timedelta(days=1), REMINDER_FROM)


def reminder_due(weekday: int, at: time, now: datetime) -> datetime | None:
    """The start of the weighing whose reminder is due now (from 18.00 the evening before until it
    starts), or None; once a weighing has started its reminder is never due again."""
    start = next_weighing(weekday, at, now)
    return start if now >= reminder_opens(start) else None


def digest_week(now: datetime) -> str | None:
    """The ISO week (`2026-W49`) whose digest is due now, or None outside Monday 07.00–12.00."""
    local = clock.local(now)
    if local.weekday() != DIGEST_WEEKDAY or not DIGEST_FROM <= local.time() < DIGEST_UNTIL:
        return None
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


async def weighing_reminders(session: AsyncSession, now: datetime) -> int:
    """Queue the reminders due now for every bank whose reminder window is open; returns how many."""
    queued = 0
    for bank in await reminders.scheduled_banks(session):
        start = reminder_due(bank.weighing_weekday, bank.weighing_time, now)  # type: ignore[arg-type]
        if start is None or queued >= BATCH:
            continue
        occurrence = start.date().isoformat()
        tomorrow = start.date() > clock.today(now)
        for person in await reminders.residents_to_remind(session, bank.id, occurrence, BATCH - queued):
            text = translate(
                person.locale, WEIGHING_TEXT[tomorrow], bank=bank.name, date=date_long(start.date(), person.locale),
                time=time_of_day(start.time(), person.locale),
            )
            queued += await send_once(session, person, reminders.WEIGHING, occurrence, text, now, expires=start)
    return queued


async def weekly_digests(session: AsyncSession, now: datetime) -> int:
    """Queue this week's digest to every waste coordinator who has not had it; returns how many."""
    week = digest_week(now)
    if week is None:
        return 0
    monday = clock.at(clock.today(now), time())
    last_week, week_before = monday - timedelta(days=7), monday - timedelta(days=14)
    queued = 0
    for person, rw_ids in await reminders.coordinators_to_brief(session, week, BATCH):
        locale = person.locale
        last = sum((await stats.verified_grams_by_category(session, rw_ids, last_week, monday)).values())
        before = sum((await stats.verified_grams_by_category(session, rw_ids, week_before, last_week)).values())
        text = translate(
            locale, "digest.weekly",
            rws=await rw_list(session, rw_ids),
            pending=number(await reminders.pending_reports(session, rw_ids), locale),
            last=weight(last, locale),
            before=weight(before, locale),
            reporting=number(await stats.residents_reporting(session, rw_ids, last_week, monday), locale),
            registered=number(await stats.residents_registered(session, rw_ids), locale),
        )
        queued += await send_once(session, person, reminders.DIGEST, week, text, now)
    return queued


async def rw_list(session: AsyncSession, rw_ids: set[int]) -> str:
    """`Kebon Melati RW 012, 014; Menteng RW 002`."""
    by_kelurahan: dict[str, list[str]] = defaultdict(list)
    for kelurahan, rw in await reminders.rw_names(session, rw_ids):
        by_kelurahan[kelurahan].append(f"{rw:03d}")
    return "; ".join(f"{kelurahan} RW {', '.join(rws)}" for kelurahan, rws in by_kelurahan.items())


async def send_once(
    session: AsyncSession, person: Person, kind: str, occurrence: str, text: str, now: datetime,
    expires: datetime | None = None,
) -> int:
    """Queue the text to the person's last-used identity if this occurrence was not claimed before:
    1 when queued, 0 when someone else (another tick, another worker) already had it. Scheduled
    messages go as bulk (replies overtake them, BERHENTI drops them); one that `expires` is dropped
    by the sender if it could only arrive too late."""
    identity = await outbox.last_used_identity(session, person.id)
    if identity is None or not await claim_occurrence(session, kind, reminders.person_target(person.id), occurrence, now):
        return 0
    session.add(
        outbox.new_row(channel=identity.channel, address=identity.address,
                       body=Reply(text, expires_at=expires, kind=REMINDER).to_body(), priority=Priority.BULK, now=now,
                       person_id=person.id)
    )
    return 1


def reminder_duties() -> list[Duty]:
    """The scheduler's reminder duties, run at every tick."""
    return [weighing_reminders, weekly_digests]
