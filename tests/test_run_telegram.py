"""`ksbb run` with a token: Telegram polling, the sender and the scheduler in one process, as
`make run` starts it, against the fake Bot API; it registers its commands and stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys

from tests.conftest import ROOT, TOKEN, telegram_env
from tests.fakes.telegram_api import FakeBotAPI


def test_ksbb_run_answers_on_telegram_and_stops_cleanly(database_url: str, fake: FakeBotAPI) -> None:
    env = telegram_env(database_url, fake)
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fake.push_update(fake.message_update(321, "/start"))
        fake.wait_for(lambda: len(fake.sent_to(321)) == 2, timeout=30)
        assert fake.sent_to(321)[0].text.startswith("Selamat datang di KSBB Bot")
        assert fake.calls["setMyCommands"] == 2
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert TOKEN not in err and "CancelledError" not in err
