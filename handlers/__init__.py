"""Conversation flows: channel-free, one module per journey, states declared in one table each."""

from datetime import timedelta

from handlers import info, language, menu, profile, registration, report
from handlers.coordinator import invite
from handlers.coordinator import menu as coordinator_menu
from handlers.coordinator import stats
from handlers.dialog import Dialog, Step

STEPS: dict[str, Step] = {
    **menu.STEPS,
    **language.STEPS,
    **registration.STEPS,
    **report.STEPS,
    **profile.STEPS,
    **invite.STEPS,
    **coordinator_menu.STEPS,
    **stats.STEPS,
}


def build_dialog(idle_after: timedelta) -> Dialog:
    """The dialog over every flow; BANTUAN also names the resident's coordinator when known."""
    return Dialog(
        STEPS,
        idle_after=idle_after,
        start_handlers={"inv": invite.start_redeeming},
        commands={"kode": invite.start_redeeming, "code": invite.start_redeeming},
        help_footer=info.contact_line,
    )
