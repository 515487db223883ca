"""The commitment letter a collaborator receives when a coordinator confirms their pledge: one A4
page (fpdf2, core fonts) naming the RW, the package, the amount, the date, the reference number, the
collaborator and where the funds go, in the collaborator's language."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from fpdf import FPDF

from handlers.text.formatting import date_long, rupiah
from handlers.text.i18n import N_, translate

FONT = "Helvetica"
LINE = 6.5  # mm per line of body text
# Typographic characters outside latin-1 that have a plain equivalent.
PLAIN = str.maketrans({"—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "•": "-",
                       "\u2009": " ", "\u202f": " "})
NO_PAYMENT = N_("letter.payment_missing")
SAMPLE = N_("letter.sample")


@dataclass(frozen=True)
class LetterFacts:
    """What the letter says; `assumed` marks a sample catalog (its amounts are assumptions)."""

    reference: str
    collaborator: str  # the organisation, or the contact's name for an individual
    rw_number: int
    kelurahan: str
    kecamatan: str
    kota: str
    package: str
    amount: int
    confirmed_on: date
    payment: str | None
    assumed: bool = False


def latin1(text: str) -> str:
    """The text as the core PDF fonts can draw it: accents kept where latin-1 has them, dashes and
    quotes made plain, anything else (and control characters) replaced by `?`."""
    out = []
    for char in text.translate(PLAIN):
        if char == "\n" or (" " <= char <= "~") or "\xa0" <= char <= "\xff":
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if " " <= c <= "~" or "\xa0" <= c <= "\xff")
        out.append(base or ("" if unicodedata.category(char).startswith("C") else "?"))
    return "".join(out)


def commitment_letter(facts: LetterFacts, locale: str, *, compress: bool = True) -> bytes:
    """The letter as PDF bytes; the same facts give the same bytes (its creation date is the date
    of confirmation)."""

    def t(key: str, **values: object) -> str:
        return latin1(translate(locale, key, **values))

    pdf = FPDF(format="A4")
    pdf.set_compression(compress)
    pdf.set_creation_date(datetime.combine(facts.confirmed_on, time(), tzinfo=UTC))
    pdf.set_title(t("letter.title"))
    pdf.set_author("KSBB Bot")
    pdf.set_margins(22, 20, 22)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()

    def paragraph(text: str, *, size: float = 11, style: str = "", align: str = "L", after: float = 2) -> None:
        pdf.set_font(FONT, style=style, size=size)
        pdf.multi_cell(0, LINE, text, align=align, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(after)

    paragraph(t("letter.program"), size=10, align="C", after=1)
    paragraph(t("letter.title"), size=15, style="B", align="C", after=1)
    paragraph(t("letter.reference", reference=facts.reference), size=10, align="C", after=8)
    paragraph(t("letter.date", date=date_long(facts.confirmed_on, locale)), after=4)
    paragraph(t("letter.opening", collaborator=latin1(facts.collaborator)), after=4)
    rows = (
        (t("letter.label_rw"), f"RW {facts.rw_number:03d}"),
        (t("letter.label_kelurahan"), latin1(facts.kelurahan)),
        (t("letter.label_kecamatan"), latin1(facts.kecamatan)),
        (t("letter.label_kota"), latin1(facts.kota)),
        (t("letter.label_package"), latin1(facts.package)),
        (t("letter.label_amount"), latin1(rupiah(facts.amount, locale))),
        (t("letter.label_reference"), facts.reference),
    )
    for label, value in rows:
        pdf.set_font(FONT, size=11)
        pdf.cell(48, LINE, label)
        pdf.set_font(FONT, style="B", size=11)
        pdf.multi_cell(0, LINE, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)
    paragraph(t("letter.payment_heading"), style="B", after=1)
    paragraph(latin1(facts.payment) if facts.payment else t(NO_PAYMENT), after=4)
    paragraph(t("letter.closing"), after=4)
    if facts.assumed:
        paragraph(t(SAMPLE), size=9, style="I", after=2)
    paragraph(t("letter.footer"), size=9, after=0)
    return bytes(pdf.output())


def letter_filename(reference: str) -> str:
    return f"surat-komitmen-{reference}.pdf"
