"""Neutral replies → Twilio messages: choices as a numbered list, long text split cleanly, Twilio
errors mapped to the shared send errors."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.channels.errors import OptedOut, OutsideWindow, Permanent, Throttled, Transient
from bot.channels.text import split_text
from bot.channels.whatsapp import CHANNEL, MAX_BODY
from bot.channels.whatsapp.inbound import PREFIX
from bot.channels.whatsapp.media import media_url
from handlers.messages import Reply
from handlers.text.i18n import translate

TOO_MANY_REQUESTS = 20429
OPTED_OUT = 21610
OUTSIDE_WINDOW = 63016
QUICK_REPLY_TITLE, QUICK_REPLY_BODY = 20, 1024  # WhatsApp's limits for a button title and the text above
DEFAULT_LOCALE = "id"
DEFAULT_WORKERS = 10  # requests' own pool size per host


def render(reply: Reply) -> str:
    """The text with its choices as numbered lines under "Balas dengan angka:", answerable by number or by label."""
    if not reply.choices:
        return reply.text
    header = translate(reply.locale or DEFAULT_LOCALE, "whatsapp.reply_with_number")
    lines = [reply.text, "", header, *(f"{number}. {choice.label}" for number, choice in enumerate(reply.choices, 1))]
    return "\n".join(lines)


class WhatsAppTransport:
    """Sends session messages from one WhatsApp sender number.

    The twilio client is synchronous, so each request runs in a thread of the transport's own pool of
    `workers` (give it the sender's messages per second), with as many kept connections: sends the
    limiter lets go close together reach Twilio at once instead of queueing for asyncio's default
    executor (a handful of threads), which would make them arrive late and bunched, and so throttled,
    and none opens a connection only to drop it (requests keeps 10 per host)."""

    channel = CHANNEL

    def __init__(
        self, client: Client, sender: str, status_callback: str | None = None, public_base_url: str | None = None,
        media_key: str | None = None, quick_replies: Mapping[str, str] | None = None,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.client = client
        workers = max(1, workers)
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="twilio")
        _pool_connections(client, workers)
        self.sender = sender
        self.status_callback = status_callback  # where Twilio reports delivery (our /whatsapp/status)
        self.public_base_url = public_base_url  # where Twilio fetches our attachments (the web process)
        self.media_key = media_key  # signs attachment URLs
        self.quick_replies = dict(quick_replies or {})  # number of choices → Content SID of a quick reply

    async def send(self, address: str, reply: Reply) -> str | None:
        """Session text (split when long), or the template the sender chose for a closed window."""
        if reply.template is not None:
            variables = json.dumps(reply.template.variables, ensure_ascii=False)
            return await self._run(address, content_sid=reply.template.sid, content_variables=variables)
        quick = self._quick_reply(reply)
        if quick is not None:
            return await self._run(address, **quick)
        media = reply.held_photo(CHANNEL) or self._attachment_url(reply)
        if media is not None and len(render(reply)) <= MAX_BODY:
            return await self._run(address, body=render(reply), media_url=[media])
        sid = None
        for piece in split_text(render(reply), MAX_BODY):
            sid = await self._run(address, body=piece)
        return sid

    def close(self) -> None:
        """Let the pool's threads go once their requests are done."""
        self._executor.shutdown(wait=False)

    async def _run(self, address: str, **content: str | list[str]) -> str:
        """`_create` in one of the transport's threads."""
        call = functools.partial(self._create, address, **content)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def _create(self, address: str, **content: str | list[str]) -> str:
        try:
            message = self.client.messages.create(
                from_=PREFIX + self.sender, to=PREFIX + address, **content, **self._callback()
            )
        except TwilioRestException as exc:
            if exc.status == 429 or exc.code == TOO_MANY_REQUESTS:
                raise Throttled(1.0) from exc
            if exc.code == OPTED_OUT:
                raise OptedOut(f"twilio {exc.code}") from exc
            if exc.code == OUTSIDE_WINDOW:
                raise OutsideWindow(f"twilio {exc.code}") from exc
            if exc.status >= 500:
                raise Transient(f"twilio {exc.status}") from exc
            raise Permanent(f"twilio {exc.code or exc.status}") from exc
        except TwilioException as exc:
            raise Transient(type(exc).__name__) from exc
        return str(message.sid)

    def _quick_reply(self, reply: Reply) -> dict[str, str] | None:
        """The choices as quick-reply buttons, when a Content template for that many is configured and
        every label fits a button: variables {{1}} the text, then each button's title and id (its key)."""
        sid = self.quick_replies.get(str(len(reply.choices)))
        if (sid is None or reply.document or reply.image or len(reply.text) > QUICK_REPLY_BODY
                or any(len(choice.label) > QUICK_REPLY_TITLE for choice in reply.choices)):
            return None
        variables = {"1": reply.text}
        for index, choice in enumerate(reply.choices):
            variables[str(2 * index + 2)], variables[str(2 * index + 3)] = choice.label, choice.key
        return {"content_sid": sid, "content_variables": json.dumps(variables, ensure_ascii=False)}

    def _attachment_url(self, reply: Reply) -> str | None:
        """Where Twilio can fetch the reply's document or image (None: no attachment, or no public URL)."""
        attachment = reply.document or reply.image
        if attachment is None or reply.row_id is None or not (self.public_base_url and self.media_key):
            return None
        return media_url(self.public_base_url, self.media_key, reply.row_id, attachment.filename)

    def _callback(self) -> dict[str, str]:
        return {"status_callback": self.status_callback} if self.status_callback else {}


def _pool_connections(client: Client, size: int) -> None:
    """Keep up to `size` connections per host in the twilio client's session (for http:// too: a local
    fake or proxy), one for each of the transport's threads."""
    http = client.http_client
    if isinstance(http, TwilioHttpClient) and http.session is not None:
        for prefix in ("https://", "http://"):
            http.session.mount(prefix, HTTPAdapter(pool_maxsize=size))
