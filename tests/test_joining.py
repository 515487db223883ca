"""One person across Telegram and WhatsApp: a Telegram user shares their own contact in the profile and, when
that number already writes to the bot on WhatsApp, both become one person (the older one kept) with one
balance per bank, the union of their roles, every record of theirs, and one broadcast on the channel used
last; someone else's card, a typed number or an unknown number join nothing and store nothing; the
collaborator sign-up only points to the profile; the join is audited without any phone number."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from telegram import Bot

from bot.channels.telegram import make_bot
from bot.channels.telegram.transport import TelegramTransport
from bot.engine import Engine
from handlers.messages import CONTACT_REQUEST, Choice, Contact, Kind, Reply
from handlers.text.formatting import rupiah
from handlers.text.i18n import translate
from storage import broadcasts, withdrawals
from storage.banks import ensure_account
from storage.db import Database
from storage.joining import ONE_PER_PERSON, join, references
from storage.models import (
    Account,
    AuditEntry,
    Broadcast,
    Collaborator,
    Conversation,
    Identity,
    InboundRecord,
    Invite,
    InviteFailure,
    LedgerEntry,
    Offer,
    Outbox,
    Person,
    Pledge,
    PledgeEvent,
    ProgressUpdate,
    ScheduledOccurrence,
    WasteBank,
    WasteReport,
    Withdrawal,
)
from storage.models.roles import ADMIN, COORDINATOR, WASTE
from storage.people import identify
from storage.places import get_or_create_rw
from storage.pseudonym import person_pseudonym
from storage.reminders import person_target
from storage.roles import grant_role, roles_of
from storage.types import utcnow
from tests.conftest import TOKEN, count
from tests.fakes.telegram_api import FakeBotAPI
from tests.support import Direct, register

KEBON_MELATI = "31.71.07.1005"
NUMBER = "+6281211112222"  # Siti's number: she writes from it on WhatsApp
TELEGRAM_ID = 5150
PHONE_DIGITS = NUMBER.removeprefix("+62")


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


class Chat(Direct):
    """A person writing on a given channel (Telegram or WhatsApp) through the engine."""

    def __init__(self, engine: Engine, db: Database, channel: str, address: str) -> None:
        super().__init__(engine, db, address)
        self.sender = f"{channel}:{address}"
        self.fields: dict[str, object] = {"channel": channel, "bot": "test", "sender": self.sender, "address": address}
        # what each adapter says: WhatsApp vouches for the number, Telegram offers its contact button
        self.fields.update({"phone": address} if channel == "whatsapp" else {"contact_button": True})

    async def send(self, text: str = "", kind: Kind = Kind.TEXT, **fields: object) -> list[Reply]:
        return await super().send(text, kind, **{**self.fields, **fields})

    async def share(self, phone: str, user_id: str | None) -> list[str]:
        """Shares a contact card, as Telegram's contact button (or the attachment menu) does."""
        own = user_id is not None and f"telegram:{user_id}" == self.sender  # as the Telegram adapter decides
        return await self.texts(kind=Kind.CONTACT, contact=Contact(phone, user_id, own=own))


def on_whatsapp(engine: Engine, db: Database, number: str = NUMBER) -> Chat:
    return Chat(engine, db, "whatsapp", number)


def on_telegram(engine: Engine, db: Database, user_id: int = TELEGRAM_ID) -> Chat:
    return Chat(engine, db, "telegram", str(user_id))


async def person_of(db: Database, key: str) -> int:
    async with db.transaction() as session:
        return (await session.execute(select(Identity.person_id).where(Identity.key == key))).scalar_one()


async def credit(db: Database, person_id: int, amount: int) -> int:
    """A deposit on the person's account at the Kebon Melati sample bank; the account id."""
    async with db.transaction() as session:
        account = (await session.execute(select(Account).where(Account.person_id == person_id))).scalar_one()
        session.add(LedgerEntry(account_id=account.id, amount=amount, kind="deposit"))
        return account.id


async def open_link(chat: Chat) -> list[Reply]:
    """Menu → profile → "Hubungkan WhatsApp": the question with the contact button."""
    await chat.send("MENU")
    await chat.send("Profil saya")
    return await chat.send("Hubungkan WhatsApp")


async def total_savings(db: Database, person_id: int) -> int:
    async with db.transaction() as session:
        statement = select(func.coalesce(func.sum(LedgerEntry.amount), 0)).join(Account).where(
            Account.person_id == person_id)
        return int((await session.execute(statement)).scalar_one())


async def residents_on_whatsapp_and_telegram(db: Database, engine: Engine, whatsapp_first: bool) -> tuple[Chat, Chat]:
    """Siti registered on both channels (the first one is the older person), with savings at the same bank:
    Rp50.000 from WhatsApp, Rp20.000 on Telegram of which Rp5.000 is held for a withdrawal; a coordinator
    on WhatsApp, an admin on Telegram."""
    wa, tg = on_whatsapp(engine, db), on_telegram(engine, db)
    for chat in (wa, tg) if whatsapp_first else (tg, wa):
        await register(chat)
    wa_person, tg_person = await person_of(db, wa.sender), await person_of(db, tg.sender)
    await credit(db, wa_person, 50_000)
    tg_account = await credit(db, tg_person, 20_000)
    async with db.transaction() as session:
        assert isinstance(await withdrawals.request_withdrawal(session, tg_account, 5_000, utcnow()), Withdrawal)
        rw = await get_or_create_rw(session, KEBON_MELATI, 12)
        await grant_role(session, wa_person, COORDINATOR, utcnow(), strand=WASTE, rw_ids=[rw.id])
        await grant_role(session, tg_person, ADMIN, utcnow())
    return wa, tg


@pytest.mark.parametrize("whatsapp_first", [True, False], ids=["whatsapp-first", "telegram-first"])
async def test_sharing_ones_own_contact_on_telegram_makes_one_person(
    db: Database, engine: Engine, whatsapp_first: bool
) -> None:
    wa, tg = await residents_on_whatsapp_and_telegram(db, engine, whatsapp_first)
    wa_person, tg_person = await person_of(db, wa.sender), await person_of(db, tg.sender)
    older, newer = (wa_person, tg_person) if whatsapp_first else (tg_person, wa_person)

    asked = (await open_link(tg))[-1]
    assert asked.text == t("profile.link_ask")
    assert [c.key for c in asked.choices] == [CONTACT_REQUEST, "link:cancel"]
    joined = await tg.share(NUMBER.removeprefix("+"), str(TELEGRAM_ID))  # Telegram sends 62…, no plus

    assert joined == [t("profile.linked"), t("menu.ask")]
    assert await person_of(db, wa.sender) == await person_of(db, tg.sender) == older
    assert await count(db, "SELECT count(*) FROM person WHERE id = :id", id=newer) == 0
    async with db.transaction() as session:
        assert await roles_of(session, older) == {COORDINATOR, ADMIN}
        accounts = (await session.execute(select(Account).where(Account.person_id == older))).scalars().all()
        held = (await session.execute(select(Withdrawal))).scalar_one()
    assert len(accounts) == 1 and held.account_id == accounts[0].id  # one account at the bank, nothing lost
    assert await total_savings(db, older) == 50_000 + 20_000 - 5_000

    # The conversation goes on where the Telegram message left it: the menu offered after joining works.
    savings = await tg.texts("Saldo tabungan")
    assert rupiah(65_000, "id") in savings[0]
    # And WhatsApp now reaches the same person, in the same conversation, with the same balance.
    assert rupiah(65_000, "id") in (await wa.texts("Saldo tabungan"))[0]


async def test_the_join_is_audited_with_pseudonyms_and_no_phone_number(db: Database, engine: Engine) -> None:
    wa, tg = await residents_on_whatsapp_and_telegram(db, engine, whatsapp_first=True)
    older, newer = await person_of(db, wa.sender), await person_of(db, tg.sender)
    await open_link(tg)
    await tg.share(NUMBER, str(TELEGRAM_ID))
    async with db.transaction() as session:
        [entry] = (await session.execute(select(AuditEntry).where(AuditEntry.action == "join_people"))).scalars()
    assert (entry.actor, entry.target, entry.detail["merged"]) == (
        person_pseudonym(newer), person_pseudonym(older), person_pseudonym(newer))
    assert entry.detail["accounts_folded"] == 1
    assert entry.detail["moved"]["channel_identity.person_id"] == 1
    recorded = json.dumps([entry.actor, entry.target, entry.detail])
    assert PHONE_DIGITS not in recorded and str(TELEGRAM_ID) not in recorded


async def test_a_broadcast_reaches_the_joined_person_once_on_the_channel_used_last(
    db: Database, engine: Engine
) -> None:
    wa, tg = await residents_on_whatsapp_and_telegram(db, engine, whatsapp_first=True)
    await open_link(tg)
    await tg.share(NUMBER, str(TELEGRAM_ID))
    person = await person_of(db, wa.sender)

    async def broadcast() -> list[tuple[int, str, str]]:
        async with db.transaction() as session:
            sent = await broadcasts.create(session, None, broadcasts.segment_all(), "Penimbangan Sabtu", utcnow())
            await broadcasts.enqueue(session, sent, utcnow())
            rows = select(Outbox.person_id, Outbox.channel, Outbox.address).where(Outbox.broadcast_id == sent.id)
            return [tuple(row) for row in (await session.execute(rows)).all()]  # type: ignore[misc]

    assert await broadcast() == [(person, "telegram", str(TELEGRAM_ID))]
    await wa.send("MENU")
    assert await broadcast() == [(person, "whatsapp", NUMBER)]


async def test_someone_elses_card_a_typed_number_or_an_unknown_number_join_nothing(
    db: Database, engine: Engine
) -> None:
    wa, tg = await residents_on_whatsapp_and_telegram(db, engine, whatsapp_first=True)
    people = await count(db, "SELECT count(*) FROM person")
    await open_link(tg)

    assert await tg.share(NUMBER, "777") == [t("profile.link_not_own")]  # a friend's card with her number
    assert await tg.share(NUMBER, None) == [t("profile.link_not_own")]  # a card saved without Telegram
    assert await tg.texts(NUMBER) == [t("choice.invalid"), t("profile.link_ask")]  # typed: cannot be verified
    assert await tg.texts("Bagikan nomor saya") == [t("profile.link_use_button")]  # the label typed
    assert await count(db, "SELECT count(*) FROM person") == people
    assert await person_of(db, wa.sender) != await person_of(db, tg.sender)

    assert await tg.share("+44 20 7946 0958", str(TELEGRAM_ID)) == [t("profile.link_not_indonesian"), t("menu.ask")]
    await open_link(tg)
    unknown = "+6281399990000"
    assert await tg.share(unknown, str(TELEGRAM_ID)) == [t("profile.link_not_found"), t("menu.ask")]
    assert await count(db, "SELECT count(*) FROM person") == people
    assert await count(db, "SELECT count(*) FROM audit_log WHERE action = 'join_people'") == 0
    async with db.transaction() as session:
        keys = set((await session.execute(select(Identity.key))).scalars())
        collaborators = (await session.execute(select(func.count()).select_from(Collaborator))).scalar_one()
    assert not any(unknown.removeprefix("+62") in key for key in keys) and collaborators == 0

    await open_link(tg)
    await tg.share(NUMBER, str(TELEGRAM_ID))
    await open_link(tg)
    assert await tg.share(NUMBER, str(TELEGRAM_ID)) == [t("profile.link_already"), t("menu.ask")]


async def test_the_link_is_offered_on_telegram_only(db: Database, engine: Engine) -> None:
    wa, tg = await residents_on_whatsapp_and_telegram(db, engine, whatsapp_first=True)
    link = translate("id", "profile.link_whatsapp")
    for chat, shown in ((tg, True), (wa, False)):
        await chat.send("MENU")
        profile = (await chat.send("Profil saya"))[-1]
        assert (link in [c.label for c in profile.choices]) is shown
    await open_link(tg)
    back = (await tg.send("Kembali ke profil"))[-1]
    assert link in [c.label for c in back.choices]  # the profile again


async def test_collaborator_sign_up_takes_the_number_but_leaves_joining_to_the_profile(
    db: Database, engine: Engine
) -> None:
    wa = on_whatsapp(engine, db)
    await register(wa)
    tg = on_telegram(engine, db)
    for text in ("/start kolab", "Setuju", "Perorangan", "Siti Aminah"):
        await tg.send(text)
    assert await tg.share(NUMBER, str(TELEGRAM_ID)) == [t("collab.link_hint"), t("collab.ask_email")]
    await tg.send("Lewati")
    await tg.send("Tidak, anonim")
    assert await person_of(db, wa.sender) != await person_of(db, tg.sender)
    await open_link(tg)
    assert await tg.share(NUMBER, str(TELEGRAM_ID)) == [t("profile.linked"), t("menu.ask")]
    async with db.transaction() as session:
        found = await session.get(Collaborator, await person_of(db, wa.sender))
    assert found is not None and found.phone == NUMBER


# --- The store: every reference to the merged person moves -----------------------------------------------


async def every_kind_of_record(db: Database) -> tuple[int, int]:
    """Two people (the first older) and, for the second, a row in every table that refers to a person."""
    now = utcnow()
    async with db.transaction() as session:
        keep = (await identify(session, "telegram:1", "telegram", "1", "id", now - timedelta(days=30))).person_id
        merged_identity = await identify(session, f"whatsapp:{NUMBER}", "whatsapp", NUMBER, "en", now)
        merged = merged_identity.person_id
        rw = await get_or_create_rw(session, KEBON_MELATI, 12)
        bank = (await session.execute(select(WasteBank).order_by(WasteBank.id))).scalars().first()
        assert bank is not None
        for person, name in ((keep, None), (merged, "Siti Aminah")):
            found = await session.get(Person, person)
            assert found is not None
            found.name, found.rw_id, found.consent_at, found.consent_version = name, rw.id, now, "v1"
            account = await ensure_account(session, person, bank.id)
            session.add(LedgerEntry(account_id=account.id, amount=10_000 if person == keep else 7_000, kind="deposit"))
        session.add_all([
            Conversation(person_id=merged, state="menu.main", data={}, offered={}, updated_at=now),
            Collaborator(person_id=merged, type="individual", contact_name="Siti Aminah", phone=NUMBER,
                         created_at=now),
            InboundRecord(channel="whatsapp", bot="test", platform_id="SM1", status="handled", person_id=merged),
            Outbox(person_id=merged, channel="whatsapp", address=NUMBER, priority=0, body={"text": "x"}),
            InviteFailure(person_id=merged, at=now),
            Invite(code_hash="h", role=ADMIN, created_by=merged, used_by=merged, expires_at=now),
            ProgressUpdate(rw_id=(await session.execute(select(Offer.rw_id))).scalars().first(), text="x",
                           posted_by=merged),
            WasteReport(person_id=merged, rw_id=rw.id, bank_id=bank.id, decided_by=merged),
            Broadcast(created_by=merged, approved_by=merged, text="x", status="done"),
        ])
        grant = await grant_role(session, merged, COORDINATOR, now, strand=WASTE, rw_ids=[rw.id], granted_by=merged)
        await grant_role(session, keep, ADMIN, now)
        pledge = Pledge(offer_id=(await session.execute(select(Offer.id))).scalars().first(), person_id=merged,
                        source="pledge", amount=1_000_000, status="pledged")
        session.add(pledge)
        await session.flush()
        session.add(PledgeEvent(pledge_id=pledge.id, status="pledged", by=merged))
        both = Broadcast(text="Penimbangan Sabtu", status="sending")  # enqueued for each before the join
        session.add(both)
        await session.flush()
        session.add_all([
            Outbox(person_id=person, channel="telegram", address="1", priority=1, body={"text": "x"},
                   broadcast_id=both.id) for person in (keep, merged)
        ] + [
            ScheduledOccurrence(kind="reminder", target=person_target(person), occurrence=day)
            for person, day in ((keep, "2025-01-04"), (merged, "2025-01-04"), (merged, "2025-01-11"))
        ])
        account = (await session.execute(select(Account).where(Account.person_id == merged))).scalar_one()
        held = await withdrawals.request_withdrawal(session, account.id, 2_000, now)
        assert isinstance(held, Withdrawal) and grant.id
        held.decided_by = merged
    return keep, merged


async def rows_of(db: Database, person_id: int) -> dict[str, int]:
    """How many rows of each referring column point at the person."""
    found = {}
    async with db.transaction() as session:
        for reference in references("person"):
            statement = select(func.count()).where(reference.attribute == person_id)
            found[f"{reference.table}.{reference.column.name}"] = (await session.execute(statement)).scalar_one()
    return found


async def test_join_moves_every_reference_to_the_kept_person(db: Database) -> None:
    keep, merged = await every_kind_of_record(db)
    before_keep, before_merged = await rows_of(db, keep), await rows_of(db, merged)
    assert all(before_merged.values()), [name for name, rows in before_merged.items() if not rows]  # all covered

    async with db.transaction() as session:
        joined = await join(session, keep, merged, utcnow())

    after_keep, after_merged = await rows_of(db, keep), await rows_of(db, merged)
    assert not any(after_merged.values())
    dropped = {"outbox.person_id": 1}  # the broadcast both were to get goes once
    for name, rows in after_keep.items():
        if name.split(".")[0] not in ONE_PER_PERSON:
            assert rows == before_keep[name] + before_merged[name] - dropped.get(name, 0), name
    assert joined.moved["outbox.duplicate_broadcasts"] == 1
    async with db.transaction() as session:
        reminded = (await session.execute(select(ScheduledOccurrence.target, ScheduledOccurrence.occurrence)
                                          .order_by(ScheduledOccurrence.occurrence))).all()
    assert [tuple(row) for row in reminded] == [(person_target(keep), day) for day in ("2025-01-04", "2025-01-11")]
    assert after_keep["account.person_id"] == 1 and joined.accounts_folded == 1
    assert after_keep["collaborator.person_id"] == 1
    assert await total_savings(db, keep) == 10_000 + 7_000 - 2_000
    async with db.transaction() as session:
        person = await session.get(Person, keep)
        assert person is not None
        assert (person.name, person.locale) == ("Siti Aminah", "en")  # filled in; WhatsApp was used last
        assert await roles_of(session, keep) == {ADMIN, COORDINATOR}
        assert await session.get(Person, merged) is None


async def test_a_person_cannot_be_joined_with_themselves(db: Database) -> None:
    keep, _ = await every_kind_of_record(db)
    async with db.transaction() as session:
        with pytest.raises(ValueError):
            await join(session, keep, keep, utcnow())


# --- Telegram renders the request as its contact button -----------------------------------------------------


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with make_bot(TOKEN, fake.base_url) as client:
        yield client


async def test_telegram_asks_for_the_contact_with_a_one_time_contact_button(bot: Bot, fake: FakeBotAPI) -> None:
    reply = Reply("Bagikan nomor?", choices=(Choice(CONTACT_REQUEST, "Bagikan nomor saya"),
                                             Choice("link:cancel", "Kembali ke profil")))
    await TelegramTransport(bot).send("4242", reply)
    [call] = fake.sent_to(4242)
    assert call.reply_markup == {
        "keyboard": [[{"text": "Bagikan nomor saya", "request_contact": True}], [{"text": "Kembali ke profil"}]],
        "one_time_keyboard": True,
        "resize_keyboard": True,
    }


async def test_a_number_proven_on_telegram_first_makes_its_later_whatsapp_messages_the_same_person(
    db: Database, engine: Engine
) -> None:
    """Siti links before she ever wrote on WhatsApp: only the hash of her number is kept, and her first
    WhatsApp message is hers (her name, RW and savings), with no new person and no second registration."""
    tg = on_telegram(engine, db)
    await register(tg)
    siti = await person_of(db, tg.sender)
    await credit(db, siti, 30_000)
    people = await count(db, "SELECT count(*) FROM person")
    await open_link(tg)
    assert await tg.share("0813 9999 0001", str(TELEGRAM_ID)) == [t("profile.link_not_found"), t("menu.ask")]
    async with db.transaction() as session:
        stored = (await session.execute(select(Identity.phone_hash).where(Identity.key == tg.sender))).scalar_one()
    assert stored and "8139999" not in stored  # a hash, never the number

    wa = on_whatsapp(engine, db, "+6281399990001")
    [reply] = [r for r in await wa.send("halo") if r.choices]
    assert await person_of(db, wa.sender) == siti and await count(db, "SELECT count(*) FROM person") == people
    assert t("menu.register") not in [choice.label for choice in reply.choices]  # already a resident here
    assert await total_savings(db, siti) == 30_000
