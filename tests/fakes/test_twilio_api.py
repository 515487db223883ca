"""Tests of the fake Twilio Messages API, driven by the official twilio library's Client."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.fakes.twilio_api import FakeTwilioAPI

SENDER = "whatsapp:+14155238886"
USER = "whatsapp:+6281234567890"
TEMPLATE = "HX" + "a" * 32


@pytest.fixture(scope="module")
def server() -> Iterator[FakeTwilioAPI]:
    """One running fake for the module."""
    with FakeTwilioAPI() as api:
        yield api


@pytest.fixture
def fake(server: FakeTwilioAPI) -> FakeTwilioAPI:
    """The shared fake, reset with default settings."""
    server.latency, server.messages_per_second = 0.0, 80
    server.reset()
    return server


def make_client(fake: FakeTwilioAPI, token: str | None = None) -> Client:
    """A real twilio Client pointed at the fake."""
    client = Client(fake.account_sid, token or fake.auth_token)
    client.api.base_url = fake.base_url
    return client


def test_create_is_parsed_and_recorded(fake: FakeTwilioAPI) -> None:
    message = make_client(fake).messages.create(to=USER, from_=SENDER, body="Halo",
                                                status_callback="http://127.0.0.1/cb")
    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert (message.to, message.from_, message.body) == (USER, SENDER, "Halo")
    assert (message.status, message.account_sid, message.error_code) == (
        "queued", fake.account_sid, None)
    assert message.date_created is not None and message.date_created.tzinfo is not None
    assert message.uri.endswith(f"/Messages/{message.sid}.json")
    [sent] = fake.sent_to("+6281234567890")
    assert (sent.to, sent.from_, sent.body, sent.status, sent.sid) == (
        USER, SENDER, "Halo", 201, message.sid)
    assert sent.status_callback == "http://127.0.0.1/cb" and sent.content_sid is None


def test_content_sid_template(fake: FakeTwilioAPI) -> None:
    variables = {"1": "Budi", "2": "12 Mei"}
    message = make_client(fake).messages.create(
        to=USER, from_=SENDER, content_sid=TEMPLATE, content_variables=json.dumps(variables))
    assert message.status == "queued"
    [sent] = fake.sent_to(USER)
    assert (sent.content_sid, sent.content_variables, sent.body) == (TEMPLATE, variables, None)


def test_wrong_token_is_401_20003(fake: FakeTwilioAPI) -> None:
    with pytest.raises(TwilioRestException) as info:
        make_client(fake, token="wrong").messages.create(to=USER, from_=SENDER, body="x")
    assert (info.value.status, info.value.code) == (401, 20003)
    assert fake.sent[-1].status == 401 and not fake.sent_to(USER)


def test_per_sender_limit_answers_429(fake: FakeTwilioAPI) -> None:
    fake.messages_per_second = 3
    client = make_client(fake)
    for _ in range(3):
        client.messages.create(to=USER, from_=SENDER, body="ok")
    with pytest.raises(TwilioRestException) as info:
        client.messages.create(to=USER, from_=SENDER, body="too many")
    assert (info.value.status, info.value.code) == (429, 20429)
    # Another sender has its own window.
    client.messages.create(to=USER, from_="whatsapp:+14155550000", body="other sender")
    assert fake.count_429 == 1 and len(fake.sent_to(USER)) == 4
    fake.wait_for(lambda: time.monotonic() - fake.delivered[0].time > 1.0, timeout=30)
    client.messages.create(to=USER, from_=SENDER, body="window slid")
    assert fake.max_in_any_window(SENDER) == 3


def test_outside_window_refuses_body_but_not_template(fake: FakeTwilioAPI) -> None:
    fake.outside_window(USER)
    client = make_client(fake)
    with pytest.raises(TwilioRestException) as info:
        client.messages.create(to=USER, from_=SENDER, body="freeform")
    assert (info.value.status, info.value.code) == (400, 63016)
    assert "outside the allowed window" in info.value.msg
    client.messages.create(to=USER, from_=SENDER, content_sid=TEMPLATE)
    assert [m.content_sid for m in fake.sent_to(USER)] == [TEMPLATE]
    assert [m.error_code for m in fake.sent_to(USER, include_failed=True)] == [63016, None]


def test_opted_out_is_21610(fake: FakeTwilioAPI) -> None:
    fake.opted_out("+6281234567890")
    with pytest.raises(TwilioRestException) as info:
        make_client(fake).messages.create(to=USER, from_=SENDER, content_sid=TEMPLATE)
    assert (info.value.status, info.value.code) == (400, 21610)
    assert "unsubscribed" in info.value.msg


def test_fail_next(fake: FakeTwilioAPI) -> None:
    fake.fail_next(2, status=503)
    client = make_client(fake)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as info:
            client.messages.create(to=USER, from_=SENDER, body="x")
        assert info.value.status == 503
    client.messages.create(to=USER, from_=SENDER, body="x")
    assert [m.status for m in fake.sent] == [503, 503, 201]


def test_hold_until_answers_nothing_until_that_many_are_in_flight(fake: FakeTwilioAPI) -> None:
    fake.hold_until = 3
    client = make_client(fake)
    try:
        with ThreadPoolExecutor(3) as pool:
            held = [pool.submit(client.messages.create, to=USER, from_=SENDER, body=f"m{n}") for n in range(2)]
            fake.wait_for(lambda: fake.max_in_flight == 2)
            time.sleep(0.2)
            assert not any(future.done() for future in held)  # two of three: nothing answered
            held.append(pool.submit(client.messages.create, to=USER, from_=SENDER, body="m2"))
            assert all(future.result(timeout=30).sid for future in held)
    finally:
        fake.hold_until = None
    assert fake.max_in_flight == 3 and len(fake.delivered) == 3
    client.messages.create(to=USER, from_=SENDER, body="off again")
    assert fake.max_in_flight == 3 and len(fake.delivered) == 4


def test_latency(fake: FakeTwilioAPI) -> None:
    fake.latency = 0.3
    start = time.monotonic()
    make_client(fake).messages.create(to=USER, from_=SENDER, body="slow")
    assert time.monotonic() - start >= 0.3
