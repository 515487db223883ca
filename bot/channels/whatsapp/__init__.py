"""WhatsApp through Twilio: signed webhooks in, the REST API out (from a thread, so the event loop
never blocks on the synchronous client)."""

from __future__ import annotations

from twilio.rest import Client

CHANNEL = "whatsapp"
MAX_BODY = 1600  # characters Twilio accepts in one WhatsApp message body


def make_client(account_sid: str, auth_token: str, base_url: str | None = None) -> Client:
    """The Twilio REST client; `base_url` points it at a local fake or a proxy."""
    client = Client(account_sid, auth_token)
    if base_url:
        client.api.base_url = base_url.rstrip("/")
    return client
