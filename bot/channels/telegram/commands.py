"""The command menu Telegram shows, registered in Indonesian (default) and English."""

from __future__ import annotations

from telegram import Bot, BotCommand

from handlers.text.i18n import N_, translate

# (Indonesian command, English command, description key); the dialog understands both names.
COMMANDS = (
    ("start", "start", N_("command.start")),
    ("menu", "menu", N_("command.menu")),
    ("bantuan", "help", N_("command.help")),
    ("batal", "cancel", N_("command.cancel")),
    ("bahasa", "language", N_("command.language")),
)


def commands(locale: str) -> list[BotCommand]:
    column = 0 if locale == "id" else 1
    return [BotCommand(names[column], translate(locale, names[2])) for names in COMMANDS]


async def register_commands(bot: Bot) -> None:
    """`setMyCommands` for everyone (Indonesian) and for English-language clients."""
    await bot.set_my_commands(commands("id"))
    await bot.set_my_commands(commands("en"), language_code="en")
