"""Logging without personal data: pseudonymous ids only, noisy clients quiet, secrets masked."""

from __future__ import annotations

import hashlib
import logging
import re

# Libraries that log request URLs (with the bot token) or payloads (with phone numbers and text).
QUIET = ("httpx", "httpcore", "telegram", "twilio.http_client", "apscheduler", "aiosqlite")

_SECRETS = (
    re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}"),  # Telegram bot token
    re.compile(r"(?<![\w.])(?:\+?62|0)8\d{7,12}\b"),  # Indonesian mobile numbers
    re.compile(r"\+\d{9,15}\b"),  # other numbers in E.164
)


def pseudonym(identity_key: str) -> str:
    """A short stable stand-in for an identity key (`telegram:123` → `p:3f9a…`), safe to log."""
    return "p:" + hashlib.sha256(identity_key.encode()).hexdigest()[:12]


def mask(text: str) -> str:
    """The text with tokens and phone numbers replaced by ***."""
    for pattern in _SECRETS:
        text = pattern.sub("***", text)
    return text


class MaskingFilter(logging.Filter):
    """A last line of defence: masks secrets in any record that still carries one."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure(level: str = "INFO") -> None:
    """Root logging to stderr with masking; chatty HTTP and bot libraries at WARNING."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    quiet_libraries()


def quiet_libraries() -> None:
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
