"""Collaborator sign-up and "Ikrar saya": a company, an individual, an aggregator and an "other" agency
sign up; bad phones, bad emails, someone else's contact card, refused consent and BATAL store nothing
half-done; a resident keeps their resident data; the list of pledges shows status and progress, a
pledge waiting for confirmation can be cancelled by its owner only, and erasure keeps amounts anonymous."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.engine import Engine
from handlers import consent
from handlers.collaborator import signup
from handlers.dialog.machine import MENU, Context
from handlers.messages import Contact, Inbound, Kind, Reply
from handlers.text.formatting import datetime_short
from handlers.text.i18n import translate
from storage import pledges
from storage.db import Database
from storage.erasure import erase_person
from storage.models import (
    RW,
    Account,
    AuditEntry,
    Collaborator,
    Conversation,
    Identity,
    Kelurahan,
    LedgerEntry,
    Offer,
    Person,
    Pledge,
    PledgeEvent,
)
from storage.people import identify
from storage.types import utcnow
from tests.conftest import count
from tests.support import Direct, register

TERMS = pledges.Terms()
CONSENT = [translate("id", "collab.notice"), translate("id", "register.ask_consent")]


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


async def person_id(db: Database, user: str = "siti") -> int:
    async with db.transaction() as session:
        return (await session.execute(select(Identity.person_id).where(Identity.key == f"local:{user}"))).scalar_one()


async def collaborator(db: Database, user: str = "siti") -> Collaborator | None:
    async with db.transaction() as session:
        return await session.get(Collaborator, await person_id(db, user))


async def collaborator_person(db: Database, user: str = "siti") -> Person:
    async with db.transaction() as session:
        return await session.get(Person, await person_id(db, user))


async def offers(db: Database, kelurahan: str = "Karet Tengsin", number: int = 5) -> dict[str, int]:
    """The sample catalog's offers of one RW, by package code."""
    async with db.transaction() as session:
        statement = (
            select(Offer.package_code, Offer.id).join(RW, RW.id == Offer.rw_id)
            .join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
            .where(Kelurahan.name == kelurahan, RW.number == number)
        )
        return dict((await session.execute(statement)).all())


async def pledge(db: Database, who: int, offer_id: int, amount: int, now=None) -> Pledge:  # type: ignore[no-untyped-def]
    async with db.transaction() as session:
        made = await pledges.pledge(session, who, offer_id, amount, now or utcnow(), hold=TERMS.hold,
                                    min_share=TERMS.min_share)
        assert isinstance(made, Pledge), made
        return made


async def move(db: Database, pledge_id: int, status: str, reason: str | None = None) -> None:
    async with db.transaction() as session:
        assert isinstance(await pledges.move(session, pledge_id, status, None, utcnow(), reason), Pledge)


async def held(db: Database, offer_id: int) -> int:
    """What the offer holds now."""
    async with db.transaction() as session:
        return (await pledges.held_by_offer(session, [offer_id], utcnow())).get(offer_id, 0)


async def stored_pledge(db: Database, pledge_id: int) -> Pledge:
    async with db.transaction() as session:
        return (await session.execute(select(Pledge).where(Pledge.id == pledge_id))).scalar_one()


async def sign_up(chat: Direct, *answers: str) -> list[str]:
    """Through the deep link and the consent, then the given answers; the texts of the last one."""
    await chat.send("/start kolab")
    texts = await chat.texts("Setuju")
    for answer in answers:
        texts = await chat.texts(answer)
    return texts


def menu_labels(reply) -> list[str]:  # type: ignore[no-untyped-def]
    return [choice.label for choice in reply.choices]


# --- Sign-up ------------------------------------------------------------------------------------


async def test_a_company_signs_up_and_everything_is_stored_at_the_end(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db, "budi")
    assert await chat.texts("/start kolab") == CONSENT
    assert await chat.texts("Setuju") == [t("collab.ask_type")]
    assert await chat.texts("Perusahaan (CSR)") == [t("collab.ask_company")]
    assert await chat.texts("PT Maju  Jaya") == [t("collab.ask_contact", organisation="PT Maju Jaya")]
    assert await chat.texts("Budi Santoso") == [t("collab.ask_phone")]
    assert await chat.texts("0812-3456-7890") == [t("collab.ask_email")]
    assert await collaborator(db, "budi") is None  # nothing written before the end
    assert await chat.texts("budi@majujaya.co.id") == [t("collab.ask_public", name="PT Maju Jaya")]
    assert await chat.texts("Ya, tampilkan") == [t("collab.done", name="PT Maju Jaya"), t("menu.ask")]

    found = await collaborator(db, "budi")
    assert (found.type, found.organisation, found.contact_name, found.phone, found.email, found.public) == (
        "company", "PT Maju Jaya", "Budi Santoso", "+6281234567890", "budi@majujaya.co.id", True)
    async with db.transaction() as session:
        person = await session.get(Person, found.person_id)
        assert person.consent_at is not None and person.consent_version == consent.NOTICE_VERSION
        signed_up = select(AuditEntry).where(AuditEntry.action == "collaborator_signup")
        entry = (await session.execute(signed_up)).scalar_one()
    assert (entry.outcome, entry.target) == ("created", f"collaborator:{found.person_id}")
    assert entry.detail == {"type": "company", "public": True, "email": True}  # no name, phone or address
    assert await chat.texts("/start kolab") == [t("collab.already"), t("menu.ask")]


async def test_a_resident_signs_up_as_an_individual_and_stays_a_resident(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db)
    await register(chat)
    resident_rw = (await collaborator_person(db)).rw_id
    await chat.send("/start kolab")  # consent was given as a resident: straight to the type
    asked = await chat.send("Perorangan")
    assert [r.text for r in asked] == [t("collab.ask_own_name_known", name="Siti Aminah")]
    assert menu_labels(asked[0]) == [t("collab.use_my_name")]
    assert await chat.texts("Pakai nama saya") == [t("collab.ask_phone")]
    assert await chat.texts("+62 812 3456 7890") == [t("collab.ask_email")]
    assert await chat.texts("Lewati") == [t("collab.ask_public", name="Siti Aminah")]
    assert await chat.texts("Tidak, anonim") == [t("collab.done", name="Siti Aminah"), t("menu.ask")]

    found = await collaborator(db)
    assert (found.type, found.organisation, found.contact_name, found.phone, found.email, found.public) == (
        "individual", None, "Siti Aminah", "+6281234567890", None, False)
    person = await collaborator_person(db)
    assert (person.name, person.rw_id) == ("Siti Aminah", resident_rw)
    assert await count(db, "SELECT count(*) FROM account WHERE person_id = :p", p=person.id) == 1
    assert t("menu.savings") in menu_labels((await chat.send("MENU"))[0])


async def test_an_aggregator_chooses_rumah_zakat_from_the_list(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db, "rina")
    asked = (await sign_up(chat))
    assert asked == [t("collab.ask_type")]
    listed = (await chat.send("Lembaga zakat/donasi"))[0]
    assert listed.text == t("collab.ask_aggregator")
    assert menu_labels(listed) == [*signup.AGGREGATORS, t("collab.aggregator_other")]
    assert await chat.texts("Rumah Zakat") == [t("collab.ask_contact", organisation="Rumah Zakat")]
    await chat.send("Rina Wulandari")
    await chat.send("081298765432")
    await chat.send("Lewati")
    assert await chat.texts("Ya, tampilkan") == [t("collab.done", name="Rumah Zakat"), t("menu.ask")]
    found = await collaborator(db, "rina")
    assert (found.type, found.organisation, found.contact_name, found.public) == (
        "aggregator", "Rumah Zakat", "Rina Wulandari", True)


async def test_another_agency_types_its_name(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db, "joko")
    await sign_up(chat, "Lembaga zakat/donasi")
    assert await chat.texts("Lainnya") == [t("collab.ask_aggregator_name")]
    assert await chat.texts("!!") == [t("collab.organisation_invalid")]
    assert await chat.texts("Dompet Peduli Kampung") == [
        t("collab.ask_contact", organisation="Dompet Peduli Kampung")]
    await chat.send("Joko Widodo")
    await chat.send("0813 1111 2222")
    await chat.send("joko@dompet.or.id")
    await chat.send("Tidak, anonim")
    found = await collaborator(db, "joko")
    assert (found.type, found.organisation, found.email, found.public) == (
        "aggregator", "Dompet Peduli Kampung", "joko@dompet.or.id", False)


async def test_bad_phone_numbers_and_emails_are_asked_again(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db, "budi")
    await sign_up(chat, "Yayasan", "Yayasan Kali Bersih", "Budi Santoso")
    for bad in ("12345", "+44 20 7946 0958", "0812-ABCD-7890", "0812"):
        assert await chat.texts(bad) == [t("collab.phone_invalid")]
    assert await chat.texts("0812 3456 7890") == [t("collab.ask_email")]
    for bad in ("budi@", "budi at mail.com", "budi@mail", "a b@mail.com"):
        assert await chat.texts(bad) == [t("collab.email_invalid")]
    assert await chat.texts("budi@kalibersih.org") == [t("collab.ask_public", name="Yayasan Kali Bersih")]
    await chat.send("Ya, tampilkan")
    found = await collaborator(db, "budi")
    assert (found.type, found.phone, found.email) == ("foundation", "+6281234567890", "budi@kalibersih.org")


def telegram(user_id: int) -> dict[str, object]:
    """Fields that make a local test message come from a Telegram user."""
    return {"channel": "telegram", "bot": "test", "sender": f"telegram:{user_id}", "address": str(user_id),
            "contact_button": True}


async def test_on_telegram_only_ones_own_contact_card_is_taken(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db, "tg")
    me = telegram(4242)
    for text in ("/start kolab", "Setuju", "Perorangan", "Ani Lestari"):
        await chat.send(text, **me)
    someone = Contact("+6281311112222", user_id="777")
    assert await chat.texts(kind=Kind.CONTACT, contact=someone, **me) == [t("collab.contact_card_not_own")]
    no_account = Contact("+6281311112222", user_id=None)
    assert await chat.texts(kind=Kind.CONTACT, contact=no_account, **me) == [t("collab.contact_card_not_own")]
    mine = Contact("6281298765432", user_id="4242", own=True)  # as the adapter marks the sender's own card
    assert await chat.texts(kind=Kind.CONTACT, contact=mine, **me) == [t("collab.ask_email")]
    await chat.send("Lewati", **me)
    await chat.send("Tidak, anonim", **me)
    async with db.transaction() as session:
        owner = (await session.execute(select(Identity.person_id).where(Identity.key == "telegram:4242"))).scalar_one()
        found = await session.get(Collaborator, owner)
    assert (found.contact_name, found.phone) == ("Ani Lestari", "+6281298765432")
    assert await count(db, "SELECT count(*) FROM collaborator WHERE phone = '+6281311112222'") == 0


async def test_on_whatsapp_the_number_one_writes_from_can_be_chosen(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db, "wa")
    wa = {"channel": "whatsapp", "bot": "test", "sender": "whatsapp:+6281277778888", "address": "+6281277778888",
          "phone": "+6281277778888"}
    for text in ("/start kolab", "Setuju", "Perorangan"):
        await chat.send(text, **wa)
    asked = (await chat.send("Dewi Sartika", **wa))[0]
    assert menu_labels(asked) == [t("collab.use_this_number")]
    assert await chat.texts("Pakai nomor WhatsApp ini", **wa) == [t("collab.ask_email")]


async def test_refusing_consent_stores_nothing(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db, "budi")
    await chat.send("/start kolab")
    assert await chat.texts("Tidak setuju") == [t("collab.declined"), t("menu.ask")]
    person = await collaborator_person(db, "budi")
    assert (person.consent_at, person.name) == (None, None)
    assert await count(db, "SELECT count(*) FROM collaborator") == 0


async def test_batal_midway_stores_nothing_and_a_new_start_begins_afresh(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db, "budi")
    await sign_up(chat, "Perusahaan", "PT Maju Jaya", "Budi Santoso", "0812 3456 7890")
    assert await chat.texts("BATAL") == [t("cancel.done"), t("menu.ask")]
    assert await count(db, "SELECT count(*) FROM collaborator") == 0
    async with db.transaction() as session:
        data = (await session.execute(select(Conversation.data))).scalars().all()
    assert all(signup.DRAFT not in item for item in data)  # the typed phone is not kept either
    assert await chat.texts("/start kolab") == [t("collab.ask_type")]


async def test_sign_up_goes_on_to_the_callers_state_keeping_its_data(db: Database) -> None:
    """The pledge flow starts sign-up with its own state to come back to, and its own data kept."""
    async with db.transaction() as session:
        identity = await identify(session, "local:caller", "local", "caller", "id", utcnow())
        ctx = Context(session, identity.person, identity, utcnow(), {"pledge": {"offer": 7}})
        assert signup.start(ctx, "pledge.amount") == signup.State.CONSENT
        steps = [(signup.State.CONSENT, "consent:yes", ""), (signup.State.TYPE, "ctype:individual", ""),
                 (signup.State.CONTACT, None, "Caller Name"), (signup.State.PHONE, None, "081234567890"),
                 (signup.State.EMAIL, "email:skip", ""), (signup.State.PUBLIC, "public:no", "")]
        state: str = signup.State.CONSENT
        for expected, choice, text in steps:
            assert state == expected
            kind = Kind.CHOICE if choice else Kind.TEXT
            message = Inbound("local", "local", "x", "local:caller", "caller", kind, text=text, choice=choice)
            state = await signup.STEPS[expected].answer(ctx, message) or state
        assert state == "pledge.amount"
        assert ctx.data == {"pledge": {"offer": 7}}
        assert await signup.is_collaborator(ctx)
        assert signup.start(ctx, MENU) == signup.State.TYPE  # consented now


# --- Ikrar saya ---------------------------------------------------------------------------------


async def open_my_pledges(chat: Direct) -> list[Reply]:
    """From anywhere to the list (the menu offers it once there is a pledge)."""
    await chat.send("MENU")
    return await chat.send("Ikrar saya")


async def company(db: Database, engine: Engine, user: str = "budi") -> tuple[Direct, int]:
    chat = Direct(engine, db, user)
    await sign_up(chat, "Perusahaan", "PT Maju Jaya", "Budi Santoso", "0812 3456 7890", "Lewati", "Ya, tampilkan")
    return chat, await person_id(db, user)


async def test_my_pledges_lists_status_amount_reason_hold_and_progress(db: Database, engine: Engine) -> None:
    chat, budi = await company(db, engine)
    assert t("menu.my_pledges") not in menu_labels((await chat.send("MENU"))[0])
    found = await offers(db)
    rejected = await pledge(db, budi, found["lengkap"], 750_000_000)
    await move(db, rejected.id, pledges.REJECTED, "Dokumen belum lengkap")
    confirmed = await pledge(db, budi, found["bersama"], 30_000_000)
    await move(db, confirmed.id, pledges.CONFIRMED)
    waiting = await pledge(db, budi, found["bersama"], 15_000_000)
    assert t("menu.my_pledges") in menu_labels((await chat.send("MENU"))[0])

    listed = (await open_my_pledges(chat))[0]
    bar = t("mine.progress", bar="▓▓▓░░░░░░░ 30%")  # 45 of 150 million
    where = {"package": "Paket Penataan RW Bersama", "rw": "005", "kelurahan": "Karet Tengsin"}
    assert listed.text == "\n\n".join([
        t("mine.header"),
        "\n".join([t("mine.item", reference=pledges.reference(waiting), status=t("pledge.status.pledged"),
                     amount="Rp15.000.000", **where),
                   t("mine.hold_until", until=datetime_short(waiting.expires_at, "id")), bar]),
        "\n".join([t("mine.item", reference=pledges.reference(confirmed), status=t("pledge.status.confirmed"),
                     amount="Rp30.000.000", **where), bar]),
        "\n".join([t("mine.item", reference=pledges.reference(rejected), status=t("pledge.status.rejected"),
                     amount="Rp750.000.000", **{**where, "package": "Paket Penataan RW Lengkap"}),
                   t("mine.reason", reason="Dokumen belum lengkap"), t("mine.progress", bar="░░░░░░░░░░ 0%")]),
    ])
    assert menu_labels(listed) == [t("mine.cancel_label", reference=pledges.reference(waiting)), t("mine.back")]
    assert await chat.texts("Kembali ke menu") == [t("menu.ask")]


async def test_a_gift_of_savings_is_listed_as_such(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db)
    await register(chat)
    siti = await person_id(db)
    found = await offers(db)
    async with db.transaction() as session:
        account = (await session.execute(select(Account).where(Account.person_id == siti))).scalar_one()
        session.add(LedgerEntry(account_id=account.id, amount=50_000, kind="deposit"))
        await session.flush()
        gift = await pledges.give_savings(session, siti, account.id, found["bersama"], 10_000, utcnow(),
                                          (await session.get(Person, siti)).rw_id)
        assert isinstance(gift, Pledge)
    texts = [reply.text for reply in await open_my_pledges(chat)]
    assert texts == ["\n\n".join([
        t("mine.header"),
        "\n".join([t("mine.item_sedekah", amount="Rp10.000", package="Paket Penataan RW Bersama", rw="005",
                     kelurahan="Karet Tengsin"), t("mine.progress", bar="░░░░░░░░░░ 0%")]),
    ]), t("menu.ask")]  # nothing to cancel: back to the menu


async def test_a_long_list_shows_the_latest_ten(db: Database, engine: Engine) -> None:
    chat, budi = await company(db, engine)
    found = await offers(db)
    made = [await pledge(db, budi, found["bersama"], 1_000_000 + n) for n in range(12)]
    listed = (await open_my_pledges(chat))[0]
    assert listed.text.startswith(t("mine.header_latest", shown=10, total=12))
    assert pledges.reference(made[-1]) in listed.text and pledges.reference(made[1]) not in listed.text
    assert len(listed.choices) == 11  # ten to cancel, and back


async def test_cancelling_a_waiting_pledge_releases_its_amount_at_once(db: Database, engine: Engine) -> None:
    chat, budi = await company(db, engine)
    bersama = (await offers(db))["bersama"]
    waiting = await pledge(db, budi, bersama, 25_000_000)
    assert await held(db, bersama) == 25_000_000
    await open_my_pledges(chat)
    reference = pledges.reference(waiting)
    where = {"package": "Paket Penataan RW Bersama", "rw": "005", "kelurahan": "Karet Tengsin"}
    assert await chat.texts(f"Batalkan {reference}") == [
        t("mine.ask_cancel", reference=reference, amount="Rp25.000.000", **where)]
    assert await chat.texts("Ya, batalkan") == [
        t("mine.cancelled", reference=reference, amount="Rp25.000.000"),
        "\n".join([t("mine.item", reference=reference, status=t("pledge.status.cancelled"), amount="Rp25.000.000",
                     **where), t("mine.progress", bar="░░░░░░░░░░ 0%")]),
        t("menu.ask"),
    ]
    assert await held(db, bersama) == 0
    assert (await stored_pledge(db, waiting.id)).status == pledges.CANCELLED
    async with db.transaction() as session:
        event = (await session.execute(select(PledgeEvent).where(PledgeEvent.pledge_id == waiting.id)
                                       .order_by(PledgeEvent.id.desc()))).scalars().first()
    assert (event.status, event.by) == (pledges.CANCELLED, budi)


async def test_saying_no_keeps_the_pledge(db: Database, engine: Engine) -> None:
    chat, budi = await company(db, engine)
    waiting = await pledge(db, budi, (await offers(db))["bersama"], 5_000_000)
    await open_my_pledges(chat)
    await chat.send(f"Batalkan {pledges.reference(waiting)}")
    assert await chat.texts("Tidak") == [t("cancel.done"), t("menu.ask")]
    assert (await stored_pledge(db, waiting.id)).status == pledges.PLEDGED


async def test_a_confirmed_pledge_cannot_be_cancelled_even_if_it_was_offered_before(
    db: Database, engine: Engine
) -> None:
    chat, budi = await company(db, engine)
    bersama = (await offers(db))["bersama"]
    confirmed = await pledge(db, budi, bersama, 5_000_000)
    await move(db, confirmed.id, pledges.CONFIRMED)
    listed = await open_my_pledges(chat)
    assert [r.text for r in listed][1:] == [t("menu.ask")]  # nothing to cancel: the list, then the menu
    assert t("pledge.status.confirmed") in listed[0].text and not listed[0].choices

    waiting = await pledge(db, budi, bersama, 5_000_000)
    await open_my_pledges(chat)
    await move(db, waiting.id, pledges.CONFIRMED)  # a coordinator confirms while the list is open
    assert await chat.texts(f"Batalkan {pledges.reference(waiting)}") == [
        t("mine.cancel_not_allowed", status=t("pledge.status.confirmed")), t("menu.ask")]
    assert (await stored_pledge(db, waiting.id)).status == pledges.CONFIRMED
    assert await held(db, bersama) == 10_000_000


async def test_a_hold_that_expires_before_the_yes_has_lapsed(db: Database, engine: Engine) -> None:
    chat, budi = await company(db, engine)
    waiting = await pledge(db, budi, (await offers(db))["bersama"], 5_000_000)
    await open_my_pledges(chat)
    await chat.send(f"Batalkan {pledges.reference(waiting)}")
    async with db.transaction() as session:
        await session.execute(update(Pledge).where(Pledge.id == waiting.id)
                              .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert await chat.texts("Ya, batalkan") == [t("mine.cancel_expired"), t("menu.ask")]
    assert (await stored_pledge(db, waiting.id)).status == pledges.LAPSED
    listed = (await open_my_pledges(chat))[0]
    assert t("pledge.status.lapsed") in listed.text and not listed.choices


async def test_only_the_owner_can_cancel(db: Database, engine: Engine) -> None:
    chat, _ = await company(db, engine)
    _, ani = await company(db, engine, "ani")
    theirs = await pledge(db, ani, (await offers(db))["bersama"], 5_000_000)
    budi = await person_id(db, "budi")
    async with db.transaction() as session:  # as if Budi's conversation pointed at Ani's pledge
        conversation = await session.get(Conversation, budi)
        conversation.state, conversation.data = "mine.confirm", {"my_pledges": {"pledge": theirs.id}}
        conversation.offered = {"choices": [["mine:cancel_yes", t("mine.cancel_yes")],
                                            ["mine:cancel_no", t("mine.cancel_no")]]}
    assert await chat.texts("Ya, batalkan") == [t("mine.not_found"), t("menu.ask")]
    assert (await stored_pledge(db, theirs.id)).status == pledges.PLEDGED


async def test_erasure_removes_the_collaborator_and_keeps_amounts_anonymous(db: Database, engine: Engine) -> None:
    _, budi = await company(db, engine)
    found = await offers(db)
    confirmed = await pledge(db, budi, found["bersama"], 30_000_000)
    await move(db, confirmed.id, pledges.CONFIRMED)
    waiting = await pledge(db, budi, found["bersama"], 5_000_000)
    async with db.transaction() as session:
        rw_id = (await session.get(Offer, found["bersama"])).rw_id
        assert [s.name for s in await pledges.supporters(session, rw_id, utcnow())] == ["PT Maju Jaya"] * 2
    async with db.transaction() as session:
        await erase_person(session, budi)
    assert await count(db, "SELECT count(*) FROM collaborator") == 0
    assert await count(db, "SELECT count(*) FROM person WHERE id = :p", p=budi) == 0
    kept = [await stored_pledge(db, confirmed.id), await stored_pledge(db, waiting.id)]
    assert [(p.person_id, p.amount) for p in kept] == [(None, 30_000_000), (None, 5_000_000)]
    assert await count(db, 'SELECT count(*) FROM pledge_event WHERE "by" IS NOT NULL') == 0
    assert await held(db, found["bersama"]) == 35_000_000
    async with db.transaction() as session:
        lines = await pledges.supporters(session, rw_id, utcnow())
    assert [(s.name, s.amount) for s in lines] == [(None, 30_000_000), (None, 5_000_000)]


async def test_a_collaborator_who_is_not_a_resident_can_erase_their_data_from_the_profile(
    db: Database, engine: Engine
) -> None:
    chat, budi = await company(db, engine)
    [menu] = [reply for reply in await chat.send("MENU") if reply.choices]
    assert t("menu.profile") in menu_labels(menu)
    [profile] = await chat.send(t("menu.profile"))
    assert menu_labels(profile) == [t("profile.language"), t("profile.erase"), t("profile.back")]
    await chat.send(t("profile.erase"))
    await chat.send(t("profile.erase_yes"))
    async with db.transaction() as session:
        assert await session.get(Person, budi) is None
        assert await session.get(Collaborator, budi) is None
