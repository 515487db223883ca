"""A fake Telegram Bot API served on 127.0.0.1 by uvicorn from a background thread."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import math
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.waiting import Waiting, max_in_any_window

JSON = dict[str, Any]

BOT_USERNAME = "ksbb_test_bot"
SEND_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "editMessageText", "editMessageReplyMarkup"}
)
# Parameters whose form value is a plain string; every other form value is JSON-encoded by PTB.
TEXT_PARAMS = frozenset(
    {"text", "caption", "parse_mode", "callback_query_id", "inline_message_id", "url",
     "secret_token", "language_code", "photo", "document", "file_id", "action"}
)
BLOCKED = "Forbidden: bot was blocked by the user"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup"
    " are exactly the same as a current content and reply markup of the message"
)
MAX_TEXT, MAX_CAPTION, MAX_CALLBACK_DATA = 4096, 1024, 64


class ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(
        self, status: int, description: str | None = None, parameters: JSON | None = None
    ) -> None:
        self.status = status
        self.description = description or HTTPStatus(status).phrase
        self.parameters = parameters
        super().__init__(self.description)

    def body(self) -> JSON:
        """The JSON body Telegram answers with."""
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(reason: str) -> ApiError:
    """A 400 answer with Telegram's "Bad Request: ..." description."""
    return ApiError(400, f"Bad Request: {reason}")


@dataclass(frozen=True)
class Upload:
    """A file uploaded in a multipart request (or registered by a test)."""

    filename: str | None
    content: bytes
    content_type: str | None = None


@dataclass
class Call:
    """One request the fake answered, with its parsed parameters and outcome."""

    method: str
    token: str
    params: JSON
    files: dict[str, Upload]
    monotonic: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)
    status: int = 200
    result: Any = None
    error: JSON | None = None

    @property
    def ok(self) -> bool:
        """Whether the fake answered 200."""
        return self.status == 200

    @property
    def chat_id(self) -> Any:
        """The chat_id parameter (int when numeric)."""
        return _chat_key(self.params.get("chat_id"))

    @property
    def text(self) -> str | None:
        """The text, or the caption of a media message."""
        return self.params.get("text", self.params.get("caption"))

    @property
    def reply_markup(self) -> JSON | None:
        """The parsed reply_markup parameter."""
        return self.params.get("reply_markup")

    @property
    def photo(self) -> bytes | None:
        """Bytes of an uploaded photo."""
        return _content(self.files.get("photo"))

    @property
    def document(self) -> bytes | None:
        """Bytes of an uploaded document."""
        return _content(self.files.get("document"))

    @property
    def filename(self) -> str | None:
        """File name of the uploaded photo or document."""
        upload = self.files.get("document") or self.files.get("photo")
        return upload.filename if upload else None

    @property
    def message_id(self) -> int | None:
        """message_id of the Message the fake returned."""
        return self.result.get("message_id") if isinstance(self.result, dict) else None


def _content(upload: Upload | None) -> bytes | None:
    """The bytes of an upload, if any."""
    return upload.content if upload else None


def _chat_key(chat_id: Any) -> Any:
    """A chat id as int when numeric, so form, JSON and test values compare equal."""
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return chat_id


class TelegramLimits:
    """Telegram's send limits: N per sliding second overall, token bucket per chat."""

    def __init__(
        self,
        global_per_second: int | None = 30,
        chat_burst: int | None = 3,
        chat_per_second: float | None = 1.0,
    ) -> None:
        self.global_per_second = global_per_second
        self.chat_burst = chat_burst
        self.chat_per_second = chat_per_second
        self._recent: deque[float] = deque()
        self._buckets: dict[Any, tuple[float, float]] = {}

    def wait(self, chat: Any, now: float) -> float:
        """Seconds until a send to `chat` would be allowed; 0 if allowed now."""
        return max(self._global_wait(now), self._chat_wait(chat, now))

    def consume(self, chat: Any, now: float) -> None:
        """Record an admitted send at `now`."""
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        self._recent.append(now)
        if self._chat_enabled():
            self._buckets[chat] = (self._tokens(chat, now) - 1.0, now)

    def retry_after(self, chat: Any, now: float) -> int | None:
        """Telegram's integer retry_after (>= 1) if a send now must be refused, else None."""
        wait = self.wait(chat, now)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def _global_wait(self, now: float) -> float:
        """Seconds until the sliding window (now - 1 s, now] has room."""
        limit = self.global_per_second
        recent = [t for t in self._recent if t > now - 1.0]
        if not limit or len(recent) < limit:
            return 0.0
        return recent[-limit] + 1.0 - now

    def _chat_enabled(self) -> bool:
        """Whether the per-chat rule is on."""
        return bool(self.chat_burst and self.chat_per_second)

    def _tokens(self, chat: Any, now: float) -> float:
        """Tokens in the chat's bucket at `now`."""
        assert self.chat_burst and self.chat_per_second
        tokens, updated = self._buckets.get(chat, (float(self.chat_burst), now))
        return min(float(self.chat_burst), tokens + (now - updated) * self.chat_per_second)

    def _chat_wait(self, chat: Any, now: float) -> float:
        """Seconds until the chat's bucket holds a token."""
        if not self._chat_enabled():
            return 0.0
        tokens = self._tokens(chat, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / float(self.chat_per_second or 1)


class _LimitSetting:
    """Exposes a TelegramLimits setting as a FakeBotAPI attribute."""

    def __set_name__(self, owner: type, name: str) -> None:
        """Remember which setting this is."""
        self.name = name

    def __get__(self, obj: FakeBotAPI | None, owner: type | None = None) -> Any:
        """Read the setting from obj.limits."""
        return self if obj is None else getattr(obj.limits, self.name)

    def __set__(self, obj: FakeBotAPI, value: Any) -> None:
        """Change the setting on obj.limits (takes effect on the next request)."""
        setattr(obj.limits, self.name, value)


def user_json(user_id: int) -> JSON:
    """A Telegram User object for a human."""
    return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}",
            "username": f"user{user_id}", "language_code": "id"}


def chat_json(chat_id: int, chat_type: str | None = None) -> JSON:
    """A Telegram Chat object; private for positive ids unless told otherwise."""
    chat_type = chat_type or ("private" if chat_id > 0 else "supergroup")
    if chat_type == "private":
        return {"id": chat_id, "type": chat_type, "first_name": f"User{chat_id}"}
    return {"id": chat_id, "type": chat_type, "title": f"Chat {chat_id}"}


def _utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts."""
    return len(text.encode("utf-16-le")) // 2


def _decode(key: str, value: str) -> Any:
    """Decode a form value the way PTB encoded it (JSON unless it is a plain string)."""
    if key in TEXT_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def read_params(request: Request) -> tuple[JSON, dict[str, Upload]]:
    """Parameters and uploads from the query string and a form, multipart or JSON body."""
    params: JSON = {k: _decode(k, v) for k, v in request.query_params.items()}
    files: dict[str, Upload] = {}
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        body = await request.body()
        try:
            params.update(json.loads(body) if body else {})
        except (ValueError, TypeError):
            raise bad_request("can't parse JSON") from None
    elif ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        async with request.form() as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    files[key] = Upload(value.filename, await value.read(), value.content_type)
                else:
                    params[key] = _decode(key, value)
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
            files[key] = files.pop(value[9:])
            del params[key]
    return params, files


class FakeBotAPI(Waiting):
    """A fake Telegram Bot API on 127.0.0.1 with Telegram's limits, errors and long polling."""

    global_per_second = _LimitSetting()
    chat_burst = _LimitSetting()
    chat_per_second = _LimitSetting()

    def __init__(
        self,
        *,
        token: str | None = None,
        latency: float = 0.0,
        global_per_second: int | None = 30,
        chat_burst: int | None = 3,
        chat_per_second: float | None = 1.0,
        max_poll_timeout: float = 1.0,
        bot_id: int = 7_000_000_001,
    ) -> None:
        self.token = token
        self.latency = latency
        self.limits = TelegramLimits(global_per_second, chat_burst, chat_per_second)
        self.max_poll_timeout = max_poll_timeout
        self.bot_user: JSON = {"id": bot_id, "is_bot": True, "first_name": "KSBB Test Bot",
                               "username": BOT_USERNAME, "can_join_groups": True,
                               "can_read_all_group_messages": False,
                               "supports_inline_queries": False}
        self.port = 0
        self._lock = threading.RLock()
        self._in_flight = 0
        self.reset()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._handlers: dict[str, Callable[[Call], Any]] = {
            "getMe": lambda call: self.bot_user,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "editMessageText": self._edit_message,
            "editMessageReplyMarkup": self._edit_message,
            "answerCallbackQuery": lambda call: True,
            "sendChatAction": lambda call: True,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": lambda call: self.commands.get(self._commands_key(call), []),
            "deleteMyCommands": self._delete_my_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._webhook_info,
            "getFile": self._get_file,
        }
        self._canonical = {name.lower(): name for name in [*self._handlers, "getUpdates"]}

    # ----- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Value for telegram.Bot(base_url=...); PTB appends the token."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for telegram.Bot(base_file_url=...)."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    def start(self) -> FakeBotAPI:
        """Serve on a free port of 127.0.0.1 from a background thread; return self."""
        # IPPROTO_TCP (not 0) so asyncio sets TCP_NODELAY on accepted connections;
        # without it every answer on a kept-alive connection waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(), log_config=None, log_level="warning",
                                access_log=False, lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True,
                                        name=f"FakeBotAPI:{self.port}")
        self._thread.start()
        deadline = time.monotonic() + 30  # a hang guard: uvicorn did not start
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("FakeBotAPI did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Shut the server down and join its thread."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
        self._server = self._thread = None

    def __enter__(self) -> FakeBotAPI:
        """Start serving."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop serving."""
        self.stop()

    def _serve(self, sock: socket.socket) -> None:
        """Thread body: run uvicorn in a fresh event loop."""
        asyncio.run(self._main(sock))

    async def _main(self, sock: socket.socket) -> None:
        """Remember the loop for wake-ups, then serve."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        assert self._server is not None
        try:
            await self._server.serve(sockets=[sock])
        finally:
            self._loop = None

    def _app(self) -> Starlette:
        """The Starlette app with the Bot API and file download routes."""
        return Starlette(routes=[
            Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
            Route("/file/bot{token}/{path:path}", self._download, methods=["GET"]),
        ])

    # ----- behaviour controls ----------------------------------------------------------------

    def unlimited(self) -> FakeBotAPI:
        """Disable all rate limits; return self."""
        self.global_per_second = self.chat_burst = self.chat_per_second = None
        return self

    def reset(self) -> None:
        """Return to a freshly started state (records, updates, ids, limiter); keep settings."""
        with self._lock:
            self.limits = TelegramLimits(
                self.global_per_second, self.chat_burst, self.chat_per_second)
            self.calls: Counter[str] = Counter()
            self.tokens_seen: set[str] = set()
            self.count_429 = 0
            self.count_403 = 0
            self.max_in_flight = self._in_flight  # most calls (getUpdates aside) being answered at once
            self._hold_expected: int | None = None
            self.sends_arrived = 0  # sends that reached the hold (counted while hold_each_send_until_the_next is on)
            self.received_offsets: list[int | None] = []
            self.confirmed_update_id = 0
            self.webhook_url = ""
            self.commands: dict[str, list[JSON]] = {}
            self._log: list[Call] = []
            self._pending: list[JSON] = []
            self._redelivery: list[JSON] = []
            self._history: dict[int, JSON] = {}
            self._last_update_id = 0
            self._message_ids: Counter[Any] = Counter()
            self._messages: dict[tuple[Any, int], JSON] = {}
            self._last_bot_message: dict[Any, int] = {}
            self._files: dict[str, Upload] = {}
            self._ids = itertools.count(1)
            self._blocked: set[Any] = set()
            self._failures: dict[str, deque[ApiError]] = {}

    def block(self, chat_id: int) -> None:
        """Sends to this chat answer 403 "bot was blocked by the user"."""
        with self._lock:
            self._blocked.add(_chat_key(chat_id))

    def unblock(self, chat_id: int) -> None:
        """Undo block()."""
        with self._lock:
            self._blocked.discard(_chat_key(chat_id))

    def fail_next(self, method: str, count: int = 1, status: int = 500,
                  description: str | None = None, parameters: JSON | None = None) -> None:
        """Make the next `count` calls of `method` fail with `status`."""
        error = ApiError(status, description, parameters)
        with self._lock:
            self._failures.setdefault(method, deque()).extend([error] * count)

    # ----- updates ---------------------------------------------------------------------------

    def push_update(self, update: JSON) -> int:
        """Queue an update for getUpdates; assign the next update_id if missing; return it."""
        with self._lock:
            update = dict(update)
            uid = int(update.setdefault(
                "update_id", max(self._last_update_id, self.confirmed_update_id) + 1))
            self._last_update_id = max(self._last_update_id, uid)
            self._history[uid] = update
            bisect.insort(self._pending, update, key=lambda u: u["update_id"])
        self._notify()
        return uid

    def redeliver(self, update_id: int) -> None:
        """Deliver an already confirmed update once more, as Telegram sometimes does."""
        with self._lock:
            update = self._history[update_id]
            if update_id <= self.confirmed_update_id and update not in self._redelivery:
                self._redelivery.append(update)
        self._notify()

    @property
    def pending_update_ids(self) -> list[int]:
        """update_ids waiting to be confirmed."""
        with self._lock:
            return [u["update_id"] for u in self._pending]

    def _notify(self) -> None:
        """Wake long-polling getUpdates calls (thread-safe)."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._wake_pollers)
        except RuntimeError:  # loop closed while stopping
            pass

    def _wake_pollers(self) -> None:
        """Set the current wake event and replace it (runs in the server loop)."""
        assert self._wake is not None
        self._wake.set()
        self._wake = asyncio.Event()

    def _confirm(self, offset: int) -> None:
        """Forget updates confirmed by `offset`, like Telegram (negative keeps the last -offset)."""
        if offset < 0:
            forgotten, self._pending = self._pending[:offset], self._pending[offset:]
            ids = [u["update_id"] for u in forgotten]
        else:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
            ids = [offset - 1]
        self.confirmed_update_id = max([self.confirmed_update_id, *ids])

    def _take(self, limit: int) -> list[JSON]:
        """Up to `limit` updates to answer with; redeliveries go out once."""
        extra, self._redelivery = self._redelivery[:limit], self._redelivery[limit:]
        batch = extra + self._pending[: limit - len(extra)]
        return sorted(batch, key=lambda u: u["update_id"])

    async def _get_updates(self, call: Call) -> list[JSON]:
        """getUpdates with offset, limit and real long polling (capped at max_poll_timeout)."""
        params = call.params
        offset = params.get("offset")
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = min(float(params.get("timeout") or 0), self.max_poll_timeout)
        with self._lock:
            if self.webhook_url:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                                    "active; use deleteWebhook to delete the webhook first")
            self.received_offsets.append(offset)
            if offset is not None:
                self._confirm(int(offset))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            wake = self._wake
            assert wake is not None
            with self._lock:
                batch = self._take(limit)
            remaining = deadline - loop.time()
            if batch or remaining <= 0:
                return batch
            try:
                await asyncio.wait_for(wake.wait(), remaining)
            except TimeoutError:
                pass

    # ----- update builders (return dicts; pass them to push_update) -------------------------

    def _next_message_id(self, chat_id: Any) -> int:
        """The next message_id in a chat (shared by both directions, like Telegram)."""
        with self._lock:
            self._message_ids[_chat_key(chat_id)] += 1
            return self._message_ids[_chat_key(chat_id)]

    def message_update(self, user_id: int, text: str | None = None, chat_id: int | None = None,
                       chat_type: str = "private", **extra: Any) -> JSON:
        """An update with a message from a user; `extra` adds or overrides message fields."""
        chat_id = user_id if chat_id is None else chat_id
        message: JSON = {"message_id": self._next_message_id(chat_id), "from": user_json(user_id),
                         "chat": chat_json(chat_id, chat_type), "date": int(time.time())}
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                length = len(text.split()[0]) if text.split() else 1
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        message.update(extra)
        return {"message": message}

    def photo_update(self, user_id: int, content: bytes = b"\xff\xd8\xff\xe0fake-jpeg",
                     caption: str | None = None, **extra: Any) -> JSON:
        """A photo message (two sizes of one downloadable file)."""
        file_id = self.add_file(content, "photo.jpg")
        sizes = [{"file_id": file_id, "file_unique_id": f"u{file_id}", "width": w, "height": w,
                  "file_size": len(content)} for w in (90, 800)]
        if caption is not None:
            extra["caption"] = caption
        return self.message_update(user_id, photo=sizes, **extra)

    def sticker_update(self, user_id: int, emoji: str = "👍", **extra: Any) -> JSON:
        """A sticker message."""
        file_id = self.add_file(b"RIFF-fake-webp", "sticker.webp")
        sticker = {"file_id": file_id, "file_unique_id": f"u{file_id}", "type": "regular",
                   "width": 512, "height": 512, "is_animated": False, "is_video": False,
                   "emoji": emoji}
        return self.message_update(user_id, sticker=sticker, **extra)

    def voice_update(self, user_id: int, content: bytes = b"OggS-fake-voice", duration: int = 2,
                     **extra: Any) -> JSON:
        """A voice note message."""
        file_id = self.add_file(content, "voice.ogg")
        voice = {"file_id": file_id, "file_unique_id": f"u{file_id}", "duration": duration,
                 "mime_type": "audio/ogg", "file_size": len(content)}
        return self.message_update(user_id, voice=voice, **extra)

    def contact_update(self, user_id: int, phone_number: str, first_name: str = "Contact",
                       own: bool = True, **extra: Any) -> JSON:
        """A shared contact; `own` marks it as the sender's own (request_contact button)."""
        contact: JSON = {"phone_number": phone_number, "first_name": first_name}
        if own:
            contact["user_id"] = user_id
        return self.message_update(user_id, contact=contact, **extra)

    def location_update(self, user_id: int, latitude: float, longitude: float,
                        **extra: Any) -> JSON:
        """A shared location."""
        location = {"latitude": latitude, "longitude": longitude}
        return self.message_update(user_id, location=location, **extra)

    def callback_update(self, user_id: int, data: str, message_id: int | None = None,
                        chat_id: int | None = None, **extra: Any) -> JSON:
        """A button press on a bot message (by default the last one the bot sent to the chat)."""
        chat_id = user_id if chat_id is None else chat_id
        with self._lock:
            message_id = message_id or self._last_bot_message.get(chat_id)
            message = self._messages.get((chat_id, message_id or 0))
            query_id = str(next(self._ids))
        if message is None:
            message = {"message_id": message_id or self._next_message_id(chat_id),
                       "from": self.bot_user, "chat": chat_json(chat_id),
                       "date": int(time.time()), "text": "..."}
        query = {"id": query_id, "from": user_json(user_id), "chat_instance": f"ci{chat_id}",
                 "data": data, "message": message, **extra}
        return {"callback_query": query}

    def add_file(self, content: bytes, filename: str | None = None) -> str:
        """Register downloadable file content; return its file_id."""
        with self._lock:
            file_id = f"file{next(self._ids)}"
            self._files[file_id] = Upload(filename, content)
        return file_id

    # ----- records ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[Call]:
        """Every request answered, in order."""
        with self._lock:
            return list(self._log)

    @property
    def sent(self) -> list[Call]:
        """Every message-sending request (successful or not), in order."""
        with self._lock:
            return [c for c in self._log if c.method in SEND_METHODS]

    @property
    def delivered(self) -> list[Call]:
        """Successful message-sending requests."""
        return [c for c in self.sent if c.ok]

    def sent_to(self, chat_id: int, include_failed: bool = False) -> list[Call]:
        """Sends to one chat; only successful ones unless include_failed."""
        key = _chat_key(chat_id)
        return [c for c in self.sent if c.chat_id == key and (include_failed or c.ok)]

    def max_in_any_window(self, seconds: float = 1.0) -> int:
        """The most successful sends within any sliding window of `seconds`."""
        return max_in_any_window((c.monotonic for c in self.delivered), seconds)

    # ----- request handling ------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        """Answer one Bot API call."""
        method = request.path_params["method"]
        call = Call(self._canonical.get(method.lower(), method), request.path_params["token"],
                    {}, {})
        counted = call.method != "getUpdates"
        with self._lock:
            self._in_flight += counted
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            call.params, call.files = await read_params(request)
            if call.method in SEND_METHODS:
                await self._hold_send()
            if self.latency:
                await asyncio.sleep(self.latency)
            call.monotonic, call.wall = time.monotonic(), time.time()
            call.result = await self._dispatch(call)
        except ApiError as err:
            call.status, call.error = err.status, err.body()
        finally:
            with self._lock:
                self._in_flight -= counted
        self._record(call)
        return JSONResponse(call.error or {"ok": True, "result": call.result},
                            status_code=call.status)

    def hold_each_send_until_the_next(self, expected: int | None) -> None:
        """Answer each send only once a later send has arrived (from the `expected`-th on, at once): a
        client that waits for an answer before its next send is never answered, and its test's hang guard
        fails it, however loaded the machine. None turns this off; so does reset()."""
        with self._lock:
            self._hold_expected, self.sends_arrived = expected, 0

    async def _hold_send(self) -> None:
        with self._lock:
            if not self._hold_expected:
                return
            self.sends_arrived += 1
            index = self.sends_arrived
        while self._hold_expected and self.sends_arrived == index < self._hold_expected:
            await asyncio.sleep(0.002)

    async def _dispatch(self, call: Call) -> Any:
        """Check token, injected failures and limits, then run the method."""
        if self.token is not None and call.token != self.token:
            raise ApiError(401, "Unauthorized")
        with self._lock:
            failures = self._failures.get(call.method)
            if failures:
                raise failures.popleft()
        if call.method == "getUpdates":
            return await self._get_updates(call)
        handler = self._handlers.get(call.method)
        if handler is None:
            raise ApiError(404, "Not Found")
        with self._lock:
            if call.method in SEND_METHODS:
                self._validate_send(call)
                self._admit(call)
            return handler(call)

    def _record(self, call: Call) -> None:
        """Store the call and update counters."""
        with self._lock:
            self._log.append(call)
            self.calls[call.method] += 1
            self.tokens_seen.add(call.token)
            self.count_429 += call.status == 429
            self.count_403 += call.status == 403

    def _admit(self, call: Call) -> None:
        """Refuse sends to blocked chats or beyond the limits; otherwise take capacity."""
        chat = call.chat_id
        if chat in self._blocked:
            raise ApiError(403, BLOCKED)
        retry_after = self.limits.retry_after(chat, call.monotonic)
        if retry_after is not None:
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}",
                           {"retry_after": retry_after})
        self.limits.consume(chat, call.monotonic)

    def _validate_send(self, call: Call) -> None:
        """Reject malformed sends with Telegram's 400 descriptions (before any capacity is used)."""
        params = call.params
        if "inline_message_id" not in params:
            if params.get("chat_id") in (None, ""):
                raise bad_request("chat_id is empty")
            if not isinstance(call.chat_id, int):
                raise bad_request("chat not found")
        text, caption = params.get("text"), params.get("caption")
        if call.method in ("sendMessage", "editMessageText"):
            if not text:
                raise bad_request("message text is empty")
            if _utf16_len(text) > MAX_TEXT:
                raise bad_request("message is too long")
        if caption and _utf16_len(caption) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        for kind in ("photo", "document"):
            if call.method == f"send{kind.title()}" and not (params.get(kind) or kind in call.files):
                raise bad_request(f"there is no {kind} in the request")
        self._validate_markup(params.get("reply_markup"))
        if call.method.startswith("editMessage"):
            self._validate_edit(call)

    @staticmethod
    def _validate_markup(markup: Any) -> None:
        """Reject inline buttons whose callback_data exceeds 64 bytes."""
        for row in (markup or {}).get("inline_keyboard", []) if isinstance(markup, dict) else []:
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                    raise bad_request("BUTTON_DATA_INVALID")

    def _validate_edit(self, call: Call) -> None:
        """Refuse edits that change nothing, like Telegram."""
        params = call.params
        if "inline_message_id" in params:
            return
        if "message_id" not in params:
            raise bad_request("message identifier is not specified")
        old = self._messages.get((call.chat_id, int(params["message_id"])))
        if old is None:
            return
        same_text = call.method != "editMessageText" or params.get("text") == old.get("text")
        if same_text and _inline(params.get("reply_markup")) == old.get("reply_markup"):
            raise bad_request(NOT_MODIFIED)

    # ----- methods ---------------------------------------------------------------------------

    def _new_message(self, call: Call, **content: Any) -> JSON:
        """Store and return a Message the bot sent."""
        chat = call.chat_id
        message: JSON = {"message_id": self._next_message_id(chat), "from": self.bot_user,
                         "chat": chat_json(chat), "date": int(time.time()), **content}
        if (markup := _inline(call.params.get("reply_markup"))) is not None:
            message["reply_markup"] = markup
        self._messages[(chat, message["message_id"])] = message
        self._last_bot_message[chat] = message["message_id"]
        return message

    def _send_message(self, call: Call) -> JSON:
        """sendMessage."""
        return self._new_message(call, text=call.params["text"])

    def _file_json(self, call: Call, kind: str) -> JSON:
        """Store an uploaded (or referenced) file; return file_id fields."""
        upload = call.files.get(kind)
        if upload is None:
            file_id = str(call.params[kind])
            return {"file_id": file_id, "file_unique_id": f"u{file_id}"}
        file_id = f"file{next(self._ids)}"
        self._files[file_id] = upload
        return {"file_id": file_id, "file_unique_id": f"u{file_id}",
                "file_size": len(upload.content)}

    def _caption(self, call: Call) -> JSON:
        """The caption field, if any."""
        caption = call.params.get("caption")
        return {"caption": caption} if caption else {}

    def _send_photo(self, call: Call) -> JSON:
        """sendPhoto."""
        meta = self._file_json(call, "photo")
        sizes = [{**meta, "width": w, "height": w} for w in (90, 800)]
        return self._new_message(call, photo=sizes, **self._caption(call))

    def _send_document(self, call: Call) -> JSON:
        """sendDocument."""
        upload = call.files.get("document")
        document = self._file_json(call, "document")
        if upload is not None:
            document |= {"file_name": upload.filename,
                         "mime_type": upload.content_type or "application/octet-stream"}
        return self._new_message(call, document=document, **self._caption(call))

    def _edit_message(self, call: Call) -> JSON | bool:
        """editMessageText / editMessageReplyMarkup: return the edited Message."""
        params = call.params
        if "inline_message_id" in params:
            return True
        chat, message_id = call.chat_id, int(params["message_id"])
        old = self._messages.get((chat, message_id)) or {
            "message_id": message_id, "from": self.bot_user, "chat": chat_json(chat),
            "date": int(time.time()), "text": "..."}
        message = {k: v for k, v in old.items() if k != "reply_markup"}
        message["edit_date"] = int(time.time())
        if call.method == "editMessageText":
            message["text"] = params["text"]
        if (markup := _inline(params.get("reply_markup"))) is not None:
            message["reply_markup"] = markup
        self._messages[(chat, message_id)] = message
        return message

    @staticmethod
    def _commands_key(call: Call) -> str:
        """Commands are stored per scope and language."""
        scope = call.params.get("scope") or {"type": "default"}
        return json.dumps([scope, call.params.get("language_code", "")], sort_keys=True)

    def _set_my_commands(self, call: Call) -> bool:
        """setMyCommands."""
        self.commands[self._commands_key(call)] = list(call.params.get("commands") or [])
        return True

    def _delete_my_commands(self, call: Call) -> bool:
        """deleteMyCommands."""
        self.commands.pop(self._commands_key(call), None)
        return True

    def _set_webhook(self, call: Call) -> bool:
        """setWebhook."""
        self.webhook_url = str(call.params.get("url") or "")
        return True

    def _delete_webhook(self, call: Call) -> bool:
        """deleteWebhook, honouring drop_pending_updates."""
        self.webhook_url = ""
        if call.params.get("drop_pending_updates") and self._pending:
            self._confirm(self._pending[-1]["update_id"] + 1)
        return True

    def _webhook_info(self, call: Call) -> JSON:
        """getWebhookInfo."""
        return {"url": self.webhook_url, "has_custom_certificate": False,
                "pending_update_count": len(self._pending)}

    def _get_file(self, call: Call) -> JSON:
        """getFile for files uploaded or registered with add_file."""
        file_id = str(call.params.get("file_id"))
        upload = self._files.get(file_id)
        if upload is None:
            raise bad_request("invalid file_id")
        return {"file_id": file_id, "file_unique_id": f"u{file_id}",
                "file_size": len(upload.content), "file_path": f"files/{file_id}"}

    async def _download(self, request: Request) -> Response:
        """Serve file content at base_file_url/<token>/files/<file_id>."""
        token, path = request.path_params["token"], request.path_params["path"]
        with self._lock:
            upload = self._files.get(path.removeprefix("files/"))
        if upload is None or (self.token is not None and token != self.token):
            return JSONResponse(ApiError(404, "Not Found").body(), status_code=404)
        return Response(upload.content, media_type=upload.content_type)


def _inline(markup: Any) -> JSON | None:
    """The markup if it is an inline keyboard (the only kind Telegram echoes in a Message)."""
    return markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
