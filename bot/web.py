"""The web process: Telegram's webhook and a health check, served by Starlette on uvicorn.

`POST /telegram` handles the update inside the request, in one transaction, before answering: 200
once it is committed (or was a duplicate, or failed and was recorded with an apology), 503 only when
the database is unreachable, so Telegram delivers it again and it is processed once."""

from __future__ import annotations

import hmac
import json
import logging
from datetime import timedelta

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Bot, Update

from bot.channels.telegram.inbound import to_inbound
from bot.engine import DatabaseUnavailable, Engine
from bot.scheduler import HEARTBEAT
from bot.sender import Sender
from storage.db import Database
from storage.schedule import last_beat
from storage.types import utcnow

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEARTBEAT_FRESH = timedelta(minutes=3)


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


def create_app(db: Database, engine: Engine, bot: Bot | None, sender: Sender | None, webhook_secret: str | None) -> Starlette:
    """The ASGI app; the Telegram route answers 404 until a bot and a webhook secret are configured."""

    async def telegram(request: Request) -> Response:
        if bot is None or sender is None or not webhook_secret:
            return Response(status_code=404)
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), webhook_secret.encode()):
            return Response(status_code=403)
        try:
            data = json.loads(await read_body(request))
            update = Update.de_json(data, bot)
        except TooLarge:
            return Response(status_code=413)
        except (ValueError, TypeError, KeyError):
            return Response(status_code=400)
        inbound = to_inbound(update, str(bot.id))
        if inbound is None:
            return Response(status_code=200)
        try:
            outcome = await engine.handle(inbound)
        except DatabaseUnavailable:
            log.warning("database unavailable; Telegram will deliver update %s again", update.update_id)
            return Response(status_code=503)

        async def after() -> None:
            await sender.deliver(outcome.reply_ids)
            if update.callback_query is not None:
                try:
                    await update.callback_query.answer()
                except Exception:  # an expired callback query is not worth a log line with data
                    log.info("callback query could not be answered")

        return Response(status_code=200, background=BackgroundTask(after))

    async def healthz(request: Request) -> Response:
        """Database reachable and scheduler heartbeat fresh; no personal data."""
        try:
            async with db.transaction() as session:
                await session.execute(text("SELECT 1"))
                beat = await last_beat(session, HEARTBEAT)
        except Exception:
            return JSONResponse({"database": "unreachable"}, status_code=503)
        fresh = beat is not None and utcnow() - beat < HEARTBEAT_FRESH
        body = {"database": "ok", "scheduler": "ok" if fresh else "stale"}
        return JSONResponse(body, status_code=200 if fresh else 503)

    return Starlette(routes=[Route("/telegram", telegram, methods=["POST"]), Route("/healthz", healthz)])
