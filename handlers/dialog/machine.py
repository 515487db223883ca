"""The conversation machinery: steps, the context a step works with, and one turn of a conversation."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.dialog.matching import match_choice
from handlers.messages import Attachment, Choice, Inbound, Kind, Reply
from handlers.text.i18n import N_, translate
from storage.broadcasts import TemplateTerms
from storage.conversations import lock_conversation
from storage.models import Conversation, Identity, Person
from storage.pledges import Terms

MENU = "menu.main"
LANGUAGE = "language.choose"
MAX_TEXT = 1000

_COMMANDS = {
    "batal": "cancel",
    "cancel": "cancel",
    "menu": "menu",
    "bantuan": "help",
    "help": "help",
    "bahasa": "language",
    "language": "language",
    "start": "start",
    "mulai": "start",
    "berhenti": "stop",
    "stop": "stop",
    "hapus data": "erase",  # `/hapus` and `/erase` reach the same command
    "hapus data saya": "erase",
    "delete my data": "erase",
}
_RESUME = "mulai"  # resubscribes someone who opted out; otherwise `/mulai` is `/start` and `MULAI` plain text
_COMMAND = re.compile(r"^/(?P<name>[A-Za-z_]+)(?:@\w+)?(?:\s+(?P<arg>.*))?$", re.DOTALL)


class Raw(str):
    """A choice label shown as it is (a place name), not a message key."""


class Draft:
    """A flow's answers so far, kept in the conversation between turns. Subclasses are dataclasses whose
    fields all have defaults and hold JSON values; `KEY` names their place in the conversation data."""

    KEY: ClassVar[str]


D = TypeVar("D", bound=Draft)


@dataclass
class Context:
    """What a step sees: the person, their conversation data, the database, and where to say things."""

    session: AsyncSession
    person: Person
    identity: Identity
    now: datetime
    data: dict[str, Any]
    replies: list[Reply] = field(default_factory=list)
    offered: list[tuple[str, str]] | None = None
    erased: bool = False
    roles: frozenset[str] = frozenset()
    terms: Terms = field(default_factory=Terms)  # the pledge rules in force
    templates: TemplateTerms = field(default_factory=TemplateTerms)  # WhatsApp outside its 24-hour window
    message: Inbound | None = None  # the message being answered: what its channel vouches for and offers

    def draft(self, kind: type[D]) -> D:
        """The flow's draft, begun empty when there is none (fields a stored draft lacks take their
        defaults; fields it has that the class no longer knows are dropped)."""
        held = self.data.get(kind.KEY)
        if not isinstance(held, kind):
            stored = held if isinstance(held, dict) else {}
            held = kind(**{f.name: stored[f.name] for f in fields(kind) if f.name in stored})  # type: ignore[call-arg]
            self.data[kind.KEY] = held
        return held

    def begin(self, draft: D) -> D:
        """Start the flow's draft afresh with these answers."""
        self.data[draft.KEY] = draft
        return draft

    def drop(self, kind: type[Draft]) -> None:
        """Forget the flow's draft (it is done, or abandoned)."""
        self.data.pop(kind.KEY, None)

    def t(self, key: str, **values: object) -> str:
        """A message in the person's language."""
        return translate(self.person.locale, key, **values)

    def say(self, key: str, *, choices: Iterable[tuple[str, str]] = (), **values: object) -> None:
        """Queue a message; choices are (key, label message key) pairs and become the options offered."""
        self.say_text(self.t(key, **values), choices=choices)

    def say_text(
        self,
        text: str,
        *,
        choices: Iterable[tuple[str, str]] = (),
        image: Attachment | None = None,
        document: Attachment | None = None,
        forget: bool = False,
    ) -> None:
        """Queue a message composed from translated parts, optionally with an image or a document."""
        offered = tuple(Choice(key, label if isinstance(label, Raw) else self.t(label)) for key, label in choices)
        locale = self.person.locale if offered else None
        self.replies.append(Reply(text, choices=offered, image=image, document=document, forget=forget, locale=locale))
        if offered:
            self.offered = [(c.key, c.label) for c in offered]


Ask = Callable[[Context], Awaitable[None]]
Answer = Callable[[Context, Inbound], Awaitable[str | None]]
# Work the scheduler runs every minute (reminders, follow-ups): given a transaction and the time, it queues
# what is due; returns a count for the log.
Duty = Callable[[AsyncSession, datetime], Awaitable[object]]
StartHandler = Callable[[Context, str], Awaitable[str | None]]
HelpFooter = Callable[[Context], Awaitable[str | None]]

CHOICE_ONLY = frozenset({Kind.CHOICE})
TEXT = frozenset({Kind.TEXT, Kind.CHOICE})


@dataclass(frozen=True)
class Step:
    """One state of a flow: how it asks, how it handles the answer (returning the next state), its help."""

    ask: Ask
    answer: Answer
    help: str
    accepts: frozenset[Kind] = CHOICE_ONLY
    max_text: int = MAX_TEXT  # longer text is refused before the step sees it


def kept(data: dict[str, Any]) -> dict[str, Any]:
    """Conversation data as stored: drafts as plain values, an empty draft (all defaults) not at all."""
    stored = {}
    for key, value in data.items():
        if isinstance(value, Draft):
            if value == type(value)():
                continue
            value = asdict(value)  # type: ignore[call-overload]
        stored[key] = value
    return stored


def parse_command(text: str, opted_out: bool = False) -> tuple[str, str] | None:
    """`/start abc` → ("start", "abc"); a bare command word such as `BATAL` → ("cancel", "");
    `MULAI` or `/mulai` from someone who opted out → ("resume", "")."""
    stripped = text.strip()
    slash = _COMMAND.match(stripped)
    word = slash.group("name").lower() if slash else stripped.lower()
    if opted_out and word == _RESUME:
        return "resume", ""
    if slash:
        return _COMMANDS.get(word, word), (slash.group("arg") or "").strip()
    return (_COMMANDS[word], "") if word in _COMMANDS and word not in ("start", "mulai") else None


class Dialog:
    """Runs one turn: global commands, idle reset, choice resolution and input checks, then the step."""

    def __init__(
        self,
        steps: Mapping[str, Step],
        idle_after: timedelta,
        start_handlers: Mapping[str, StartHandler] | None = None,
        commands: Mapping[str, StartHandler] | None = None,
        help_footer: HelpFooter | None = None,
        terms: Terms | None = None,
        templates: TemplateTerms | None = None,
    ) -> None:
        self.steps = steps
        self.terms = terms or Terms()
        self.templates = templates or TemplateTerms()
        self.idle_after = idle_after
        self.start_handlers = start_handlers or {}
        self.commands = commands or {}
        self.help_footer = help_footer

    async def turn(self, ctx: Context, conversation: Conversation, message: Inbound) -> None:
        """Handle one inbound message and move the conversation to its next state."""
        state = conversation.state if conversation.state in self.steps else ""
        offered = [tuple(pair) for pair in conversation.offered.get("choices", [])]
        ctx.offered = offered or None
        next_state = await self._dispatch(ctx, state, conversation.updated_at, offered, message)
        if ctx.erased:
            return  # the person and their conversation are gone
        if ctx.person.id != conversation.person_id:  # joined into an older person (storage/joining.py)
            conversation = await lock_conversation(ctx.session, ctx.person.id, ctx.now)
        if next_state is not None:
            state = next_state
            ctx.offered = None
            await self.steps[state].ask(ctx)
        conversation.state = state or MENU
        conversation.data = kept(ctx.data)
        conversation.offered = {"choices": [list(pair) for pair in ctx.offered]} if ctx.offered else {}
        conversation.updated_at = ctx.now

    async def _dispatch(
        self,
        ctx: Context,
        state: str,
        updated_at: datetime,
        offered: list[tuple[str, str]],
        message: Inbound,
    ) -> str | None:
        opted_out = ctx.person.opted_out_at is not None
        command = parse_command(message.text, opted_out) if message.kind is Kind.TEXT else None
        if command is not None:
            return await self._command(ctx, state, *command)
        if not state:
            return await self._start(ctx, "")
        if state != MENU and ctx.now - updated_at > self.idle_after:
            ctx.say("session.expired", minutes=int(self.idle_after.total_seconds() // 60))
            return MENU
        step = self.steps[state]
        message = self._resolve_choice(message, offered)
        if message.kind is Kind.CHOICE and message.choice is None:
            ctx.say("choice.stale")
            return state
        if message.kind not in step.accepts:
            ctx.say(N_("choice.invalid") if message.kind is Kind.TEXT and offered else N_("input.unsupported"))
            return state
        if message.kind is Kind.TEXT and len(message.text) > step.max_text:
            ctx.say("input.too_long")
            return None
        return await step.answer(ctx, message)

    async def _command(self, ctx: Context, state: str, name: str, arg: str) -> str | None:
        if name == "start":
            return await self._start(ctx, arg)
        if name == "cancel":
            ctx.data.clear()
            ctx.say("cancel.done")
            return MENU
        if name == "menu":
            return MENU
        if name == "language":
            return LANGUAGE
        if name == "help":
            ctx.say(self.steps[state].help if state else N_("help.general"))
            footer = await self.help_footer(ctx) if self.help_footer else None
            if footer:
                ctx.say_text(footer)
            return state or MENU
        if name in self.commands:
            return await self.commands[name](ctx, arg)
        ctx.say("command.unknown")
        return None

    async def _start(self, ctx: Context, payload: str) -> str | None:
        """Welcome, or follow a deep link (`/start <prefix>_<value>`) to the flow that owns it."""
        prefix, _, value = payload.partition("_")
        handler = self.start_handlers.get(prefix)
        if handler is not None:
            return await handler(ctx, value)
        if not ctx.person.locale_chosen:
            ctx.say("start.welcome")
            return LANGUAGE
        ctx.say("start.welcome_back")
        return MENU

    @staticmethod
    def _resolve_choice(message: Inbound, offered: list[tuple[str, str]]) -> Inbound:
        """A tapped or typed choice becomes a CHOICE with a key, or a CHOICE with none when stale."""
        keys = {key for key, _ in offered}
        if message.kind is Kind.CHOICE:
            return message if message.choice in keys else replace(message, choice=None)
        if message.kind is Kind.TEXT and offered:
            key = match_choice(message.text, offered)
            if key is not None:
                return replace(message, kind=Kind.CHOICE, choice=key)
        return message
