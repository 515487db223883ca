"""Sedekah sampah: a resident gives part of their savings to an RW's shared (Bersama) offer; the
balance and the offer's progress both move at once, the RW page shows the gift only in aggregate,
bad amounts are refused with the numbers, and whatever changed before confirming is said plainly."""

from __future__ import annotations

from fractions import Fraction

import pytest
from sqlalchemy import select

from bot.engine import Engine
from handlers.messages import Kind, Reply
from handlers.text.formatting import progress_bar
from handlers.text.i18n import translate
from storage import pledges, withdrawals
from storage.banks import ensure_account
from storage.db import Database
from storage.ledger import balance
from storage.models import (
    RW,
    Account,
    AuditEntry,
    Conversation,
    Kelurahan,
    LedgerEntry,
    Offer,
    Person,
    Pledge,
    WasteBank,
)
from storage.people import identify
from storage.types import utcnow
from tests.conftest import count
from tests.support import Direct, register

BANK = "Bank Sampah Unit Melati Bersih (CONTOH)"
TARGET = 150_000_000
TERMS = pledges.Terms()


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


def bar(pledged: int, target: int = TARGET) -> str:
    return progress_bar(Fraction(pledged, target))


async def rw_id(db: Database, kelurahan: str, number: int) -> int:
    async with db.transaction() as session:
        statement = select(RW.id).join(Kelurahan, Kelurahan.code == RW.kelurahan_code).where(
            Kelurahan.name == kelurahan, RW.number == number)
        return (await session.execute(statement)).scalar_one()


async def bersama(db: Database, kelurahan: str = "Kebon Melati", number: int = 14) -> int:
    """The id of the RW's shared offer in the sample catalog."""
    async with db.transaction() as session:
        statement = select(Offer.id).where(Offer.rw_id == await rw_id(db, kelurahan, number),
                                           Offer.package_code == "bersama")
        return (await session.execute(statement)).scalar_one()


async def open_account(db: Database, user: str, amount: int, bank: str | None = None) -> int:
    """An account for the local user at the sample bank (or a new bank), credited with `amount`."""
    async with db.transaction() as session:
        person_id = (await identify(session, f"local:{user}", "local", user, "id", utcnow())).person_id
        if bank is None:
            bank_id = (await session.execute(select(WasteBank.id).order_by(WasteBank.id))).scalars().first()
        else:
            new_bank = WasteBank(name=bank, is_sample=False)
            session.add(new_bank)
            await session.flush()
            bank_id = new_bank.id
        account = await ensure_account(session, person_id, bank_id)  # type: ignore[arg-type]
        if amount:
            session.add(LedgerEntry(account_id=account.id, amount=amount, kind="deposit"))
        return account.id


async def resident(
    db: Database, engine: Engine, amount: int = 50_000, user: str = "siti", kelurahan: str = "Kebon Melati", rw: int = 14
) -> tuple[Direct, int]:
    """A resident registered in the RW (the sample bank serves only RW 012, so an account there is
    opened for them) with `amount` in savings."""
    chat = Direct(engine, db, user)
    await register(chat, kelurahan=kelurahan, rw=str(rw))
    return chat, await open_account(db, user, amount)


async def collaborator_pledges(db: Database, offer_id: int, amount: int, name: str = "pt_maju") -> None:
    async with db.transaction() as session:
        who = (await identify(session, f"local:{name}", "local", name, "id", utcnow())).person_id
        made = await pledges.pledge(session, who, offer_id, amount, utcnow(), hold=TERMS.hold, min_share=TERMS.min_share)
        assert isinstance(made, pledges.Pledge)


async def pledged(db: Database, offer_id: int) -> int:
    async with db.transaction() as session:
        offer = await session.get(Offer, offer_id)
        states = await pledges.offer_states(session, offer.rw_id, utcnow())  # type: ignore[union-attr]
        return next(s.pledged for s in states if s.offer.id == offer_id)


async def balance_of(db: Database, account_id: int) -> int:
    async with db.transaction() as session:
        return await balance(session, account_id)


async def audits(db: Database) -> list[str]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(AuditEntry.outcome).where(AuditEntry.action == "give_savings").order_by(AuditEntry.id))
        return list(rows.scalars())


async def gifts(db: Database) -> int:
    return await count(db, "SELECT count(*) FROM pledge WHERE source = 'sedekah'")


def labels(reply: Reply) -> list[str]:
    return [choice.label for choice in reply.choices]


def key_of(reply: Reply, label: str) -> str:
    return next(choice.key for choice in reply.choices if choice.label.startswith(label))


async def to_amount(chat: Direct) -> None:
    for message in ("MENU", "Sedekah sampah", t("sedekah.choose_own")):
        await chat.send(message)


# --- The Done criterion ---------------------------------------------------------------------------


async def test_a_resident_gives_10000_to_their_rws_bersama_offer_and_both_balance_and_progress_change(
    db: Database, engine: Engine
) -> None:
    offer_id = await bersama(db)
    await collaborator_pledges(db, offer_id, 75_000_000)
    chat, account_id = await resident(db, engine)
    menu = (await chat.send("MENU"))[0]
    assert t("menu.sedekah") in labels(menu)
    [ask] = await chat.send("Sedekah sampah")
    assert ask.text == t("sedekah.ask_own", rw="014", kelurahan="Kebon Melati", pledged="Rp75.000.000",
                         target="Rp150.000.000", progress="▓▓▓▓▓░░░░░ 50%")
    assert labels(ask) == [t("sedekah.choose_own"), t("sedekah.choose_other"), t("sedekah.cancel")]
    assert await chat.texts(t("sedekah.choose_own")) == [
        t("sedekah.ask_amount", bank=BANK, balance="Rp50.000", rw="014", kelurahan="Kebon Melati",
          remaining="Rp75.000.000")
    ]
    assert await chat.texts("10.000") == [
        t("sedekah.ask_confirm", amount="Rp10.000", bank=BANK, rw="014", kelurahan="Kebon Melati", giver_rw="014")
    ]
    assert await chat.texts("Ya, sedekahkan") == [
        t("sedekah.done", amount="Rp10.000", rw="014", kelurahan="Kebon Melati", balance="Rp40.000",
          pledged="Rp75.010.000", target="Rp150.000.000", progress=bar(75_010_000)),
        t("menu.ask"),
    ]
    assert await balance_of(db, account_id) == 40_000
    assert await pledged(db, offer_id) == 75_010_000
    async with db.transaction() as session:
        gift = (await session.execute(select(Pledge).where(Pledge.source == "sedekah"))).scalar_one()
        entry = (await session.execute(select(LedgerEntry).where(LedgerEntry.kind == "sedekah"))).scalar_one()
        account = await session.get(Account, account_id)
    assert (gift.amount, gift.status, gift.giver_rw_id) == (10_000, "received", await rw_id(db, "Kebon Melati", 14))
    assert (entry.amount, entry.pledge_id, entry.account_id) == (-10_000, gift.id, account_id)
    assert await audits(db) == ["given"]
    saldo = (await chat.texts(t("menu.savings")))[0]
    assert t("savings.account", bank=BANK, member=account.member_number, balance="Rp40.000") in saldo  # type: ignore[union-attr]


async def test_gifts_show_on_the_rw_only_summed_per_giving_rw_never_by_name(db: Database, engine: Engine) -> None:
    offer_id = await bersama(db)
    await collaborator_pledges(db, offer_id, 5_000_000)
    for user, amount in (("siti", "10.000"), ("budi", "2.500")):
        chat, _ = await resident(db, engine, user=user)
        await to_amount(chat)
        await chat.send(amount)
        await chat.send("Ya, sedekahkan")
    rw14 = await rw_id(db, "Kebon Melati", 14)
    async with db.transaction() as session:
        lines = await pledges.supporters(session, rw14, utcnow())
    assert lines == [pledges.Supporter(None, 5_000_000), pledges.Supporter(None, 12_500, True, rw14)]
    assert await pledged(db, offer_id) == 5_012_500


# --- Choosing the RW ------------------------------------------------------------------------------


async def test_choosing_another_rw_from_a_paged_list(db: Database, engine: Engine) -> None:
    chat, account_id = await resident(db, engine)
    await chat.send("MENU")
    await chat.send("Sedekah sampah")
    [first] = await chat.send(t("sedekah.choose_other"))
    # 34 sample RWs, less Kebon Melati RW 012 (works done) and the resident's own RW 014.
    assert first.text == t("sedekah.ask_list", first=1, last=8, total=32)
    assert labels(first)[:3] == [f"RW 006 Bungur · {bar(0)}", f"RW 004 Galur · {bar(0)}", f"RW 001 Johar Baru · {bar(0)}"]
    assert labels(first)[-2:] == [t("sedekah.next"), t("sedekah.cancel")]
    [second] = await chat.send(t("sedekah.next"))
    assert second.text == t("sedekah.ask_list", first=9, last=16, total=32)
    assert labels(second)[-3:] == [t("sedekah.next"), t("sedekah.previous"), t("sedekah.cancel")]
    assert (await chat.send(t("sedekah.previous")))[0].text == t("sedekah.ask_list", first=1, last=8, total=32)
    [second] = await chat.send(t("sedekah.next"))
    karet_tengsin = await bersama(db, "Karet Tengsin", 5)
    assert key_of(second, "RW 005 Karet Tengsin") == f"offer:{karet_tengsin}"
    assert await chat.texts(kind=Kind.CHOICE, choice=f"offer:{karet_tengsin}") == [
        t("sedekah.ask_amount", bank=BANK, balance="Rp50.000", rw="005", kelurahan="Karet Tengsin",
          remaining="Rp150.000.000")
    ]
    await chat.send("10rb")
    await chat.send("Ya, sedekahkan")
    assert (await balance_of(db, account_id), await pledged(db, karet_tengsin)) == (40_000, 10_000)
    async with db.transaction() as session:
        lines = await pledges.supporters(session, await rw_id(db, "Karet Tengsin", 5), utcnow())
    assert lines == [pledges.Supporter(None, 10_000, True, await rw_id(db, "Kebon Melati", 14))]


async def test_a_resident_whose_rw_has_no_open_bersama_offer_goes_straight_to_the_list(
    db: Database, engine: Engine
) -> None:
    chat = Direct(engine, db)
    await register(chat)  # Kebon Melati RW 012: works done, so its offers are closed; the sample bank serves it
    async with db.transaction() as session:
        account_id = (await session.execute(select(Account.id))).scalar_one()
        session.add(LedgerEntry(account_id=account_id, amount=20_000, kind="deposit"))
    await chat.send("MENU")
    assert await chat.texts("Sedekah sampah") == [
        t("sedekah.own_not_open", rw="012", kelurahan="Kebon Melati"), t("sedekah.ask_list", first=1, last=8, total=33)
    ]


async def test_with_savings_at_two_banks_the_resident_chooses_the_bank(db: Database, engine: Engine) -> None:
    chat, first = await resident(db, engine)
    second = await open_account(db, "siti", 7_500, bank="Bank Sampah Mawar")
    await chat.send("MENU")
    await chat.send("Sedekah sampah")
    [ask] = await chat.send(t("sedekah.choose_own"))
    assert ask.text == t("sedekah.ask_bank")
    assert labels(ask) == [f"{BANK} – Rp50.000", "Bank Sampah Mawar – Rp7.500", t("sedekah.cancel")]
    await chat.send("Bank Sampah Mawar – Rp7.500")
    assert await chat.texts("10.000") == [t("sedekah.above_balance", bank="Bank Sampah Mawar", balance="Rp7.500")]
    await chat.send("7.500")
    await chat.send("Ya, sedekahkan")
    assert (await balance_of(db, first), await balance_of(db, second)) == (50_000, 0)


# --- Who sees the entry ---------------------------------------------------------------------------


async def test_the_menu_entry_is_hidden_without_a_balance_and_a_forged_button_gives_nothing(
    db: Database, engine: Engine
) -> None:
    chat = Direct(engine, db)
    await register(chat, kelurahan="Kebon Melati", rw="14")
    assert t("menu.sedekah") not in labels((await chat.send("MENU"))[0])  # no account at all
    account_id = await open_account(db, "siti", 0)
    assert t("menu.sedekah") not in labels((await chat.send("MENU"))[0])  # an account with Rp0
    async with db.transaction() as session:  # a stale or forged button
        conversation = (await session.execute(select(Conversation))).scalar_one()
        conversation.offered = {"choices": [["menu:sedekah", t("menu.sedekah")]]}
    assert await chat.texts("Sedekah sampah") == [t("sedekah.no_savings"), t("menu.ask")]
    async with db.transaction() as session:
        session.add(LedgerEntry(account_id=account_id, amount=1_000, kind="deposit"))
    assert t("menu.sedekah") in labels((await chat.send("MENU"))[0])
    assert await gifts(db) == 0


async def test_a_newcomer_never_sees_the_entry(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db)
    await chat.send("/start")
    await chat.send("1")
    assert t("menu.sedekah") not in labels((await chat.send("MENU"))[0])


# --- Bad amounts ------------------------------------------------------------------------------------

ZERO = t("sedekah.amount_zero", balance="Rp50.000")
INVALID = t("sedekah.amount_invalid", balance="Rp50.000")
OVER_BALANCE = t("sedekah.above_balance", bank=BANK, balance="Rp50.000")
OVER_REMAINING = t("sedekah.above_remaining", rw="014", kelurahan="Kebon Melati", remaining="Rp20.000")
LEFT = TARGET - 20_000  # what a collaborator takes first when the offer should need only Rp20.000 more


@pytest.mark.parametrize(
    ("taken", "fields", "expected", "audited"),
    [
        (0, {"text": "0"}, ZERO, None),
        (0, {"text": "Rp 0,-"}, ZERO, None),
        (0, {"text": "-10.000"}, ZERO, None),
        (0, {"text": "sepuluh ribu"}, INVALID, None),
        (0, {"text": "10 dolar"}, INVALID, None),
        (0, {"text": "🙂"}, INVALID, None),
        (0, {"text": "50.001"}, OVER_BALANCE, "above_balance"),
        (0, {"text": "5 juta"}, OVER_BALANCE, "above_balance"),
        (0, {"text": "999999999999999999999"}, OVER_BALANCE, "above_balance"),
        (LEFT, {"text": "30.000"}, OVER_REMAINING, "above_remaining"),
        (LEFT, {"text": "60.000"}, OVER_REMAINING, "above_remaining"),
        (LEFT, {"text": "999999999999999999999"}, OVER_REMAINING, "above_remaining"),
        (0, {"kind": Kind.PHOTO, "photo": "photo-1"}, t("input.unsupported"), None),
    ],
)
async def test_a_bad_amount_is_refused_with_the_numbers_and_nothing_is_given(
    db: Database, engine: Engine, taken: int, fields: dict[str, object], expected: str, audited: str | None
) -> None:
    offer_id = await bersama(db)
    if taken:
        await collaborator_pledges(db, offer_id, taken)
    chat, account_id = await resident(db, engine)
    await to_amount(chat)
    assert (await chat.texts(**fields))[0] == expected  # type: ignore[arg-type]
    assert (await gifts(db), await balance_of(db, account_id), await pledged(db, offer_id)) == (0, 50_000, taken)
    assert await audits(db) == ([audited] if audited else [])
    assert await chat.texts("20.000") == [
        t("sedekah.ask_confirm", amount="Rp20.000", bank=BANK, rw="014", kelurahan="Kebon Melati", giver_rw="014")
    ]


# --- What changed before confirming -----------------------------------------------------------------


async def test_cancelling_at_the_summary_gives_nothing(db: Database, engine: Engine) -> None:
    chat, account_id = await resident(db, engine)
    await to_amount(chat)
    await chat.send("20.000")
    assert await chat.texts(t("sedekah.cancel")) == [t("cancel.done"), t("menu.ask")]
    assert (await gifts(db), await balance_of(db, account_id)) == (0, 50_000)


async def test_if_the_balance_fell_before_confirming_the_amount_is_asked_again(db: Database, engine: Engine) -> None:
    chat, account_id = await resident(db, engine)
    await to_amount(chat)
    await chat.send("40.000")
    async with db.transaction() as session:  # a withdrawal, from another channel, got there first
        assert isinstance(await withdrawals.request_withdrawal(session, account_id, 20_000, utcnow()), withdrawals.Withdrawal)
    assert await chat.texts("Ya, sedekahkan") == [
        t("sedekah.balance_fell", bank=BANK, balance="Rp30.000"),
        t("sedekah.ask_amount", bank=BANK, balance="Rp30.000", rw="014", kelurahan="Kebon Melati",
          remaining="Rp150.000.000"),
    ]
    assert (await gifts(db), await balance_of(db, account_id)) == (0, 30_000)
    assert await audits(db) == ["above_balance"]


async def test_if_the_offer_needs_less_before_confirming_the_amount_is_asked_again(db: Database, engine: Engine) -> None:
    offer_id = await bersama(db)
    chat, account_id = await resident(db, engine)
    await to_amount(chat)
    await chat.send("40.000")
    await collaborator_pledges(db, offer_id, TARGET - 25_000)
    assert await chat.texts("Ya, sedekahkan") == [
        t("sedekah.remaining_fell", rw="014", kelurahan="Kebon Melati", remaining="Rp25.000"),
        t("sedekah.ask_amount", bank=BANK, balance="Rp50.000", rw="014", kelurahan="Kebon Melati", remaining="Rp25.000"),
    ]
    await chat.send("25.000")
    await chat.send("Ya, sedekahkan")
    assert (await balance_of(db, account_id), await pledged(db, offer_id)) == (25_000, TARGET)


async def test_if_the_offer_filled_before_confirming_another_rw_is_offered(db: Database, engine: Engine) -> None:
    offer_id = await bersama(db)
    chat, account_id = await resident(db, engine)
    await to_amount(chat)
    await chat.send("10.000")
    await collaborator_pledges(db, offer_id, TARGET)
    assert await chat.texts("Ya, sedekahkan") == [
        t("sedekah.offer_filled", rw="014", kelurahan="Kebon Melati"), t("sedekah.ask_list", first=1, last=8, total=32),
    ]
    assert (await gifts(db), await balance_of(db, account_id)) == (0, 50_000)
    assert await audits(db) == ["full"]
    await chat.send("MENU")  # the own RW is no longer proposed: straight to the list
    assert (await chat.texts("Sedekah sampah"))[0] == t("sedekah.own_not_open", rw="014", kelurahan="Kebon Melati")


async def test_the_gift_is_refused_by_storage_beyond_the_balance_or_the_remainder(db: Database, engine: Engine) -> None:
    """The storage contract the flow relies on, for both limits and a person without savings."""
    offer_id = await bersama(db)
    _, account_id = await resident(db, engine, 15_000)
    async with db.transaction() as session:
        person_id = (await session.execute(select(Person.id).join(Account).where(Account.id == account_id))).scalar_one()
        now = utcnow()
        give = pledges.give_savings
        assert (await give(session, person_id, account_id, offer_id, 15_001, now, None)).reason == pledges.ABOVE_BALANCE
        assert (await give(session, person_id, account_id, offer_id, 0, now, None)).reason == pledges.NOT_POSITIVE
        assert isinstance(await give(session, person_id, account_id, offer_id, 15_000, now, None), pledges.Pledge)
        assert (await give(session, person_id, account_id, offer_id, 1, now, None)).reason == pledges.ABOVE_BALANCE
