"""Twilio's webhooks for WhatsApp: `POST /whatsapp` (inbound messages), `POST /whatsapp/status`
(delivery reports), both checked against `X-Twilio-Signature`, and the signed media route Twilio
fetches documents and images from."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from urllib.parse import parse_qsl

from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from bot.channels.webhooks import Handling, TooLarge, read_body
from bot.channels.whatsapp import media
from bot.channels.whatsapp.inbound import to_inbound
from handlers.messages import Reply
from storage import outbox
from storage.models import Outbox

SIGNATURE_HEADER = "X-Twilio-Signature"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@dataclass(frozen=True)
class Twilio:
    """What the webhooks check signatures with; unset, every route answers 404 (the media route 403)."""

    auth_token: str | None = None
    public_base_url: str | None = None
    overrides: str | None = None  # the connection-override fragment on our Twilio URLs, e.g. rc=3&rp=all


def routes(handling: Handling, twilio: Twilio) -> list[Route]:
    """The inbound, status and media routes."""
    db = handling.db

    async def signed_form(request: Request) -> dict[str, str] | Response:
        """The form Twilio posted, or the answer to a request that is not one (404 without Twilio
        settings, 413 too large, 400 unreadable, 403 unsigned or badly signed)."""
        if not twilio.auth_token or not twilio.public_base_url:
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
        inbound = to_inbound(form)
        if inbound is None:
            return Response(status_code=400)
        return await handling.handle(inbound, Response(EMPTY_TWIML, media_type="text/xml"))

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
        url = (twilio.public_base_url or "").rstrip("/") + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        signature = request.headers.get(SIGNATURE_HEADER, "")
        # The fragment never reaches us; accept the signature over the URL as configured in Twilio, with it or without.
        urls = [url, f"{url}#{twilio.overrides}"] if twilio.overrides else [url]
        validator = RequestValidator(twilio.auth_token)
        return bool(signature) and any(validator.validate(candidate, form, signature) for candidate in urls)

    async def whatsapp_media(request: Request) -> Response:
        """An outbox row's document or image for Twilio to fetch, only with the URL's signature."""
        row_id, filename = int(request.path_params["row"]), request.path_params["filename"]
        if not twilio.auth_token or not media.valid(twilio.auth_token, row_id, filename,
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

    return [
        Route("/whatsapp", whatsapp, methods=["POST"]),
        Route("/whatsapp/status", whatsapp_status, methods=["POST"]),
        Route(media.PATH + "/{row:int}/{filename}", whatsapp_media, methods=["GET"]),
    ]
