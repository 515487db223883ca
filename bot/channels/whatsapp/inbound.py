"""Twilio's inbound WhatsApp form posts → neutral inbound messages."""

from __future__ import annotations

from collections.abc import Mapping

from bot.channels.whatsapp import CHANNEL
from handlers.messages import Inbound, Kind

PREFIX = "whatsapp:"


def to_inbound(form: Mapping[str, str]) -> Inbound | None:
    """The message a form describes, or None when the form is not an inbound WhatsApp message."""
    sender, sid = form.get("From", ""), form.get("MessageSid", "")
    if not sender.startswith(PREFIX) or not sid:
        return None
    kind, fields = _content(form)
    return Inbound(
        channel=CHANNEL,
        bot=form.get("To", "").removeprefix(PREFIX),
        platform_id=sid,
        sender=sender,
        address=sender.removeprefix(PREFIX),
        phone=sender.removeprefix(PREFIX),  # WhatsApp vouches for the number a message comes from
        kind=kind,
        **fields,
    )


def _content(form: Mapping[str, str]) -> tuple[Kind, dict[str, object]]:
    body = form.get("Body", "")
    if form.get("ButtonPayload"):  # a quick-reply button: its payload is the choice's key
        return Kind.CHOICE, {"choice": form["ButtonPayload"], "text": body}
    if form.get("Latitude") and form.get("Longitude"):
        try:
            return Kind.LOCATION, {"location": (float(form["Latitude"]), float(form["Longitude"]))}
        except ValueError:
            return Kind.OTHER, {}
    media = form.get("MediaContentType0", "")
    if form.get("NumMedia", "0") not in ("", "0"):
        if media.startswith("image/"):
            return Kind.PHOTO, {"photo": form.get("MediaUrl0", ""), "text": body}
        return (Kind.VOICE if media.startswith("audio/") else Kind.OTHER), {}
    return (Kind.TEXT, {"text": body}) if body else (Kind.OTHER, {})
