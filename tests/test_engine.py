"""The engine: one transaction per message, dedupe, apology path, global commands, bad input."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.engine import DUPLICATE, FAILED, DatabaseUnavailable, Engine
from handlers import STEPS, build_dialog
from handlers.dialog.machine import LANGUAGE, MENU, Context, Step
from handlers.messages import Inbound, Kind
from handlers.text.i18n import translate
from storage.db import Database
from storage.models import Conversation, InboundRecord, Person
from tests.conftest import count
from tests.support import Direct, inbound


def make_engine(db: Database, steps: dict[str, Step] = STEPS) -> Engine:
    dialog = build_dialog(timedelta(minutes=30))
    dialog.steps = steps
    return Engine(db, dialog, "test", "id", 5.0)


def id_(key: str, **values: object) -> str:
    return translate("id", key, **values)


def en(key: str, **values: object) -> str:
    return translate("en", key, **values)


async def state_of(db: Database, user: str = "siti") -> str:
    async with db.transaction() as session:
        return (await session.execute(select(Conversation.state))).scalar_one()


async def test_first_message_welcomes_in_indonesian_and_offers_languages(db: Database) -> None:
    chat = Direct(make_engine(db), db)
    replies = await chat.send("/start")
    assert [r.text for r in replies] == [id_("start.welcome"), id_("language.ask")]
    assert "Selamat datang" in replies[0].text
    assert [c.label for c in replies[1].choices] == ["Bahasa Indonesia", "English"]


async def test_any_first_message_is_a_welcome(db: Database) -> None:
    chat = Direct(make_engine(db), db)
    assert await chat.texts("halo") == [id_("start.welcome"), id_("language.ask")]


async def test_language_is_switched_remembered_and_switched_back(db: Database) -> None:
    chat = Direct(make_engine(db), db)
    await chat.send("/start")
    assert await chat.texts("2") == [en("language.set"), en("menu.ask")]
    assert await chat.texts("/start") == [en("start.welcome_back"), en("menu.ask")]
    assert await chat.texts("BAHASA") == [en("language.ask")]
    assert await chat.texts("indonesia") == [id_("language.set"), id_("menu.ask")]


async def test_help_explains_the_current_step_and_cancel_returns_to_the_menu(db: Database) -> None:
    chat = Direct(make_engine(db), db)
    await chat.send("/start")
    assert await chat.texts("BANTUAN") == [id_("language.help"), id_("language.ask")]
    assert await state_of(db) == LANGUAGE
    assert await chat.texts("batal") == [id_("cancel.done"), id_("menu.ask")]
    assert await state_of(db) == MENU
    assert await chat.texts("/bantuan") == [id_("help.general"), id_("menu.ask")]


async def test_menu_help_entry_explains_the_bot(db: Database) -> None:
    chat = Direct(make_engine(db), db)
    await chat.send("/start")
    await chat.send("1")
    menu = (await chat.send("MENU"))[-1]
    help_choice = next(c for c in menu.choices if c.label == id_("menu.help"))
    assert await chat.texts(kind=Kind.CHOICE, choice=help_choice.key) == [id_("help.general"), id_("menu.ask")]


async def test_a_redelivered_update_is_handled_once(db: Database) -> None:
    engine = make_engine(db)
    message = inbound("siti", "/start")
    first = await engine.handle(message)
    again = await engine.handle(message)
    assert len(first.reply_ids) == 2
    assert again.status == DUPLICATE and again.reply_ids == ()
    assert await count(db, "SELECT count(*) FROM inbound_record") == 1
    assert await count(db, "SELECT count(*) FROM outbox") == 2


async def test_a_failing_step_rolls_back_records_the_failure_and_apologises(db: Database) -> None:
    async def broken(ctx: Context, message: Inbound) -> str:
        ctx.person.locale = "en"
        ctx.say("cancel.done")
        raise RuntimeError("bug")

    steps = dict(STEPS)
    steps[LANGUAGE] = Step(ask=STEPS[LANGUAGE].ask, answer=broken, help="language.help")
    chat = Direct(make_engine(db, steps), db)
    await chat.send("/start")
    assert await chat.texts("English") == [id_("error.apology")]
    async with db.transaction() as session:
        person = (await session.execute(select(Person))).scalar_one()
        statuses = (await session.execute(select(InboundRecord.status).order_by(InboundRecord.id))).scalars().all()
    assert person.locale == "id" and not person.locale_chosen
    assert statuses == ["handled", FAILED]
    assert await state_of(db) == LANGUAGE
    assert await chat.texts("BATAL") == [id_("cancel.done"), id_("menu.ask")]


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://postgres@127.0.0.1:9/nowhere", "sqlite:////nonexistent/dir/ksbb.db"],
    ids=["postgres-down", "sqlite-missing"],
)
async def test_an_unreachable_database_is_reported_so_the_update_is_delivered_again(url: str) -> None:
    database = Database(url, connect_args={"connect_timeout": 2} if url.startswith("postgresql") else {})
    with pytest.raises(DatabaseUnavailable):
        await make_engine(database).handle(inbound("siti", "/start"))
    await database.dispose()
    await asyncio.sleep(0.1)  # let aiosqlite's worker thread report its failed connect before the loop closes


async def test_no_free_pooled_connection_is_reported_so_the_update_is_delivered_again(database_url: str) -> None:
    """An overloaded process whose pool stays busy answers 503 (Telegram delivers again), not an apology."""
    database = Database(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    async with database.engine.connect():  # the pool's only connection, held elsewhere
        with pytest.raises(DatabaseUnavailable):
            await make_engine(database).handle(inbound("siti", "/start"))
    assert await count(database, "SELECT count(*) FROM inbound_record") == 0
    await database.dispose()


async def test_group_chats_get_one_line_and_nothing_is_stored_about_people(db: Database) -> None:
    chat = Direct(make_engine(db), db)
    assert await chat.texts("/start", private=False) == [id_("group.private_only")]
    assert await count(db, "SELECT count(*) FROM person") == 0


async def test_an_idle_conversation_restarts_politely_from_the_menu(db: Database) -> None:
    chat = Direct(make_engine(db), db)
    await chat.send("/start")
    async with db.transaction() as session:
        conversation = (await session.execute(select(Conversation))).scalar_one()
        conversation.updated_at -= timedelta(minutes=31)
    assert await chat.texts("1") == [id_("session.expired", minutes=30), id_("menu.ask")]
    assert "30 menit" in id_("session.expired", minutes=30)


LONG = "a" * 4000


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"kind": Kind.STICKER}, "input.unsupported"),
        ({"kind": Kind.VOICE}, "input.unsupported"),
        ({"kind": Kind.PHOTO, "photo": "file-1"}, "input.unsupported"),
        ({"kind": Kind.TEXT, "text": LONG}, "choice.invalid"),
        ({"kind": Kind.TEXT, "text": "🙂🙂"}, "choice.invalid"),
        ({"kind": Kind.TEXT, "text": "/frobnicate"}, "command.unknown"),
        ({"kind": Kind.CHOICE, "choice": "menu:language"}, "choice.stale"),
        ({"kind": Kind.TEXT, "text": "7"}, "choice.invalid"),
    ],
)
async def test_bad_input_gets_a_short_answer_and_the_conversation_stays(
    db: Database, fields: dict[str, object], expected: str
) -> None:
    chat = Direct(make_engine(db), db)
    await chat.send("/start")
    texts = await chat.texts(**fields)  # type: ignore[arg-type]
    assert texts[0] == id_(expected)
    assert await state_of(db) == LANGUAGE
    assert await chat.texts("English") == [en("language.set"), en("menu.ask")]
