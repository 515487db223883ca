"""`ksbb run` (what `make run` starts) with Telegram and Twilio configured runs everything in one
process: Telegram polling, the scheduler, one sender for both platforms and the web app on PORT. Run
as a subprocess of the installed `ksbb` against the fake Bot API and the fake Twilio API."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from twilio.request_validator import RequestValidator

from handlers.messages import Reply
from handlers.text.i18n import translate
from storage import outbox
from storage.db import Database
from storage.outbox import Priority
from storage.types import utcnow
from tests.conftest import ROOT, TOKEN, telegram_env
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioAPI

OURS, PUBLIC, NUMBER = "+6281100000000", "https://ksbb.example.org", "+6281234509876"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ksbb() -> list[str]:
    """The installed console script beside this interpreter (`.venv/bin/ksbb`), else the module."""
    script = Path(sys.executable).parent / "ksbb"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


async def until_serving(client: httpx.AsyncClient, process: subprocess.Popen[str]) -> None:
    """Wait until the process's web app answers (any status), failing if the process ends first."""
    for _ in range(300):
        assert process.poll() is None, process.communicate()[1]
        try:
            await client.get("/healthz")
            return
        except httpx.TransportError:
            await asyncio.sleep(0.1)
    raise AssertionError("the web app of `ksbb run` never answered")


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from a /metrics page (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


async def test_ksbb_run_answers_whatsapp_and_sends_what_the_bot_starts_there(
    database_url: str, fake: FakeBotAPI, twilio_api: FakeTwilioAPI
) -> None:
    port = free_port()
    env = telegram_env(
        database_url, fake, TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_WHATSAPP_FROM=OURS,
        TWILIO_API_BASE_URL=twilio_api.base_url, PUBLIC_BASE_URL=PUBLIC, PORT=str(port), SENDER_IDLE_SECONDS="0.05",
    )
    process = subprocess.Popen([*ksbb(), "run"], env=env, cwd=ROOT, stdin=subprocess.DEVNULL,  # noqa: ASYNC220
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = Database(database_url)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            await until_serving(client, process)
            # A WhatsApp message, signed as Twilio signs it, to the running process: answered through Twilio.
            form = {"MessageSid": "SM" + "1" * 32, "AccountSid": ACCOUNT_SID, "From": f"whatsapp:{NUMBER}",
                    "To": f"whatsapp:{OURS}", "Body": "halo", "NumMedia": "0"}
            signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + "/whatsapp", form)
            response = await client.post("/whatsapp", data=form, headers={"X-Twilio-Signature": signature})
            assert response.status_code == 200
            await twilio_api.wait_for_async(lambda: len(twilio_api.sent_to(f"whatsapp:{NUMBER}")) == 2, timeout=30)
            assert twilio_api.sent_to(f"whatsapp:{NUMBER}")[0].body == translate("id", "start.welcome")

            # A message the bot starts (nobody holds it): the process's own sender takes it to WhatsApp.
            async with db.transaction() as session:
                session.add(outbox.new_row(channel="whatsapp", address=NUMBER, body=Reply("Pengumuman RW").to_body(),
                                           priority=Priority.NOTIFY, now=utcnow()))
            await twilio_api.wait_for_async(lambda: len(twilio_api.sent_to(f"whatsapp:{NUMBER}")) == 3, timeout=30)
            assert twilio_api.sent_to(f"whatsapp:{NUMBER}")[2].body == "Pengumuman RW"

            # Telegram still polls beside it.
            fake.push_update(fake.message_update(654, "/start"))
            await fake.wait_for_async(lambda: len(fake.sent_to(654)) == 2, timeout=30)

            page = (await client.get("/metrics")).text
            assert sample(page, "ksbb_inbound_total", channel="whatsapp", outcome="handled") == 1
            assert sample(page, "ksbb_sends_total", channel="whatsapp", outcome="sent") == 3
            assert NUMBER not in page and NUMBER.lstrip("+") not in page
    finally:
        await db.dispose()
        process.send_signal(signal.SIGTERM)
        _out, err = await asyncio.to_thread(process.communicate, timeout=30)
    assert process.returncode == 0, err
    assert TOKEN not in err and AUTH_TOKEN not in err and "CancelledError" not in err
