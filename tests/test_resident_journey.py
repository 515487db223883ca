"""Issue 3's journey, word for word: a new resident registers in RW 012 Kebon Melati and reports
2,5 kg of PET bottles and 1 kg of cardboard; after a restart, Saldo shows the report awaiting
weighing. On every channel through its real entry point: the local chat (a subprocess), Telegram
(polling, and the webhook on the ASGI app) against the fake Bot API, and WhatsApp (signed Twilio posts
to the ASGI app, replies through the fake Twilio API)."""

from __future__ import annotations

import pytest

from handlers.text.i18n import translate
from storage.reference import SAMPLE_BANK
from tests.transcripts import CHANNELS, Say, Tap, Transcript, assert_turns, on_channel

BANK = SAMPLE_BANK["name"]
LINES = "\n".join(
    translate("id", "report.line", category=category, weight=weight, price=price, value=value)
    for category, weight, price, value in (("botol PET", "2,5 kg", "Rp3.000", "Rp7.500"), ("kardus", "1 kg", "Rp1.500", "Rp1.500"))
)

REGISTER_AND_REPORT: Transcript = [
    (Say("/start"), [("id", "start.welcome"), ("id", "language.ask")]),
    (Tap("Bahasa Indonesia"), [("id", "language.set"), ("id", "menu.ask")]),
    (Tap("Lapor pilah sampah"), [("id", "register.notice"), ("id", "register.ask_consent")]),
    (Tap("Setuju"), [("id", "register.ask_name")]),
    (Say("Siti Aminah"), [("id", "register.ask_kota")]),
    (Tap("Jakarta Pusat"), [("id", "register.ask_kecamatan")]),
    (Tap("Tanah Abang"), [("id", "register.ask_kelurahan")]),
    (Tap("Kebon Melati"), [("id", "register.ask_rw", {"kelurahan": "Kebon Melati"})]),
    (Say("RW 012"), [
        ("id", "register.done", {"name": "Siti Aminah", "rw": "012", "kelurahan": "Kebon Melati"}),
        ("id", "register.bank", {"bank": BANK, "member": 1001}),
        ("id", "report.ask_group"),
    ]),
    (Tap("Plastik"), [("id", "report.ask_category")]),
    (Tap("botol PET"), [("id", "report.ask_weight", {"category": "botol PET"})]),
    (Say("2,5 kg"), [("id", "report.ask_more", {"items": "2,5 kg botol PET"})]),
    (Tap("Tambah jenis lain"), [("id", "report.ask_group")]),
    (Tap("Kertas"), [("id", "report.ask_category")]),
    (Tap("kardus"), [("id", "report.ask_weight", {"category": "kardus"})]),
    (Say("1 kg"), [("id", "report.ask_more", {"items": "2,5 kg botol PET, 1 kg kardus"})]),
    (Tap("Sudah, lanjut"), [("id", "report.ask_photo")]),
    (Tap("Lewati foto"), [("id", "report.summary", {"lines": LINES, "total": "Rp9.000"}), ("id", "report.ask_confirm")]),
    (Tap("Kirim laporan"), [("id", "report.saved", {"bank": BANK}), ("id", "menu.ask")]),
]

AFTER_RESTART: Transcript = [
    (Say("MENU"), [("id", "menu.ask")]),
    (Tap("Saldo tabungan"), [("id", "savings.title", {"name": "Siti Aminah"}), ("id", "menu.ask")]),
]


def assert_savings_show_the_pending_report(turns: list[str] | list[list[str]]) -> None:
    last = turns[-1]
    savings = last if isinstance(last, str) else last[0]
    assert translate("id", "savings.pending", count=1, value="Rp9.000") in savings
    assert translate("id", "savings.status_reported") in savings
    assert "Nomor anggota: 1001" in savings and "Saldo terverifikasi: Rp0" in savings
    assert "3,5 kg" in savings


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_resident_registers_reports_and_sees_the_report_after_a_restart(
    channel: str, database_url: str, request: pytest.FixtureRequest
) -> None:
    resident = on_channel(channel, request)
    first = await resident.turns(601, REGISTER_AND_REPORT)
    second = await resident.turns(601, AFTER_RESTART)  # a new process: nothing held in memory
    assert_turns(first, REGISTER_AND_REPORT)
    assert_turns(second, AFTER_RESTART)
    assert_savings_show_the_pending_report(second)
