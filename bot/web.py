"""The web app (Starlette on uvicorn): each channel's webhooks, mounted from its package
(`bot/channels/<channel>/webhook.py`), a health check and the Prometheus metrics."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Bot

from bot import metrics
from bot.channels.telegram import webhook as telegram_webhook
from bot.channels.webhooks import Handling
from bot.channels.whatsapp import webhook as whatsapp_webhook
from bot.engine import UNAVAILABLE, Engine
from bot.scheduler import HEARTBEAT
from bot.sender import Sender
from storage.db import Database
from storage.schedule import last_beat
from storage.types import utcnow

log = logging.getLogger(__name__)

HEARTBEAT_FRESH = timedelta(minutes=3)


@dataclass(frozen=True)
class Webhooks:
    """What the web app needs to know about each channel; a channel left unset answers 404."""

    senders: Mapping[str, Sender]
    telegram_bot: Bot | None = None
    telegram_secret: str | None = None
    twilio_auth_token: str | None = None
    public_base_url: str | None = None
    twilio_overrides: str | None = None  # the connection-override fragment on our Twilio URLs, e.g. rc=3&rp=all


def create_app(db: Database, engine: Engine, hooks: Webhooks) -> Starlette:
    """The ASGI app."""
    handling = Handling(db, engine, hooks.senders)
    twilio = whatsapp_webhook.Twilio(hooks.twilio_auth_token, hooks.public_base_url, hooks.twilio_overrides)

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

    async def prometheus(request: Request) -> Response:
        """This process's metrics, with the outbox counted from the database now (left out, never stale,
        when the database cannot be reached; the other metrics are still served)."""
        try:
            async with db.transaction() as session:
                await metrics.refresh_outbox(session)
        except UNAVAILABLE:
            metrics.OUTBOX.clear()
            log.warning("outbox rows not counted for /metrics: database unreachable")
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return Starlette(
        routes=[
            *telegram_webhook.routes(handling, hooks.telegram_bot, hooks.telegram_secret),
            *whatsapp_webhook.routes(handling, twilio),
            Route("/healthz", healthz),
            Route("/metrics", prometheus),
        ]
    )
