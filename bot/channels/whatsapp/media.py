"""Files for WhatsApp: Twilio sends a document or image only from a public URL, so the web process
serves each outbox row's attachment at `/whatsapp/media/<row>/<filename>?sig=…`, signed with a key
only we hold, and refuses anything else."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

PATH = "/whatsapp/media"


def signature(key: str, row_id: int, filename: str) -> str:
    message = f"{row_id}/{filename}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:32]


def media_url(base_url: str, key: str, row_id: int, filename: str) -> str:
    """The public URL of a row's attachment."""
    return f"{base_url.rstrip('/')}{PATH}/{row_id}/{quote(filename)}?sig={signature(key, row_id, filename)}"


def valid(key: str, row_id: int, filename: str, given: str) -> bool:
    return hmac.compare_digest(signature(key, row_id, filename), given)
