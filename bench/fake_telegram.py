"""The tests' fake Telegram Bot API with its limits off, served from its own process, so that neither bot
under test shares a core's interpreter lock with it or with the load generator.

`python -m bench.fake_telegram` prints its base URL, then answers each line on stdin: `counts` prints
the calls answered so far by method (JSON), `quit` stops it. `FakeTelegram` starts and drives it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from tests.fakes.telegram_api import Call, FakeBotAPI


class LeanFakeBotAPI(FakeBotAPI):
    """Counts calls instead of keeping them and forgets the messages it sent: 100,000 calls stay small."""

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls[call.method if call.ok else f"{call.method}:{call.status}"] += 1

    def _new_message(self, call: Call, **content: Any) -> dict[str, Any]:
        return {"message_id": self._next_message_id(call.chat_id), "from": self.bot_user,
                "chat": {"id": call.chat_id, "type": "private", "first_name": "User"},
                "date": int(time.time()), **content}


def main() -> None:
    with LeanFakeBotAPI().unlimited() as fake:
        print(fake.base_url, flush=True)
        for line in sys.stdin:
            if line.strip() == "counts":
                with fake._lock:
                    print(json.dumps(dict(fake.calls)), flush=True)
            elif line.strip() == "quit":
                break


class FakeTelegram:
    """The fake in a child process: `base_url`, `counts()`, `sends()`; a context manager."""

    def __enter__(self) -> FakeTelegram:
        self.process = subprocess.Popen([sys.executable, "-m", "bench.fake_telegram"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, cwd=_root())
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()
        if not self.base_url:
            raise RuntimeError("the fake Bot API did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._tell("quit")
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()

    def counts(self) -> Counter[str]:
        """Calls answered so far, by method (`method:status` for refused ones)."""
        self._tell("counts")
        assert self.process.stdout is not None
        return Counter(json.loads(self.process.stdout.readline()))

    def sends(self) -> int:
        """Messages delivered so far."""
        counts = self.counts()
        return counts["sendMessage"] + counts["sendPhoto"] + counts["sendDocument"]

    def _tell(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()


def _root() -> str:
    from bench.common import ROOT

    return str(ROOT)


if __name__ == "__main__":
    main()
