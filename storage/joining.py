"""Joining two people into one: when someone proves that their Telegram and WhatsApp identities share a phone
number, the newer person's identities and records move onto the older person, in the caller's transaction,
and the newer person is deleted. Every column that refers to `person.id` is found in the models' metadata, so
a table added later is joined too; the tables that hold at most one row per person are joined one by one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, and_, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, aliased
from sqlalchemy.orm.attributes import set_committed_value

from storage.audit import audit
from storage.models import Account, Base, Collaborator, Conversation, Identity, Outbox, Person, ScheduledOccurrence
from storage.outbox import PENDING
from storage.pseudonym import person_pseudonym
from storage.reminders import person_target

ONE_PER_PERSON = frozenset({"account", "collaborator", "conversation"})  # unique per person: joined one by one
COLLABORATOR_FIELDS = ("type", "organisation", "contact_name", "phone", "email", "public", "created_at")


@dataclass(frozen=True)
class Reference:
    """A mapped column that refers to another table's id: `model.attribute` → `table.id`."""

    mapper: Mapper[object]
    column: Column[object]

    @property
    def table(self) -> str:
        return self.mapper.local_table.name  # type: ignore[attr-defined, no-any-return]

    @property
    def attribute(self):  # type: ignore[no-untyped-def]
        return getattr(self.mapper.class_, self.mapper.get_property_by_column(self.column).key)


async def repoint(session: AsyncSession, reference: Reference, old: int, new: int) -> int:
    """Point the column's rows from id `old` to id `new` (objects held by the session follow); how many."""
    model, attribute = reference.mapper.class_, reference.attribute
    result = await session.execute(update(model).where(attribute == old).values({attribute: new}))
    return result.rowcount or 0


def references(table: str) -> Iterator[Reference]:
    """Every mapped column with a foreign key to `<table>.id`, in a stable order."""
    for mapper in sorted(Base.registry.mappers, key=lambda m: m.local_table.name):  # type: ignore[attr-defined]
        for column in mapper.local_table.columns:  # type: ignore[attr-defined]
            if any(fk.column.table.name == table and fk.column.name == "id" for fk in column.foreign_keys):
                yield Reference(mapper, column)


@dataclass(frozen=True)
class Joined:
    """What a join moved: rows per `table.column`, and the accounts folded into one at the same bank."""

    keep_id: int
    merged_id: int
    moved: dict[str, int]
    accounts_folded: int


def older_first(one: Person, other: Person) -> tuple[Person, Person]:
    """(the person to keep, the person to merge into it): the one created first is kept."""
    keep, merged = sorted((one, other), key=lambda person: (person.created_at, person.id))
    return keep, merged


async def join(
    session: AsyncSession, keep_id: int, merge_id: int, now: datetime, actor_id: int | None = None
) -> Joined:
    """Move everything of person `merge_id` onto `keep_id` and delete `merge_id`, audited with pseudonyms.
    Savings at the same bank become one account holding both ledgers; the collaborator profile kept is the
    older one; the merged conversation is dropped; a pending broadcast both would have received goes once."""
    if keep_id == merge_id:
        raise ValueError("a person cannot be joined with themselves")
    keep, merged = await _lock(session, keep_id, merge_id)
    await _fill_person(session, keep, merged)
    moved: dict[str, int] = {}
    folded = await _join_accounts(session, keep_id, merge_id, moved)
    await _join_collaborator(session, keep_id, merge_id)
    conversation = await session.get(Conversation, merge_id)
    if conversation is not None:
        await session.delete(conversation)
    moved["outbox.duplicate_broadcasts"] = await _drop_duplicate_broadcasts(session, keep_id, merge_id)
    await _join_occurrences(session, keep_id, merge_id)
    await session.flush()
    for reference in references("person"):
        if reference.table in ONE_PER_PERSON:
            continue
        if rows := await repoint(session, reference, merge_id, keep_id):
            moved[f"{reference.table}.{reference.column.name}"] = rows
    await session.execute(delete(Person).where(Person.id == merge_id))
    for held in list(session.identity_map.values()):
        if isinstance(held, Identity) and held.person_id == keep_id:
            set_committed_value(held, "person", keep)
    await audit(
        session, actor_id, "join_people", "joined", now, target=person_pseudonym(keep_id),
        merged=person_pseudonym(merge_id), accounts_folded=folded, moved=moved,
    )
    await session.flush()
    return Joined(keep_id, merge_id, moved, folded)


async def _lock(session: AsyncSession, keep_id: int, merge_id: int) -> tuple[Person, Person]:
    """Both people, locked in the order an inbound message locks them (identities, person, conversation),
    so a message arriving for either one waits for the join instead of deadlocking with it."""
    ids = sorted((keep_id, merge_id))
    await session.execute(
        select(Identity.id).where(Identity.person_id.in_(ids)).order_by(Identity.id).with_for_update()
    )
    people = {
        person.id: person
        for person in (await session.execute(select(Person).where(Person.id.in_(ids)).order_by(Person.id)
                                             .with_for_update())).scalars()
    }
    await session.execute(
        select(Conversation.person_id).where(Conversation.person_id.in_(ids)).order_by(Conversation.person_id)
        .with_for_update()
    )
    if len(people) != 2:
        raise LookupError("both people must exist to be joined")
    return people[keep_id], people[merge_id]


async def _fill_person(session: AsyncSession, keep: Person, merged: Person) -> None:
    """The older person's values stay; empty ones come from the newer; the language is the one of the person
    whose identity was used last; a stop (BERHENTI, reminders off) said on either channel holds."""
    keep.name = keep.name or merged.name
    keep.rw_id = keep.rw_id or merged.rw_id
    if keep.consent_at is None and merged.consent_at is not None:
        keep.consent_at, keep.consent_version = merged.consent_at, merged.consent_version
    last_used = (
        select(Identity.person_id)
        .where(Identity.person_id.in_((keep.id, merged.id)))
        .order_by(Identity.last_inbound_at.desc(), Identity.id.desc())
        .limit(1)
    )
    if (await session.execute(last_used)).scalar_one_or_none() == merged.id:
        keep.locale = merged.locale
    keep.locale_chosen = keep.locale_chosen or merged.locale_chosen
    keep.reminders = keep.reminders and merged.reminders
    keep.opted_out_at = keep.opted_out_at or merged.opted_out_at
    keep.last_seen_at = max(keep.last_seen_at, merged.last_seen_at)


async def _join_accounts(session: AsyncSession, keep_id: int, merge_id: int, moved: dict[str, int]) -> int:
    """Accounts at a bank the kept person has none at move over; at a bank where both have one, the merged
    account's ledger entries and withdrawals move to the kept account (so the balance is the sum) and the
    emptied account is deleted. The number of accounts folded that way."""
    kept = {
        account.bank_id: account
        for account in (await session.execute(select(Account).where(Account.person_id == keep_id))).scalars()
    }
    folded = 0
    for account in (await session.execute(select(Account).where(Account.person_id == merge_id))).scalars().all():
        target = kept.get(account.bank_id)
        if target is None:
            account.person_id = keep_id
            moved["account.person_id"] = moved.get("account.person_id", 0) + 1
            continue
        for reference in references("account"):
            await repoint(session, reference, account.id, target.id)
        await session.delete(account)
        folded += 1
    await session.flush()
    return folded


async def _join_collaborator(session: AsyncSession, keep_id: int, merge_id: int) -> None:
    """The older collaborator profile is kept, under the kept person."""
    merged = await session.get(Collaborator, merge_id)
    if merged is None:
        return
    kept = await session.get(Collaborator, keep_id)
    values = {name: getattr(merged, name) for name in COLLABORATOR_FIELDS}
    await session.delete(merged)
    await session.flush()
    if kept is None:
        session.add(Collaborator(person_id=keep_id, **values))
    elif values["created_at"] < kept.created_at:
        for name, value in values.items():
            setattr(kept, name, value)


async def _drop_duplicate_broadcasts(session: AsyncSession, keep_id: int, merge_id: int) -> int:
    """Pending broadcast rows of the merged person for a broadcast the kept person gets too."""
    other = aliased(Outbox)
    both = exists().where(other.broadcast_id == Outbox.broadcast_id, other.person_id == keep_id)
    result = await session.execute(
        delete(Outbox).where(Outbox.person_id == merge_id, Outbox.status == PENDING, Outbox.broadcast_id.is_not(None),
                             both).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


async def _join_occurrences(session: AsyncSession, keep_id: int, merge_id: int) -> None:
    """Reminders already sent to the merged person count as sent to the kept one (never twice)."""
    keep_target, merge_target = person_target(keep_id), person_target(merge_id)
    other = aliased(ScheduledOccurrence)
    already = exists().where(
        and_(other.kind == ScheduledOccurrence.kind, other.occurrence == ScheduledOccurrence.occurrence,
             other.target == keep_target)
    )
    await session.execute(
        update(ScheduledOccurrence).where(ScheduledOccurrence.target == merge_target, ~already)
        .values(target=keep_target).execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(ScheduledOccurrence).where(ScheduledOccurrence.target == merge_target)
        .execution_options(synchronize_session=False)
    )

