"""Asking a person's consent to keep their data (UU 27/2022), and checking a name they type: the same
rules in every journey that registers someone."""

from __future__ import annotations

import re

from handlers.dialog.machine import Context
from handlers.messages import Inbound
from handlers.text.i18n import N_

NOTICE_VERSION = "2026-11"
CHOICES = (("consent:yes", N_("register.agree")), ("consent:no", N_("register.disagree")))
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)


def ask(ctx: Context, notice: str) -> None:
    """Says what is stored and why (the journey's own notice), then asks for consent."""
    ctx.say(notice)
    ctx.say("register.ask_consent", choices=CHOICES)


def given(ctx: Context, message: Inbound) -> bool:
    """Records consent with the notice version and time when the person agreed; False otherwise."""
    if message.choice != "consent:yes":
        return False
    ctx.person.consent_at = ctx.now
    ctx.person.consent_version = NOTICE_VERSION
    return True


def clean_name(text: str, limit: int, shortest: int = 2) -> str | None:
    """Spaces collapsed; None unless `shortest`–`limit` characters with at least two letters."""
    name = " ".join(text.split())
    return name if shortest <= len(name) <= limit and len(_LETTERS.findall(name)) >= 2 else None
