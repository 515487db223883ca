"""What every channel's webhook shares: the body read under a size limit, and one inbound message
handled in its transaction before the answer, its replies sent after it.

Every webhook handles its message inside the request, in one transaction, before answering: 200 once
it is committed (or was a duplicate, or failed and was recorded with an apology), 503 only when the
database is unreachable, so the platform delivers it again and it is processed once. Bodies over
1 MB are refused before parsing; unsigned or badly signed requests get 403."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from bot.engine import DatabaseUnavailable, Engine
from bot.sender import Sender
from handlers.messages import Inbound
from storage.db import Database

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000


class TooLarge(Exception):
    """The request body is over the limit."""


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, refused as soon as it is known to be over the limit (before any parsing)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return body


@dataclass(frozen=True)
class Handling:
    """The process's database, engine and one sender per channel, for the webhooks to hand messages to."""

    db: Database
    engine: Engine
    senders: Mapping[str, Sender]

    async def handle(self, inbound: Inbound, ok: Response) -> Response:
        """One transaction for the message, then the replies are sent after answering."""
        try:
            outcome = await self.engine.handle(inbound)
        except DatabaseUnavailable:
            log.warning("database unavailable; %s message %s will be delivered again", inbound.channel, inbound.platform_id)
            return Response(status_code=503)
        sender = self.senders[inbound.channel]

        async def after() -> None:
            # Raised into uvicorn, an error would close the connection and drop the next update sent on it;
            # the replies stay leased, and any sender takes them over when the lease runs out.
            try:
                await sender.deliver(outcome.replies)
            except Exception:
                log.exception("replies to %s message %s left for the sender", inbound.channel, inbound.platform_id)

        ok.background = BackgroundTask(after)
        return ok
