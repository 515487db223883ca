"""Reminders through the scheduler: residents the evening before weighing, coordinators' Monday
digest; due only in their window, dropped once it has passed, and sent once whatever restarts or
second workers happen. Time is driven by calling `Scheduler.tick(now=...)`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot import reminders
from bot.app import App
from bot.engine import Engine
from bot.scheduler import Scheduler
from bot.settings import Settings
from handlers import build_dialog
from handlers.messages import Reply
from handlers.text.i18n import translate
from storage import reminders as due
from storage.db import Database
from storage.models import Identity, Outbox, Person, WasteBank
from storage.models.roles import COORDINATOR, WASTE
from storage.outbox import Priority
from storage.people import identify
from storage.places import get_or_create_rw
from storage.reports import VERIFIED, create_report
from storage.roles import grant_role, revoke_role
from tests.conftest import count
from tests.support import Direct

JAKARTA = ZoneInfo("Asia/Jakarta")
KEBON_MELATI, MENTENG = "31.71.07.1005", "31.71.06.1001"
SAMPLE = "Bank Sampah Unit Melati Bersih (CONTOH)"  # serves Kebon Melati RW 12, weighing Saturday 08.00


def jakarta(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """A moment in December 2026, Jakarta time, as aware UTC (5 December is a Saturday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=JAKARTA).astimezone(UTC)


FRIDAY_EVENING = jakarta(4, 18, 30)
LAST_WROTE = jakarta(1, 9)


async def resident(db: Database, name: str, *, kelurahan: str = KEBON_MELATI, rw: int = 12, locale: str = "id",
                   at: datetime = LAST_WROTE) -> int:
    """A consented resident who last wrote from `local:<name>`."""
    async with db.transaction() as session:
        place = await get_or_create_rw(session, kelurahan, rw)
        identity = await identify(session, f"local:{name}", "local", name, locale, at)
        person = identity.person
        person.name, person.consent_at, person.consent_version, person.rw_id = name.title(), at, "2026-11", place.id
        return person.id


async def reminded(db: Database) -> list[tuple[str, str]]:
    """(address, text) of every reminder or digest queued, in order."""
    async with db.transaction() as session:
        rows = (await session.execute(select(Outbox).order_by(Outbox.id))).scalars().all()
        assert all(row.priority == Priority.BULK for row in rows)  # replies overtake them; BERHENTI drops them
        return [(row.address, Reply.from_body(row.body).text) for row in rows]


def tomorrow_text(locale: str = "id", bank: str = SAMPLE) -> str:
    date = "Sabtu, 5 Desember 2026" if locale == "id" else "Saturday, 5 December 2026"
    return translate(locale, "reminder.weighing_tomorrow", bank=bank, date=date,
                     time="08.00" if locale == "id" else "08:00")


def scheduler(db: Database) -> Scheduler:
    return Scheduler(db, reminders.reminder_duties())


# --- Weighing reminders ---------------------------------------------------------------------


WINDOW = [
    # (Jakarta time, reminder due?)
    (jakarta(3, 18, 30), False),  # Thursday evening: too early
    (jakarta(4, 17, 59), False),  # Friday, a minute before the window opens
    (jakarta(4, 18, 0), True),    # Friday 18.00: the window opens
    (jakarta(4, 23, 59), True),
    (jakarta(5, 7, 59), True),    # Saturday, a minute before weighing
    (jakarta(5, 8, 0), False),    # weighing has started: dropped, never sent late
    (jakarta(5, 10, 0), False),
    (jakarta(6, 18, 0), False),   # Sunday: next week's window is far off
]


@pytest.mark.parametrize(("now", "expected"), WINDOW)
def test_the_weighing_reminder_is_due_only_in_its_window(now: datetime, expected: bool) -> None:
    assert reminders.reminder_due(5, time(8, 0), now) == (jakarta(5, 8, 0) if expected else None)


async def test_ticking_through_the_week_sends_one_reminder_at_the_first_tick_in_its_window(db: Database) -> None:
    await resident(db, "siti")
    for now, _ in WINDOW:
        await scheduler(db).tick(now)
        assert len(await reminded(db)) == int(now >= jakarta(4, 18, 0)), now
    assert await reminded(db) == [("siti", tomorrow_text())]


async def test_the_reminder_names_the_bank_day_and_time_in_the_persons_language(db: Database) -> None:
    await resident(db, "siti")
    await resident(db, "anna", locale="en")
    await scheduler(db).tick(FRIDAY_EVENING)
    assert await reminded(db) == [("siti", tomorrow_text("id")), ("anna", tomorrow_text("en"))]


async def test_after_midnight_the_reminder_says_today(db: Database) -> None:
    await resident(db, "siti")
    await scheduler(db).tick(jakarta(5, 6, 0))
    [(_, text)] = await reminded(db)
    assert text == translate("id", "reminder.weighing_today", bank=SAMPLE, date="Sabtu, 5 Desember 2026", time="08.00")


async def test_a_reminder_missed_while_the_scheduler_was_down_is_dropped_not_sent_late(db: Database) -> None:
    await resident(db, "siti")
    for now in (jakarta(5, 8, 1), jakarta(5, 12, 0), jakarta(6, 9, 0)):
        await scheduler(db).tick(now)
    assert await reminded(db) == []
    await scheduler(db).tick(jakarta(11, 18, 0))  # the next Friday evening: next week's reminder
    [(_, text)] = await reminded(db)
    assert "12 Desember 2026" in text


async def test_the_reminder_is_sent_once_across_ticks_and_a_scheduler_restart(db: Database, database_url: str) -> None:
    await resident(db, "siti")
    await scheduler(db).tick(FRIDAY_EVENING)
    await scheduler(db).tick(FRIDAY_EVENING + timedelta(minutes=1))
    restarted = Database(database_url)  # a new process: new engine, new scheduler
    try:
        await Scheduler(restarted, reminders.reminder_duties()).tick(FRIDAY_EVENING + timedelta(hours=2))
    finally:
        await restarted.dispose()
    assert await reminded(db) == [("siti", tomorrow_text())]


async def two_workers_tick(database_url: str, now: datetime) -> None:
    """Two workers, each with its own database engine, tick at the same moment. On PostgreSQL they
    meet at a barrier after reading who is due and before claiming anything."""
    first, second = Database(database_url), Database(database_url)
    try:
        await asyncio.gather(*(Scheduler(db, reminders.reminder_duties()).tick(now) for db in (first, second)))
    finally:
        await first.dispose()
        await second.dispose()


@pytest.fixture
def meet_before_claiming(database_url: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """On PostgreSQL, both workers read who is due before either claims (SQLite serialises writers:
    the second waits for the first's `BEGIN IMMEDIATE`, so a barrier would only deadlock). Returns
    how many people each worker found due when it passed the barrier."""
    met: list[int] = []
    if not database_url.startswith("postgresql"):
        return met
    barrier = asyncio.Barrier(2)
    read = due.residents_to_remind

    async def meeting(*args: object, **kwargs: object) -> list[Person]:
        people = await read(*args, **kwargs)  # type: ignore[arg-type]
        await asyncio.wait_for(barrier.wait(), 30)
        met.append(len(people))
        return people

    monkeypatch.setattr(due, "residents_to_remind", meeting)
    return met


async def test_two_workers_ticking_at_once_send_each_reminder_once(
    db: Database, database_url: str, meet_before_claiming: list[int]
) -> None:
    names = [f"warga{i}" for i in range(20)]
    for name in names:
        await resident(db, name)
    await two_workers_tick(database_url, FRIDAY_EVENING)
    if database_url.startswith("postgresql"):
        assert meet_before_claiming == [20, 20]  # both found everyone due before either claimed
    assert sorted(address for address, _ in await reminded(db)) == sorted(names)
    assert await count(db, "SELECT count(*) FROM scheduled_occurrence WHERE kind = 'weighing_reminder'") == 20


async def test_control_without_the_claim_two_workers_duplicate(
    db: Database, database_url: str, meet_before_claiming: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test above has teeth: with the claim removed, the same two workers send everything twice."""
    async def always(*args: object) -> bool:
        return True

    monkeypatch.setattr(reminders, "claim_occurrence", always)
    for name in ("siti", "budi"):
        await resident(db, name)
    await two_workers_tick(database_url, FRIDAY_EVENING)
    assert len(await reminded(db)) == 4


async def set_person(db: Database, person_id: int, **values: object) -> None:
    async with db.transaction() as session:
        await session.execute(update(Person).where(Person.id == person_id).values(**values))


NOBODY_TO_REMIND = [
    ("reminders off", {"reminders": False}),
    ("opted out", {"opted_out_at": jakarta(1, 10)}),
    ("never consented", {"consent_at": None}),
]


@pytest.mark.parametrize(("why", "values"), NOBODY_TO_REMIND)
async def test_people_who_do_not_want_reminders_get_none(db: Database, why: str, values: dict[str, object]) -> None:
    await resident(db, "siti")
    await set_person(db, await resident(db, "budi"), **values)
    await scheduler(db).tick(FRIDAY_EVENING)
    assert [address for address, _ in await reminded(db)] == ["siti"]


async def test_residents_without_a_scheduled_bank_or_a_reachable_channel_get_none(db: Database) -> None:
    await resident(db, "siti")
    await resident(db, "tetangga", kelurahan=MENTENG, rw=2)  # an RW without a bank
    await resident(db, "blocked")
    async with db.transaction() as session:
        await session.execute(update(Identity).where(Identity.key == "local:blocked").values(unreachable_at=jakarta(1, 10)))
    await scheduler(db).tick(FRIDAY_EVENING)
    assert [address for address, _ in await reminded(db)] == ["siti"]
    async with db.transaction() as session:
        await session.execute(update(WasteBank).values(weighing_weekday=None, weighing_time=None))
    await scheduler(db).tick(jakarta(11, 18, 30))
    assert len(await reminded(db)) == 1


async def test_the_reminder_goes_to_the_identity_the_person_used_last(db: Database) -> None:
    siti = await resident(db, "siti")
    async with db.transaction() as session:
        identity = await identify(session, "telegram:777", "telegram", "777", "id", jakarta(3, 9))
        identity.person_id = siti
    await scheduler(db).tick(FRIDAY_EVENING)
    async with db.transaction() as session:
        row = (await session.execute(select(Outbox))).scalar_one()
    assert (row.channel, row.address, row.person_id) == ("telegram", "777", siti)


async def test_a_changed_schedule_takes_effect_at_the_next_tick(db: Database) -> None:
    await resident(db, "siti")
    async with db.transaction() as session:
        await session.execute(update(WasteBank).values(weighing_weekday=6, weighing_time=time(7, 0)))
    await scheduler(db).tick(FRIDAY_EVENING)
    assert await reminded(db) == []
    await scheduler(db).tick(jakarta(5, 18, 0))
    [(_, text)] = await reminded(db)
    assert "Minggu, 6 Desember 2026" in text and "07.00" in text
    assert await count(db, "SELECT count(*) FROM scheduled_occurrence WHERE occurrence = '2026-12-06'") == 1


async def test_turning_reminders_off_in_the_profile_stops_them(db: Database) -> None:
    siti = await resident(db, "siti")
    await set_person(db, siti, locale_chosen=True)
    chat = Direct(Engine(db, build_dialog(timedelta(minutes=30)), "test", "id", 5.0), db, "siti")
    await chat.send("MENU")
    [profile] = await chat.send("Profil saya")
    assert translate("id", "profile.reminders_on") in [choice.label for choice in profile.choices]
    [changed, again] = await chat.send("Pengingat: aktif")
    assert changed.text == translate("id", "profile.reminders_now_off")
    assert translate("id", "profile.reminders_off") in [choice.label for choice in again.choices]
    async with db.transaction() as session:
        await session.execute(Outbox.__table__.delete())
    await scheduler(db).tick(FRIDAY_EVENING)
    assert await reminded(db) == []
    [changed, _] = await chat.send("Pengingat")
    assert changed.text == translate("id", "profile.reminders_now_on")
    async with db.transaction() as session:
        await session.execute(Outbox.__table__.delete())
    await scheduler(db).tick(FRIDAY_EVENING)
    assert len(await reminded(db)) == 1


def test_the_apps_scheduler_runs_the_reminder_duties(settings: Settings) -> None:
    duties = App(settings).scheduler().duties
    assert reminders.weighing_reminders in duties and reminders.weekly_digests in duties


# --- Coordinators' Monday digest ------------------------------------------------------------


async def coordinator(db: Database, name: str = "koord", rws: tuple[int, ...] = (12, 14)) -> int:
    person_id = await resident(db, name)
    async with db.transaction() as session:
        rw_ids = [(await get_or_create_rw(session, KEBON_MELATI, number)).id for number in rws]
        await grant_role(session, person_id, COORDINATOR, jakarta(1, 9), strand=WASTE, rw_ids=rw_ids)
    return person_id


async def deposit(db: Database, person_id: int, grams: int, at: datetime, status: str = VERIFIED) -> None:
    async with db.transaction() as session:
        rw = (await session.get(Person, person_id)).rw_id  # type: ignore[union-attr]
        report = await create_report(session, person_id=person_id, rw_id=rw, bank_id=None,  # type: ignore[arg-type]
                                     items=[("plastik_pet", grams)], prices={}, photo=None, now=at)
        report.status = status


DIGEST_WINDOW = [
    (jakarta(7, 6, 59), 0),   # Monday, before 07.00
    (jakarta(7, 7, 0), 1),
    (jakarta(7, 11, 59), 1),
    (jakarta(7, 12, 0), 0),   # noon: the window has passed
    (jakarta(8, 8, 0), 0),    # Tuesday
    (jakarta(6, 8, 0), 0),    # Sunday
]


@pytest.mark.parametrize(("now", "expected"), DIGEST_WINDOW)
def test_the_digest_is_due_only_on_monday_morning(now: datetime, expected: int) -> None:
    assert reminders.digest_week(now) == ("2026-W50" if expected else None)


async def test_ticking_through_monday_sends_the_digest_once_in_its_window(db: Database) -> None:
    await coordinator(db)
    for now, _ in sorted(DIGEST_WINDOW):
        await scheduler(db).tick(now)
        assert len(await reminded(db)) == int(now >= jakarta(7, 7, 0)), now


async def test_the_digest_summarises_the_coordinators_rws_once_a_week(db: Database) -> None:
    await coordinator(db)
    siti, budi = await resident(db, "siti"), await resident(db, "budi", rw=14)
    await resident(db, "tetangga", kelurahan=MENTENG, rw=2)  # not in the coordinator's RWs
    jauh = await resident(db, "jauh", rw=15)
    await deposit(db, siti, 2500, jakarta(1, 10))      # last week (30 Nov – 6 Dec)
    await deposit(db, budi, 500, jakarta(6, 20))
    await deposit(db, siti, 2000, jakarta(24, 10, month=11))  # the week before
    await deposit(db, budi, 1000, jakarta(3, 10), status="reported")  # awaiting review
    await deposit(db, jauh, 9000, jakarta(2, 10))  # outside the coordinator's RWs
    for now in (jakarta(7, 7, 0), jakarta(7, 8, 0), jakarta(7, 11, 0)):
        await scheduler(db).tick(now)
    await scheduler(db).tick(jakarta(7, 9, 0))
    digests = [text for address, text in await reminded(db) if address == "koord"]
    assert digests == [translate(
        "id", "digest.weekly", rws="Kebon Melati RW 012, 014", pending="1", last="3 kg", before="2 kg",
        reporting="2", registered="3",
    )]
    await scheduler(db).tick(jakarta(14, 7, 30))  # the next Monday: a new week, a new digest
    assert len([1 for address, _ in await reminded(db) if address == "koord"]) == 2


async def test_two_workers_send_the_digest_once(db: Database, database_url: str) -> None:
    await coordinator(db, "koord1")
    await coordinator(db, "koord2", rws=(15,))
    await two_workers_tick(database_url, jakarta(7, 8, 0))
    assert sorted(address for address, _ in await reminded(db)) == ["koord1", "koord2"]


async def test_opted_out_or_revoked_coordinators_get_no_digest(db: Database) -> None:
    await set_person(db, await coordinator(db, "quiet"), opted_out_at=jakarta(1, 10))
    gone = await coordinator(db, "gone")
    async with db.transaction() as session:
        await revoke_role(session, gone, COORDINATOR, jakarta(2, 10))
    await scheduler(db).tick(jakarta(7, 8, 0))
    assert await reminded(db) == []
