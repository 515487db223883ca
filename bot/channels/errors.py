"""The few kinds of platform failure every adapter maps its errors to."""

from __future__ import annotations


class SendError(Exception):
    """A send did not succeed."""


class Throttled(SendError):
    """The platform asked us to slow down; retry after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"throttled, retry after {retry_after}s")
        self.retry_after = retry_after


class Unreachable(SendError):
    """The contact blocked the bot or stopped the chat; stop sending to this identity."""


class OptedOut(Unreachable):
    """The person opted out on the platform itself (WhatsApp's STOP)."""


class Permanent(SendError):
    """The platform refused this message; sending it again will not help."""


class OutsideWindow(Permanent):
    """WhatsApp's 24-hour session window is closed: only an approved template may go."""


class Transient(SendError):
    """A network or server failure; the same message may succeed later."""
