"""Roles, scope and invite codes: the permission table, single-use hashed codes, the admin CLI."""

from __future__ import annotations

from argparse import Namespace
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import admin, cli
from bot.engine import Engine
from handlers import build_dialog
from handlers.consent import NOTICE_VERSION
from handlers.coordinator.access import allowed
from handlers.text.i18n import translate
from storage import invites
from storage.db import Database
from storage.models import AuditEntry, Invite, Person, RoleGrant
from storage.models.roles import ADMIN, COORDINATOR, UPGRADING, WASTE
from storage.people import identify
from storage.places import get_or_create_rw
from storage.retention import purge_unconsented
from storage.roles import grant_role, hand_over, revoke_role, roles_of
from storage.types import utcnow
from tests.support import Direct

KEBON_MELATI = "31.71.07.1005"


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


async def person(db: Database, key: str) -> int:
    async with db.transaction() as session:
        return (await identify(session, key, "local", key.split(":")[1], "id", utcnow())).person_id


async def rw(db: Database, number: int) -> int:
    async with db.transaction() as session:
        return (await get_or_create_rw(session, KEBON_MELATI, number)).id


@pytest.fixture
async def people(db: Database) -> dict[str, tuple[int, frozenset[str]]]:
    """A resident, a waste coordinator of RW 12, one of RW 14, an upgrading coordinator of RW 12, an admin."""
    rw12, rw14 = await rw(db, 12), await rw(db, 14)
    now = utcnow()
    ids = {name: await person(db, f"local:{name}") for name in ("warga", "koord12", "koord14", "tata12", "admin")}
    async with db.transaction() as session:
        await grant_role(session, ids["koord12"], COORDINATOR, now, strand=WASTE, rw_ids=[rw12])
        await grant_role(session, ids["koord14"], COORDINATOR, now, strand=WASTE, rw_ids=[rw14])
        await grant_role(session, ids["tata12"], COORDINATOR, now, strand=UPGRADING, rw_ids=[rw12])
        await grant_role(session, ids["admin"], ADMIN, now)
        return {name: (pid, await roles_of(session, pid)) for name, pid in ids.items()}


PERMISSIONS = [
    # (who, action, RW number or None, allowed?)
    ("warga", "weigh_in", 12, False),
    ("koord12", "weigh_in", 12, True),
    ("koord12", "weigh_in", 14, False),
    ("koord14", "weigh_in", 12, False),
    ("tata12", "weigh_in", 12, False),
    ("admin", "weigh_in", 14, True),
    ("koord12", "verify_report", 12, True),
    ("koord12", "decide_withdrawal", 14, False),
    ("koord12", "set_prices", 12, True),
    ("tata12", "upgrading_offers", 12, True),
    ("koord12", "upgrading_offers", 12, False),
    ("koord12", "broadcast_rws", 12, True),
    ("koord12", "broadcast_kota", None, False),
    ("koord12", "broadcast_all", None, False),
    ("admin", "broadcast_all", None, True),
    ("koord12", "approve_broadcast", None, False),
    ("admin", "approve_broadcast", None, True),
    ("koord12", "invite", None, False),
    ("warga", "invite", None, False),
    ("admin", "invite", None, True),
    ("koord12", "revoke_role", None, False),
    ("koord12", "waste_stats", None, True),
    ("warga", "waste_stats", None, False),
]


@pytest.mark.parametrize(("who", "action", "rw_number", "expected"), PERMISSIONS)
async def test_permission_table(
    db: Database, people: dict[str, tuple[int, frozenset[str]]], who: str, action: str, rw_number: int | None,
    expected: bool,
) -> None:
    person_id, roles = people[who]
    rw_ids = [await rw(db, rw_number)] if rw_number else []
    async with db.transaction() as session:
        assert await allowed(session, person_id, roles, action, rw_ids) is expected


async def test_revoking_and_handing_over_change_what_a_coordinator_may_do(
    db: Database, people: dict[str, tuple[int, frozenset[str]]]
) -> None:
    koord12, koord14 = people["koord12"][0], people["koord14"][0]
    rw12 = await rw(db, 12)
    async with db.transaction() as session:
        await hand_over(session, rw12, WASTE, koord14, utcnow())
    async with db.transaction() as session:
        assert not await allowed(session, koord12, frozenset({COORDINATOR}), "weigh_in", [rw12])
        assert await allowed(session, koord14, frozenset({COORDINATOR}), "weigh_in", [rw12])
        assert await revoke_role(session, koord14, COORDINATOR, utcnow()) == 2
        assert await roles_of(session, koord14) == frozenset()


async def invite(db: Database, phone: str | None = None, valid_for: timedelta = timedelta(hours=72)) -> str:
    rw12 = await rw(db, 12)
    async with db.transaction() as session:
        return await invites.create_invite(
            session, COORDINATOR, utcnow(), strand=WASTE, rw_ids=[rw12], phone=phone, valid_for=valid_for
        )


async def redeem(db: Database, person_id: int, code: str) -> str:
    async with db.transaction() as session:
        outcome, _ = await invites.redeem(session, person_id, code, utcnow())
        return outcome


async def test_a_code_has_128_bits_is_stored_hashed_and_works_once(db: Database) -> None:
    code = await invite(db)
    assert len(code) >= 22  # 16 random bytes, base64url
    async with db.transaction() as session:
        stored = (await session.execute(select(Invite))).scalar_one()
    assert code not in repr(stored.__dict__) and stored.code_hash == invites.digest(code)
    first, second = await person(db, "local:a"), await person(db, "local:b")
    assert await redeem(db, first, code) == invites.GRANTED
    assert await redeem(db, second, code) == invites.USED
    async with db.transaction() as session:
        assert await roles_of(session, first) == frozenset({COORDINATOR})
        assert await roles_of(session, second) == frozenset()


async def test_expired_guessed_and_phone_bound_codes_are_refused(db: Database) -> None:
    someone = await person(db, "local:c")
    assert await redeem(db, someone, await invite(db, valid_for=timedelta(seconds=-1))) == invites.EXPIRED
    assert await redeem(db, someone, "tebak-tebakan") == invites.INVALID
    bound = await invite(db, phone="0812-3456-7890")
    assert await redeem(db, someone, bound) == invites.WRONG_PHONE
    async with db.transaction() as session:
        owner = (await identify(session, "whatsapp:+6281234567890", "whatsapp", "+6281234567890", "id", utcnow())).person_id
    assert await redeem(db, owner, bound) == invites.GRANTED


async def test_failed_attempts_are_limited_per_person(db: Database) -> None:
    guesser = await person(db, "local:guesser")
    for _ in range(invites.MAX_FAILURES):
        assert await redeem(db, guesser, "salah") == invites.INVALID
    assert await redeem(db, guesser, await invite(db)) == invites.TOO_MANY


async def test_a_deep_link_asks_consent_and_a_name_then_grants_the_role_and_audits(db: Database) -> None:
    code = await invite(db)
    chat = Direct(Engine(db, build_dialog(timedelta(minutes=30)), "test", "id", 5.0), db, user="rina")
    assert await chat.texts(f"/start inv_{code}") == [t("invite.notice"), t("register.ask_consent")]
    assert await chat.texts("Setuju") == [t("register.ask_name")]
    assert await chat.texts("Rina Marlina") == [t("invite.granted_coordinator", count=1), t("menu.ask")]
    async with db.transaction() as session:
        outcomes = (await session.execute(select(AuditEntry.action, AuditEntry.outcome))).all()
        assert ("redeem_invite", "granted") in [tuple(row) for row in outcomes]
        assert (await session.execute(select(RoleGrant.role))).scalar_one() == COORDINATOR
    assert await chat.texts(f"/kode {code}") == [t("invite.used"), t("menu.ask")]


def test_the_admin_cli_creates_the_first_admin_and_prints_single_use_codes(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert cli.main(["admin", "create", "--user", "telegram:4242"]) == 0
    assert cli.main(["admin", "invite", "--role", "coordinator", "--rw", "Kebon Melati:12"]) == 0
    out = capsys.readouterr().out
    assert "telegram:4242 is now an admin." in out and "/kode " in out
    assert cli.main(["admin", "invite", "--role", "coordinator"]) == 1
    assert cli.main(["admin", "invite", "--role", "coordinator", "--rw", "Atlantis:12"]) == 1
    assert cli.main(["admin", "revoke", "--user", "telegram:999", "--role", "admin"]) == 1
    err = capsys.readouterr().err
    assert "needs at least one --rw" in err and "names 0 kelurahan" in err and "Nobody with the identity" in err


async def test_a_coordinator_who_is_not_a_resident_can_still_erase_their_data(db: Database) -> None:
    """Consent through `/kode` and a role, no RW: the profile with "Hapus data saya" is in the menu, and
    `HAPUS DATA` asks the same question from anywhere."""
    code = await invite(db)
    chat = Direct(Engine(db, build_dialog(timedelta(minutes=30)), "test", "id", 5.0), db, user="rina")
    for message in (f"/kode {code}", "Setuju"):
        await chat.send(message)
    [_granted, menu] = await chat.send("Rina Marlina")
    assert t("menu.profile") in [choice.label for choice in menu.choices]
    [profile] = await chat.send(t("menu.profile"))
    assert t("profile.erase") in [choice.label for choice in profile.choices]
    assert (await chat.texts("HAPUS DATA"))[-1] == t("profile.ask_erase")
    await chat.send(t("profile.erase_yes"))
    async with db.transaction() as session:
        assert (await session.execute(select(Person))).scalars().all() == []
        assert (await session.execute(select(RoleGrant))).scalars().all() == []


async def test_an_admin_made_on_the_command_line_is_never_purged(db: Database) -> None:
    """The operator attests consent with the notice in force, so the 48-hour purge of people who never
    consented leaves the admin (and the role) in place."""
    await admin.run(db, Namespace(action="create", user="telegram:4242"))
    later = utcnow() + timedelta(hours=49)
    async with db.transaction() as session:
        assert await purge_unconsented(session, later - timedelta(hours=48), later) == 0
        person = (await session.execute(select(Person))).scalar_one()
        assert person.consent_version == NOTICE_VERSION and person.consent_at is not None
        assert await roles_of(session, person.id) == {ADMIN}


async def test_an_admin_makes_an_invite_code_in_the_chat_that_a_coordinator_redeems(db: Database) -> None:
    admin = await person(db, "local:admin")
    async with db.transaction() as session:
        await grant_role(session, admin, ADMIN, utcnow())
    engine = Engine(db, build_dialog(timedelta(minutes=30)), "test", "id", 5.0)
    chat = Direct(engine, db, user="admin")
    for message in ("/start", "1", "Menu koordinator", "Buat kode undangan", "Koordinator bank sampah"):
        await chat.send(message)
    assert await chat.texts("Kebn Melati") == [t("invite_make.ask_rws", kelurahan="Kebon Melati")]
    [shown, _menu] = await chat.texts("12, 14")
    code = shown.split("/kode ")[1].split()[0]
    async with db.transaction() as session:
        stored = (await session.execute(select(Invite))).scalar_one()
    assert stored.code_hash == invites.digest(code) and len(stored.rw_ids["rw"]) == 2
    newcomer = Direct(engine, db, user="rina")
    for message in (f"/kode {code}", "Setuju"):
        await newcomer.send(message)
    assert (await newcomer.texts("Rina"))[0] == t("invite.granted_coordinator", count=2)


async def test_a_coordinator_cannot_make_invite_codes(db: Database, people: dict[str, tuple[int, frozenset[str]]]) -> None:
    chat = Direct(Engine(db, build_dialog(timedelta(minutes=30)), "test", "id", 5.0), db, user="koord12")
    await chat.send("/start")
    await chat.send("1")
    menu = (await chat.send("Menu koordinator"))[-1]
    assert t("coord.invite") not in [c.label for c in menu.choices]
