"""Telegram's webhook, `POST /telegram`: only with the secret token in its header (compared in
constant time); a tapped button is answered in the response itself."""

from __future__ import annotations

import hmac
import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Bot, Update

from bot.channels.telegram.inbound import to_inbound
from bot.channels.webhooks import Handling, TooLarge, read_body

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def routes(handling: Handling, bot: Bot | None, secret: str | None) -> list[Route]:
    """The webhook's route; without a bot or a secret it answers 404."""

    async def telegram(request: Request) -> Response:
        if bot is None or not secret:
            return Response(status_code=404)
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, "").encode(), secret.encode()):
            return Response(status_code=403)
        try:
            update = Update.de_json(json.loads(await read_body(request)), bot)
        except TooLarge:
            return Response(status_code=413)
        except (ValueError, TypeError, KeyError):
            return Response(status_code=400)
        inbound = to_inbound(update, str(bot.id))
        if inbound is None:
            return Response(status_code=200)
        if update.callback_query is None:
            return await handling.handle(inbound, Response(status_code=200))
        # A tapped button is answered in the webhook's response (Telegram runs a Bot API method given
        # there), which stops the button's spinner without a request of our own.
        answer = {"method": "answerCallbackQuery", "callback_query_id": update.callback_query.id}
        return await handling.handle(inbound, JSONResponse(answer))

    return [Route("/telegram", telegram, methods=["POST"])]
