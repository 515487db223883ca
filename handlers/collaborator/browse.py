"""`Dukung penataan RW`: choose a kota (or type a kelurahan name), page through its target RWs with
their status and needs, open one to see its offers, progress and supporters, and choose an open
offer to pledge to (`handlers.collaborator.pledge`). The package types can be read from the kota step."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from handlers import place_pick
from handlers.dialog.machine import MENU, TEXT, Context, Draft, Raw, Step
from handlers.messages import Inbound, Kind
from handlers.text.formatting import number, progress_bar, rupiah
from handlers.text.i18n import N_
from storage import catalog
from storage.catalog import Detail, Summary
from storage.pledges import ALTERNATIVE_TAKEN, CLOSED, FULL, TAKEN, OfferState, Supporter

PAGE = 8
PACKAGES = ("kota:packages", N_("browse.packages"))
TO_MENU = ("to:menu", N_("browse.to_menu"))
NEXT = ("list:next", N_("browse.next"))
PREVIOUS = ("list:previous", N_("browse.previous"))
OTHER_KOTA = ("list:kota", N_("browse.other_kota"))
BACK_TO_LIST = ("rw:list", N_("browse.back_to_list"))
NEEDS = N_("browse.list_needs")
RW_ASK, RW_ASK_CLOSED = N_("browse.rw_ask"), N_("browse.rw_ask_closed")
LIST_KOTA, LIST_KELURAHAN = N_("browse.list_kota"), N_("browse.list_kelurahan")
RW_STATUS = {
    "open": N_("upgrading.status.open"),
    "partly_funded": N_("upgrading.status.partly_funded"),
    "funded": N_("upgrading.status.funded"),
    "in_progress": N_("upgrading.status.in_progress"),
    "done": N_("upgrading.status.done"),
}
OFFER_STATUS = {
    None: N_("browse.offer_open"),
    TAKEN: N_("browse.offer_taken"),
    ALTERNATIVE_TAKEN: N_("browse.offer_alternative_taken"),
    FULL: N_("browse.offer_full"),
    CLOSED: N_("browse.offer_closed"),
}


RW_SUFFIX = re.compile(r"^(?P<name>.*?)[\s,]*\bRW\.?\s*(?P<number>\d{1,3})\s*$", re.IGNORECASE)


class State(StrEnum):
    KOTA = "browse.kota"
    LIST = "browse.list"
    RW = "browse.rw"


@dataclass
class Browsing(Draft):
    """What is being browsed: a kota's RWs or those of the kelurahan searched for, the page, the RW open."""

    KEY = "browse"
    kota: str | None = None  # the kota whose RWs are listed
    kelurahan: list[str] | None = None  # or the codes of the kelurahan searched for
    query: str = ""  # their names, as the list of a search is titled
    page: int = 0
    rw: int = 0  # the RW shown

    @property
    def has_list(self) -> bool:
        """A list of RWs (a kota's or a search's) was seen, to go back to."""
        return self.kota is not None or self.kelurahan is not None


async def begin(ctx: Context) -> str:
    """From the main menu: the kota step."""
    ctx.begin(Browsing())
    return State.KOTA


def open_rw(ctx: Context, rw_id: int) -> str:
    """Show one RW (from any journey); its back button returns to the list seen last, if any."""
    ctx.draft(Browsing).rw = rw_id
    return State.RW


# --- Labels -------------------------------------------------------------------------------------


def rw_name(kelurahan: str, rw_number: int) -> str:
    return f"{kelurahan} RW {rw_number:03d}"


def work_names(ctx: Context, codes: list[str]) -> str:
    """`Taman/penghijauan, MCK/sanitasi komunal` from work item codes."""
    return ", ".join(ctx.t(f"work.{code}") for code in codes)


def sample_marker(ctx: Context, is_sample: bool) -> str:
    return ctx.t("browse.sample_marker") if is_sample else ""


# --- Kota ---------------------------------------------------------------------------------------


async def ask_kota(ctx: Context) -> None:
    """Kota that have target RWs (with how many), the package types, the menu; or a kelurahan typed."""
    counted = await catalog.kota_counts(ctx.session)
    if not counted:
        ctx.say("browse.none", choices=[TO_MENU])
        return
    choices = [(f"kota:{k.code}", Raw(ctx.t("browse.kota_choice", kota=k.name, count=k.rws))) for k in counted]
    ctx.say("browse.ask_kota", choices=[*choices, PACKAGES, TO_MENU])


async def answer_kota(ctx: Context, message: Inbound) -> str | None:
    """A kota goes to its list; the package types are shown here; typed text searches kelurahan."""
    if message.kind is Kind.TEXT:
        return await search(ctx, message.text)
    if message.choice == TO_MENU[0]:
        return leave(ctx)
    if message.choice == PACKAGES[0]:
        await show_packages(ctx)
        return State.KOTA
    ctx.begin(Browsing(kota=(message.choice or "").removeprefix("kota:")))
    return State.LIST


async def show_packages(ctx: Context) -> None:
    """The package types: name, description, cost range, work items."""
    locale = ctx.person.locale
    described = "\n\n".join(
        ctx.t("browse.package_line", name=p.name, description=p.description_en if locale == "en" else p.description_id,
              low=rupiah(p.cost_min, locale), high=rupiah(p.cost_max, locale),
              works=work_names(ctx, list(p.work_items.get("items", []))))
        for p in await catalog.packages(ctx.session)
    )
    ctx.say("browse.package_info", packages=described, minimum=rupiah(ctx.terms.min_share, locale))


def leave(ctx: Context) -> str:
    ctx.drop(Browsing)
    return MENU


# --- Search -------------------------------------------------------------------------------------


def split_rw(text: str) -> tuple[str, int | None]:
    """`Kebon Melati RW 014` → ("Kebon Melati", 14); text without an RW number stays whole."""
    match = RW_SUFFIX.match(text)
    return (match["name"], int(match["number"])) if match else (text, None)


async def search(ctx: Context, text: str) -> str | None:
    """Target RWs in the kelurahan the text names (typos forgiven), or straight to the RW when the
    text also names a listed RW number; says so when none are listed there or no kelurahan has that
    name, staying where the person is."""
    name, rw_number = split_rw(text)
    found = await place_pick.find(ctx.session, name)
    if not found:
        ctx.say("browse.search_unknown", query=" ".join(text.split())[:60])
        return None
    listed_there = await catalog.summaries(ctx.session, ctx.now, kelurahan_codes=[k.code for k in found])
    if not listed_there:
        ctx.say("browse.search_none", kelurahan=", ".join(dict.fromkeys(k.name for k in found)))
        return None
    codes = list(dict.fromkeys(k.code for k in found if any(s.kelurahan == k.name for s in listed_there)))
    names = ", ".join(dict.fromkeys(s.kelurahan for s in listed_there))
    ctx.begin(Browsing(kelurahan=codes, query=names))
    named = [s for s in listed_there if s.number == rw_number]
    return open_rw(ctx, named[0].rw_id) if len(named) == 1 else State.LIST


# --- The list -----------------------------------------------------------------------------------


async def listed(ctx: Context) -> list[Summary]:
    """The RWs of the kota or kelurahan being browsed."""
    browsing = ctx.draft(Browsing)
    if browsing.kelurahan is not None:
        return await catalog.summaries(ctx.session, ctx.now, kelurahan_codes=browsing.kelurahan)
    return await catalog.summaries(ctx.session, ctx.now, kota_code=browsing.kota)


def list_line(ctx: Context, item: Summary) -> str:
    """`• Kebon Melati RW 012 – Selesai`, and the needs beneath when known."""
    name = rw_name(item.kelurahan, item.number) + sample_marker(ctx, item.is_sample)
    line = f"• {name} – {ctx.t(RW_STATUS[item.status])}"
    return line + (f"\n   {ctx.t(NEEDS, needs=work_names(ctx, item.needs))}" if item.needs else "")


async def ask_list(ctx: Context) -> None:
    """One page of RWs (status and needs), with next/previous, another kota, the menu."""
    items = await listed(ctx)
    if not items:
        ctx.say("browse.none", choices=[OTHER_KOTA, TO_MENU])
        return
    browsing = ctx.draft(Browsing)
    pages = (len(items) + PAGE - 1) // PAGE
    page = browsing.page = min(max(browsing.page, 0), pages - 1)
    shown = items[page * PAGE:(page + 1) * PAGE]
    choices = [(f"rw:{item.rw_id}", Raw(rw_name(item.kelurahan, item.number))) for item in shown]
    if page + 1 < pages:
        choices.append(NEXT)
    if page > 0:
        choices.append(PREVIOUS)
    lines = "\n".join(list_line(ctx, item) for item in shown)
    searched = browsing.kelurahan is not None
    ctx.say(LIST_KELURAHAN if searched else LIST_KOTA,
            place=browsing.query if searched else shown[0].kota, count=len(items), page=page + 1, pages=pages,
            lines=lines, choices=[*choices, OTHER_KOTA, TO_MENU])


async def answer_list(ctx: Context, message: Inbound) -> str | None:
    """Opens an RW, turns the page, goes back to the kota step or the menu; typed text searches."""
    if message.kind is Kind.TEXT:
        return await search(ctx, message.text)
    choice = message.choice or ""
    if choice == TO_MENU[0]:
        return leave(ctx)
    if choice == OTHER_KOTA[0]:
        ctx.begin(Browsing())
        return State.KOTA
    if choice in (NEXT[0], PREVIOUS[0]):
        ctx.draft(Browsing).page += 1 if choice == NEXT[0] else -1
        return State.LIST
    typed = message.text.strip()
    if typed and not typed.isdigit():  # a typed RW name is looked up, never guessed (RW 014 is not RW 012)
        return await search(ctx, typed)
    return open_rw(ctx, int(choice.removeprefix("rw:")))


# --- One RW -------------------------------------------------------------------------------------


def offer_text(ctx: Context, state: OfferState) -> str:
    """Package, target, work items, status, and progress when shared."""
    locale = ctx.person.locale
    offer = state.offer
    parts = [ctx.t("browse.offer", package=offer.package.name, target=rupiah(offer.target, locale),
                   works=work_names(ctx, list(offer.package.work_items.get("items", []))),
                   status=ctx.t(OFFER_STATUS[state.closed]))]
    if offer.package.shared:
        parts.append(ctx.t("browse.offer_progress", pledged=rupiah(state.pledged, locale),
                           bar=progress_bar(Fraction(state.pledged, offer.target) if offer.target else 0)))
    return "\n".join(parts)


async def supporter_lines(ctx: Context, supporters: list[Supporter], detail: Detail) -> str:
    """Public names, `Anonim`, and residents' gifts of savings summed per RW (never their names)."""
    if not supporters:
        return ctx.t("browse.no_supporters")
    givers = await catalog.rw_labels(ctx.session, [s.giver_rw_id for s in supporters if s.giver_rw_id])
    here = detail.listing.rw.kelurahan.name
    lines = []
    for supporter in supporters:
        if not supporter.sedekah:
            name = supporter.name or ctx.t("browse.anonymous")
        elif supporter.giver_rw_id not in givers:
            name = ctx.t("browse.sedekah_unknown")
        else:
            number_, kelurahan = givers[supporter.giver_rw_id]
            name = ctx.t("browse.sedekah", rw=f"{number_:03d}" if kelurahan == here else rw_name(kelurahan, number_))
        lines.append(f"• {name} – {rupiah(supporter.amount, ctx.person.locale)}")
    return ctx.t("browse.supporters", lines="\n".join(lines))


def about(ctx: Context, detail: Detail) -> str:
    """Where the RW is, its status, families and population, needs and contact."""
    locale = ctx.person.locale
    listing, summary = detail.listing, detail.summary
    no_data = ctx.t("browse.no_data")
    parts = [ctx.t("browse.rw_title", name=rw_name(summary.kelurahan, summary.number),
                   sample=sample_marker(ctx, summary.is_sample), kelurahan=summary.kelurahan,
                   kecamatan=summary.kecamatan, kota=summary.kota, status=ctx.t(RW_STATUS[detail.status])),
             ctx.t("browse.rw_people",
                   families=number(listing.families, locale) if listing.families is not None else no_data,
                   population=number(listing.population, locale) if listing.population is not None else no_data),
             ctx.t("browse.rw_needs", needs=work_names(ctx, summary.needs) if summary.needs else no_data)]
    if listing.contact:
        parts.append(ctx.t("browse.rw_contact", contact=listing.contact))
    return "\n".join(parts)


async def ask_rw(ctx: Context) -> None:
    """The RW in full, then a choice: pledge to one of its open offers, or back."""
    browsing = ctx.draft(Browsing)
    detail = await catalog.detail(ctx.session, browsing.rw, ctx.now)
    back = [BACK_TO_LIST if browsing.has_list else OTHER_KOTA, TO_MENU]
    if detail is None:
        ctx.say("browse.rw_gone", choices=back)
        return
    offers = "\n\n".join(offer_text(ctx, state) for state in detail.states)
    if any(state.offer.assumed for state in detail.states):
        offers += "\n\n" + ctx.t("browse.offer_assumed")
    ctx.say_text("\n\n".join((about(ctx, detail), offers, await supporter_lines(ctx, detail.supporters, detail))))
    pledgeable = [(f"pledge:{s.offer.id}", Raw(ctx.t("browse.pledge_to", package=s.offer.package.name)))
                  for s in detail.states if s.open]
    ctx.say(RW_ASK if pledgeable else RW_ASK_CLOSED, choices=[*pledgeable, *back])


async def answer_rw(ctx: Context, message: Inbound) -> str:
    """Pledges to the chosen offer, or goes back to the list (or kota step) or the menu."""
    choice = message.choice or ""
    if choice == TO_MENU[0]:
        return leave(ctx)
    if choice == BACK_TO_LIST[0]:
        return State.LIST
    if choice == OTHER_KOTA[0]:
        ctx.begin(Browsing())
        return State.KOTA
    from handlers.collaborator import pledge  # pledging builds on browsing (and returns to it)

    return await pledge.begin(ctx, int(choice.removeprefix("pledge:")))


STEPS = {
    State.KOTA: Step(ask_kota, answer_kota, N_("browse.help_kota"), accepts=TEXT),
    State.LIST: Step(ask_list, answer_list, N_("browse.help_list"), accepts=TEXT),
    State.RW: Step(ask_rw, answer_rw, N_("browse.help_rw")),
}
