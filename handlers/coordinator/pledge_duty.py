"""The scheduler's pledge duty: remind an RW's upgrading coordinators of a pledge still unconfirmed
after `remind_after` (once per pledge, claimed as an occurrence, so restarts never repeat it; no
reminder once the hold has expired), lapse expired holds, telling each collaborator that the
amount was released, and remind the collaborator of a confirmed pledge whose funds have not been
recorded, once in every `funds_reminder_every` period after its confirmation (the first at the end
of the first period), until the pledge moves on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.coordinator.pledges import tell_lapsed, view
from handlers.dialog.machine import Duty
from handlers.dialog.notify import notify_person
from handlers.documents.letter import NO_PAYMENT
from handlers.text.formatting import datetime_short
from handlers.text.i18n import N_, translate
from storage import broadcasts, pledges
from storage.models import Person
from storage.models.roles import UPGRADING
from storage.pledges import Terms
from storage.roles import coordinators_of
from storage.schedule import claim_occurrence

REMINDER_KIND = "pledge_reminder"
REMINDER = N_("pledgeduty.remind")
FUNDS_KIND = "pledge_funds_reminder"
FUNDS_REMINDER = N_("pledgeduty.funds")


def pledge_duty(terms: Terms) -> Duty:
    """The duty under the program's pledge rules."""

    async def pledge_duty(session: AsyncSession, now: datetime) -> None:
        await remind_coordinators(session, now, terms)
        await remind_funds(session, now, terms)
        for lapsed in await pledges.lapse_expired(session, now):
            await tell_lapsed(session, now, lapsed.id, terms.hold)

    return pledge_duty


async def remind_coordinators(session: AsyncSession, now: datetime, terms: Terms) -> int:
    """Remind the coordinators of each RW (its admins when it has none) of pledges waiting longer
    than `remind_after`; how many pledges were reminded of."""
    reminded = 0
    for waiting in await pledges.awaiting_confirmation(session, now, older_than=terms.remind_after):
        if not await claim_occurrence(session, REMINDER_KIND, f"pledge:{waiting.id}", "24h", now):
            continue
        found = await view(session, waiting.id)
        if found is None:
            continue
        people = [await session.get(Person, person_id)
                  for person_id in await coordinators_of(session, found.rw_id, UPGRADING)]
        for person in [p for p in people if p is not None] or await broadcasts.admins(session):
            locale = person.locale
            await notify_person(
                session, now, person, REMINDER, who=found.who, created=datetime_short(waiting.created_at, locale),
                expires=datetime_short(waiting.expires_at or now, locale), **found.values(locale),
            )
        reminded += 1
    return reminded


async def remind_funds(session: AsyncSession, now: datetime, terms: Terms) -> int:
    """Remind each collaborator whose confirmed pledge has no funds recorded, in their language,
    with the payment instructions and the reference again: once per period of `funds_reminder_every`
    since the confirmation, claimed as occurrence `period:<n>`; how many were reminded."""
    every = terms.funds_reminder_every
    reminded = 0
    for waiting, confirmed_at in await pledges.awaiting_funds(session, now, older_than=every):
        period = (now - confirmed_at) // every
        if not await claim_occurrence(session, FUNDS_KIND, f"pledge:{waiting.id}", f"period:{period}", now):
            continue
        found = await view(session, waiting.id)
        if found is None or found.person is None:
            continue
        locale = found.person.locale
        payment = found.upgrade_rw.payment or translate(locale, NO_PAYMENT)
        if await notify_person(session, now, found.person, FUNDS_REMINDER, days=(now - confirmed_at).days,
                               payment=payment, **found.values(locale)):
            reminded += 1
    return reminded
