"""What every fake platform offers its tests: waiting for a condition, and counting in windows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def max_in_any_window(times: Iterable[float], seconds: float = 1.0) -> int:
    """The most moments within any sliding window of `seconds`."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


class Waiting:
    """wait_for / wait_for_async for a fake whose records change in another thread."""

    def wait_for(self, predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.01) -> T:
        """Block until predicate() is truthy and return it; TimeoutError after `timeout` (a hang guard)."""
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            time.sleep(interval)
        return result

    async def wait_for_async(self, predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.01) -> T:
        """Like wait_for, but sleeps with asyncio so the caller's loop keeps running."""
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            await asyncio.sleep(interval)
        return result
