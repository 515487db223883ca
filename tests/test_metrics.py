"""GET /metrics through the web app: Prometheus text format that moves with inbound updates, sends,
the outbox and the scheduler, with no personal data in any label."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from bot.app import App
from bot.scheduler import Scheduler
from bot.settings import Settings
from tests.conftest import ROOT, TOKEN
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_run_all import free_port, ksbb

SECRET = "rahasia-webhook-0123456789"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
USER = 7312
# Label values are kinds and outcomes: what may appear, whatever the traffic.
KNOWN_LABELS = {"channel", "outcome", "status", "priority", "le"}


@pytest.fixture
async def web(telegram_settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, App]]:
    app = App(telegram_settings.model_copy(update={"webhook_secret": SecretStr(SECRET)}))
    bot = app.telegram()
    async with bot, httpx.AsyncClient(transport=httpx.ASGITransport(app=app.web(bot)), base_url="http://ksbb.test") as client:
        yield client, app
    await app.db.dispose()


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics, parsed by prometheus-client's own parser."""
    response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_counters_move_after_an_update_and_its_sends(web, fake: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    client, app = web
    before = await scrape(client)
    update = {**fake.message_update(USER, "/start"), "update_id": 991}
    assert (await client.post("/telegram", json=update, headers=HEADERS)).status_code == 200
    await fake.wait_for_async(lambda: len(fake.sent_to(USER)) == 2)
    assert (await client.post("/telegram", json=update, headers=HEADERS)).status_code == 200  # a redelivery
    await Scheduler(app.db, []).tick()
    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("ksbb_inbound_total", channel="telegram", outcome="handled") == 1
    assert moved("ksbb_inbound_total", channel="telegram", outcome="duplicate") == 1
    assert moved("ksbb_step_seconds_count", channel="telegram") == 2
    assert moved("ksbb_sends_total", channel="telegram", outcome="sent") == 2
    # Read from this test's database at scrape time: the two replies, sent.
    assert value(after, "ksbb_outbox_rows", status="sent", priority="reply") == 2
    assert value(after, "ksbb_scheduler_last_tick_timestamp_seconds") > value(before, "ksbb_scheduler_last_tick_timestamp_seconds")
    # The understanding layer's hook exists but nothing fakes a value for it.
    assert not [key for key in after if key[0].startswith("ksbb_understanding")]

    ours = [(name, labels) for name, labels in after if name.startswith("ksbb_")]
    assert {label for _, labels in ours for label, _ in labels} <= KNOWN_LABELS
    assert not [labels for _, labels in ours if any(str(USER) in v for _, v in labels)]


async def test_the_outbox_gauge_leaves_out_statuses_no_longer_present(web) -> None:  # type: ignore[no-untyped-def]
    client, _app = web
    samples = await scrape(client)
    assert not [key for key in samples if key[0] == "ksbb_outbox_rows"]  # an empty outbox: no stale rows from other tests


def test_a_worker_serves_its_metrics_on_metrics_port(database_url: str, fake: FakeBotAPI) -> None:
    """`ksbb worker` has no web app: with METRICS_PORT it serves /metrics from prometheus-client's server."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "TELEGRAM_BOT_TOKEN": TOKEN,
           "TELEGRAM_API_BASE_URL": fake.base_url, "METRICS_PORT": str(port)}
    process = subprocess.Popen([*ksbb(), "worker"], env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            assert process.poll() is None, process.communicate()[1]
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            ticked = {(s.name, s.value) for f in text_string_to_metric_families(page) for s in f.samples
                      if s.name == "ksbb_scheduler_last_tick_timestamp_seconds"}
            if ticked and min(v for _, v in ticked) > 0:  # the worker holding the lock ticked
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the worker's metrics never showed a scheduler tick")
        names = {family.name for family in text_string_to_metric_families(page)}
        assert {"ksbb_inbound", "ksbb_sends", "ksbb_scheduler_last_tick_timestamp_seconds"} <= names
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err


async def test_a_message_refused_for_a_database_down_is_counted_and_metrics_still_answer(
    telegram_settings: Settings, fake: FakeBotAPI
) -> None:
    down = telegram_settings.model_copy(update={
        "webhook_secret": SecretStr(SECRET), "database_url": "postgresql://postgres@127.0.0.1:9/nowhere",
    })
    app = App(down)
    bot = app.telegram()
    async with bot, httpx.AsyncClient(transport=httpx.ASGITransport(app=app.web(bot)), base_url="http://ksbb.test") as client:
        before = await scrape(client)
        update = {**fake.message_update(USER, "/start"), "update_id": 992}
        assert (await client.post("/telegram", json=update, headers=HEADERS)).status_code == 503
        after = await scrape(client)
    await app.db.dispose()
    unavailable = {"channel": "telegram", "outcome": "unavailable"}
    assert value(after, "ksbb_inbound_total", **unavailable) - value(before, "ksbb_inbound_total", **unavailable) == 1
    assert not [key for key in after if key[0] == "ksbb_outbox_rows"]  # not counted, rather than stale
