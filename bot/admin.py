"""`ksbb admin …`: the first admin, invite codes, revoking roles, handing an RW over."""

from __future__ import annotations

import argparse
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.consent import NOTICE_VERSION
from storage import invites, roles
from storage.audit import audit
from storage.db import Database
from storage.models import RW, Kelurahan, Person
from storage.models.roles import ADMIN, COORDINATOR, UPGRADING, WASTE
from storage.people import find_identity, identify
from storage.places import get_or_create_rw
from storage.types import utcnow


class AdminError(Exception):
    """A command that cannot be carried out; the message is one sentence for the operator."""


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    admin = commands.add_parser("admin", help="roles and invite codes").add_subparsers(dest="action", required=True)
    create = admin.add_parser("create", help="make an identity the first admin")
    create.add_argument("--user", required=True, help="identity key, e.g. telegram:123456")
    invite = admin.add_parser("invite", help="print a single-use invite code")
    invite.add_argument("--role", choices=[COORDINATOR, ADMIN], required=True)
    invite.add_argument("--strand", choices=[WASTE, UPGRADING], default=WASTE)
    invite.add_argument("--rw", action="append", default=[], help="KELURAHAN:NUMBER, e.g. 'Kebon Melati:12'")
    invite.add_argument("--phone", help="bind the code to this phone number")
    invite.add_argument("--hours", type=int, default=72)
    revoke = admin.add_parser("revoke", help="revoke a role")
    revoke.add_argument("--user", required=True)
    revoke.add_argument("--role", choices=[COORDINATOR, ADMIN], required=True)
    handover = admin.add_parser("handover", help="hand an RW to another coordinator")
    handover.add_argument("--rw", required=True)
    handover.add_argument("--strand", choices=[WASTE, UPGRADING], default=WASTE)
    handover.add_argument("--to", required=True, help="identity key of the new coordinator")


async def run(db: Database, args: argparse.Namespace, bot_username: str | None = None) -> str:
    """Carry out one admin command in one transaction; returns what to print."""
    now = utcnow()
    async with db.transaction() as session:
        if args.action == "create":
            identity = await _identity(session, args.user, create=True)
            await roles.grant_role(session, identity.person_id, ADMIN, now)
            person = await session.get(Person, identity.person_id)
            if person is not None and person.consent_at is None:  # the operator attests it, with the notice in force
                person.consent_at, person.consent_version = now, NOTICE_VERSION
            await audit(session, None, "admin_create", "ok", now, target=f"person:{identity.person_id}")
            return f"{args.user} is now an admin."
        if args.action == "invite":
            rw_ids = [(await _rw(session, spec)).id for spec in args.rw]
            if args.role == COORDINATOR and not rw_ids:
                raise AdminError("A coordinator invite needs at least one --rw.")
            code = await invites.create_invite(
                session, args.role, now, strand=args.strand if args.role == COORDINATOR else None,
                rw_ids=rw_ids, phone=args.phone, valid_for=timedelta(hours=args.hours),
            )
            await audit(session, None, "invite", "ok", now, role=args.role, rws=rw_ids, hours=args.hours)
            link = f"\nhttps://t.me/{bot_username}?start=inv_{code}" if bot_username else ""
            return f"Invite code (valid {args.hours} hours, single use): /kode {code}{link}"
        if args.action == "revoke":
            identity = await _identity(session, args.user)
            count = await roles.revoke_role(session, identity.person_id, args.role, now)
            await audit(session, None, "revoke_role", "ok" if count else "none", now, target=f"person:{identity.person_id}")
            return f"Revoked {count} {args.role} grant(s) of {args.user}."
        identity = await _identity(session, args.to)
        rw = await _rw(session, args.rw)
        await roles.hand_over(session, rw.id, args.strand, identity.person_id, now)
        await audit(session, None, "hand_over_rw", "ok", now, target=f"rw:{rw.id}", to=f"person:{identity.person_id}")
        return f"RW {rw.number:03d} {rw.kelurahan.name} ({args.strand}) is now coordinated by {args.to}."


async def _identity(session: AsyncSession, key: str, create: bool = False):  # type: ignore[no-untyped-def]
    channel, _, address = key.partition(":")
    if channel not in ("telegram", "whatsapp", "local") or not address:
        raise AdminError(f"{key!r} is not an identity key such as telegram:123456.")
    identity = await find_identity(session, key)
    if identity is None:
        if not create:
            raise AdminError(f"Nobody with the identity {key} has talked to the bot.")
        identity = await identify(session, key, channel, address, "id", utcnow())
    return identity


async def _rw(session: AsyncSession, spec: str) -> RW:
    """`Kebon Melati:12` or `31.71.07.1005:12` → the RW."""
    place, _, number = spec.rpartition(":")
    if not place or not number.strip().isdigit() or not 1 <= int(number) <= 99:
        raise AdminError(f"{spec!r} is not KELURAHAN:NUMBER, e.g. 'Kebon Melati:12'.")
    statement = select(Kelurahan).where((Kelurahan.code == place.strip()) | (Kelurahan.name.ilike(place.strip())))
    found = list((await session.execute(statement)).scalars())
    if len(found) != 1:
        raise AdminError(f"{place!r} names {len(found)} kelurahan; use its code, e.g. 31.71.07.1005.")
    return await get_or_create_rw(session, found[0].code, int(number))
