"""`python -m bench.summary [--write]`: the latest full-size figures of `bench/results/` beside their
targets, as a Markdown table; `--write` puts it between the LATEST markers of `bench/README.md`
(`make bench` does, so the README always shows the figures of the last run)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import RESULTS

README = Path(__file__).with_name("README.md")
BEGIN, END = "<!-- LATEST:BEGIN (written by `python -m bench.summary --write`) -->", "<!-- LATEST:END -->"

Row = tuple[str, str, str, bool]  # what, figure, target, met
BACKENDS = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


def intake(figures: dict[str, Any]) -> Iterator[Row]:
    for backend, result in figures["backends"].items():
        ours, echo = result["ksbb"], result["echo"]
        name = f"intake, {BACKENDS[backend]}"
        if backend == "postgresql":
            yield f"{name}: updates/s", f"{ours['updates_per_s']:.1f}", "≥ 300", ours["updates_per_s"] >= 300
            yield f"{name}: p99", f"{ours['p99_ms']:,.0f} ms", "< 100 ms", ours["p99_ms"] < 100
        yield (f"{name}: ratio to the echo bot ({echo['delivered_per_s']:.0f}/s)", f"{result['ratio']:.2f}", "≥ 0.5",
               result["ratio"] >= 0.5)


def broadcast(figures: dict[str, Any]) -> Iterator[Row]:
    for drill in figures["drills"]:
        name = f"broadcast, {BACKENDS[drill['backend']]} {drill['platform']} ({drill['limit_per_s']}/s)"
        share = drill["share_of_limit"]
        yield f"{name}: delivered, of the limit", f"{share * 100:.1f} %", "≥ 97 %", share >= 0.97
        ours = drill["throttled_429_by_our_pacing"]
        yield (f"{name}: 429s by our pacing (all 429s)", f"{ours} ({drill['throttled_429_by_the_window']})", "0",
               ours == 0)
        yield f"{name}: chatting users' reply p99", f"{drill['reply_p99_s']:.2f} s", "< 1.5 s", drill["reply_p99_s"] < 1.5
        if drill.get("killed_after") is not None:  # the drill test asserts no latency: this is where it is held
            after = drill["reply_p99_after_kill_s"]
            yield f"{name}: chatting users' reply p99 after kill -9", f"{after:.2f} s", "< 1.5 s", after < 1.5
        yield (f"{name}: lost / duplicated after kill -9", f"{drill['lost']} / {drill['duplicated']}", "0 / ≤ 30",
               drill["lost"] == 0 and drill["duplicated"] <= 30)


def city_scale(figures: dict[str, Any]) -> Iterator[Row]:
    stats = {name: q["p95_ms"] for name, q in figures["queries"].items() if name.startswith("stats.")}
    slowest = max(stats, key=stats.__getitem__)
    yield (f"city scale: slowest of {len(stats)} statistics queries, p95 ({slowest})", f"{stats[slowest]:.1f} ms",
           "< 300 ms", stats[slowest] < 300)
    enqueue = figures["enqueue_all"]
    yield (f"city scale: broadcast to all enqueued ({enqueue['rows']:,} rows), slowest of {enqueue['runs']}",
           f"{enqueue['max_s']:.1f} s", "< 60 s", enqueue["max_s"] < 60)


def memory(figures: dict[str, Any]) -> Iterator[Row]:
    for process, mb in figures["processes"].items():
        yield (f"memory: `{process}` idle / peak under intake ({BACKENDS[figures['backend']]})",
               f"{mb['idle_mb']:.0f} / {mb['peak_mb']:.0f} MB", "< 200 MB", mb["peak_mb"] < 200)


SUMMARIES = {"intake": intake, "broadcast": broadcast, "city_scale": city_scale, "memory": memory}


def table(results: Path = RESULTS) -> str:
    lines = ["| benchmark | figure | target | met |", "|---|---:|---:|---|"]
    runs = []
    for name, summarise in SUMMARIES.items():
        path = results / f"{name}.json"
        if not path.exists():
            lines.append(f"| {name} | not run | | |")
            continue
        document = json.loads(path.read_text())
        machine = document["machine"]
        runs.append(f"`{name}` {document['at'][:16].replace('T', ' ')} UTC, commit {document['commit']}, "
                    f"{machine['cpus']} CPUs, {machine['platform']}, Python {machine['python']}")
        lines += [f"| {what} | {figure} | {target} | {'yes' if met else '**no**'} |"
                  for what, figure, target, met in summarise(document["figures"])]
    return "\n".join([*lines, "", "Runs: " + "; ".join(runs) + "."])


def write(readme: Path = README) -> None:
    text = readme.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{table()}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write the table into {README.name}")
    if parser.parse_args().write:
        write()
    else:
        print(table())


if __name__ == "__main__":
    main()
