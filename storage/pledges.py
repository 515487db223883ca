"""Pledges and sedekah sampah: what an offer has, what it can still take, and every change of a
pledge's status. Whatever changes what an RW's offers hold first locks that RW's listing row, so
two pledges (from any number of processes) are decided one after the other: an offer taken whole
is taken once, one RW's Utama and Lengkap alternatives never both, a shared offer never past its
target. A gift of savings locks the account first, then the RW. A pledge's hold counts until it
expires, in every query, whatever the scheduler has done yet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.ledger import balance
from storage.locks import locked
from storage.models import Collaborator, LedgerEntry, Offer, Pledge, PledgeEvent, UpgradeRW
from storage.withdrawals import lock_account

PLEDGED, CONFIRMED, RECEIVED, IN_PROGRESS, COMPLETED = "pledged", "confirmed", "received", "in_progress", "completed"
CANCELLED, LAPSED, REJECTED = "cancelled", "lapsed", "rejected"
LIVE = (CONFIRMED, RECEIVED, IN_PROGRESS, COMPLETED)  # count toward the offer whatever the time
PLEDGE, SEDEKAH = "pledge", "sedekah"
SEDEKAH_ENTRY = "sedekah"
NEXT = {
    PLEDGED: {CONFIRMED, REJECTED, CANCELLED, LAPSED},
    CONFIRMED: {RECEIVED, CANCELLED},
    RECEIVED: {IN_PROGRESS},
    IN_PROGRESS: {COMPLETED},
}
PLANNED, WORKS_IN_PROGRESS, WORKS_DONE = "planned", "in_progress", "done"

# Why a pledge or gift was refused.
NOT_FOUND, NOT_POSITIVE, TAKEN, ALTERNATIVE_TAKEN, FULL, CLOSED = (
    "not_found", "not_positive", "taken", "alternative_taken", "full", "closed")
BELOW_MINIMUM, ABOVE_REMAINING, WHOLE_ONLY, ABOVE_BALANCE, NOT_SHARED = (
    "below_minimum", "above_remaining", "whole_only", "above_balance", "not_shared")
NOT_ALLOWED, EXPIRED = "not_allowed", "expired"

# What an RW shows: its works, or how far its offers are funded.
OPEN, PARTLY_FUNDED, FUNDED = "open", "partly_funded", "funded"


@dataclass(frozen=True)
class Terms:
    """The program's pledge rules (settings): the smallest share of a shared offer, how long a pledge
    holds its amount unconfirmed, when the RW's coordinators are reminded of it, and how often a
    confirmed pledge whose funds have not arrived reminds its collaborator."""

    min_share: int = 1_000_000
    hold: timedelta = timedelta(hours=72)
    remind_after: timedelta = timedelta(hours=24)
    funds_reminder_every: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class Refusal:
    reason: str
    remaining: int = 0  # what the offer can still take
    minimum: int = 0  # the smallest share accepted
    balance: int = 0  # ABOVE_BALANCE: the savings there are
    status: str | None = None  # NOT_ALLOWED: the pledge's status now


@dataclass(frozen=True)
class OfferState:
    """An offer with what it holds now and whether it takes pledges (`closed` says why not)."""

    offer: Offer
    pledged: int
    closed: str | None

    @property
    def remaining(self) -> int:
        return max(self.offer.target - self.pledged, 0)

    @property
    def percent(self) -> int:
        return min(self.pledged * 100 // self.offer.target, 100) if self.offer.target else 0

    @property
    def open(self) -> bool:
        return self.closed is None


def counting(now: datetime) -> ColumnElement[bool]:
    """Pledges that hold part of an offer at `now`: live ones, and holds not yet expired."""
    return or_(Pledge.status.in_(LIVE), and_(Pledge.status == PLEDGED, Pledge.expires_at > now))


async def lock_listing(session: AsyncSession, rw_id: int) -> bool:
    """Lock the RW's listing until the transaction ends (False: the RW is not listed). SQLite needs
    no lock: `BEGIN IMMEDIATE` already serialises writers."""
    statement = select(UpgradeRW.rw_id).where(UpgradeRW.rw_id == rw_id).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def listing(session: AsyncSession, rw_id: int) -> UpgradeRW | None:
    statement = (
        select(UpgradeRW)
        .where(UpgradeRW.rw_id == rw_id)
        .options(selectinload(UpgradeRW.offers).selectinload(Offer.package))
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def held_by_offer(session: AsyncSession, offer_ids: Sequence[int], now: datetime) -> dict[int, int]:
    """What each offer holds at `now`."""
    statement = (
        select(Pledge.offer_id, func.sum(Pledge.amount))
        .where(Pledge.offer_id.in_(list(offer_ids)), counting(now))
        .group_by(Pledge.offer_id)
    )
    return {offer_id: int(total) for offer_id, total in (await session.execute(statement)).all()}


def states(upgrade_rw: UpgradeRW, held: dict[int, int]) -> list[OfferState]:
    """Each offer of the RW with what it holds and whether it is open."""
    taken_alternative = any(held.get(o.id, 0) > 0 for o in upgrade_rw.offers if o.package.alternative)
    result = []
    for offer in sorted(upgrade_rw.offers, key=lambda o: o.package.position):
        pledged = held.get(offer.id, 0)
        if upgrade_rw.works == WORKS_DONE:
            closed = CLOSED
        elif offer.package.shared:
            closed = FULL if pledged >= offer.target else None
        elif pledged > 0:
            closed = TAKEN
        elif offer.package.alternative and taken_alternative:
            closed = ALTERNATIVE_TAKEN
        else:
            closed = None
        result.append(OfferState(offer, pledged, closed))
    return result


async def offer_states(session: AsyncSession, rw_id: int, now: datetime) -> list[OfferState]:
    upgrade_rw = await listing(session, rw_id)
    if upgrade_rw is None:
        return []
    return states(upgrade_rw, await held_by_offer(session, [o.id for o in upgrade_rw.offers], now))


def rw_status(upgrade_rw: UpgradeRW, offer_states_: Sequence[OfferState]) -> str:
    """done / in_progress from the works; otherwise open, partly funded or funded from the offers."""
    if upgrade_rw.works != PLANNED:
        return upgrade_rw.works
    if not any(state.pledged for state in offer_states_):
        return OPEN
    alternatives = [s for s in offer_states_ if s.offer.package.alternative]
    alternative_done = not alternatives or any(s.closed == TAKEN for s in alternatives)
    shared_done = all(s.closed == FULL for s in offer_states_ if s.offer.package.shared)
    return FUNDED if alternative_done and shared_done else PARTLY_FUNDED


async def _open_state(session: AsyncSession, offer_id: int, now: datetime) -> OfferState | Refusal:
    """The offer's state after locking its RW: the state, or why it cannot take anything now."""
    offer = await session.get(Offer, offer_id)
    if offer is None or not await lock_listing(session, offer.rw_id):
        return Refusal(NOT_FOUND)
    state = next(s for s in await offer_states(session, offer.rw_id, now) if s.offer.id == offer_id)
    return state if state.open else Refusal(state.closed or CLOSED, remaining=state.remaining)


async def pledge(
    session: AsyncSession, person_id: int, offer_id: int, amount: int, now: datetime, *, hold: timedelta,
    min_share: int,
) -> Pledge | Refusal:
    """Hold `amount` of the offer for the person until a coordinator confirms it (or `hold` ends).
    An offer not shared is taken whole: `amount` must be its target."""
    if amount <= 0:
        return Refusal(NOT_POSITIVE)
    state = await _open_state(session, offer_id, now)
    if isinstance(state, Refusal):
        return state
    if not state.offer.package.shared:
        if amount != state.offer.target:
            return Refusal(WHOLE_ONLY, remaining=state.remaining)
    else:
        refused = _share_refusal(state, amount, min_share)
        if refused:
            return refused
    created = Pledge(offer_id=offer_id, person_id=person_id, source=PLEDGE, amount=amount, status=PLEDGED,
                     expires_at=now + hold, created_at=now, updated_at=now)
    session.add(created)
    await session.flush()
    session.add(PledgeEvent(pledge_id=created.id, status=PLEDGED, at=now, by=person_id))
    await session.flush()
    return created


def minimum_share(state: OfferState, min_share: int) -> int:
    """The smallest share of a shared offer accepted now (less only when less remains)."""
    return min(min_share, state.remaining)


def _share_refusal(state: OfferState, amount: int, min_share: int) -> Refusal | None:
    if amount > state.remaining:
        return Refusal(ABOVE_REMAINING, remaining=state.remaining, minimum=minimum_share(state, min_share))
    if amount < minimum_share(state, min_share):
        return Refusal(BELOW_MINIMUM, remaining=state.remaining, minimum=minimum_share(state, min_share))
    return None


async def give_savings(
    session: AsyncSession, person_id: int, account_id: int, offer_id: int, amount: int, now: datetime,
    giver_rw_id: int | None,
) -> Pledge | Refusal:
    """Sedekah sampah: move `amount` of the account's balance to a shared offer, at once."""
    if amount <= 0:
        return Refusal(NOT_POSITIVE)
    if not await lock_account(session, account_id):
        return Refusal(NOT_FOUND)
    available = await balance(session, account_id)
    if amount > available:
        return Refusal(ABOVE_BALANCE, balance=available)
    state = await _open_state(session, offer_id, now)
    if isinstance(state, Refusal):
        return state
    if not state.offer.package.shared:
        return Refusal(NOT_SHARED)
    if amount > state.remaining:
        return Refusal(ABOVE_REMAINING, remaining=state.remaining)
    gift = Pledge(offer_id=offer_id, person_id=person_id, source=SEDEKAH, giver_rw_id=giver_rw_id, amount=amount,
                  status=RECEIVED, created_at=now, updated_at=now)
    session.add(gift)
    await session.flush()
    session.add(PledgeEvent(pledge_id=gift.id, status=RECEIVED, at=now, by=person_id))
    session.add(LedgerEntry(account_id=account_id, amount=-amount, kind=SEDEKAH_ENTRY, pledge_id=gift.id, created_at=now))
    await session.flush()
    return gift


async def lock_pledge(session: AsyncSession, pledge_id: int) -> Pledge | None:
    return await locked(session, Pledge, pledge_id, selectinload(Pledge.offer).selectinload(Offer.package))


async def move(
    session: AsyncSession, pledge_id: int, status: str, by: int | None, now: datetime, reason: str | None = None
) -> Pledge | Refusal:
    """Move a pledge to its next status, recording who and when. A hold that expired lapses instead
    (EXPIRED). Works starting or ending on a pledge move its RW's works along."""
    found = await lock_pledge(session, pledge_id)
    if found is None:
        return Refusal(NOT_FOUND)
    if found.status == PLEDGED and found.expires_at is not None and found.expires_at <= now and status != LAPSED:
        _record(session, found, LAPSED, None, found.expires_at, None)
        await session.flush()
        return Refusal(EXPIRED, status=LAPSED)
    if status not in NEXT.get(found.status, ()):
        return Refusal(NOT_ALLOWED, status=found.status)
    _record(session, found, status, by, now, reason)
    if status in (IN_PROGRESS, COMPLETED):
        await _move_works(session, found.offer.rw_id, status, now)
    await session.flush()
    return found


def _record(session: AsyncSession, found: Pledge, status: str, by: int | None, at: datetime, reason: str | None) -> None:
    found.status, found.updated_at, found.reason = status, at, reason or found.reason
    session.add(PledgeEvent(pledge_id=found.id, status=status, at=at, by=by, reason=reason))


async def _move_works(session: AsyncSession, rw_id: int, status: str, now: datetime) -> None:
    """Works start with the first pledge in progress, and are done when no live pledge of the RW is
    still short of completed."""
    upgrade_rw = await session.get(UpgradeRW, rw_id)
    if upgrade_rw is None:
        return
    if status == IN_PROGRESS and upgrade_rw.works == PLANNED:
        upgrade_rw.works, upgrade_rw.updated_at = WORKS_IN_PROGRESS, now
    elif status == COMPLETED:
        unfinished = select(func.count()).select_from(Pledge).join(Offer, Offer.id == Pledge.offer_id).where(
            Offer.rw_id == rw_id, Pledge.source == PLEDGE, Pledge.status.in_((CONFIRMED, RECEIVED, IN_PROGRESS)))
        if not (await session.execute(unfinished)).scalar_one():
            upgrade_rw.works, upgrade_rw.updated_at = WORKS_DONE, now


async def lapse_expired(session: AsyncSession, now: datetime, limit: int = 500) -> list[Pledge]:
    """Mark holds that expired as lapsed (each once, skipping rows another process holds)."""
    statement = (
        select(Pledge).where(Pledge.status == PLEDGED, Pledge.expires_at <= now)
        .order_by(Pledge.expires_at).limit(limit).with_for_update(skip_locked=True)
        .options(selectinload(Pledge.offer).selectinload(Offer.package))
    )
    expired = list((await session.execute(statement)).scalars())
    for found in expired:
        _record(session, found, LAPSED, None, found.expires_at or now, None)
    await session.flush()
    return expired


async def awaiting_confirmation(
    session: AsyncSession, now: datetime, older_than: timedelta | None = None, rw_ids: Sequence[int] | None = None
) -> list[Pledge]:
    """Holds still running, oldest first; `older_than` keeps those waiting at least that long."""
    where = [Pledge.status == PLEDGED, Pledge.expires_at > now]
    if older_than is not None:
        where.append(Pledge.created_at <= now - older_than)
    if rw_ids is not None:
        where.append(Offer.rw_id.in_(list(rw_ids)))
    statement = (
        select(Pledge).join(Offer, Offer.id == Pledge.offer_id).where(*where)
        .order_by(Pledge.created_at, Pledge.id).options(selectinload(Pledge.offer).selectinload(Offer.package))
    )
    return list((await session.execute(statement)).scalars())


async def of_person(session: AsyncSession, person_id: int) -> list[Pledge]:
    """The person's pledges and gifts, newest first."""
    statement = (
        select(Pledge).where(Pledge.person_id == person_id).order_by(Pledge.created_at.desc(), Pledge.id.desc())
        .options(selectinload(Pledge.offer).selectinload(Offer.package))
    )
    return list((await session.execute(statement)).scalars())


async def pledgers(session: AsyncSession, rw_id: int) -> list[int]:
    """Everyone with a live pledge or a running hold on the RW (not gifts of savings): who hears its news."""
    statement = (
        select(Pledge.person_id).distinct().join(Offer, Offer.id == Pledge.offer_id)
        .where(Offer.rw_id == rw_id, Pledge.source == PLEDGE, Pledge.person_id.is_not(None),
               Pledge.status.in_((PLEDGED, *LIVE)))
    )
    return [int(person_id) for person_id in (await session.execute(statement)).scalars()]


@dataclass(frozen=True)
class Supporter:
    """A line of an RW's supporters: a public name or None ("Anonim"); for gifts of savings, the RW
    whose residents gave them (never their names)."""

    name: str | None
    amount: int
    sedekah: bool = False
    giver_rw_id: int | None = None


async def supporters(session: AsyncSession, rw_id: int, now: datetime) -> list[Supporter]:
    """Who funds the RW: collaborators by public name (or anonymous), residents' gifts summed per RW."""
    statement = (
        select(Pledge.source, Pledge.giver_rw_id, Pledge.amount, Collaborator.public, Collaborator.organisation,
               Collaborator.contact_name)
        .join(Offer, Offer.id == Pledge.offer_id)
        .outerjoin(Collaborator, Collaborator.person_id == Pledge.person_id)
        .where(Offer.rw_id == rw_id, counting(now))
        .order_by(Pledge.created_at, Pledge.id)
    )
    lines: list[Supporter] = []
    gifts: dict[int | None, int] = {}
    for source, giver_rw, amount, public, organisation, contact in (await session.execute(statement)).all():
        if source == SEDEKAH:
            gifts[giver_rw] = gifts.get(giver_rw, 0) + int(amount)
        else:
            lines.append(Supporter((organisation or contact) if public else None, int(amount)))
    return lines + [Supporter(None, amount, True, giver_rw) for giver_rw, amount in gifts.items()]


def reference(found: Pledge) -> str:
    """The reference number on letters and messages: KSBB-<year>-<id>."""
    return f"KSBB-{found.created_at:%Y}-{found.id:06d}"


async def under_way(session: AsyncSession, rw_ids: Sequence[int] | None = None) -> list[Pledge]:
    """Collaborators' pledges confirmed and not yet completed (confirmed, funds received, works in
    progress), the longest unchanged first: what coordinators move along."""
    where = [Pledge.source == PLEDGE, Pledge.status.in_((CONFIRMED, RECEIVED, IN_PROGRESS))]
    if rw_ids is not None:
        where.append(Offer.rw_id.in_(list(rw_ids)))
    statement = (
        select(Pledge).join(Offer, Offer.id == Pledge.offer_id).where(*where)
        .order_by(Pledge.updated_at, Pledge.id).options(selectinload(Pledge.offer).selectinload(Offer.package))
    )
    return list((await session.execute(statement)).scalars())


async def has_pledges(session: AsyncSession, person_id: int) -> bool:
    """Whether the person has any pledge or gift of savings, whatever its status."""
    statement = select(Pledge.id).where(Pledge.person_id == person_id).limit(1)
    return (await session.execute(statement)).first() is not None


async def pledged_rws(session: AsyncSession, rw_ids: Sequence[int] | None = None) -> list[int]:
    """The RWs (of those given; None: all) that someone would hear news of: as `pledgers`."""
    statement = (
        select(Offer.rw_id).distinct().join(Pledge, Pledge.offer_id == Offer.id)
        .where(Pledge.source == PLEDGE, Pledge.person_id.is_not(None), Pledge.status.in_((PLEDGED, *LIVE)))
        .order_by(Offer.rw_id)
    )
    if rw_ids is not None:
        statement = statement.where(Offer.rw_id.in_(list(rw_ids)))
    return [int(rw_id) for rw_id in (await session.execute(statement)).scalars()]


async def awaiting_funds(session: AsyncSession, now: datetime, older_than: timedelta) -> list[tuple[Pledge, datetime]]:
    """Collaborators' pledges still confirmed (no funds recorded) whose confirmation is at least
    `older_than` old, with the time they were confirmed; the longest waiting first."""
    confirmed_at = (
        select(PledgeEvent.pledge_id, func.max(PledgeEvent.at).label("at"))
        .where(PledgeEvent.status == CONFIRMED).group_by(PledgeEvent.pledge_id).subquery()
    )
    statement = (
        select(Pledge, confirmed_at.c.at).join(confirmed_at, confirmed_at.c.pledge_id == Pledge.id)
        .where(Pledge.source == PLEDGE, Pledge.status == CONFIRMED, Pledge.person_id.is_not(None),
               confirmed_at.c.at <= now - older_than)
        .order_by(confirmed_at.c.at, Pledge.id).options(selectinload(Pledge.offer).selectinload(Offer.package))
    )
    return [(found, at) for found, at in (await session.execute(statement)).all()]
