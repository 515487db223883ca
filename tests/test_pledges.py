"""Pledges in storage: what an offer holds and takes, alternatives closing each other, holds that
stop counting at their expiry whatever the scheduler did, the lifecycle, and gifts of savings."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage import pledges
from storage.db import Database
from storage.ledger import balance
from storage.models import RW, Account, Kelurahan, LedgerEntry, Offer, PledgeEvent
from storage.people import identify
from storage.types import utcnow

TERMS = pledges.Terms()


async def offers(db: Database, kelurahan: str = "Karet Tengsin", number: int = 5) -> dict[str, int]:
    """The sample catalog's offers of one RW, by package code."""
    async with db.transaction() as session:
        statement = (
            select(Offer.package_code, Offer.id).join(RW, RW.id == Offer.rw_id)
            .join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
            .where(Kelurahan.name == kelurahan, RW.number == number)
        )
        return dict((await session.execute(statement)).all())


async def person(db: Database, name: str) -> int:
    async with db.transaction() as session:
        return (await identify(session, f"local:{name}", "local", name, "id", utcnow())).person_id


async def pledge(db: Database, who: int, offer_id: int, amount: int, now=None) -> pledges.Pledge | pledges.Refusal:
    async with db.transaction() as session:
        return await pledges.pledge(session, who, offer_id, amount, now or utcnow(), hold=TERMS.hold,
                                    min_share=TERMS.min_share)


async def state(db: Database, offer_id: int, now=None) -> pledges.OfferState:
    async with db.transaction() as session:
        offer = await session.get(Offer, offer_id)
        return next(s for s in await pledges.offer_states(session, offer.rw_id, now or utcnow()) if s.offer.id == offer_id)


async def test_the_sample_catalog_lists_34_rws_with_three_offers_each(db: Database) -> None:
    found = await offers(db)
    assert set(found) == {"utama", "lengkap", "bersama"}
    shared = await state(db, found["bersama"])
    assert (shared.offer.target, shared.pledged, shared.open, shared.offer.assumed) == (150_000_000, 0, True, True)


async def test_a_shared_offer_takes_shares_between_the_minimum_and_what_remains(db: Database) -> None:
    found = await offers(db)
    a, b = await person(db, "a"), await person(db, "b")
    assert isinstance(await pledge(db, a, found["bersama"], 25_000_000), pledges.Pledge)
    assert (await state(db, found["bersama"])).percent == 16
    too_small = await pledge(db, b, found["bersama"], 999_999)
    assert (too_small.reason, too_small.minimum) == (pledges.BELOW_MINIMUM, 1_000_000)
    too_big = await pledge(db, b, found["bersama"], 125_000_001)
    assert (too_big.reason, too_big.remaining) == (pledges.ABOVE_REMAINING, 125_000_000)
    assert isinstance(await pledge(db, b, found["bersama"], 125_000_000), pledges.Pledge)
    full = await state(db, found["bersama"])
    assert (full.closed, full.percent, full.remaining) == (pledges.FULL, 100, 0)


async def test_utama_and_lengkap_are_taken_whole_and_close_each_other(db: Database) -> None:
    found = await offers(db)
    a, b = await person(db, "a"), await person(db, "b")
    assert (await pledge(db, a, found["utama"], 1_000_000)).reason == pledges.WHOLE_ONLY
    assert isinstance(await pledge(db, a, found["lengkap"], 750_000_000), pledges.Pledge)
    assert (await pledge(db, b, found["lengkap"], 750_000_000)).reason == pledges.TAKEN
    assert (await pledge(db, b, found["utama"], 1_500_000_000)).reason == pledges.ALTERNATIVE_TAKEN
    assert (await state(db, found["bersama"])).open


async def test_an_unconfirmed_hold_stops_counting_at_its_expiry_before_any_scheduler_runs(db: Database) -> None:
    found = await offers(db)
    now = utcnow()
    held = await pledge(db, await person(db, "a"), found["utama"], 1_500_000_000, now)
    assert held.expires_at == now + timedelta(hours=72)
    assert not (await state(db, found["lengkap"], now + timedelta(hours=71))).open
    assert (await state(db, found["lengkap"], now + timedelta(hours=72))).open
    late = await pledge(db, await person(db, "b"), found["lengkap"], 750_000_000, now + timedelta(hours=73))
    assert isinstance(late, pledges.Pledge)


async def test_confirming_an_expired_hold_lapses_it_instead(db: Database) -> None:
    found = await offers(db)
    now = utcnow()
    who = await person(db, "a")
    held = await pledge(db, who, found["bersama"], 5_000_000, now)
    async with db.transaction() as session:
        refused = await pledges.move(session, held.id, pledges.CONFIRMED, who, now + timedelta(hours=80))
    assert (refused.reason, refused.status) == (pledges.EXPIRED, pledges.LAPSED)
    async with db.transaction() as session:
        assert await pledges.lapse_expired(session, now + timedelta(hours=80)) == []


async def test_the_lifecycle_records_every_change_and_moves_the_works(db: Database) -> None:
    found = await offers(db)
    now = utcnow()
    who = await person(db, "a")
    held = await pledge(db, who, found["utama"], 1_500_000_000, now)
    async with db.transaction() as session:
        for status in (pledges.CONFIRMED, pledges.RECEIVED, pledges.IN_PROGRESS):
            assert isinstance(await pledges.move(session, held.id, status, who, now), pledges.Pledge)
        assert (await pledges.move(session, held.id, pledges.CONFIRMED, who, now)).reason == pledges.NOT_ALLOWED
        upgrade_rw = await pledges.listing(session, (await session.get(Offer, found["utama"])).rw_id)
        assert upgrade_rw.works == pledges.WORKS_IN_PROGRESS
        await pledges.move(session, held.id, pledges.COMPLETED, who, now)
        upgrade_rw = await pledges.listing(session, upgrade_rw.rw_id)
        assert upgrade_rw.works == pledges.WORKS_DONE
        events = (await session.execute(select(PledgeEvent.status).where(PledgeEvent.pledge_id == held.id)
                                        .order_by(PledgeEvent.id))).scalars().all()
    assert events == ["pledged", "confirmed", "received", "in_progress", "completed"]


async def test_a_gift_of_savings_moves_the_balance_to_a_shared_offer_within_both_limits(db: Database) -> None:
    found = await offers(db, "Kebon Melati", 14)
    who = await person(db, "siti")
    async with db.transaction() as session:
        rw = (await session.execute(select(RW).where(RW.kelurahan_code == "31.71.07.1005", RW.number == 14))).scalar_one()
        account = Account(person_id=who, bank_id=1, member_number=1001)
        session.add(account)
        await session.flush()
        session.add(LedgerEntry(account_id=account.id, amount=50_000, kind="deposit"))
        account_id = account.id
    async with db.transaction() as session:
        now = utcnow()
        refused = await pledges.give_savings(session, who, account_id, found["bersama"], 60_000, now, rw.id)
        assert (refused.reason, refused.balance) == (pledges.ABOVE_BALANCE, 50_000)
        assert (await pledges.give_savings(session, who, account_id, found["utama"], 10_000, now, rw.id)).reason \
            == pledges.NOT_SHARED
        gift = await pledges.give_savings(session, who, account_id, found["bersama"], 10_000, now, rw.id)
        assert gift.status == pledges.RECEIVED
        assert await balance(session, account_id) == 40_000
        lines = await pledges.supporters(session, rw.id, now)
        assert lines == [pledges.Supporter(None, 10_000, True, rw.id)]
    assert (await state(db, found["bersama"])).pledged == 10_000
