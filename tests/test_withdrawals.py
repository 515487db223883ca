"""Withdrawals: a resident asks, the amount is held at once; a coordinator of the bank's RWs marks it
paid or declined, once; bad input and other people's RWs change nothing; and on PostgreSQL parallel
requests never overdraw an account, while a control run without the lock does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.engine import Engine
from handlers.messages import Kind, Reply
from handlers.text.formatting import datetime_short
from handlers.text.i18n import translate
from storage import withdrawals
from storage.banks import ensure_account
from storage.db import Database
from storage.ledger import balance
from storage.models import (
    Account,
    AuditEntry,
    Conversation,
    LedgerEntry,
    Outbox,
    Person,
    WasteBank,
    WasteBankRW,
    Withdrawal,
)
from storage.models.roles import ADMIN, COORDINATOR, UPGRADING, WASTE
from storage.outbox import Priority
from storage.people import identify
from storage.places import get_or_create_rw
from storage.roles import grant_role, hand_over, revoke_role
from storage.types import utcnow
from tests.conftest import count
from tests.support import Direct, register

KEBON_MELATI = "31.71.07.1005"
BANK = "Bank Sampah Unit Melati Bersih (CONTOH)"
SITI = "Siti Aminah (anggota 1001)"


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


async def credit(db: Database, amount: int, person: str = "Siti Aminah") -> int:
    """Credit the person's (first) account as a deposit would; returns the account id."""
    async with db.transaction() as session:
        account = (
            await session.execute(select(Account).join(Person).where(Person.name == person).order_by(Account.id))
        ).scalars().first()
        assert account is not None
        session.add(LedgerEntry(account_id=account.id, amount=amount, kind="deposit"))
        return account.id


async def resident(db: Database, engine: Engine, amount: int = 50_000) -> tuple[Direct, int]:
    """Siti, registered in Kebon Melati RW 12 (the sample bank), with `amount` in savings."""
    chat = Direct(engine, db)
    await register(chat)
    return chat, await credit(db, amount)


async def staff(db: Database, name: str, role: str | None, strand: str | None = WASTE, rw: int = 12) -> int:
    """A person known to the bot as local:<name> holding `role` (a coordinator over one RW)."""
    async with db.transaction() as session:
        person_id = (await identify(session, f"local:{name}", "local", name, "id", utcnow())).person_id
        if role is not None:
            rw_ids = [(await get_or_create_rw(session, KEBON_MELATI, rw)).id] if role == COORDINATOR else []
            await grant_role(session, person_id, role, utcnow(), strand=strand if role == COORDINATOR else None,
                             rw_ids=rw_ids)
        return person_id


async def hold(db: Database, account_id: int, amount: int) -> int:
    async with db.transaction() as session:
        result = await withdrawals.request_withdrawal(session, account_id, amount, utcnow())
        assert isinstance(result, Withdrawal)
        return result.id


async def balance_of(db: Database, account_id: int) -> int:
    async with db.transaction() as session:
        return await balance(session, account_id)


async def withdrawal(db: Database, withdrawal_id: int) -> Withdrawal:
    async with db.transaction() as session:
        return (await session.execute(select(Withdrawal).where(Withdrawal.id == withdrawal_id))).scalar_one()


async def notices(db: Database, person: str = "Siti Aminah") -> list[str]:
    """Messages the bot started to the person (not replies)."""
    async with db.transaction() as session:
        rows = await session.execute(
            select(Outbox.body).join(Person, Person.id == Outbox.person_id)
            .where(Person.name == person, Outbox.priority == int(Priority.NOTIFY)).order_by(Outbox.id)
        )
        return [Reply.from_body(body).text for body in rows.scalars()]


async def audits(db: Database, action: str) -> list[tuple[str, str | None]]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(AuditEntry.outcome, AuditEntry.target).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def state(db: Database, person_id: int) -> str:
    async with db.transaction() as session:
        return (await session.execute(select(Conversation.state).where(Conversation.person_id == person_id))).scalar_one()


async def open_withdrawals(chat: Direct) -> list[Reply]:
    """From anywhere to the coordinator's list of held withdrawals."""
    await chat.send("MENU")
    await chat.send("Menu koordinator")
    return await chat.send("Penarikan saldo")


# --- The resident asks --------------------------------------------------------------------------


async def test_a_withdrawal_is_held_at_once_and_the_resident_is_told(db: Database, engine: Engine) -> None:
    chat, account_id = await resident(db, engine)
    menu = (await chat.send("MENU"))[0]
    assert t("menu.withdraw") in [choice.label for choice in menu.choices]
    assert await chat.texts("Tarik saldo") == [t("withdraw.ask_amount", bank=BANK, balance="Rp50.000")]
    assert await chat.texts("20rb") == [t("withdraw.ask_confirm", amount="Rp20.000", bank=BANK)]
    assert await chat.texts("Ya, tarik") == [
        t("withdraw.held", amount="Rp20.000", bank=BANK, balance="Rp30.000"), t("menu.ask"),
    ]
    async with db.transaction() as session:
        held = (await session.execute(select(Withdrawal))).scalar_one()
        entry = (await session.execute(select(LedgerEntry).where(LedgerEntry.kind == withdrawals.HOLD))).scalar_one()
    assert (held.account_id, held.amount, held.status) == (account_id, 20_000, "held")
    assert (entry.amount, entry.withdrawal_id) == (-20_000, held.id)
    assert await balance_of(db, account_id) == 30_000
    assert await audits(db, "request_withdrawal") == [("held", f"withdrawal:{held.id}")]


async def test_with_savings_at_two_banks_the_resident_chooses_the_bank(db: Database, engine: Engine) -> None:
    chat, first = await resident(db, engine, 50_000)
    async with db.transaction() as session:
        bank = WasteBank(name="Bank Sampah Mawar", is_sample=False)
        session.add(bank)
        await session.flush()
        session.add(WasteBankRW(rw_id=(await get_or_create_rw(session, KEBON_MELATI, 13)).id, bank_id=bank.id))
        person_id = (await session.execute(select(Person.id).where(Person.name == "Siti Aminah"))).scalar_one()
        second = await ensure_account(session, person_id, bank.id)
        session.add(LedgerEntry(account_id=second.id, amount=7_500, kind="deposit"))
    await chat.send("MENU")
    [ask] = await chat.send("Tarik saldo")
    assert ask.text == t("withdraw.ask_bank")
    assert [choice.label for choice in ask.choices] == [f"{BANK} – Rp50.000", "Bank Sampah Mawar – Rp7.500"]
    assert await chat.texts("Bank Sampah Mawar – Rp7.500") == [
        t("withdraw.ask_amount", bank="Bank Sampah Mawar", balance="Rp7.500")
    ]
    assert await chat.texts("10.000") == [t("withdraw.above_balance", balance="Rp7.500")]
    await chat.send("7.500")
    await chat.send("Ya, tarik")
    assert (await balance_of(db, first), await balance_of(db, second.id)) == (50_000, 0)


ABOVE = t("withdraw.above_balance", balance="Rp50.000")


@pytest.mark.parametrize(
    ("fields", "expected", "audited"),
    [
        ({"text": "60.000"}, ABOVE, True),
        ({"text": "50.001"}, ABOVE, True),
        ({"text": "5 juta"}, ABOVE, True),
        ({"text": "999999999999999999999"}, ABOVE, True),
        ({"text": "0"}, t("withdraw.amount_zero"), False),
        ({"text": "Rp 0,-"}, t("withdraw.amount_zero"), False),
        ({"text": "-20.000"}, t("withdraw.amount_zero"), False),
        ({"text": "dua puluh ribu"}, t("withdraw.amount_invalid"), False),
        ({"text": "20 dolar"}, t("withdraw.amount_invalid"), False),
        ({"text": "1e9"}, t("withdraw.amount_invalid"), False),
        ({"text": "🙂"}, t("withdraw.amount_invalid"), False),
        ({"kind": Kind.PHOTO, "photo": "photo-1"}, t("input.unsupported"), False),
    ],
)
async def test_a_bad_amount_is_refused_plainly_and_nothing_is_held(
    db: Database, engine: Engine, fields: dict[str, object], expected: str, audited: bool
) -> None:
    chat, account_id = await resident(db, engine)
    await chat.send("MENU")
    await chat.send("Tarik saldo")
    assert (await chat.texts(**fields))[0] == expected  # type: ignore[arg-type]
    assert await count(db, "SELECT count(*) FROM withdrawal") == 0
    assert await balance_of(db, account_id) == 50_000
    assert await audits(db, "request_withdrawal") == ([("above_balance", f"account:{account_id}")] if audited else [])
    assert await chat.texts("50.000") == [t("withdraw.ask_confirm", amount="Rp50.000", bank=BANK)]


async def test_cancelling_at_the_confirmation_holds_nothing(db: Database, engine: Engine) -> None:
    chat, account_id = await resident(db, engine)
    for message in ("MENU", "Tarik saldo", "20.000"):
        await chat.send(message)
    assert await chat.texts("Batal") == [t("cancel.done"), t("menu.ask")]
    assert await count(db, "SELECT count(*) FROM withdrawal") == 0
    assert await balance_of(db, account_id) == 50_000


async def test_if_the_balance_fell_before_confirming_the_amount_is_asked_again(db: Database, engine: Engine) -> None:
    chat, account_id = await resident(db, engine)
    for message in ("MENU", "Tarik saldo", "40.000"):
        await chat.send(message)
    await hold(db, account_id, 20_000)  # another request, from another channel, got there first
    assert await chat.texts("Ya, tarik") == [
        t("withdraw.above_balance", balance="Rp30.000"), t("withdraw.ask_amount", bank=BANK, balance="Rp30.000"),
    ]
    assert await count(db, "SELECT count(*) FROM withdrawal") == 1
    assert await balance_of(db, account_id) == 30_000


async def test_a_resident_without_a_bank_account_is_not_offered_withdrawals_and_cannot_start_one(
    db: Database, engine: Engine
) -> None:
    chat = Direct(engine, db)
    await register(chat, kelurahan="Menteng", rw="2")
    menu = (await chat.send("MENU"))[0]
    assert t("menu.withdraw") not in [choice.label for choice in menu.choices]
    async with db.transaction() as session:  # a stale or forged button
        conversation = (await session.execute(select(Conversation))).scalar_one()
        conversation.offered = {"choices": [["menu:withdraw", t("menu.withdraw")]]}
    assert await chat.texts("Tarik saldo") == [t("withdraw.no_account"), t("menu.ask")]
    assert await count(db, "SELECT count(*) FROM withdrawal") == 0


async def test_an_empty_balance_has_nothing_to_withdraw(db: Database, engine: Engine) -> None:
    chat, _ = await resident(db, engine, amount=0)
    await chat.send("MENU")
    assert await chat.texts("Tarik saldo") == [t("withdraw.empty"), t("menu.ask")]


# --- The coordinator decides --------------------------------------------------------------------


async def test_paid_keeps_the_hold_as_the_debit_and_tells_the_resident(db: Database, engine: Engine) -> None:
    chat, account_id = await resident(db, engine)
    for message in ("MENU", "Tarik saldo", "20.000", "Ya, tarik"):
        await chat.send(message)
    await staff(db, "koord12", COORDINATOR)
    koord = Direct(engine, db, "koord12")
    [listing] = await open_withdrawals(koord)
    assert listing.text == t("coordwd.ask_list", count=1, shown=1)
    [item, back] = listing.choices
    assert back.label == t("coordwd.to_menu")
    requested = datetime_short((await withdrawal(db, int(item.key.removeprefix("wd:")))).requested_at, "id")
    assert item.label == f"{SITI} · Rp20.000 · {requested}"
    assert await koord.texts(kind=Kind.CHOICE, choice=item.key) == [
        t("coordwd.ask_decide", amount="Rp20.000", who=SITI, bank=BANK, when=requested)
    ]
    assert await koord.texts("Sudah dibayar") == [
        t("coordwd.paid_done", amount="Rp20.000", who=SITI), t("coordwd.none"),
    ]
    async with db.transaction() as session:
        paid = (await session.execute(select(Withdrawal))).scalar_one()
    assert paid.status == "paid" and paid.decided_by is not None and paid.decided_at is not None
    assert await balance_of(db, account_id) == 30_000
    assert await count(db, "SELECT count(*) FROM ledger_entry WHERE kind = 'withdrawal_release'") == 0
    assert await notices(db) == [t("withdraw.paid_notice", amount="Rp20.000", bank=BANK, balance="Rp30.000")]
    assert await audits(db, "decide_withdrawal") == [("paid", f"withdrawal:{paid.id}")]


async def test_declined_releases_the_hold_with_a_reversing_entry(db: Database, engine: Engine) -> None:
    _, account_id = await resident(db, engine)
    withdrawal_id = await hold(db, account_id, 20_000)
    await staff(db, "koord12", COORDINATOR)
    koord = Direct(engine, db, "koord12")
    [listing] = await open_withdrawals(koord)
    await koord.send(kind=Kind.CHOICE, choice=listing.choices[0].key)
    assert await koord.texts("Tolak, kembalikan saldo") == [
        t("coordwd.declined_done", amount="Rp20.000", who=SITI), t("coordwd.none"),
    ]
    assert (await withdrawal(db, withdrawal_id)).status == "declined"
    assert await balance_of(db, account_id) == 50_000
    async with db.transaction() as session:
        entries = {e.kind: e for e in (await session.execute(select(LedgerEntry))).scalars()}
    release, hold_entry = entries[withdrawals.RELEASE], entries[withdrawals.HOLD]
    assert (release.amount, release.reverses_id, release.withdrawal_id) == (20_000, hold_entry.id, withdrawal_id)
    assert await notices(db) == [t("withdraw.declined_notice", amount="Rp20.000", bank=BANK, balance="Rp50.000")]
    assert await audits(db, "decide_withdrawal") == [("declined", f"withdrawal:{withdrawal_id}")]


async def test_the_list_shows_the_oldest_first(db: Database, engine: Engine) -> None:
    _, account_id = await resident(db, engine)
    first, second = await hold(db, account_id, 1_000), await hold(db, account_id, 2_000)
    async with db.transaction() as session:  # the second was asked earlier
        await session.execute(
            text("UPDATE withdrawal SET requested_at = :at WHERE id = :id"), {"at": utcnow() - timedelta(days=1), "id": second}
        )
    await staff(db, "admin", ADMIN)
    [listing] = await open_withdrawals(Direct(engine, db, "admin"))
    assert [choice.key for choice in listing.choices] == [f"wd:{second}", f"wd:{first}", "list:menu"]


async def set_conversation(db: Database, person_id: int, state: str, data: dict[str, object], offered: list[list[str]]) -> None:
    """Put someone at a step as if the buttons had been shown to them (a stale or forged button)."""
    async with db.transaction() as session:
        conversation = await session.get(Conversation, person_id)
        if conversation is None:
            conversation = Conversation(person_id=person_id)
            session.add(conversation)
        conversation.state, conversation.data, conversation.updated_at = state, data, utcnow()
        conversation.offered = {"choices": offered}


@dataclass(frozen=True)
class Who:
    role: str | None
    strand: str | None = WASTE
    rw: int = 12
    revoked: bool = False


PERMISSIONS = [
    # (who, scope, sees the request in the list?, may decide it?)
    ("waste coordinator of the bank's RW", Who(COORDINATOR), True, True),
    ("admin", Who(ADMIN), True, True),
    ("waste coordinator of another RW", Who(COORDINATOR, rw=14), False, False),
    ("upgrading coordinator of the bank's RW", Who(COORDINATOR, strand=UPGRADING), None, False),
    ("revoked waste coordinator", Who(COORDINATOR, revoked=True), None, False),
    ("resident", Who(None), None, False),
]


@pytest.mark.parametrize(("label", "who", "sees", "decides"), PERMISSIONS, ids=[row[0] for row in PERMISSIONS])
async def test_permission_table(
    db: Database, engine: Engine, label: str, who: Who, sees: bool | None, decides: bool
) -> None:
    """`sees` None: the list itself is refused (or not offered)."""
    _, account_id = await resident(db, engine)
    withdrawal_id = await hold(db, account_id, 20_000)
    actor = await staff(db, "actor", who.role, who.strand, who.rw)
    if who.revoked:
        async with db.transaction() as session:
            await revoke_role(session, actor, COORDINATOR, utcnow())
    chat = Direct(engine, db, "actor")
    await set_conversation(db, actor, "coord.menu", {}, [["coord:withdrawals", t("coord.withdrawals")]])
    listing = await chat.send("Penarikan saldo")
    if sees is None:
        assert listing[0].text in (t("access.denied"), t("menu.ask"))
    else:
        assert listing[0].text == (t("coordwd.ask_list", count=1, shown=1) if sees else t("coordwd.none"))
    await set_conversation(
        db, actor, "coordwd.decide", {"withdrawal": {"id": withdrawal_id}}, [["dec:paid", t("coordwd.mark_paid")]]
    )
    texts = await chat.texts("Sudah dibayar")
    assert (texts[0] == t("coordwd.paid_done", amount="Rp20.000", who=SITI)) is decides
    assert (await withdrawal(db, withdrawal_id)).status == ("paid" if decides else "held")
    assert await balance_of(db, account_id) == 30_000
    outcomes = await audits(db, "decide_withdrawal")
    assert outcomes[-1] == ("paid" if decides else "denied", f"withdrawal:{withdrawal_id}")
    assert bool(await notices(db)) is decides
    if not decides:
        assert texts[0] == t("access.denied")


async def test_a_coordinator_whose_rw_was_handed_over_is_refused_mid_decision(db: Database, engine: Engine) -> None:
    _, account_id = await resident(db, engine)
    withdrawal_id = await hold(db, account_id, 20_000)
    await staff(db, "koord12", COORDINATOR)
    successor = await staff(db, "koord14", COORDINATOR, rw=14)
    koord = Direct(engine, db, "koord12")
    [listing] = await open_withdrawals(koord)
    await koord.send(kind=Kind.CHOICE, choice=listing.choices[0].key)
    async with db.transaction() as session:
        await hand_over(session, (await get_or_create_rw(session, KEBON_MELATI, 12)).id, WASTE, successor, utcnow())
    assert await koord.texts("Sudah dibayar") == [t("access.denied"), t("coord.ask")]
    assert (await withdrawal(db, withdrawal_id)).status == "held"
    assert await audits(db, "decide_withdrawal") == [("denied", f"withdrawal:{withdrawal_id}")]
    assert await notices(db) == []


async def test_a_withdrawal_cannot_be_decided_twice(db: Database, engine: Engine) -> None:
    _, account_id = await resident(db, engine)
    withdrawal_id = await hold(db, account_id, 20_000)
    koord12, admin = await staff(db, "koord12", COORDINATOR), await staff(db, "admin", ADMIN)
    for person_id in (koord12, admin):  # both opened the same request
        await set_conversation(db, person_id, "coordwd.decide", {"withdrawal": {"id": withdrawal_id}},
                               [["dec:paid", t("coordwd.mark_paid")], ["dec:declined", t("coordwd.mark_declined")]])
    await Direct(engine, db, "koord12").send("Sudah dibayar")
    texts = await Direct(engine, db, "admin").texts("Tolak, kembalikan saldo")
    assert texts[0] == t("coordwd.already", status=t("coordwd.status_paid"))
    assert await state(db, admin) == "coordwd.list"
    assert (await withdrawal(db, withdrawal_id)).status == "paid"
    assert await balance_of(db, account_id) == 30_000
    assert await audits(db, "decide_withdrawal") == [
        ("paid", f"withdrawal:{withdrawal_id}"), ("already_decided", f"withdrawal:{withdrawal_id}"),
    ]
    assert len(await notices(db)) == 1


@pytest.mark.parametrize(("rw", "sees"), [(12, True), (13, True), (14, False)])
async def test_a_bank_serving_two_rws_is_seen_by_the_coordinator_of_either(
    db: Database, engine: Engine, rw: int, sees: bool
) -> None:
    _, account_id = await resident(db, engine)
    await hold(db, account_id, 1_000)
    async with db.transaction() as session:
        bank_id = (await session.execute(select(Account.bank_id).where(Account.id == account_id))).scalar_one()
        session.add(WasteBankRW(rw_id=(await get_or_create_rw(session, KEBON_MELATI, 13)).id, bank_id=bank_id))
    await staff(db, "koord", COORDINATOR, rw=rw)
    [listing] = await open_withdrawals(Direct(engine, db, "koord"))
    assert listing.text == (t("coordwd.ask_list", count=1, shown=1) if sees else t("coordwd.none"))


# --- Storage rules ------------------------------------------------------------------------------


async def test_storage_refuses_overdrafts_non_positive_amounts_and_second_decisions(db: Database, engine: Engine) -> None:
    _, account_id = await resident(db, engine, 10_000)
    now = utcnow()
    async with db.transaction() as session:
        assert await withdrawals.request_withdrawal(session, account_id, 10_001, now) == withdrawals.Refusal(
            withdrawals.ABOVE_BALANCE, balance=10_000
        )
        assert await withdrawals.request_withdrawal(session, account_id, 0, now) == withdrawals.Refusal(
            withdrawals.NOT_POSITIVE
        )
        assert await withdrawals.request_withdrawal(session, 999_999, 1, now) == withdrawals.Refusal(withdrawals.NOT_FOUND)
        first = await withdrawals.request_withdrawal(session, account_id, 10_000, now)
        assert isinstance(first, Withdrawal)
        assert await withdrawals.request_withdrawal(session, account_id, 1, now) == withdrawals.Refusal(
            withdrawals.ABOVE_BALANCE, balance=0
        )
        assert isinstance(await withdrawals.decide(session, first.id, withdrawals.DECLINED, None, now), Withdrawal)
        again = await withdrawals.decide(session, first.id, withdrawals.PAID, None, now)
        assert again == withdrawals.Refusal(withdrawals.ALREADY_DECIDED, status=withdrawals.DECLINED)
        assert await balance(session, account_id) == 10_000


# --- Concurrency on PostgreSQL ------------------------------------------------------------------

SESSIONS, ROUNDS, START, EACH = 6, 50, 100_000, 30_000  # 3 of the 6 requests are affordable


@dataclass
class Tally:
    rounds: int = 0
    held: int = 0
    refused: int = 0
    overdrawn_rounds: int = 0
    lowest_balance: int = START


async def new_account(session: AsyncSession, amount: int) -> int:
    """An account at the sample bank for a new person, credited with `amount`."""
    bank_id = (await session.execute(select(WasteBank.id).order_by(WasteBank.id))).scalars().first()
    person = Person(locale="id")
    session.add(person)
    await session.flush()
    account_id = (await ensure_account(session, person.id, bank_id)).id  # type: ignore[arg-type]
    session.add(LedgerEntry(account_id=account_id, amount=amount, kind="deposit"))
    await session.flush()
    return account_id


async def at_once(databases: list[Database], write: Callable[[AsyncSession, int], Awaitable[bool]]) -> list[bool]:
    """Every session opens its transaction, all meet at a barrier, then each runs `write(session, index)`."""
    barrier = asyncio.Barrier(len(databases))

    async def one(database: Database, index: int) -> bool:
        async with database.transaction() as session:
            await session.execute(text("SELECT 1"))  # the transaction and its connection are open
            await barrier.wait()
            return await write(session, index)

    return list(await asyncio.gather(*(one(database, index) for index, database in enumerate(databases))))


async def ask_to_withdraw(account_id: int, session: AsyncSession, _index: int) -> bool:
    return isinstance(await withdrawals.request_withdrawal(session, account_id, EACH, utcnow()), Withdrawal)


async def race(databases: list[Database], rounds: int) -> Tally:
    """Each round: a fresh account with START, from which every session at once asks to withdraw EACH."""
    tally = Tally()
    for _ in range(rounds):
        async with databases[0].transaction() as session:
            account_id = await new_account(session, START)
        results = await at_once(databases, partial(ask_to_withdraw, account_id))
        final = await balance_of(databases[0], account_id)
        tally.rounds += 1
        tally.held += sum(results)
        tally.refused += len(results) - sum(results)
        tally.overdrawn_rounds += final < 0
        tally.lowest_balance = min(tally.lowest_balance, final)
        assert final == START - EACH * sum(results)
    return tally


@pytest.fixture
async def databases(database_url: str) -> AsyncIterator[list[Database]]:
    """SESSIONS separate Database objects (engines, connections), like separate processes."""
    if database_url.startswith("sqlite"):
        pytest.skip("concurrency is tested on PostgreSQL (SQLite serialises writers with BEGIN IMMEDIATE)")
    opened = [Database(database_url) for _ in range(SESSIONS)]
    yield opened
    for database in opened:
        await database.dispose()


async def test_parallel_requests_never_overdraw_an_account(databases: list[Database]) -> None:
    tally = await race(databases, ROUNDS)
    print(f"\nlocked: {tally}")
    affordable = START // EACH
    assert tally.overdrawn_rounds == 0 and tally.lowest_balance >= 0
    assert tally.held == affordable * ROUNDS
    assert tally.refused == (SESSIONS - affordable) * ROUNDS


async def test_control_without_the_lock_overdraws_so_the_test_has_teeth(
    databases: list[Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_lock(session: object, account_id: int) -> bool:
        return True

    monkeypatch.setattr(withdrawals, "lock_account", no_lock)
    tally = await race(databases, ROUNDS)
    print(f"\nunlocked control: {tally}")
    assert tally.overdrawn_rounds >= 1 and tally.lowest_balance < 0


DECISIONS = (withdrawals.PAID, withdrawals.DECLINED)


async def decide_alternately(withdrawal_id: int, session: AsyncSession, index: int) -> bool:
    status = DECISIONS[index % 2]
    return isinstance(await withdrawals.decide(session, withdrawal_id, status, None, utcnow()), Withdrawal)


async def decision_race(databases: list[Database], rounds: int) -> int:
    """Each round: a fresh held withdrawal that every session at once marks paid or declined
    (alternately); returns in how many rounds more than one decision went through."""
    doubled = 0
    for _ in range(rounds):
        async with databases[0].transaction() as session:
            account_id = await new_account(session, START)
            request = await withdrawals.request_withdrawal(session, account_id, EACH, utcnow())
            assert isinstance(request, Withdrawal)
        results = await at_once(databases, partial(decide_alternately, request.id))
        assert sum(results) >= 1
        doubled += sum(results) > 1
        if sum(results) == 1:
            paid = DECISIONS[results.index(True) % 2] == withdrawals.PAID
            assert await balance_of(databases[0], account_id) == START - (EACH if paid else 0)
    return doubled


async def test_parallel_decisions_decide_a_withdrawal_once(databases: list[Database]) -> None:
    assert await decision_race(databases, 20) == 0


async def test_control_without_the_withdrawal_lock_decides_twice(
    databases: list[Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unlocked(session: AsyncSession, withdrawal_id: int) -> Withdrawal | None:
        return (await session.execute(select(Withdrawal).where(Withdrawal.id == withdrawal_id))).scalar_one_or_none()

    monkeypatch.setattr(withdrawals, "lock_withdrawal", unlocked)
    doubled = await decision_race(databases, 20)
    print(f"\nunlocked decisions: {doubled} of 20 rounds decided twice")
    assert doubled >= 1
