"""No test asserts how fast something went: speed belongs to bench/, and a bound on elapsed time fails on a
loaded machine without anything being wrong (DESIGN.md, "Testing"). A deadline may guard against a hang,
but then it gives 30 seconds at least.

An AST scan of every file under tests/ for three patterns (a numeric bound is a literal, arithmetic on
literals, or a module-level constant holding one):

1. An upper bound on a measured duration: `X < N`, `X <= N` (or `N > X`, `N >= X`, also inside a chain such
   as `0.2 <= X < 1.0`) where X mentions a clock or a duration (monotonic, perf_counter, time(), elapsed,
   latency, duration, p95...) and N is below 30. Lower bounds (`X >= N`, proving something waited) pass;
   a lower bound on a rate (`rate >= N`, `X_per_second > N`) is an upper bound on time, and is caught.
2. A hang guard under 30 s: a `timeout` given to wait_for / wait_for_async / communicate / wait (also
   through `asyncio.to_thread`), the seconds of `asyncio.wait_for(aw, N)` or `asyncio.timeout(N)`,
   unless inside `with pytest.raises(...)` (a timeout the test expects to expire) or in an assert's
   message (run once the test has already failed).
3. A helper whose `timeout` parameter defaults to less than 30 s.

What it does not catch: a bound hidden behind a name it cannot resolve (`assert took < limit` with `limit`
computed, or a duration in a variable named otherwise, such as `grants.times[19] < 0.1`),
`pytest.approx(t, abs=...)` on timestamps, a helper's deadline spelt otherwise, or a client library's
own timeout (httpx's and python-telegram-bot's 5 s defaults). Those are left to review; the rule in
DESIGN.md stands for them too.
"""

from __future__ import annotations

import ast
import operator
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
HANG_GUARD = 30.0  # the shortest deadline allowed, in seconds

TIMING = re.compile(r"monotonic|perf_counter|elapsed|latenc|duration|took|percentile|quantile|\bp(50|9[05]|99)\b")
THROUGHPUT = re.compile(r"^(rate|.*_rate|.*per_s(econd)?|throughput)$")
CLOCK_CALLS = {"time", "monotonic", "perf_counter", "monotonic_ns", "perf_counter_ns"}
WAITS = {"wait_for", "wait_for_async", "communicate", "wait"}
ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _constants(tree: ast.Module) -> dict[str, float]:
    """Module-level `NAME = <number>` assignments."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _number(node.value, {})
            if value is not None:
                found[node.targets[0].id] = value
    return found


def _number(node: ast.expr, constants: dict[str, float]) -> float | None:
    """The value of a numeric literal, a known constant, or arithmetic on them; None otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _number(node.operand, constants)
        return None if value is None else -value
    if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC:
        left, right = _number(node.left, constants), _number(node.right, constants)
        if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
            return None
        return float(ARITHMETIC[type(node.op)](left, right))
    return None


def _timing(node: ast.expr) -> bool:
    """Whether the expression mentions a clock or a duration."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and TIMING.search(sub.id):
            return True
        if isinstance(sub, ast.Attribute) and TIMING.search(sub.attr):
            return True
        if isinstance(sub, ast.Call):
            func = sub.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in CLOCK_CALLS:
                return True
    return False


def _throughput(node: ast.expr) -> bool:
    """Whether the expression is a rate (a bare name or attribute, so `len(x) / rate` is not one)."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return bool(THROUGHPUT.match(name))


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _expects_timeout(node: ast.With | ast.AsyncWith) -> bool:
    return any(
        isinstance(item.context_expr, ast.Call) and _call_name(item.context_expr) == "raises" for item in node.items
    )


class Scan(ast.NodeVisitor):
    def __init__(self, source: str, constants: dict[str, float]) -> None:
        self.source, self.constants = source, constants
        self.found: list[tuple[int, str, str]] = []
        self._raises = 0

    def _flag(self, node: ast.AST, why: str) -> None:
        self.found.append((node.lineno, why, ast.get_source_segment(self.source, node) or ast.unparse(node)))

    def visit_Compare(self, node: ast.Compare) -> None:
        operands = [node.left, *node.comparators]
        for left, op, right in zip(operands, node.ops, operands[1:], strict=False):
            if isinstance(op, ast.Lt | ast.LtE):
                measured, bound = left, right
            elif isinstance(op, ast.Gt | ast.GtE):
                measured, bound = right, left
            else:
                continue
            value = _number(bound, self.constants)
            if value is not None and value < HANG_GUARD and _timing(measured):
                self._flag(node, "an upper bound on elapsed time")
            if _number(measured, self.constants) is not None and _throughput(bound):
                self._flag(node, "a lower bound on a rate")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _call_name(node)
        if name == "to_thread" and node.args and isinstance(node.args[0], ast.Attribute | ast.Name):
            name = node.args[0].attr if isinstance(node.args[0], ast.Attribute) else node.args[0].id
        seconds: ast.expr | None = None
        if name in WAITS:
            seconds = next((k.value for k in node.keywords if k.arg == "timeout"), None)
            if seconds is None and name == "wait_for" and len(node.args) == 2 and isinstance(node.func, ast.Attribute):
                seconds = node.args[1] if ast.unparse(node.func.value) == "asyncio" else None
        elif name == "timeout" and isinstance(node.func, ast.Attribute) and ast.unparse(node.func.value) == "asyncio":
            seconds = node.args[0] if node.args else None
        value = None if seconds is None else _number(seconds, self.constants)
        if value is not None and value < HANG_GUARD and not self._raises:
            self._flag(node, f"a hang guard under {HANG_GUARD:.0f} s")
        self.generic_visit(node)

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        arguments = node.args
        positional = [*arguments.posonlyargs, *arguments.args]
        pairs = [*zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults, strict=True),
                 *((a, d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True) if d is not None)]
        for argument, default in pairs:
            value = _number(default, self.constants)
            if argument.arg == "timeout" and value is not None and value < HANG_GUARD:
                self._flag(node, f"a timeout parameter defaulting to under {HANG_GUARD:.0f} s")
        self.generic_visit(node)

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def _visit_with(self, node: ast.With | ast.AsyncWith) -> None:
        expected = _expects_timeout(node)
        self._raises += expected
        self.generic_visit(node)
        self._raises -= expected

    visit_With = _visit_with
    visit_AsyncWith = _visit_with

    def visit_Assert(self, node: ast.Assert) -> None:
        self.visit(node.test)  # not the message: it runs once the test has already failed


def scan(source: str) -> list[tuple[int, str, str]]:
    """(line, what, code) for each speed assertion or short hang guard in a module's source."""
    tree = ast.parse(source)
    visitor = Scan(source, _constants(tree))
    visitor.visit(tree)
    return visitor.found


def test_no_test_asserts_how_fast_something_went() -> None:
    found = [
        f"{path.relative_to(TESTS.parent)}:{line}: {why}: {code.splitlines()[0]}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, why, code in scan(path.read_text(encoding="utf-8"))
    ]
    assert not found, "speed belongs to bench/; a hang guard gives 30 s at least:\n" + "\n".join(found)


def test_the_scan_catches_what_it_documents() -> None:
    """The scan has teeth: each pattern it documents is caught, and what is allowed passes."""
    caught = '''
import asyncio, time
LIMIT = 1.5
def check(started, fake, process, latencies, p95):
    ASSERT time.monotonic() - started < 1.0
    ASSERT 0.25 <= time.monotonic() - started < 1.0
    ASSERT elapsed <= 0.8
    ASSERT 1.2 > time.perf_counter() - started
    ASSERT p95(latencies) < LIMIT
    ASSERT max(latencies) < 2 * 0.5
    fake.wait_for(lambda: fake.sent, timeout=2)
    process.communicate(timeout=20)
async def guards(fake, task, process):
    await asyncio.to_thread(process.communicate, timeout=20)
    await asyncio.wait_for(task, 5)
    async with asyncio.timeout(10):
        pass
    await fake.wait_for_async(lambda: fake.sent, timeout=10)
async def settled(db, timeout: float = 10) -> None: ...
def fill(rate, result):
    ASSERT rate >= 0.9 * 50
    ASSERT result.delivered_per_second > 25
'''.replace("ASSERT", "assert")  # spelled so that house checks do not take the examples for assertions
    assert [line for line, _, _ in scan(caught)] == [5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 18, 19, 21, 22]
    allowed = '''
import asyncio, time, pytest
HANG_GUARD = 30
def check(started, fake, loop, deadline, limiter):
    assert time.monotonic() - started >= 0.2
    assert time.monotonic() < deadline
    assert loop.time() < started + 180
    assert fake.max_in_flight < 3
    assert len(fake.sent) < 10
    assert all(outcome.wait <= 1 / 20 for outcome in limiter.outcomes)
    with pytest.raises(TimeoutError):
        fake.wait_for(lambda: fake.sent, timeout=0.05)
    assert fake.sent, fake.wait_for(lambda: fake.sent, timeout=1)
async def guards(fake, task):
    await asyncio.wait_for(task, HANG_GUARD)
    await fake.wait_for_async(lambda: fake.sent, timeout=60)
def local_chat(url, timeout: float = 60) -> None: ...
def window(fake, rate, times, burst):
    assert fake.global_per_second == 2
    assert len(times) - burst <= rate * 3
'''
    assert scan(allowed) == []
