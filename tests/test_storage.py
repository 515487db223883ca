"""Storage contracts, on SQLite and PostgreSQL: outbox leases, occurrences, retention, time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select

from storage import outbox
from storage.db import Database
from storage.models import AuditEntry, Identity, InboundRecord, Person
from storage.models.roles import ADMIN
from storage.outbox import Priority
from storage.people import identify
from storage.pseudonym import person_pseudonym
from storage.retention import purge_unconsented
from storage.roles import grant_role, revoke_role
from storage.schedule import claim_occurrence
from storage.types import utcnow
from tests.conftest import count


def row(address: str, priority: Priority, now: datetime, **kwargs: object) -> outbox.Outbox:
    return outbox.new_row(
        channel="telegram", address=address, body={"text": "x"}, priority=priority, now=now, **kwargs  # type: ignore[arg-type]
    )


async def test_claim_takes_replies_first_and_skips_rows_leased_by_others(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as session:
        session.add_all([row(f"{i}", Priority.BULK, now) for i in range(3)])
        session.add(row("9", Priority.REPLY, now))
        session.add(row("8", Priority.REPLY, now, lease_owner="other", lease_seconds=60))
    async with db.transaction() as session:
        claimed = await outbox.claim(session, "me", now, lease_seconds=60, limit=2)
    assert [(r.address, r.priority) for r in claimed] == [("9", Priority.REPLY), ("0", Priority.BULK)]
    async with db.transaction() as session:
        rest = await outbox.claim(session, "you", now, lease_seconds=60, limit=30)
    assert [r.address for r in rest] == ["1", "2"]


async def test_an_expired_lease_is_claimed_again(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as session:
        session.add(row("1", Priority.REPLY, now - timedelta(minutes=5), lease_owner="dead", lease_seconds=60))
    async with db.transaction() as session:
        claimed = await outbox.claim(session, "me", now, lease_seconds=60, limit=30)
    assert [r.lease_owner for r in claimed] == ["me"]


async def test_a_postponed_row_waits_for_its_time(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as session:
        late = row("1", Priority.REPLY, now)
        late.not_before = now + timedelta(seconds=30)
        session.add(late)
    async with db.transaction() as session:
        assert await outbox.claim(session, "me", now, 60, 30) == []
    async with db.transaction() as session:
        assert len(await outbox.claim(session, "me", now + timedelta(seconds=31), 60, 30)) == 1


async def test_an_occurrence_is_claimed_once(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as session:
        assert await claim_occurrence(session, "reminder", "bank:1", "2026-12-05", now)
    async with db.transaction() as session:
        assert not await claim_occurrence(session, "reminder", "bank:1", "2026-12-05", now)
        assert await claim_occurrence(session, "reminder", "bank:1", "2026-12-12", now)


async def test_unconsented_people_are_purged_after_the_cut_off_with_everything_they_left(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as session:
        old = await identify(session, "local:old", "local", "old", "id", now - timedelta(hours=49))
        await identify(session, "local:new", "local", "new", "id", now - timedelta(hours=1))
        consented = await identify(session, "local:ok", "local", "ok", "id", now - timedelta(hours=49))
        consented.person.consent_at = now - timedelta(hours=49)
        consented.person.consent_version = "v1"
        session.add(InboundRecord(channel="local", bot="local", platform_id="1", status="handled",
                                  person_id=old.person_id, received_at=now - timedelta(hours=49)))
        session.add(row("old", Priority.REPLY, now, person_id=old.person_id))
    async with db.transaction() as session:
        assert await purge_unconsented(session, now - timedelta(hours=48), now) == 1
    async with db.transaction() as session:
        keys = (await session.execute(select(Identity.key).order_by(Identity.key))).scalars().all()
    assert keys == ["local:new", "local:ok"]
    assert await count(db, "SELECT count(*) FROM inbound_record") == 0
    assert await count(db, "SELECT count(*) FROM outbox") == 0


async def test_a_role_holder_is_never_purged_and_every_purge_is_audited(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as session:
        staff = await identify(session, "local:staff", "local", "staff", "id", now - timedelta(hours=49))
        await grant_role(session, staff.person_id, ADMIN, now - timedelta(hours=49))
        former = await identify(session, "local:former", "local", "former", "id", now - timedelta(hours=49))
        await grant_role(session, former.person_id, ADMIN, now - timedelta(hours=49))
        await revoke_role(session, former.person_id, ADMIN, now - timedelta(hours=49))
        gone = await identify(session, "local:gone", "local", "gone", "id", now - timedelta(hours=49))
    async with db.transaction() as session:
        assert await purge_unconsented(session, now - timedelta(hours=48), now) == 2
    async with db.transaction() as session:
        keys = (await session.execute(select(Identity.key))).scalars().all()
        purged = (await session.execute(select(AuditEntry.target).where(AuditEntry.action == "purge_unconsented"))).all()
    assert keys == ["local:staff"]
    assert sorted(target for (target,) in purged) == sorted(person_pseudonym(p.person_id) for p in (former, gone))


async def test_times_are_stored_in_utc_and_read_back_aware(db: Database) -> None:
    jakarta = timezone(timedelta(hours=7))
    moment = datetime(2026, 12, 5, 8, 0, tzinfo=jakarta)
    async with db.transaction() as session:
        session.add(Person(locale="id", created_at=moment, last_seen_at=moment))
    async with db.transaction() as session:
        person = (await session.execute(select(Person))).scalar_one()
    assert person.created_at == moment
    assert person.created_at.tzinfo is not None and person.created_at.utcoffset() == timedelta(0)
    assert person.created_at.hour == 1 and person.created_at.tzinfo == UTC


async def test_claim_keeps_each_chats_order_while_an_earlier_row_is_held_or_waiting(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as session:
        session.add_all([row("1", Priority.BULK, now), row("1", Priority.BULK, now), row("2", Priority.BULK, now)])
    async with db.transaction() as session:
        first = await outbox.claim(session, "me", now, lease_seconds=60, limit=1)
    async with db.transaction() as session:  # chat 1's second row waits for its first, held by "me"
        assert [r.address for r in await outbox.claim(session, "you", now, lease_seconds=60, limit=30)] == ["2"]
    async with db.transaction() as session:  # the first was throttled: postponed, released
        await outbox.finish(session, "me", [(first[0].id, {"not_before": now + timedelta(seconds=5)})])
    async with db.transaction() as session:
        assert await outbox.claim(session, "you", now, lease_seconds=60, limit=30) == []
    async with db.transaction() as session:
        later = await outbox.claim(session, "you", now + timedelta(seconds=6), lease_seconds=60, limit=30)
    assert [r.id for r in later] == sorted(r.id for r in later) and len(later) == 2 and later[0].id == first[0].id
