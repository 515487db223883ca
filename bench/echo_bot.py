"""The intake baseline: a bare python-telegram-bot echo bot behind the same server as ours (Starlette on
uvicorn, one process, same uvicorn defaults). It parses each update with `Update.de_json`, sends one reply
with `bot.send_message`, then answers 200. No database, no conversation: what any Telegram bot has to do at
the least. (Sending after answering, as our web process does, let replies pile up faster than 16 connections
send them, and httpx's pool slows down with every waiter: 1,584 of 20,000 replies went out in two minutes.)

`python -m bench.echo_bot --port PORT --api BASE_URL`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Bot, Update
from telegram.request import HTTPXRequest

TOKEN = "123456:BENCH-echo-0123456789abcdefghijklmnop"


def create_app(bot: Bot) -> Starlette:
    async def telegram(request: Request) -> Response:
        update = Update.de_json(json.loads(await request.body()), bot)
        chat, message = update.effective_chat, update.effective_message
        text = (message.text if message and message.text else None) or (
            update.callback_query.data if update.callback_query else None) or "?"

        if chat is not None:
            await bot.send_message(chat.id, text)
        return Response(status_code=200)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        async with bot:
            yield

    return Starlette(routes=[Route("/telegram", telegram, methods=["POST"])], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api", required=True, help="the Bot API base URL (the fake's)")
    args = parser.parse_args()
    # The same connection pool as our bot's client (bot/channels/telegram.make_bot).
    bot = Bot(TOKEN, base_url=args.api, request=HTTPXRequest(connection_pool_size=16))
    config = uvicorn.Config(create_app(bot), host=args.host, port=args.port, log_config=None, access_log=False)
    asyncio.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
