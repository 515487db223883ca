"""The decision, as a pure function: may a send go now, and if not, how long must it wait.

Rules, per channel: at most `global_per_second` sends in any sliding one-second window (a log of
the last N grant times, as the platform counts them), and per chat a token bucket of `chat_burst`
refilled at `chat_per_second`. Each rule keeps `margin` seconds of slack (N+1 sends are at least
1 s + margin apart; any k > burst sends to one chat span at least (k - burst) / rate + margin), so
jitter between our clock and the platform's never turns into a 429. Sends are recorded in order,
and a channel's sends at least `spacing` apart (from the settings: half the interval of sends evenly
spread at the limit): sends let go at the same instant queue for connections and the CPU, reach the
platform late and bunched, and make the next second's sends, let go on time, seem too many. 
Since grants are recorded ahead of the clock, `take` keeps entries up to a window ahead; further
ahead they come from a clock that has since stepped back, and are dropped.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from bot.settings import Settings

WINDOW = 1.0
SAFETY_MARGIN = 0.005


@dataclass(frozen=True)
class Rules:
    """One channel's send limits; None is unlimited, and a chat limit needs `chat_per_second`.
    `spacing`: the least time between two of the channel's sends (0: any number at the same instant)."""

    global_per_second: int | None = None
    chat_burst: int | None = None
    chat_per_second: float | None = None
    margin: float = SAFETY_MARGIN
    spacing: float = 0.0

    @property
    def unlimited(self) -> bool:
        return self.global_per_second is None and self.chat_per_second is None

    @property
    def burst(self) -> int:
        return self.chat_burst or 1


def rules_from_settings(settings: Settings) -> dict[str, Rules]:
    """Every channel's rules, from the settings."""
    margin = settings.limiter_margin_seconds
    telegram = Rules(
        settings.telegram_global_per_second,
        settings.telegram_chat_burst,
        settings.telegram_chat_per_second,
        margin,
        spread(settings.telegram_global_per_second, margin),
    )
    whatsapp = Rules(global_per_second=settings.twilio_mps, margin=margin, spacing=spread(settings.twilio_mps, margin))
    return {"telegram": telegram, "whatsapp": whatsapp, "local": Rules()}


def spread(per_second: int | None, margin: float) -> float:
    """The spacing that keeps a channel's sends from leaving in bursts: half the interval of sends evenly
    spread at the limit. Sends let go at the same instant queue for connections and the CPU and reach
    the platform late, so the next second's sends, let go on time, can seem too many to the platform."""
    return (WINDOW + margin) / (2 * per_second) if per_second else 0.0


@dataclass(frozen=True)
class State:
    """What `take` needs: the channel's last grants, one chat's last grants and its next-send bound."""

    sent: tuple[float, ...] = ()
    chat_sent: tuple[float, ...] = ()
    chat_next: float | None = None


class Decision(NamedTuple):
    """How long each rule wants a send to wait (0: it may go now) and the state after the send."""

    chat_wait: float
    global_wait: float
    state: State

    @property
    def allowed(self) -> bool:
        return self.chat_wait <= 0 and self.global_wait <= 0

    @property
    def wait(self) -> float:
        return max(self.chat_wait, self.global_wait)


def take(state: State, now: float, rule: Rules) -> Decision:
    """Whether a send at `now` is allowed; if so the state that records it, else how long to wait.

    Sends are recorded in order: none goes before one already recorded (a grant made for a moment just
    ahead), and on the channel none within `spacing` of the one before.
    """
    state = _settled(state, now)
    limit = rule.global_per_second
    global_wait = 0.0
    if limit is not None and state.sent:
        global_wait = max(0.0, state.sent[-1] + rule.spacing - now)
        if len(state.sent) >= limit:
            global_wait = max(global_wait, state.sent[-limit] + WINDOW + rule.margin - now)
    chat_wait = 0.0
    if rule.chat_per_second is not None and state.chat_sent:
        chat_wait = max(0.0, state.chat_sent[-1] - now)
    if rule.chat_per_second is not None and state.chat_next is not None:
        chat_wait = max(chat_wait, state.chat_next + rule.margin - now)
    if chat_wait > 0 or global_wait > 0:
        return Decision(chat_wait, global_wait, state)
    return Decision(0.0, 0.0, _record(state, now, rule))


def take_ahead(state: State, now: float, rule: Rules, reach: float) -> tuple[float, Decision]:
    """`take` for the moment the rules allow a send, when that comes within `reach` seconds of `now`:
    that moment and the decision (else `now` and the refusal). Granting the exact moment the window
    frees, instead of refusing and asking again after the wait, loses no time in between."""
    first = take(state, now, rule)
    at, decision = now, first
    while not decision.allowed and at + decision.wait <= now + reach:
        at = max(at + decision.wait, math.nextafter(at, math.inf))
        decision = take(state, at, rule)
    return (at, decision) if decision.allowed else (now, first)


def restamped(state: State, recorded: float, went: float, rule: Rules) -> State:
    """The state once a send recorded for `recorded` is known to have gone at `went`, later: its entry
    moved in the channel's and the chat's logs (kept in order), the chat's next-send bound no earlier
    than the moved send allows. Successors are then judged against when the send really went."""
    sent = _moved(state.sent, recorded, went)[-rule.global_per_second :] if rule.global_per_second else ()
    if rule.chat_per_second is None:
        return State(sent)
    chat_sent = _moved(state.chat_sent, recorded, went)[-rule.burst :]
    chat_next = state.chat_next
    if len(chat_sent) == rule.burst:
        bound = chat_sent[0] + 1 / rule.chat_per_second
        chat_next = bound if chat_next is None else max(chat_next, bound)
    return State(sent, chat_sent, chat_next)


def _moved(times: tuple[float, ...], recorded: float, went: float) -> tuple[float, ...]:
    """The sorted times with the one nearest `recorded` (if within a microsecond) replaced by `went`."""
    entries = list(times)
    nearest = min(range(len(entries)), key=lambda n: abs(entries[n] - recorded), default=None)
    if nearest is not None and abs(entries[nearest] - recorded) <= 1e-6:
        del entries[nearest]
    bisect.insort(entries, went)
    return tuple(entries)


def _settled(state: State, now: float) -> State:
    """The state, minus what a clock that has since stepped back recorded in its future: beyond a window
    ahead (a grant made for a moment just ahead is kept)."""
    if state.sent and state.sent[-1] > now + WINDOW:
        state = State((), state.chat_sent, state.chat_next)
    if state.chat_sent and state.chat_sent[-1] > now + WINDOW:
        state = State(state.sent)
    return state


def _record(state: State, now: float, rule: Rules) -> State:
    """The state after a send at `now`.

    Per chat, the k-th send must come (k - burst) / rate + margin after the first of any k; the
    bound for the next send chains the oldest of the last `burst` sends with the previous bound.
    """
    sent = (*state.sent, now)[-rule.global_per_second :] if rule.global_per_second is not None else ()
    if rule.chat_per_second is None:
        return State(sent)
    chat_sent = (*state.chat_sent, now)[-rule.burst :]
    chat_next = state.chat_next
    if len(chat_sent) == rule.burst:
        oldest = chat_sent[0] if chat_next is None else max(chat_next, chat_sent[0])
        chat_next = oldest + 1 / rule.chat_per_second
    return State(sent, chat_sent, chat_next)
