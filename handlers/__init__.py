"""Conversation flows: channel-free, one module per journey, states declared in one table each."""

from datetime import timedelta

from handlers import (
    info,
    language,
    menu,
    optout,
    profile,
    registration,
    report,
    sedekah,
    withdraw,
)
from handlers.collaborator import browse as collaborator_browse
from handlers.collaborator import mine as my_pledges
from handlers.collaborator import pledge as collaborator_pledge
from handlers.collaborator import signup as collaborator_signup
from handlers.coordinator import banks as coordinator_banks
from handlers.coordinator import broadcast, invite, invite_make, prices, stats, verify, weighin
from handlers.coordinator import menu as coordinator_menu
from handlers.coordinator import pledges as coordinator_pledges
from handlers.coordinator import progress as coordinator_progress
from handlers.coordinator import schedule as coordinator_schedule
from handlers.coordinator import withdrawals as coordinator_withdrawals
from handlers.dialog.machine import Dialog, Step
from storage.broadcasts import TemplateTerms
from storage.pledges import Terms

STEPS: dict[str, Step] = {
    **menu.STEPS,
    **language.STEPS,
    **registration.STEPS,
    **report.STEPS,
    **profile.STEPS,
    **invite.STEPS,
    **coordinator_menu.STEPS,
    **invite_make.STEPS,
    **broadcast.STEPS,
    **stats.STEPS,
    **withdraw.STEPS,
    **sedekah.STEPS,
    **coordinator_withdrawals.STEPS,
    **coordinator_banks.STEPS,
    **prices.STEPS,
    **coordinator_schedule.STEPS,
    **weighin.STEPS,
    **verify.STEPS,
    **coordinator_pledges.STEPS,
    **coordinator_progress.STEPS,
    **collaborator_signup.STEPS,
    **my_pledges.STEPS,
    **collaborator_browse.STEPS,
    **collaborator_pledge.STEPS,
}


def build_dialog(idle_after: timedelta, terms: Terms | None = None, templates: TemplateTerms | None = None) -> Dialog:
    """The dialog over every flow; BANTUAN also names the resident's coordinator when known."""
    return Dialog(
        STEPS,
        idle_after=idle_after,
        start_handlers={"inv": invite.start_redeeming, "kolab": collaborator_signup.start_from_link},
        commands={
            "kode": invite.start_redeeming,
            "code": invite.start_redeeming,
            "stop": optout.stop,
            "resume": optout.resume,
            "timbang": weighin.command,
            "periksa": verify.command,
            "erase": profile.erase,
            "hapus": profile.erase,
        },
        help_footer=info.contact_line,
        terms=terms,
        templates=templates,
    )
