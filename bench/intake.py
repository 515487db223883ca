"""Inbound intake: synthetic Telegram updates (about 60% report steps, 30% menu, 10% collaborators browsing
RWs) posted to `/telegram` of our web process (`ksbb web`, uvicorn, one process) on SQLite and on
PostgreSQL, many requests in flight; updates per second handled (committed, replies in the outbox) and the
latency of each request. Baseline in the same run, before each backend, with the same requests: a bare
python-telegram-bot echo bot behind the same server. Both send their replies to one fake Bot API without
limits, in its own process; each run ends when every reply has reached it, and the ratio compares updates
per second counted to that moment (the echo bot answers before it sends, as ours does)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import common
from bench import telegram_load as tl
from bench.fake_telegram import FakeTelegram

NAME = "intake"
PROFILE = os.environ.get("BENCH_PROFILE")  # a folder: the web process runs under pyinstrument, its report goes there
TARGET_RATE, TARGET_P99_MS, TARGET_RATIO = 300, 100, 0.5


@dataclass(frozen=True)
class Size:
    updates: int
    users: int
    concurrency: int


FULL = Size(updates=20_000, users=2_000, concurrency=48)
SMOKE = Size(updates=150, users=15, concurrency=16)


def run(smoke: bool) -> dict[str, Any]:
    size = SMOKE if smoke else FULL
    figures: dict[str, Any] = {"updates": size.updates, "users": size.users, "in_flight": size.concurrency,
                               "backends": {}}
    rows = []
    backends = ["sqlite"]
    if common.postgres_available():
        backends.append("postgresql")
    else:
        print("intake: PostgreSQL not reachable, measuring SQLite only")
    baseline: dict[str, Any] | None = None
    with FakeTelegram() as fake:
        for backend in backends:
            with database(backend) as url:
                tl.migrate(url)
                load = tl.build_load(tl.populate(url, size.users), size.updates)
                figures["mix"] = {kind: round(n / load.updates, 3) for kind, n in sorted(load.mix.items())}
                if baseline is None or not smoke:  # at full size, measured again beside each backend
                    baseline = measure_echo(fake, load, size)
                ours = measure_bot(fake, url, load, size)
            ratio = ours["delivered_per_s"] / baseline["delivered_per_s"]
            figures["backends"][backend] = {"ksbb": ours, "echo": baseline, "ratio": round(ratio, 2)}
            for name, result in (("echo (PTB)", baseline), ("KSBB web", ours)):
                rows.append([backend, name, result["updates_per_s"], result["delivered_per_s"], result["p50_ms"],
                             result["p95_ms"], result["p99_ms"], result["replies_per_update"],
                             result["server_cpu_ms_per_update"]])
            rows.append([backend, "ratio", "", f"{ratio:.2f}", "", "", "", "", ""])
    figures["targets"] = targets(figures)
    print(common.table(
        f"Intake: {size.updates:,} updates from {size.users:,} people, {size.concurrency} in flight "
        f"(mix {figures['mix']})",
        ["backend", "bot", "answered/s", "delivered/s", "p50 ms", "p95 ms", "p99 ms", "replies/update",
         "CPU ms/update"], rows))
    for line in figures["targets"]:
        print(f"  {line}")
    common.record(NAME, figures, smoke)
    return figures


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "postgresql":
        with common.scratch_postgres() as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="ksbb-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'intake.db'}"


def measure_echo(fake: FakeTelegram, load: tl.Load, size: Size) -> dict[str, Any]:
    """The echo bot under the same requests; done when every update's reply reached the fake."""
    port = tl.free_port()
    with tl.echo(fake.base_url, port) as server:
        before, cpu = fake.sends(), tl.cpu_seconds(server.pid)
        result = asyncio.run(tl.post_all(port, load, size.concurrency))
        drained = _wait(lambda: fake.sends() - before >= load.updates)
        sent, cpu = fake.sends() - before, tl.cpu_seconds(server.pid) - cpu
    _check(result.statuses.get(200) == load.updates, f"echo answered {dict(result.statuses)}")
    _check(sent == load.updates, f"echo sent {sent} replies to {load.updates} updates")
    return _figures(result, sent / load.updates, drained, cpu / load.updates)


def measure_bot(fake: FakeTelegram, url: str, load: tl.Load, size: Size) -> dict[str, Any]:
    """Our web process under the requests; done when no reply is pending. Every update must be handled
    (an inbound record, replies in the outbox, all sent), and none may have left the scripted path."""
    port = tl.free_port()
    profile = Path(PROFILE) / f"intake-{url.split(':')[0].split('+')[0]}.txt" if PROFILE else None
    with tl.web(url, fake.base_url, port, profile) as server:
        before, cpu = fake.counts(), tl.cpu_seconds(server.pid)
        result = asyncio.run(tl.post_all(port, load, size.concurrency))
        drained = tl.wait_sent(url)
        calls, cpu = fake.counts() - before, tl.cpu_seconds(server.pid) - cpu
    tally = tl.tally(url)
    sends = calls["sendMessage"] + calls["sendPhoto"] + calls["sendDocument"]
    _check(result.statuses.get(200) == load.updates, f"web answered {dict(result.statuses)}")
    _check(tally.handled == load.updates and tally.failed == 0,
           f"{tally.handled} updates handled and {tally.failed} failed of {load.updates}")
    retrying = sum(tally.retrying.values())
    _check(set(tally.outbox) <= {"sent", "pending"} and retrying == tally.outbox["pending"] <= load.updates // 1000,
           f"outbox rows by status: {dict(tally.outbox)}, pending by error: {dict(tally.retrying)}")
    _check(sends >= tally.outbox["sent"], f"the fake received {sends} messages for {tally.outbox['sent']} rows")
    answered = calls["answerCallbackQuery"] + result.answered_taps  # by a request, or in the webhook's response
    _check(answered == load.taps, f"{answered} of {load.taps} taps answered")
    _check(tally.off_script == 0, f"{tally.off_script} replies left the scripted path")
    _check(tally.reports == load.reports_sent, f"{tally.reports} reports stored of {load.reports_sent} sent")
    return {**_figures(result, (tally.outbox["sent"] + retrying) / load.updates, drained, cpu / load.updates),
            "reports_stored": tally.reports, "replies_left_to_retry": dict(tally.retrying),
            "taps_answered_in_response": result.answered_taps}


def _figures(result: tl.Run, replies: float, drained: float, cpu: float) -> dict[str, Any]:
    """Updates answered per second and each request's latency, as the client saw them; updates per second
    counted until the last reply reached the fake (`drained_s` after the last answer); replies per update;
    the server process's CPU time per update."""
    return {"updates_per_s": round(result.rate, 1),
            "delivered_per_s": round(len(result.latencies) / (result.elapsed + drained), 1),
            "p50_ms": round(result.ms(50), 1),
            "p95_ms": round(result.ms(95), 1), "p99_ms": round(result.ms(99), 1), "seconds": round(result.elapsed, 2),
            "replies_per_update": round(replies, 2), "drained_s": round(drained, 2),
            "server_cpu_ms_per_update": round(cpu * 1000, 2)}


def targets(figures: dict[str, Any]) -> list[str]:
    """The issue's targets against the PostgreSQL figures (SQLite's are shown, not judged)."""
    pg = figures["backends"].get("postgresql")
    if pg is None:
        return ["targets are judged on PostgreSQL, which was not measured"]
    ours = pg["ksbb"]
    return [
        f"PostgreSQL throughput {ours['updates_per_s']:.0f}/s (target >= {TARGET_RATE}): "
        f"{'met' if ours['updates_per_s'] >= TARGET_RATE else 'missed'}",
        f"PostgreSQL p99 {ours['p99_ms']:.0f} ms (target < {TARGET_P99_MS}): "
        f"{'met' if ours['p99_ms'] < TARGET_P99_MS else 'missed'}",
        f"ratio to the echo bot (updates per second, replies delivered) {pg['ratio']:.2f} (target >= {TARGET_RATIO}): "
        f"{'met' if pg['ratio'] >= TARGET_RATIO else 'missed'}",
    ]


def _wait(done, timeout: float = 120) -> float:  # type: ignore[no-untyped-def]
    """Seconds until `done()` (polled)."""
    import time

    began = time.perf_counter()
    while not done() and time.perf_counter() - began < timeout:
        time.sleep(0.05)
    return time.perf_counter() - began


def _check(ok: bool, problem: str) -> None:
    if not ok:
        raise AssertionError(f"intake: {problem}")
