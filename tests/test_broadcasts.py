"""Broadcasts in chat: compose, preview with the recipient count, send now or later; who may reach
which segment; a second admin's approval; scheduled sending exactly once; progress and the final
tally; and opting out with BERHENTI / MULAI."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from bot.engine import Engine
from bot.scheduler import Scheduler
from handlers import build_dialog
from handlers.coordinator import broadcast_duty
from handlers.coordinator.broadcast import CONFIRM_CHOICES, State
from handlers.dialog.parsing import parse_schedule_time
from handlers.messages import Reply
from handlers.text.i18n import translate
from storage import broadcasts, pledges
from storage.db import Database
from storage.models import RW, AuditEntry, Broadcast, Collaborator, Conversation, Identity, Offer, Outbox, Person
from storage.models.roles import ADMIN, COORDINATOR, UPGRADING, WASTE
from storage.people import identify
from storage.places import get_or_create_rw
from storage.roles import grant_role
from storage.types import utcnow
from tests.conftest import count
from tests.support import Direct

KEBON_MELATI, GELORA, TEBET_TIMUR = "31.71.07.1005", "31.71.07.1001", "31.74.01.1001"
KARET_TENGSIN, BUNGUR = "31.71.07.1003", "31.71.04.1006"
JAKARTA_PUSAT = "31.71"
TEXT = "Kerja bakti hari Minggu pukul 07.00 di balai warga. Bawa karung untuk sampah terpilah & sarung tangan."


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


@dataclass
class World:
    ids: dict[str, int]
    rws: dict[str, int]


async def _person(db: Database, name: str, rw_id: int | None = None, opted_out: bool = False) -> int:
    now = utcnow()
    async with db.transaction() as session:
        identity = await identify(session, f"local:{name}", "local", name, "id", now - timedelta(hours=1))
        person = identity.person
        person.locale_chosen, person.name, person.rw_id = True, name.title(), rw_id
        person.consent_at, person.consent_version = now, "2026-11"
        person.opted_out_at = now if opted_out else None
        return person.id


@pytest.fixture
async def world(db: Database) -> World:
    """Residents: ani and budi (two identities) in RW 12 Kebon Melati, citra there opted out, dedi
    there unreachable; eko in RW 14 Kebon Melati, fajar in Gelora (also Jakarta Pusat), gita in
    Tebet Timur (Jakarta Selatan). Staff: koord12 (waste, RW 12), admin1, admin2."""
    async with db.transaction() as session:
        rws = {
            "12": (await get_or_create_rw(session, KEBON_MELATI, 12)).id,
            "14": (await get_or_create_rw(session, KEBON_MELATI, 14)).id,
            "gelora": (await get_or_create_rw(session, GELORA, 1)).id,
            "tebet": (await get_or_create_rw(session, TEBET_TIMUR, 3)).id,
        }
    homes = {"ani": "12", "budi": "12", "citra": "12", "dedi": "12", "eko": "14", "fajar": "gelora", "gita": "tebet"}
    ids = {name: await _person(db, name, rws[rw], opted_out=name == "citra") for name, rw in homes.items()}
    for name in ("koord12", "admin1", "admin2", "warga"):
        ids[name] = await _person(db, name)
    now = utcnow()
    async with db.transaction() as session:
        session.add(Identity(person_id=ids["budi"], key="local:budi-hp", channel="local", address="budi-hp",
                             created_at=now, last_inbound_at=now))
        await session.execute(update(Identity).where(Identity.person_id == ids["dedi"]).values(unreachable_at=now))
        await grant_role(session, ids["koord12"], COORDINATOR, now, strand=WASTE, rw_ids=[rws["12"]])
        await grant_role(session, ids["admin1"], ADMIN, now)
        await grant_role(session, ids["admin2"], ADMIN, now)
    return World(ids, rws)


async def open_entry_replies(chat: Direct, entry: str) -> list[Reply]:
    """From anywhere to an entry of the coordinator menu."""
    await chat.send("MENU")
    await chat.send(t("menu.coordinate"))
    return await chat.send(t(entry))


async def open_entry(chat: Direct, entry: str) -> list[str]:
    return [reply.text for reply in await open_entry_replies(chat, entry)]


async def rows(db: Database, broadcast_id: int | None = None) -> list[tuple[int, str, int]]:
    """(person, address, priority) of every broadcast row."""
    async with db.transaction() as session:
        statement = select(Outbox.person_id, Outbox.address, Outbox.priority).where(Outbox.broadcast_id.is_not(None))
        if broadcast_id is not None:
            statement = statement.where(Outbox.broadcast_id == broadcast_id)
        return [tuple(row) for row in (await session.execute(statement.order_by(Outbox.person_id))).all()]  # type: ignore[misc]


async def only_broadcast(db: Database) -> Broadcast:
    async with db.transaction() as session:
        return (await session.execute(select(Broadcast))).scalar_one()


async def test_a_coordinator_composes_previews_and_sends_to_each_resident_of_their_rw_once(
    db: Database, engine: Engine, world: World
) -> None:
    chat = Direct(engine, db, "koord12")
    assert await open_entry(chat, "coord.broadcast") == [t("broadcast.ask_text", limit="4.000")]
    assert await chat.texts(TEXT) == [
        t("broadcast.preview", segment="warga RW 012 Kebon Melati", count="2", text=TEXT),
        t("broadcast.ask_confirm"),
    ]
    assert await chat.texts("Kirim sekarang") == [t("broadcast.sending", count="2"), t("coord.ask")]
    sent = await only_broadcast(db)
    assert (sent.status, sent.recipients, sent.segment) == ("sending", 2, {"kind": "rws", "rws": [world.rws["12"]]})
    ids = world.ids
    # one row each, budi's on the identity he used last; citra opted out, dedi is unreachable
    assert await rows(db) == [(ids["ani"], "ani", 2), (ids["budi"], "budi-hp", 2)]
    async with db.transaction() as session:
        body = (await session.execute(select(Outbox.body).where(Outbox.broadcast_id == sent.id).limit(1))).scalar_one()
        entry = (await session.execute(select(AuditEntry).where(AuditEntry.action == "broadcast_rws"))).scalar_one()
    assert body == {"text": TEXT, "kind": "broadcast"}
    assert (entry.outcome, entry.target) == ("sending", f"broadcast:{sent.id}")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("", t("broadcast.text_empty")),
        ("   ", t("broadcast.text_empty")),
        ("x" * 5000, t("broadcast.text_too_long", length="5.000", limit="4.000")),
        ("x" * 4001, t("broadcast.text_too_long", length="4.001", limit="4.000")),
    ],
)
async def test_an_empty_or_too_long_text_is_refused_and_the_text_asked_again(
    db: Database, engine: Engine, world: World, typed: str, expected: str
) -> None:
    chat = Direct(engine, db, "koord12")
    await open_entry(chat, "coord.broadcast")
    assert await chat.texts(typed) == [expected]
    assert (await chat.texts("x" * 4000))[0] == t(
        "broadcast.preview", segment="warga RW 012 Kebon Melati", count="2", text="x" * 4000
    )
    assert await count(db, "SELECT count(*) FROM broadcast") == 0


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1/1/2020 08.00", "broadcast.when_past"),
        ("nanti saja", "broadcast.when_invalid"),
        ("kapan-kapan", "broadcast.when_invalid"),
    ],
)
async def test_a_schedule_in_the_past_or_unreadable_is_refused(
    db: Database, engine: Engine, world: World, typed: str, expected: str
) -> None:
    chat = Direct(engine, db, "koord12")
    await open_entry(chat, "coord.broadcast")
    await chat.send(TEXT)
    assert await chat.texts("Jadwalkan") == [t("broadcast.ask_when")]
    assert await chat.texts(typed) == [t(expected)]
    assert await count(db, "SELECT count(*) FROM broadcast") == 0


async def test_a_scheduled_broadcast_waits_for_its_time_then_the_scheduler_enqueues_it_exactly_once(
    db: Database, database_url: str, engine: Engine, world: World
) -> None:
    chat = Direct(engine, db, "koord12")
    await open_entry(chat, "coord.broadcast")
    await chat.send(TEXT)
    await chat.send("Jadwalkan")
    when = parse_schedule_time("besok 08.00", utcnow())
    assert await chat.texts("besok 08.00") == [t("broadcast.scheduled", when=_short(when)), t("coord.ask")]
    scheduled = await only_broadcast(db)
    assert (scheduled.status, scheduled.send_at) == ("scheduled", when)
    await Scheduler(db, [broadcast_duty.broadcast_duty]).tick(when - timedelta(minutes=1))
    assert await rows(db) == []
    # two schedulers (a restart, a lock hand-over) tick at the same moment, then once more
    other = Database(database_url)
    await asyncio.gather(
        Scheduler(db, [broadcast_duty.broadcast_duty]).tick(when),
        Scheduler(other, [broadcast_duty.broadcast_duty]).tick(when),
    )
    async with db.transaction() as session:  # as if a stale reader still saw it scheduled
        await session.execute(update(Broadcast).values(status="scheduled"))
    await Scheduler(other, [broadcast_duty.broadcast_duty]).tick(when + timedelta(minutes=1))
    await other.dispose()
    assert len(await rows(db, scheduled.id)) == 2


async def test_a_scheduled_broadcast_whose_time_long_passed_is_dropped_and_its_author_told(
    db: Database, world: World
) -> None:
    now = utcnow()
    async with db.transaction() as session:
        late = await broadcasts.create(session, world.ids["koord12"], broadcasts.segment_rws([world.rws["12"]]), TEXT,
                                       now, send_at=now - timedelta(hours=13))
    await Scheduler(db, [broadcast_duty.broadcast_duty]).tick(now)
    assert (await only_broadcast(db)).status == "cancelled"
    assert await rows(db) == []
    assert await notices(db, world.ids["koord12"]) == [
        t("broadcast.too_late", segment="warga RW 012 Kebon Melati", when=_short(late.send_at))
    ]


def _short(moment: Any) -> str:
    from handlers.text.formatting import datetime_short

    return datetime_short(moment, "id")


async def notices(db: Database, person_id: int) -> list[str]:
    """Texts the bot started to this person (not replies)."""
    async with db.transaction() as session:
        statement = select(Outbox.body).where(Outbox.person_id == person_id, Outbox.priority == 1).order_by(Outbox.id)
        return [body["text"] for body in (await session.execute(statement)).scalars()]


async def at_confirm(db: Database, person_id: int, segment: dict[str, Any]) -> None:
    """The person at the confirm step of a draft for the segment, whatever buttons led there."""
    choices = [[key, t(label)] for key, label in CONFIRM_CHOICES]
    async with db.transaction() as session:
        await session.execute(text("DELETE FROM conversation WHERE person_id = :p"), {"p": person_id})
        session.add(Conversation(
            person_id=person_id, state=State.CONFIRM, data={"broadcast": {"text": TEXT, "segment": segment}},
            offered={"choices": choices}, updated_at=utcnow(),
        ))


SEGMENTS = {
    "rw12": lambda w: broadcasts.segment_rws([w.rws["12"]]),
    "rw14": lambda w: broadcasts.segment_rws([w.rws["14"]]),
    "kebon_melati": lambda w: broadcasts.segment_place(broadcasts.KELURAHAN, KEBON_MELATI),
    "jakarta_pusat": lambda w: broadcasts.segment_place(broadcasts.KOTA, JAKARTA_PUSAT),
    "everyone": lambda w: broadcasts.segment_all(),
}

PERMISSIONS = [
    # (who, segment, outcome, people reached once sent)
    ("koord12", "rw12", "sending", 2),
    ("koord12", "rw14", "denied", 0),
    ("koord12", "kebon_melati", "denied", 0),
    ("koord12", "jakarta_pusat", "denied", 0),
    ("koord12", "everyone", "denied", 0),
    ("warga", "rw12", "denied", 0),
    ("admin1", "rw14", "sending", 1),
    ("admin1", "kebon_melati", "sending", 3),
    ("admin1", "jakarta_pusat", "awaiting", 4),
    ("admin1", "everyone", "awaiting", 5),
]


@pytest.mark.parametrize(("who", "segment", "outcome", "reached"), PERMISSIONS)
async def test_who_may_broadcast_to_which_segment_is_checked_on_the_server(
    db: Database, engine: Engine, world: World, who: str, segment: str, outcome: str, reached: int
) -> None:
    await at_confirm(db, world.ids[who], SEGMENTS[segment](world))
    replies = await Direct(engine, db, who).texts("Kirim sekarang")
    if outcome == "denied":
        assert replies[0] == t("access.denied")
        assert await count(db, "SELECT count(*) FROM broadcast") == 0
        assert await count(db, "SELECT count(*) FROM audit_log WHERE outcome = 'denied'") == 1
        return
    sent = await only_broadcast(db)
    assert sent.status == outcome
    if outcome == "awaiting":
        assert replies[0] == t("broadcast.awaiting_approval")
        assert await rows(db) == []
        async with db.transaction() as session:
            assert await broadcasts.enqueue(session, sent, utcnow()) == reached
    assert len(await rows(db)) == reached


@pytest.mark.parametrize(
    ("who", "offered"),
    [
        ("koord12", None),  # only their RWs: straight from the text to the preview
        ("admin1", ["broadcast.segment_kelurahan", "broadcast.segment_kota", "broadcast.segment_all",
                    "broadcast.segment_collaborators"]),
    ],
)
async def test_each_role_is_offered_only_its_segments(
    db: Database, engine: Engine, world: World, who: str, offered: list[str] | None
) -> None:
    chat = Direct(engine, db, who)
    await open_entry(chat, "coord.broadcast")
    [first, *_] = await chat.send(TEXT)
    if offered is None:
        assert first.text.startswith(t("broadcast.preview", segment="warga RW 012 Kebon Melati", count="2", text=""))
    else:
        assert (first.text, [c.label for c in first.choices]) == (t("broadcast.ask_segment"), [t(k) for k in offered])


async def test_a_resident_sees_no_broadcast_entry(db: Database, engine: Engine, world: World) -> None:
    chat = Direct(engine, db, "ani")
    [menu] = await chat.send("MENU")
    assert t("menu.coordinate") not in [c.label for c in menu.choices]


async def test_an_admin_reaches_a_kelurahan_by_its_typed_name(db: Database, engine: Engine, world: World) -> None:
    chat = Direct(engine, db, "admin1")
    await open_entry(chat, "coord.broadcast")
    await chat.send(TEXT)
    assert await chat.texts("Warga satu kelurahan") == [t("broadcast.ask_kelurahan")]
    [pick] = await chat.send("kebon mlati")
    assert pick.text == t("register.ask_pick")
    assert (await chat.texts(pick.choices[0].label))[0] == t(
        "broadcast.preview", segment="warga Kelurahan Kebon Melati", count="3", text=TEXT
    )
    assert await chat.texts("Kirim sekarang") == [t("broadcast.sending", count="3"), t("coord.ask")]


async def test_a_broadcast_to_everyone_goes_out_only_when_a_second_admin_approves(
    db: Database, engine: Engine, world: World
) -> None:
    first, second = Direct(engine, db, "admin1"), Direct(engine, db, "admin2")
    await open_entry(first, "coord.broadcast")
    await first.send(TEXT)
    assert await first.texts("Semua warga") == [
        t("broadcast.preview", segment="semua warga", count="5", text=TEXT),
        t("broadcast.ask_confirm_approval"),
    ]
    assert await first.texts("Kirim sekarang") == [t("broadcast.awaiting_approval"), t("coord.ask")]
    assert await rows(db) == []
    assert await notices(db, world.ids["admin2"]) == [
        t("broadcast.approval_needed", creator="Admin1", segment="semua warga", count="5")
    ]
    # the author finds nothing to approve: their own broadcast is not theirs to approve
    assert await open_entry(first, "coord.approve_broadcast") == [t("broadcast.none_awaiting"), t("coord.ask")]
    pending = await only_broadcast(db)
    [choose] = await open_entry_replies(second, "coord.approve_broadcast")
    assert choose.choices[0].label == t("broadcast.item", number=pending.id, segment="semua warga")
    [preview, _] = await second.texts("1")
    assert preview.startswith(t("broadcast.approval_preview", creator="Admin1", segment="semua warga", count="5",
                                when="", text="")[:40])
    assert await second.texts("Setujui") == [t("broadcast.approved_sending", count="5"), t("coord.ask")]
    approved = await only_broadcast(db)
    assert (approved.status, approved.approved_by, approved.recipients) == ("sending", world.ids["admin2"], 5)
    assert len(await rows(db)) == 5
    assert await notices(db, world.ids["admin1"]) == [
        t("broadcast.approved_note", segment="semua warga", admin="Admin2")
    ]


async def test_the_author_cannot_approve_their_own_broadcast_whatever_the_buttons(
    db: Database, engine: Engine, world: World
) -> None:
    now = utcnow()
    async with db.transaction() as session:
        own = await broadcasts.create(session, world.ids["admin1"], broadcasts.segment_all(), TEXT, now)
        assert (await broadcasts.approve(session, own.id, world.ids["admin1"], now))[0] == broadcasts.OWN
        session.add(Conversation(
            person_id=world.ids["admin1"], state=State.DECIDE, data={"approving": {"id": own.id}},
            offered={"choices": [["dec:approve", "Setujui"]]}, updated_at=now,
        ))
    assert await Direct(engine, db, "admin1").texts("Setujui") == [t("broadcast.own_approval"), t("coord.ask")]
    assert (await only_broadcast(db)).status == "awaiting"
    assert await count(db, "SELECT count(*) FROM audit_log WHERE action = 'approve_broadcast' AND outcome = 'own'") == 1
    # nor can a coordinator, who is not an admin
    async with db.transaction() as session:
        session.add(Conversation(
            person_id=world.ids["koord12"], state=State.DECIDE, data={"approving": {"id": own.id}},
            offered={"choices": [["dec:approve", "Setujui"]]}, updated_at=now,
        ))
    assert (await Direct(engine, db, "koord12").texts("Setujui"))[0] == t("access.denied")
    assert (await only_broadcast(db)).status == "awaiting"


async def test_a_rejected_broadcast_is_cancelled_and_its_author_told(db: Database, engine: Engine, world: World) -> None:
    async with db.transaction() as session:
        await broadcasts.create(session, world.ids["admin1"], broadcasts.segment_all(), TEXT, utcnow())
    second = Direct(engine, db, "admin2")
    await open_entry(second, "coord.approve_broadcast")
    await second.send("1")
    assert await second.texts("Tolak") == [t("broadcast.rejected"), t("coord.ask")]
    assert (await only_broadcast(db)).status == "cancelled"
    assert await notices(db, world.ids["admin1"]) == [t("broadcast.rejected_note", segment="semua warga", admin="Admin2")]


async def test_the_author_hears_progress_and_one_final_tally(
    db: Database, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(broadcast_duty, "PROGRESS_EVERY", 2)
    now = utcnow()
    async with db.transaction() as session:
        sent = await broadcasts.create(session, world.ids["admin1"], SEGMENTS["jakarta_pusat"](world), TEXT, now)
        sent.status = broadcasts.SCHEDULED
        assert await broadcasts.enqueue(session, sent, now) == 4
    tick = Scheduler(db, [broadcast_duty.broadcast_duty]).tick
    ani, budi, eko, fajar = (world.ids[name] for name in ("ani", "budi", "eko", "fajar"))
    await mark(db, [ani, budi], "sent")
    await tick(now)
    await tick(now)
    segment = "warga Jakarta Pusat"
    assert await notices(db, world.ids["admin1"]) == [t("broadcast.progress", segment=segment, sent="2", total="4")]
    await mark(db, [eko], "unreachable")
    await tick(now)
    assert (await only_broadcast(db)).status == "sending"
    await mark(db, [fajar], "failed")
    await tick(now)
    await tick(now)
    assert (await only_broadcast(db)).status == "done"
    assert (await notices(db, world.ids["admin1"]))[1:] == [
        t("broadcast.tally", segment=segment, sent="2", failed="1", unreachable="1", opted_out="1", needs_template="0")
    ]


async def mark(db: Database, people: list[int], status: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Outbox).where(Outbox.person_id.in_(people), Outbox.broadcast_id.is_not(None)).values(status=status)
        )


@pytest.mark.parametrize("word", ["BERHENTI", "berhenti", "STOP", "/berhenti", "/stop"])
async def test_berhenti_stops_broadcasts_and_drops_those_not_yet_sent_but_replies_still_come(
    db: Database, engine: Engine, world: World, word: str
) -> None:
    async with db.transaction() as session:
        queued = await broadcasts.create(session, None, broadcasts.segment_rws([world.rws["12"]]), TEXT, utcnow())
        await broadcasts.enqueue(session, queued, utcnow())
    chat = Direct(engine, db, "ani")
    assert await chat.texts(word) == [t("optout.stopped")]
    async with db.transaction() as session:
        ani = await session.get(Person, world.ids["ani"])
        assert ani is not None and ani.opted_out_at is not None
        dropped = select(Outbox.status).where(Outbox.person_id == ani.id, Outbox.broadcast_id == queued.id)
        assert (await session.execute(dropped)).scalars().all() == ["opted_out"]
        assert await broadcasts.count_recipients(session, broadcasts.segment_rws([world.rws["12"]])) == 1
    assert (await chat.texts("MENU"))[0] == t("menu.ask")


async def test_mulai_resubscribes_only_someone_who_stopped_and_start_stays_the_welcome(
    db: Database, engine: Engine, world: World
) -> None:
    chat = Direct(engine, db, "ani")
    await chat.send("MENU")
    assert await chat.texts("MULAI") == [t("choice.invalid"), t("menu.ask")]  # as before: not a command
    assert await chat.texts("/mulai") == [t("start.welcome_back"), t("menu.ask")]
    await chat.send("BERHENTI")
    assert await chat.texts("/start") == [t("start.welcome_back"), t("menu.ask")]
    assert await opted_out(db, world.ids["ani"])
    assert await chat.texts("MULAI") == [t("optout.resumed")]
    assert not await opted_out(db, world.ids["ani"])
    await chat.send("STOP")
    assert await chat.texts("/mulai") == [t("optout.resumed")]
    assert not await opted_out(db, world.ids["ani"])


async def opted_out(db: Database, person_id: int) -> bool:
    async with db.transaction() as session:
        return (await session.execute(select(Person.opted_out_at).where(Person.id == person_id))).scalar_one() is not None


@pytest.mark.parametrize("template", [True, False])
async def test_the_preview_counts_whatsapp_recipients_outside_the_window_and_their_cost(
    db: Database, world: World, template: bool
) -> None:
    """Ani last wrote on WhatsApp two days ago: the preview says she needs the paid template (or, with
    none configured, will not get it)."""
    now = utcnow()
    async with db.transaction() as session:
        session.add(Identity(person_id=world.ids["ani"], key="whatsapp:+6281200000001", channel="whatsapp",
                             address="+6281200000001", created_at=now, last_inbound_at=now - timedelta(days=2)))
        await session.execute(update(Identity).where(Identity.key == "local:ani")
                              .values(last_inbound_at=now - timedelta(days=3)))
    engine = Engine(db, build_dialog(timedelta(minutes=30), templates=broadcasts.TemplateTerms(template, 650)), "test",
                    "id", 5.0)
    chat = Direct(engine, db, "koord12")
    await open_entry(chat, "coord.broadcast")
    expected = t("broadcast.template_cost", count="1", cost="Rp650") if template else t("broadcast.no_template", count="1")
    assert await chat.texts(TEXT) == [
        t("broadcast.preview", segment="warga RW 012 Kebon Melati", count="2", text=TEXT), expected,
        t("broadcast.ask_confirm"),
    ]


async def _collaborator(db: Database, name: str) -> int:
    """A consenting collaborator (no resident data) known as local:<name>."""
    now = utcnow()
    async with db.transaction() as session:
        person = (await identify(session, f"local:{name}", "local", name, "id", now - timedelta(hours=1))).person
        person.locale_chosen, person.consent_at, person.consent_version = True, now, "2026-11"
        session.add(Collaborator(person_id=person.id, type="company", organisation=name.upper(), contact_name=name,
                                 phone="+6281200000000", public=True, created_at=now))
        return person.id


async def _offers_of(db: Database, kelurahan_code: str, number: int) -> dict[str, int]:
    async with db.transaction() as session:
        statement = select(Offer.package_code, Offer.id).join(RW, RW.id == Offer.rw_id).where(
            RW.kelurahan_code == kelurahan_code, RW.number == number)
        return dict((await session.execute(statement)).all())


async def test_collaborators_of_an_rw_and_all_collaborators_are_segments(db: Database, engine: Engine) -> None:
    """An upgrading coordinator of Karet Tengsin RW 005 reaches the collaborators who pledged there
    (not one whose pledge was cancelled, nor one who pledged elsewhere); an admin reaches them all."""
    karet, bungur = await _offers_of(db, KARET_TENGSIN, 5), await _offers_of(db, BUNGUR, 6)
    names = ("pta", "ptb", "ptc")
    ids = {name: await _collaborator(db, name) for name in names}
    coordinator, admin = await _person(db, "koordup"), await _person(db, "admin1")
    now = utcnow()
    async with db.transaction() as session:
        terms = pledges.Terms()
        await pledges.pledge(session, ids["pta"], karet["bersama"], 5_000_000, now, hold=terms.hold, min_share=1)
        cancelled = await pledges.pledge(session, ids["ptb"], karet["bersama"], 5_000_000, now, hold=terms.hold,
                                         min_share=1)
        await pledges.move(session, cancelled.id, pledges.CANCELLED, ids["ptb"], now)
        await pledges.pledge(session, ids["ptc"], bungur["bersama"], 5_000_000, now, hold=terms.hold, min_share=1)
        rw_id = (await session.get(Offer, karet["bersama"])).rw_id
        await grant_role(session, coordinator, COORDINATOR, now, strand=UPGRADING, rw_ids=[rw_id])
        await grant_role(session, admin, ADMIN, now)
    chat = Direct(engine, db, "koordup")
    await open_entry(chat, "coord.broadcast")
    assert await chat.texts(TEXT) == [
        t("broadcast.preview", segment="kolaborator RW 005 Karet Tengsin", count="1", text=TEXT),
        t("broadcast.ask_confirm"),
    ]
    await chat.texts("Kirim sekarang")
    assert [person for person, _, _ in await rows(db)] == [ids["pta"]]
    admin_chat = Direct(engine, db, "admin1")
    await open_entry(admin_chat, "coord.broadcast")
    await admin_chat.send("Kabar untuk semua kolaborator")
    [preview, _] = await admin_chat.texts(t("broadcast.segment_collaborators"))
    assert preview == t("broadcast.preview", segment="semua kolaborator", count="3", text="Kabar untuk semua kolaborator")
