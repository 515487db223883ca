"""Registration by a shared location: the nearest kelurahan is proposed and confirmed, a point far
outside Jakarta is told so and the step stays, and "no" goes back to choosing by name."""

from __future__ import annotations

import math

import pytest

from bot.engine import Engine
from handlers.messages import Kind
from handlers.text.i18n import translate
from storage.db import Database
from storage.models import Person
from tests.support import Direct

MONAS = (-6.1754, 106.8272)  # Gambir, Jakarta Pusat
BANDUNG = (-6.9175, 107.6191)


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


async def at_the_kota_step(chat: Direct) -> None:
    for message in ("/start", "1", "Daftar sebagai warga", "Setuju"):
        await chat.send(message)
    assert await chat.texts("Siti Aminah") == [t("register.ask_kota")]


async def test_a_shared_location_proposes_the_nearest_kelurahan_then_asks_the_rw(engine: Engine, db: Database) -> None:
    chat = Direct(engine, db)
    await at_the_kota_step(chat)
    [proposal] = await chat.send(kind=Kind.LOCATION, location=MONAS)
    assert proposal.text == t("register.ask_located", place="Gambir – Gambir, Jakarta Pusat")
    assert [c.label for c in proposal.choices] == [t("register.located_yes"), t("register.located_no")]
    assert await chat.texts(kind=Kind.CHOICE, choice="located:yes") == [t("register.ask_rw", kelurahan="Gambir")]
    await chat.send("3")
    async with db.transaction() as session:
        person = (await session.execute(Person.__table__.select())).mappings().one()
        assert person["rw_id"] is not None


async def test_a_location_outside_jakarta_is_told_and_the_step_stays(engine: Engine, db: Database) -> None:
    chat = Direct(engine, db)
    await at_the_kota_step(chat)
    assert await chat.texts(kind=Kind.LOCATION, location=BANDUNG) == [t("register.outside_jakarta")]
    assert (await chat.send("kebon melati"))[0].text == t("register.ask_pick")


@pytest.mark.parametrize("location", [(math.nan, math.nan), (-6.2, math.inf), (math.nan, 106.8)])
async def test_a_location_that_is_not_a_place_is_refused_and_places_nobody(
    engine: Engine, db: Database, location: tuple[float, float]
) -> None:
    chat = Direct(engine, db)
    await at_the_kota_step(chat)
    assert await chat.texts(kind=Kind.LOCATION, location=location) == [t("input.unsupported")]
    async with db.transaction() as session:
        assert (await session.execute(Person.__table__.select())).mappings().one()["rw_id"] is None


async def test_no_goes_back_to_choosing_the_kota(engine: Engine, db: Database) -> None:
    chat = Direct(engine, db)
    await at_the_kota_step(chat)
    await chat.send(kind=Kind.LOCATION, location=MONAS)
    assert await chat.texts(kind=Kind.CHOICE, choice="located:no") == [t("register.ask_kota")]
