"""A fake of Twilio's Messages REST API (WhatsApp), served on 127.0.0.1 by uvicorn.

Pointing the official ``twilio`` library at it (verified against twilio 9.13)::

    from twilio.rest import Client

    client = Client(fake.account_sid, fake.auth_token)
    client.api.base_url = fake.base_url          # "http://127.0.0.1:<port>"
    client.messages.create(to="whatsapp:+628...", from_="whatsapp:+1...", body="Halo")

``client.messages`` is ``client.api.account.messages``; every URL it builds is
``client.api.base_url + "/2010-04-01/Accounts/<sid>/Messages.json"`` (Domain.absolute_url).
Leave ``edge``/``region`` (and the TWILIO_EDGE / TWILIO_REGION environment variables) unset:
when either is set, ``ClientBase.get_hostname`` rewrites the host name and the URL no longer
points at 127.0.0.1.

Only ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` is served. ``StatusCallback`` is
recorded but never called back.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.waiting import Waiting, max_in_any_window

JSON = dict[str, Any]

API_VERSION = "2010-04-01"
ACCOUNT_SID, AUTH_TOKEN = "AC" + "0" * 32, "test-auth-token"  # what the fake accepts unless told otherwise
WINDOW_MESSAGE = ("Failed to send freeform message because you are outside the allowed window."
                  " Please use a Template.")
OPTED_OUT_MESSAGE = "Attempt to send to unsubscribed recipient"


class TwilioError(Exception):
    """An error answer of the Twilio REST API (legacy error format the library parses)."""

    def __init__(self, status: int, code: int, message: str | None = None) -> None:
        self.status, self.code = status, code
        self.message = message or HTTPStatus(status).phrase
        super().__init__(self.message)

    def body(self) -> JSON:
        """The JSON body Twilio answers with."""
        return {"code": self.code, "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
                "status": self.status}


def number_key(number: str | None) -> str:
    """A number without its channel prefix, so 'whatsapp:+62…' and '+62…' compare equal."""
    return (number or "").strip().removeprefix("whatsapp:")


_monotonic, _wall_clock = time.monotonic, time.time  # the field named `time` shadows the module


@dataclass
class SentMessage:
    """One create request the fake answered, with its form fields and outcome."""

    to: str | None
    from_: str | None
    body: str | None
    content_sid: str | None
    content_variables: JSON | None
    status_callback: str | None = None
    media_url: str | None = None
    time: float = field(default_factory=_monotonic)  # time.monotonic() when answered
    wall: float = field(default_factory=_wall_clock)
    status: int = 201
    sid: str | None = None
    error: JSON | None = None

    @property
    def ok(self) -> bool:
        """Whether the fake answered 201 (message accepted)."""
        return self.status == 201

    @property
    def error_code(self) -> int | None:
        """Twilio's error code of a refused request."""
        return self.error["code"] if self.error else None


class SenderLimit:
    """At most `per_second` admitted messages per sender within any sliding second."""

    def __init__(self, per_second: int | None) -> None:
        self.per_second = per_second
        self._recent: dict[str, deque[float]] = {}

    def admit(self, sender: str, now: float) -> bool:
        """Take capacity for one message from `sender` at `now`; False if the window is full."""
        recent = self._recent.setdefault(sender, deque())
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        if self.per_second is not None and len(recent) >= self.per_second:
            return False
        recent.append(now)
        return True


class FakeTwilioAPI(Waiting):
    """A fake Twilio Messages API on 127.0.0.1 with auth, per-sender limits and WhatsApp errors."""

    def __init__(
        self,
        *,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        messages_per_second: int | None = 80,
        latency: float = 0.0,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.latency = latency
        self.limit = SenderLimit(messages_per_second)
        self.port = 0
        self._lock = threading.RLock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._in_flight = 0
        self.reset()

    @property
    def messages_per_second(self) -> int | None:
        """Per-sender limit (None disables it)."""
        return self.limit.per_second

    @messages_per_second.setter
    def messages_per_second(self, value: int | None) -> None:
        self.limit.per_second = value

    def reset(self) -> None:
        """Forget records, injected failures, window/opt-out marks and rate-limit history."""
        with self._lock:
            self._log: list[SentMessage] = []
            self._failures: deque[TwilioError] = deque()
            self._outside: set[str] = set()
            self._opted_out: set[str] = set()
            self.limit = SenderLimit(self.limit.per_second)
            self.count_429 = 0
            self.max_in_flight = self._in_flight  # most message creations being answered at once
            self.hold_until: int | None = None  # answer no creation until this many are in flight at once
            self._held, self._batch = 0, 0

    # ----- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Value for ``client.api.base_url``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Serve on a free port of 127.0.0.1 from a background thread; return self."""
        # IPPROTO_TCP so asyncio sets TCP_NODELAY (avoids ~40 ms delayed-ACK stalls).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route(f"/{API_VERSION}/Accounts/{{account}}/Messages.json",
                                      self._create, methods=["POST"])])
        config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=lambda: asyncio.run(
            self._server.serve(sockets=[sock])), daemon=True, name=f"FakeTwilioAPI:{self.port}")
        self._thread.start()
        deadline = time.monotonic() + 30  # a hang guard: uvicorn did not start
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("FakeTwilioAPI did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Shut the server down and join its thread."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        """Start serving."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop serving."""
        self.stop()

    # ----- test hooks ------------------------------------------------------------------------

    def outside_window(self, number: str, outside: bool = True) -> None:
        """Mark (or unmark) a recipient whose 24-hour session window is closed."""
        with self._lock:
            (self._outside.add if outside else self._outside.discard)(number_key(number))

    def opted_out(self, number: str, opted_out: bool = True) -> None:
        """Mark (or unmark) a recipient who unsubscribed (sends answer 400 / 21610)."""
        with self._lock:
            (self._opted_out.add if opted_out else self._opted_out.discard)(number_key(number))

    def fail_next(self, count: int = 1, status: int = 500, code: int | None = None,
                  message: str | None = None) -> None:
        """Answer the next `count` create requests with `status` (code 20000+status by default)."""
        with self._lock:
            for _ in range(count):
                self._failures.append(TwilioError(status, code or 20000 + status, message))

    # ----- records ---------------------------------------------------------------------------

    @property
    def sent(self) -> list[SentMessage]:
        """Every create request answered (successful or not), in order."""
        with self._lock:
            return list(self._log)

    @property
    def delivered(self) -> list[SentMessage]:
        """Accepted (201) messages."""
        return [m for m in self.sent if m.ok]

    def sent_to(self, number: str, include_failed: bool = False) -> list[SentMessage]:
        """Messages to one recipient ('whatsapp:' prefix optional); accepted only by default."""
        key = number_key(number)
        return [m for m in self.sent if number_key(m.to) == key and (include_failed or m.ok)]

    def max_in_any_window(self, sender: str | None = None, seconds: float = 1.0) -> int:
        """The most accepted messages (optionally from one sender) within any `seconds` window."""
        times = (m.time for m in self.delivered if sender is None or number_key(m.from_) == number_key(sender))
        return max_in_any_window(times, seconds)

    # ----- request handling ------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        """POST .../Accounts/{AccountSid}/Messages.json."""
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            await self._hold()
            return await self._answer_create(request)
        finally:
            with self._lock:
                self._in_flight -= 1

    async def _hold(self) -> None:
        """With `hold_until` set, keep requests until that many have arrived, then answer them together:
        a client that cannot have that many requests out at once is never answered (its test's hang
        guard fails it), whatever the machine's load."""
        with self._lock:
            if not self.hold_until:
                return
            batch, self._held = self._batch, self._held + 1
            if self._held >= self.hold_until:
                self._held, self._batch = 0, self._batch + 1
        while self.hold_until and self._batch == batch:
            await asyncio.sleep(0.002)

    async def _answer_create(self, request: Request) -> Response:
        async with request.form() as form:
            params = {k: v for k, v in form.items() if isinstance(v, str)}
        if self.latency:
            await asyncio.sleep(self.latency)
        message = SentMessage(params.get("To"), params.get("From"), params.get("Body"),
                              params.get("ContentSid"), None, params.get("StatusCallback"), params.get("MediaUrl"))
        try:
            self._authenticate(request)
            with self._lock:
                if self._failures:
                    raise self._failures.popleft()
                message.content_variables = _variables(params.get("ContentVariables"))
                self._validate(message)
                if not self.limit.admit(number_key(message.from_), message.time):
                    raise TwilioError(429, 20429, "Too Many Requests")
                message.sid = "SM" + secrets.token_hex(16)
        except TwilioError as err:
            message.status, message.error = err.status, err.body()
        with self._lock:
            self._log.append(message)
            self.count_429 += message.status == 429
        if message.error:
            return JSONResponse(message.error, status_code=message.status)
        return JSONResponse(self._resource(message), status_code=201)

    def _authenticate(self, request: Request) -> None:
        """HTTP basic auth with the account SID and auth token; path SID must match."""
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        if scheme.lower() != "basic" or (user, password) != (self.account_sid, self.auth_token):
            raise TwilioError(401, 20003, "Authenticate")
        if request.path_params["account"] != self.account_sid:
            raise TwilioError(404, 20404, f"The requested resource {request.url.path}"
                                          " was not found")

    def _validate(self, message: SentMessage) -> None:
        """Twilio's 400 answers for missing fields, opted-out recipients and closed windows."""
        if not message.to:
            raise TwilioError(400, 21604, "A 'To' phone number is required.")
        if not message.from_:
            raise TwilioError(400, 21603, "A 'From' phone number is required.")
        if not (message.body or message.content_sid):
            raise TwilioError(400, 21602, "Message body is required.")
        key = number_key(message.to)
        if key in self._opted_out:
            raise TwilioError(400, 21610, OPTED_OUT_MESSAGE)
        if key in self._outside and not message.content_sid:
            raise TwilioError(400, 63016, WINDOW_MESSAGE)

    def _resource(self, message: SentMessage) -> JSON:
        """The Message resource JSON Twilio answers a create with."""
        created = format_datetime(datetime.fromtimestamp(message.wall, UTC))
        body = message.body or ""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{message.sid}"
        return {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": body,
            "date_created": created, "date_sent": None, "date_updated": created,
            "direction": "outbound-api", "error_code": None, "error_message": None,
            "from": message.from_, "messaging_service_sid": None, "num_media": "0",
            "num_segments": str(max(1, -(-len(body) // 1600))), "price": None,
            "price_unit": "USD", "sid": message.sid, "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json",
                                 "feedback": f"{uri}/Feedback.json"},
            "to": message.to, "uri": f"{uri}.json",
        }


def _variables(raw: str | None) -> JSON | None:
    """Parse ContentVariables (a JSON object string); 400 / 21656 if it is not one."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise TwilioError(400, 21656, "The ContentVariables Parameter is invalid.")
    return value
