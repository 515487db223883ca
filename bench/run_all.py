"""`make bench` runs every benchmark at full size; `make bench-smoke` (part of `make test`) runs
each at a tiny size so the scripts never rot. A benchmark module has `NAME` and `run(smoke) -> dict`."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from bench import summary
from bench.common import RESULTS, SMOKE_RESULTS

BENCHMARKS = ["bench.intake", "bench.broadcast", "bench.city_scale", "bench.memory"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, results not kept")
    parser.add_argument("only", nargs="*", help="benchmark names (default: all)")
    args = parser.parse_args(argv)
    failed = []
    for module_name in BENCHMARKS:
        module = importlib.import_module(module_name)
        if args.only and module.NAME not in args.only:
            continue
        began = time.monotonic()
        try:
            module.run(smoke=args.smoke)
        except Exception as exc:  # report every benchmark, then fail
            failed.append(module.NAME)
            print(f"{module.NAME} failed: {exc!r}", file=sys.stderr)
            raise
        print(f"[{module.NAME}: {time.monotonic() - began:.1f} s]\n", flush=True)
    print(summary.table(SMOKE_RESULTS if args.smoke else RESULTS))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
