"""The web process: Telegram's and Twilio's webhooks and a health check, served by Starlette on uvicorn.

Every webhook handles its message inside the request, in one transaction, before answering: 200 once
it is committed (or was a duplicate, or failed and was recorded with an apology), 503 only when the
database is unreachable, so the platform delivers it again and it is processed once. Bodies over
1 MB are refused before parsing; unsigned or badly signed requests get 403."""

from __future__ import annotations

import hmac
import json
import logging
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl

from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Bot, Update
from twilio.request_validator import RequestValidator

from bot.channels.telegram.inbound import to_inbound as telegram_inbound
from bot.channels.whatsapp import media
from bot.channels.whatsapp.inbound import to_inbound as whatsapp_inbound
from bot.engine import DatabaseUnavailable, Engine
from bot.scheduler import HEARTBEAT
from bot.sender import Sender
from handlers.messages import Inbound, Reply
from storage import outbox
from storage.db import Database
from storage.models import Outbox
from storage.schedule import last_beat
from storage.types import utcnow

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
HEARTBEAT_FRESH = timedelta(minutes=3)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class TooLarge(Exception):
    """The request body is over the limit."""


@dataclass(frozen=True)
class Webhooks:
    """What the web app needs to know about each channel; a channel left unset answers 404."""

    senders: Mapping[str, Sender]
    telegram_bot: Bot | None = None
    telegram_secret: str | None = None
    twilio_auth_token: str | None = None
    public_base_url: str | None = None
    twilio_overrides: str | None = None  # the connection-override fragment on our Twilio URLs, e.g. rc=3&rp=all


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


def create_app(db: Database, engine: Engine, hooks: Webhooks) -> Starlette:
    """The ASGI app."""

    async def handle(inbound: Inbound, ok: Response) -> Response:
        """One transaction for the message, then the replies are sent after answering."""
        try:
            outcome = await engine.handle(inbound)
        except DatabaseUnavailable:
            log.warning("database unavailable; %s message %s will be delivered again", inbound.channel, inbound.platform_id)
            return Response(status_code=503)
        sender = hooks.senders[inbound.channel]

        async def after() -> None:
            # Raised into uvicorn, an error would close the connection and drop the next update sent on it;
            # the replies stay leased, and any sender takes them over when the lease runs out.
            try:
                await sender.deliver(outcome.replies)
            except Exception:
                log.exception("replies to %s message %s left for the sender", inbound.channel, inbound.platform_id)

        ok.background = BackgroundTask(after)
        return ok

    async def telegram(request: Request) -> Response:
        bot, secret = hooks.telegram_bot, hooks.telegram_secret
        if bot is None or not secret:
            return Response(status_code=404)
        if not hmac.compare_digest(request.headers.get(TELEGRAM_SECRET_HEADER, "").encode(), secret.encode()):
            return Response(status_code=403)
        try:
            update = Update.de_json(json.loads(await read_body(request)), bot)
        except TooLarge:
            return Response(status_code=413)
        except (ValueError, TypeError, KeyError):
            return Response(status_code=400)
        inbound = telegram_inbound(update, str(bot.id))
        if inbound is None:
            return Response(status_code=200)
        if update.callback_query is None:
            return await handle(inbound, Response(status_code=200))
        # A tapped button is answered in the webhook's response (Telegram runs a Bot API method given
        # there), which stops the button's spinner without a request of our own.
        answer = {"method": "answerCallbackQuery", "callback_query_id": update.callback_query.id}
        return await handle(inbound, JSONResponse(answer))

    async def signed_form(request: Request) -> dict[str, str] | Response:
        """The form Twilio posted, or the answer to a request that is not one (404 without Twilio
        settings, 413 too large, 400 unreadable, 403 unsigned or badly signed)."""
        if not hooks.twilio_auth_token or not hooks.public_base_url:
            return Response(status_code=404)
        try:
            form = dict(parse_qsl((await read_body(request)).decode("utf-8"), keep_blank_values=True))
        except TooLarge:
            return Response(status_code=413)
        except UnicodeDecodeError:
            return Response(status_code=400)
        return form if signed_by_twilio(request, form) else Response(status_code=403)

    async def whatsapp(request: Request) -> Response:
        form = await signed_form(request)
        if isinstance(form, Response):
            return form
        inbound = whatsapp_inbound(form)
        if inbound is None:
            return Response(status_code=400)
        return await handle(inbound, Response(EMPTY_TWIML, media_type="text/xml"))

    async def whatsapp_status(request: Request) -> Response:
        """Twilio's delivery reports for the messages we sent: each moves its outbox row forward only."""
        form = await signed_form(request)
        if isinstance(form, Response):
            return form
        sid, status = form.get("MessageSid"), form.get("MessageStatus")
        if not sid or not status:
            return Response(status_code=400)
        try:
            async with db.transaction() as session:
                await outbox.record_delivery(session, sid, status, form.get("ErrorCode"))
        except (OperationalError, InterfaceError):
            return Response(status_code=503)
        return Response(status_code=204)

    def signed_by_twilio(request: Request, form: dict[str, str]) -> bool:
        """Twilio signs the public URL it called (behind a TLS proxy, not the one we see) and the form."""
        url = (hooks.public_base_url or "").rstrip("/") + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        signature = request.headers.get(TWILIO_SIGNATURE_HEADER, "")
        # The fragment never reaches us; accept the signature over the URL as configured in Twilio, with it or without.
        urls = [url, f"{url}#{hooks.twilio_overrides}"] if hooks.twilio_overrides else [url]
        validator = RequestValidator(hooks.twilio_auth_token)
        return bool(signature) and any(validator.validate(candidate, form, signature) for candidate in urls)

    async def whatsapp_media(request: Request) -> Response:
        """An outbox row's document or image for Twilio to fetch, only with the URL's signature."""
        row_id, filename = int(request.path_params["row"]), request.path_params["filename"]
        if not hooks.twilio_auth_token or not media.valid(hooks.twilio_auth_token, row_id, filename,
                                                          request.query_params.get("sig", "")):
            return Response(status_code=403)
        try:
            async with db.transaction() as session:
                row = await session.get(Outbox, row_id)
                reply = Reply.from_body(row.body) if row is not None else None
        except (OperationalError, InterfaceError):
            return Response(status_code=503)
        attachment = (reply.document or reply.image) if reply is not None else None
        if attachment is None or attachment.filename != filename:
            return Response(status_code=404)
        kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return Response(attachment.content, media_type=kind)

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

    return Starlette(
        routes=[
            Route("/telegram", telegram, methods=["POST"]),
            Route("/whatsapp", whatsapp, methods=["POST"]),
            Route("/whatsapp/status", whatsapp_status, methods=["POST"]),
            Route(media.PATH + "/{row:int}/{filename}", whatsapp_media, methods=["GET"]),
            Route("/healthz", healthz),
        ]
    )
