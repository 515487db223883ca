"""Logging without personal data: pseudonymous ids only, noisy clients quiet, secrets masked."""

from __future__ import annotations

import logging
import re
import traceback

from storage.pseudonym import pseudonym

__all__ = ["pseudonym", "mask", "scrub", "install", "configure", "quiet_libraries", "MaskingFilter"]

# Libraries that log request URLs (with the bot token) or payloads (with phone numbers and text).
QUIET = ("httpx", "httpcore", "telegram", "twilio.http_client", "apscheduler", "aiosqlite")

_SECRETS = (
    re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}"),  # Telegram bot token
    re.compile(r"(?<![\w.])(?:\+?62|0)8\d{7,12}\b"),  # Indonesian mobile numbers
    re.compile(r"(?<![\w.])(?:\+?62[\s.-]?|0)8\d{1,3}(?:[\s.-]\d{2,4}){2,3}\b"),  # … written in groups
    re.compile(r"\+\d{9,15}\b"),  # other numbers in E.164
)


def mask(text: str) -> str:
    """The text with tokens and phone numbers replaced by ***."""
    for pattern in _SECRETS:
        text = pattern.sub("***", text)
    return text


def scrub(record: logging.LogRecord) -> None:
    """Mask secrets in the message, and replace tracebacks by ones without exception messages
    (they quote the input: `int("0812…")`, SQL parameters)."""
    message = record.getMessage()
    masked = mask(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redacted_traceback(record.exc_info[1])
        record.exc_info = None  # so no handler formats the original
    elif record.exc_text:
        record.exc_text = mask(record.exc_text)
    if record.stack_info:
        record.stack_info = mask(record.stack_info)


class MaskingFilter(logging.Filter):
    """Scrubs records reaching a handler (for records made before `install()`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub(record)
        return True


_make_record = logging.getLogRecordFactory()


def _scrubbed_record(*args: object, **kwargs: object) -> logging.LogRecord:
    record = _make_record(*args, **kwargs)
    scrub(record)
    return record


def install() -> None:
    """Scrub every record as it is made, so no handler, whatever its order, sees a secret."""
    logging.setLogRecordFactory(_scrubbed_record)


_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def redacted_traceback(exc: BaseException) -> str:
    """The traceback as Python prints it (chained exceptions, frames, source lines), each exception's
    message replaced by `(message hidden)`: where it failed and with which error, never what the person sent."""
    return "".join(_redacted(exc, set())).rstrip("\n")


def _redacted(exc: BaseException, seen: set[int]) -> list[str]:
    seen.add(id(exc))
    lines: list[str] = []
    cause, context = exc.__cause__, exc.__context__
    if cause is not None and id(cause) not in seen:
        lines += [*_redacted(cause, seen), _CAUSE]
    elif context is not None and not exc.__suppress_context__ and id(context) not in seen:
        lines += [*_redacted(context, seen), _CONTEXT]
    if exc.__traceback__ is not None:
        lines += ["Traceback (most recent call last):\n", *traceback.format_tb(exc.__traceback__)]
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    lines.append(f"{name} (message hidden)\n" if exc.args else f"{name}\n")
    return lines


def configure(level: str = "INFO") -> None:
    """Root logging to stderr with masking; chatty HTTP and bot libraries at WARNING."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    install()
    quiet_libraries()


def quiet_libraries() -> None:
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
