"""Random walks through the conversation (hypothesis): every step of every flow, fed arbitrary text,
unicode, very long messages, stale button taps, photos, places and contact cards in any order.

Whatever arrives: no step fails (the engine's apology is never needed), every message is answered,
`MENU` and `BATAL` always lead back to the main menu, and no ledger entry exists without its cause.

How a walk gets into any state with the data earlier steps collected: once per module, an explorer
walks breadth first from the menu through every button and a valid answer for each typed step (on a
prepared world: a resident who is also admin, coordinator and collaborator, a plain resident, savings at
two banks, pending self-reports, a held withdrawal, pledges, a broadcast awaiting approval, an invitation)
and keeps the first snapshot (state, data, buttons) of each state. Each example copies the database as
the explorer left it, puts the person back into snapshots and sends what hypothesis draws. SQLite only:
the properties are about the flows, not the backend, and must stay fast."""

from __future__ import annotations

import asyncio
import shutil
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from bot.engine import FAILED, Engine
from handlers import STEPS, build_dialog
from handlers.dialog.machine import LANGUAGE, MENU
from handlers.messages import Contact, Inbound, Kind, Reply
from handlers.text.i18n import translate
from storage import banks, broadcasts, pledges, weighin, withdrawals
from storage.db import Database
from storage.invites import create_invite
from storage.models import RW, Account, Conversation, Identity, Kelurahan, Offer, Person, WasteBank, WasteBankRW
from storage.models.roles import ADMIN, COORDINATOR, UPGRADING, WASTE
from storage.people import identify
from storage.places import get_or_create_rw
from storage.pledges import SEDEKAH_ENTRY
from storage.reports import create_report
from storage.roles import grant_role, revoke_role
from storage.types import utcnow
from storage.weighin import DEPOSIT, REVERSAL
from storage.withdrawals import HOLD, RELEASE
from tests.support import Direct, inbound, register, replies

WALK = settings(max_examples=40, deadline=None)
APOLOGIES = {translate(locale, "error.apology") for locale in ("id", "en")}
CAUSES = {DEPOSIT: "report_id", REVERSAL: "report_id", HOLD: "withdrawal_id", RELEASE: "withdrawal_id",
          SEDEKAH_ENTRY: "pledge_id"}  # every kind of ledger entry the code writes, and the column naming its cause
SAMPLE_BANK = "Bank Sampah Unit Melati Bersih (CONTOH)"
KEBON_MELATI = "31.71.07.1005"
WALKERS = ("siti", "budi")  # siti holds every role; budi is a resident only


# --- The prepared world -----------------------------------------------------------------------


DIALOG = build_dialog(timedelta(minutes=30))


INVITE: dict[str, str] = {}  # the code of the invitation waiting for "tamu" (set when the world is built)


async def build_world(db: Database) -> None:
    """Siti: resident, admin, coordinator of RW 12 in both strands, collaborator with pledges in two RWs, savings
    at two banks. Budi: resident (moved to Karet Tengsin RW 5, whose offer is open) with savings, a held
    withdrawal and a broadcast awaiting approval. Pending two-item self-reports of both. An invitation."""
    engine = Engine(db, DIALOG, "world", "id", 5.0)
    siti, budi = Direct(engine, db, "siti"), Direct(engine, db, "budi")
    for chat in (siti, budi):
        await register(chat)
    for answer in ("/start kolab", "Perusahaan (CSR)", "PT Maju Jaya", "Siti Aminah", "0812-3456-7890",
                   "siti@contoh.id", "Ya, tampilkan"):
        await siti.send(answer)
    now = utcnow()
    async with db.transaction() as session:
        people = {}
        for user in WALKERS:
            statement = select(Person).join(Identity, Identity.person_id == Person.id)
            people[user] = (await session.execute(statement.where(Identity.key == f"local:{user}"))).scalar_one()
        siti_id, budi_id, rw12 = people["siti"].id, people["budi"].id, people["siti"].rw_id
        assert rw12 is not None
        await grant_role(session, siti_id, ADMIN, now)
        for strand in (WASTE, UPGRADING):
            await grant_role(session, siti_id, COORDINATOR, now, strand=strand, rw_ids=[rw12])
        sample = (await session.execute(select(WasteBank).where(WasteBank.name == SAMPLE_BANK))).scalar_one()
        second = WasteBank(name="Bank Sampah Unit Mawar", weighing_minutes=120, next_member_number=1001)
        session.add(second)
        await session.flush()
        rw14 = (await get_or_create_rw(session, KEBON_MELATI, 14)).id
        session.add(WasteBankRW(rw_id=rw14, bank_id=second.id))
        pet, kardus = (weighin.category_aliases()[word] for word in ("pet", "kardus"))
        for person_id, bank, rw in ((siti_id, sample, rw12), (budi_id, sample, rw12), (siti_id, second, rw14)):
            account = await banks.ensure_account(session, person_id, bank.id)
            prices = await banks.price_list(session, bank.id, now.date())
            await weighin.record_weighin(session, account=account, rw_id=rw, items=[(pet, 20_000)], prices=prices,
                                         settle=[], by=siti_id, now=now - timedelta(days=2))
        prices = await banks.price_list(session, sample.id, now.date())
        for person_id, days in ((budi_id, 1), (budi_id, 3), (siti_id, 1), (siti_id, 3)):
            await create_report(session, person_id=person_id, rw_id=rw12, bank_id=sample.id,
                                items=[(pet, 1500), (kardus, 2000)], prices=prices, photo=None,
                                now=now - timedelta(days=days))
        budi_account = (await session.execute(select(Account.id).where(Account.person_id == budi_id))).scalar_one()
        assert not isinstance(await withdrawals.request_withdrawal(session, budi_account, 10_000, now), pledges.Refusal)
        for kelurahan, number in (("Karet Tengsin", 5), ("Kebon Kacang", 1)):
            open_offer = (
                select(Offer).join(RW, RW.id == Offer.rw_id).join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
                .where(Kelurahan.name == kelurahan, Offer.package_code == "bersama").order_by(RW.number)
            )
            offer = (await session.execute(open_offer)).scalars().first()
            assert offer is not None, kelurahan
            made = await pledges.pledge(session, siti_id, offer.id, 10_000_000, now, hold=pledges.Terms().hold,
                                        min_share=pledges.Terms().min_share)
            assert isinstance(made, pledges.Pledge), made
        karet_tengsin = select(Kelurahan.code).where(Kelurahan.name == "Karet Tengsin")
        karet_tengsin_code = (await session.execute(karet_tengsin)).scalar_one()
        people["budi"].rw_id = (await get_or_create_rw(session, karet_tengsin_code, 5)).id
        await broadcasts.create(session, budi_id, broadcasts.segment_all(), "Pengumuman untuk semua", now)
        INVITE["tamu"] = await create_invite(session, COORDINATOR, now, strand=WASTE, rw_ids=[rw14], created_by=siti_id)


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as loop:
        yield loop


@pytest.fixture(scope="module")
def world(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory, runner: asyncio.Runner) -> Path:
    """The prepared database file every example copies."""
    path = tmp_path_factory.mktemp("world") / "world.db"
    shutil.copy(sqlite_template, path)

    async def build() -> None:
        db = Database(f"sqlite:///{path}")
        try:
            await build_world(db)
        finally:
            await db.dispose()  # checkpoints the WAL into the file

    runner.run(build())
    return path


# --- One walk ---------------------------------------------------------------------------------


@dataclass
class Walk:
    """One person's conversation on a fresh copy of the world, checking every turn."""

    db: Database
    user: str
    seen: list[str] = field(default_factory=list)  # every choice key offered so far (stale taps come from here)
    offered: list[tuple[str, str]] = field(default_factory=list)  # the choices of the last reply that had some
    log: list[str] = field(default_factory=list)  # what was sent, for the failure message

    async def send(self, message: Inbound) -> list[Reply]:
        self.log.append(f"{message.kind}:{message.choice or message.text[:60]!r}")
        outcome = await Engine(self.db, DIALOG, "test", "id", 5.0).handle(message)
        answered = await replies(self.db, outcome)
        assert outcome.status != FAILED, f"a step failed after {self.log}"
        assert answered, f"no reply after {self.log}"
        assert not APOLOGIES & {reply.text for reply in answered}, f"apology after {self.log}"
        for reply in answered:
            if reply.choices:
                self.offered = [(choice.key, choice.label) for choice in reply.choices]
                self.seen += [key for key, _ in self.offered if key not in self.seen]
        return answered

    async def say(self, words: str) -> list[Reply]:
        return await self.send(inbound(self.user, words))

    async def state(self) -> str:
        async with self.db.transaction() as session:
            statement = select(Conversation.state).join(Identity, Identity.person_id == Conversation.person_id)
            return (await session.execute(statement.where(Identity.key == f"local:{self.user}"))).scalar_one()


async def orphan_entries(db: Database) -> list[tuple[int, str]]:
    """Ledger entries without the report, withdrawal or pledge that caused them (or of an unknown kind)."""
    async with db.transaction() as session:
        rows = (await session.execute(text(
            "SELECT id, kind, report_id, withdrawal_id, pledge_id FROM ledger_entry"
        ))).mappings().all()
    return [(row["id"], row["kind"]) for row in rows if row["kind"] not in CAUSES or row[CAUSES[row["kind"]]] is None]


async def negative_balances(db: Database) -> int:
    async with db.transaction() as session:
        statement = text("SELECT count(*) FROM (SELECT account_id FROM ledger_entry GROUP BY account_id "
                         "HAVING sum(amount) < 0) AS below")
        return int((await session.execute(statement)).scalar_one())


# --- What a person may send -------------------------------------------------------------------

NEAR_MISSES = "0123456789.,/-: ½kgronsjutaribmRpWwtdesabtuSjyaYAT "
WORDS = ["ya", "Ya", "tidak", "1", "2", "3", "9", "0", "-1", "99", "kembali", "lanjut", "selesai", "semua", "lainnya",
         "2,5 kg", "500 gr", "5 juta", "Rp 50.000", "1.000.000.000.000", "besok 08.00", "Sabtu 08.00", "6/12",
         "RW 12", "Kebon Melati", "Jakarta Pusat", "Siti Aminah", "siti@contoh.id", "0812-3456-7890", "pet 2",
         "1001 pet 2,5", "BANTUAN", "/start", "/start kolab", "/start inv_ABC", "/kode XYZ", "/timbang", "/periksa",
         "/foo", "STOP", "MULAI", "/bahasa", "Setuju", "English", "Bahasa Indonesia"]
STATIC_KEYS = ["yes", "no", "menu", "back", "next", "confirm", "cancel", "lang:id", "lang:en", "rw:12", "kota:31.71",
               "bank:1", "offer:1", "pledge:1", "wd:1", "report:1", "page:2", "1", "", "x" * 64]
ACTIONS = ["tap"] * 6 + ["label"] + ["text", "near", "word", "word"] + ["long", "stale", "stale", "other"]


def long_text() -> st.SearchStrategy[str]:
    """Over the 1,000-character limit, or just under it."""
    return st.tuples(st.text(min_size=1, max_size=3), st.sampled_from([999, 1000, 1001, 4000])).map(
        lambda pair: (pair[0] * pair[1])[: pair[1]])


def other_message(user: str) -> st.SearchStrategy[Inbound]:
    """Photos, places, contact cards, stickers and voice notes, wherever they arrive."""
    return st.one_of(
        st.builds(lambda caption: inbound(user, caption, Kind.PHOTO, photo="file-photo-1"), st.text(max_size=20)),
        st.builds(lambda lat, lon: inbound(user, "", Kind.LOCATION, location=(lat, lon)),
                  st.floats(-90, 90, allow_nan=False), st.floats(-180, 180, allow_nan=False)),
        st.sampled_from([(-6.2, 106.82), (-6.1, 106.8), (0.0, 0.0)]).map(
            lambda place: inbound(user, "", Kind.LOCATION, location=place)),
        st.builds(lambda phone, own: inbound(user, "", Kind.CONTACT, contact=Contact(phone, user if own else None)),
                  st.sampled_from(["+6281234567890", "081298765432", "12", "", "+1 555 0100"]), st.booleans()),
        st.sampled_from([Kind.STICKER, Kind.VOICE, Kind.OTHER]).map(lambda kind: inbound(user, "", kind)),
    )


def next_message(data: st.DataObject, walk: Walk) -> Inbound:
    """What the person sends next: mostly an offered button, otherwise anything at all."""
    action = data.draw(st.sampled_from(ACTIONS))
    keys = [key for key, _ in walk.offered]
    if action == "tap" and keys:
        return inbound(walk.user, "", Kind.CHOICE, choice=data.draw(st.sampled_from(keys)))
    if action == "label" and walk.offered:
        return inbound(walk.user, data.draw(st.sampled_from([label for _, label in walk.offered])))
    if action == "stale":
        pool = [key for key in walk.seen + STATIC_KEYS if key not in keys]
        return inbound(walk.user, "", Kind.CHOICE, choice=data.draw(st.sampled_from(pool) | st.text(max_size=12)))
    if action == "other":
        return data.draw(other_message(walk.user))
    if action == "long":
        return inbound(walk.user, data.draw(long_text()))
    if action == "near":
        return inbound(walk.user, data.draw(st.text(alphabet=NEAR_MISSES, max_size=20)))
    if action == "word":
        return inbound(walk.user, data.draw(st.sampled_from(WORDS)))
    return inbound(walk.user, data.draw(st.text(max_size=40)))


# --- Starting in any state --------------------------------------------------------------------

# A valid answer for each step that takes typed text, so that the explorer gets through the flows.
ANSWERS: dict[str, str | tuple[str, ...]] = {
    "register.name": "Siti Aminah", "register.kota": ("Jakarta Pusat", "Kebon"), "register.kecamatan": "Tanah Abang",
    "register.kelurahan": ("Kebon Melati", "Kebon"), "register.pick": "1", "register.rw": "12",
    "report.weight": "2,5 kg", "invite.name": "Rina", "invite_make.kelurahan": ("Kebon Melati", "Kebon"),
    "invite_make.rws": "12", "broadcast.text": "Kerja bakti hari Minggu",
    "broadcast.kelurahan": ("Kebon Melati", "Kebon"), "broadcast.pick": "1", "broadcast.when": "besok 08.00",
    "withdraw.amount": "5.000", "sedekah.amount": "1.000", "bank.name": "Bank Sampah Uji",
    "bank.address": "Jl. Melati 1", "bank.kelurahan": ("Kebon Melati", "Kebon"), "bank.pick": "1",
    "bank.rws": "15", "bank.schedule": "Sabtu 08.00", "bank.choose": "1", "price.amount": "Rp 3.000",
    "price.date": "besok", "schedule.ask": "Sabtu 08.00", "weighin.member": ("1002", "1001"),
    "weighin.category": "pet", "weighin.weight": "2,5", "verify.weight": "1,5", "verify.reason": "Foto kurang jelas",
    "coordpl.reason": "Dana belum jelas", "coordprog.text": "Saluran sudah dibersihkan",
    "collab.organisation": "PT Uji", "collab.contact": "Rina", "collab.phone": "0812-3456-7890",
    "collab.email": "rina@contoh.id", "browse.kota": "Jakarta Pusat", "browse.list": "Karet Tengsin",
    "pledge.amount": "10 juta",
}
MAX_TURNS = 800
UNREACHABLE = {  # states the explorer cannot reach on the local chat
    "profile.link",  # linking a WhatsApp number takes Telegram's contact button
}
CHANGES_THE_EXPLORER = {"profile.erase", LANGUAGE}  # not explored further: erasure, another language


def roots() -> list[tuple[str, list[str]]]:
    """Where exploring starts (who, and what they send; `@key` taps a button): Siti and Budi at the menu, two
    newcomers (one through the collaborators' link), a guest with an invitation, and places that need a
    particular path (a bank chosen for the schedule or the prices, a draft report resumed, reports to settle, a
    new bank's details). A state first met on the way is explored too."""
    return [
        ("siti", ["MENU"]), ("budi", ["MENU"]), ("baru", ["MENU"]), ("kolab", ["/start kolab"]),
        ("tamu", [f"/start inv_{INVITE['tamu']}"]),
        ("siti", ["MENU", "@menu:coordinate", "@coord:schedule"]),
        ("siti", ["MENU", "@menu:coordinate", "@coord:prices"]),
        ("siti", ["MENU", "@menu:report", "@grp:plastik", "@cat:plastik_pet", "2,5 kg", "MENU", "@menu:report"]),
        ("siti", ["MENU", "@menu:coordinate", "@coord:weigh_in", "@bank:1", "1002", "@cat:plastik_pet", "2,5",
                  "@more:no"]),
        ("siti", ["MENU", "@menu:coordinate", "@coord:register_bank", "Bank Sampah Uji", "Jl. Melati 1", "Kebon Melati",
                  "15", "Sabtu 08.00"]),
    ]


@dataclass(frozen=True)
class Snapshot:
    """A conversation as a genuine walk left it: the state, what earlier steps collected, the buttons shown."""

    user: str
    state: str
    data: dict[str, object]
    offered: list[list[str]]

    @property
    def signature(self) -> tuple[str, ...]:
        """The state and which kinds of data the flows keep, with the values that route a flow (short words such as
        where a shared step leads next), not numbers or what was typed at length."""
        def shown(key: str, value: object) -> str:
            return f"{key}={value}" if isinstance(value, str) and len(value) <= 24 else key

        nested = (shown(f"{name}.{key}", inner) for name, value in self.data.items() if isinstance(value, dict)
                  for key, inner in value.items())
        return (self.state, *sorted(shown(name, value) for name, value in self.data.items()), *sorted(nested))


@dataclass(frozen=True)
class Explored:
    """The database as the exploration left it, and the first snapshot of each state reached."""

    path: Path
    snapshots: dict[str, Snapshot]
    troubles: list[str]  # turns on the way that failed or were not answered


async def fresh(source: Path, directory: Path, name: str = "walk.db") -> Database:
    """A copy of a prepared database file."""
    path = directory / name
    shutil.copy(source, path)
    return Database(f"sqlite:///{path}")


async def conversation_of(db: Database, user: str) -> Conversation | None:
    async with db.transaction() as session:
        statement = select(Conversation).join(Identity, Identity.person_id == Conversation.person_id)
        return (await session.execute(statement.where(Identity.key == f"local:{user}"))).scalar_one_or_none()


async def resume(db: Database, snapshot: Snapshot, demoted: bool = False) -> None:
    """Put the person back where the snapshot was taken; `demoted`: their coordinator and admin roles were
    revoked meanwhile (a role lost mid-flow)."""
    key = f"local:{snapshot.user}"
    async with db.transaction() as session:
        person_id = (await session.execute(select(Identity.person_id).where(Identity.key == key))).scalar()
        if person_id is None:  # a newcomer: the first message makes the person
            person_id = (await identify(session, key, "local", snapshot.user, "id", utcnow())).person_id
        if demoted:
            for role in (ADMIN, COORDINATOR):
                await revoke_role(session, person_id, role, utcnow())
        conversation = await session.get(Conversation, person_id)
        if conversation is None:
            conversation = Conversation(person_id=person_id)
            session.add(conversation)
        conversation.state, conversation.data, conversation.updated_at = snapshot.state, snapshot.data, utcnow()
        conversation.offered = {"choices": snapshot.offered}


def expansions(snapshot: Snapshot) -> list[Inbound]:
    """Every button shown, the step's valid answers, whatever else it accepts, and the menu mid-flow."""
    step, user = STEPS[snapshot.state], snapshot.user
    messages = [inbound(user, "", Kind.CHOICE, choice=key) for key, _ in snapshot.offered]
    if Kind.TEXT in step.accepts:
        answers = ANSWERS.get(snapshot.state, "1")
        messages += [inbound(user, answer) for answer in ((answers,) if isinstance(answers, str) else answers)]
    if Kind.PHOTO in step.accepts:
        messages.append(inbound(user, "", Kind.PHOTO, photo="file-photo-1"))
    if Kind.LOCATION in step.accepts:
        messages.append(inbound(user, "", Kind.LOCATION, location=(-6.2, 106.81)))
    if snapshot.data and snapshot.state != MENU:
        messages.append(inbound(user, "MENU"))  # leave mid-flow (a draft report is then offered to resume)
    return messages


async def explore(world: Path, directory: Path) -> Explored:
    """From the menu (and from newcomers' first messages) through every button and valid answer until every
    state has been reached once; the first snapshot of each state. A snapshot of a state never reached before
    is explored first, one with only new kinds of data later. One database for the whole exploration: what the
    turns wrote along the way stays, so the rows a snapshot refers to exist when a walk starts from it (some
    changed since, as when another coordinator acted meanwhile)."""
    found: dict[str, Snapshot] = {}
    explored: set[tuple[str, ...]] = set()
    new_states: deque[Snapshot] = deque()
    variants: deque[Snapshot] = deque()
    db = await fresh(world, directory, "explore.db")
    engine = Engine(db, DIALOG, "explorer", "id", 5.0)
    turns = 0
    troubles: list[str] = []

    async def turn(before: Snapshot | None, message: Inbound, root: bool = False) -> None:
        nonlocal turns
        user = message.sender.removeprefix("local:")
        if before is not None:
            await resume(db, before)
        outcome = await engine.handle(message)
        turns += 1
        if outcome.status == FAILED or not outcome.reply_ids:
            troubles.append(f"{outcome.status} with {len(outcome.reply_ids)} replies: {message.kind}:"
                            f"{message.choice or message.text!r} at {before.state if before else 'the start'}")
        after = await conversation_of(db, user)
        if after is None or after.state not in STEPS:
            return
        snapshot = Snapshot(user, after.state, dict(after.data), list(after.offered.get("choices", [])))
        if root or after.state not in found:
            new_states.append(snapshot)
        elif snapshot.signature not in explored:
            variants.append(snapshot)
        found.setdefault(after.state, snapshot)
        explored.add(snapshot.signature)

    try:
        for user, path in roots():
            for index, words in enumerate(path):
                tap = words.startswith("@")
                message = inbound(user, "", Kind.CHOICE, choice=words[1:]) if tap else inbound(user, words)
                await turn(None, message, root=index == len(path) - 1)
        while (new_states or variants) and set(STEPS) - UNREACHABLE - set(found) and turns < MAX_TURNS:
            snapshot = (new_states or variants).popleft()
            if snapshot.state in CHANGES_THE_EXPLORER:
                continue
            for message in expansions(snapshot):
                await turn(snapshot, message)
    finally:
        await db.dispose()
    return Explored(directory / "explore.db", found, troubles)


async def leave_and_check(walk: Walk, data: st.DataObject) -> None:
    """`MENU` or `BATAL` (as typed or as a command) brings the person to the main menu; nothing is orphaned."""
    words = data.draw(st.sampled_from(["MENU", "menu", "/menu", "BATAL", "batal", "/batal", "/cancel"]))
    answered = await walk.say(words)
    assert await walk.state() == MENU, f"{words} did not lead to the menu after {walk.log}"
    if "bat" in words.lower() or "cancel" in words:
        cancelled = {translate(locale, "cancel.done") for locale in ("id", "en")}
        assert cancelled & {reply.text for reply in answered}, walk.log
    assert await orphan_entries(walk.db) == [], walk.log
    assert await negative_balances(walk.db) == 0, walk.log


@pytest.fixture(scope="module")
def explored(world: Path, tmp_path_factory: pytest.TempPathFactory, runner: asyncio.Runner) -> Explored:
    directory = tmp_path_factory.mktemp("explored")
    return runner.run(explore(world, directory))


def walks_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.getbasetemp() / "walks"
    directory.mkdir(exist_ok=True)
    return directory


def test_the_explorer_reaches_every_state(explored: Explored) -> None:
    """A state it does not reach needs a valid answer in ANSWERS or more in the world (or, if truly out of reach
    of the local chat, a place in UNREACHABLE); until then the walks start there from the menu."""
    assert sorted(set(STEPS) - UNREACHABLE - set(explored.snapshots)) == []


def test_every_button_and_valid_answer_on_the_way_is_answered_without_failing(explored: Explored) -> None:
    assert explored.troubles == []


@WALK
@given(states=st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=3, unique=True), data=st.data())
def test_any_input_in_any_state_is_answered_and_the_menu_is_always_reachable(
    explored: Explored, runner: asyncio.Runner, tmp_path_factory: pytest.TempPathFactory, states: list[str],
    data: st.DataObject,
) -> None:
    """Several states per example, one after the other on the same copy (what earlier ones wrote stays)."""

    async def walk_once() -> None:
        db = await fresh(explored.path, walks_directory(tmp_path_factory))
        try:
            for state in states:
                snapshot = explored.snapshots.get(state) or explored.snapshots[MENU]
                demoted = data.draw(st.booleans(), label="demoted")
                await resume(db, snapshot, demoted)
                walk = Walk(db, snapshot.user, offered=[(key, label) for key, label in snapshot.offered])
                walk.log.append(f"from {snapshot.state} {snapshot.data} demoted={demoted}")
                for _ in range(data.draw(st.integers(0, 4), label="turns")):
                    await walk.send(next_message(data, walk))
                await leave_and_check(walk, data)
        finally:
            await db.dispose()

    runner.run(walk_once())


@WALK
@given(user=st.sampled_from(WALKERS), turns=st.integers(1, 10), data=st.data())
def test_long_walks_from_the_menu_never_fail_and_never_trap(
    explored: Explored, runner: asyncio.Runner, tmp_path_factory: pytest.TempPathFactory, user: str, turns: int,
    data: st.DataObject,
) -> None:
    async def walk_once() -> None:
        db = await fresh(explored.path, walks_directory(tmp_path_factory))
        try:
            walk = Walk(db, user)
            await walk.say(data.draw(st.sampled_from(["MENU", "/start"])))
            for _ in range(turns):
                await walk.send(next_message(data, walk))
            await leave_and_check(walk, data)
        finally:
            await db.dispose()

    runner.run(walk_once())
