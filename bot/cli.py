"""`ksbb`: run the bot, chat in the terminal, run a worker, migrate the database."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

from bot import admin, logs
from bot.settings import Settings, SettingsError, load_settings
from storage.db import Database

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ksbb", description="KSBB Bot")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="Telegram with a token, otherwise the local chat")
    chat = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--user", default=None, help="terminal user name (identity local:NAME)")
    commands.add_parser("worker", help="outbox senders and the scheduler")
    web = commands.add_parser("web", help="the web process: Telegram webhook and /healthz")
    web.add_argument("--host", default="0.0.0.0")
    web.add_argument("--port", type=int, default=8000)
    telegram = commands.add_parser("telegram", help="Telegram set-up").add_subparsers(dest="action", required=True)
    telegram.add_parser("set-webhook", help="register PUBLIC_BASE_URL/telegram with the webhook secret")
    db = commands.add_parser("db", help="database commands")
    db.add_argument("action", choices=["upgrade"])
    admin.add_commands(commands)
    export_parser = commands.add_parser("export", help="export data").add_subparsers(dest="what", required=True)
    deposits = export_parser.add_parser("deposits", help="deposits and reports, phone numbers masked")
    deposits.add_argument("--scope", default="all", help="all, kota:NAME, kelurahan:NAME or rw:KELURAHAN:NUMBER")
    deposits.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    deposits.add_argument("--output", help="file to write (default: setoran.<format>)")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "db":
        return upgrade(settings.database_url)  # Alembic configures its own logging
    if args.command == "admin":
        return asyncio.run(run_admin(settings, args))
    if args.command == "export":
        return asyncio.run(run_export(settings, args))

    chatting = args.command == "chat" or (args.command == "run" and settings.telegram_bot_token is None)
    logs.configure("WARNING" if chatting else settings.log_level)

    from bot.app import App

    app = App(settings)
    if args.command == "web":
        asyncio.run(app.run_web(args.host, args.port))
        return 0
    if args.command == "telegram":
        try:
            print(f"Webhook set: {asyncio.run(app.set_webhook())}")
        except SettingsError as exc:
            print(exc, file=sys.stderr)
            return 2
        return 0
    if chatting:
        user = getattr(args, "user", None) or getpass.getuser() or "warga"
        asyncio.run(app.run_chat(user, with_scheduler=args.command == "run"))
    elif args.command == "run":
        asyncio.run(app.run_telegram())
    else:
        asyncio.run(app.run_worker())
    return 0


async def run_admin(settings: Settings, args: argparse.Namespace) -> int:
    db = Database(settings.database_url)
    try:
        print(await admin.run(db, args, settings.telegram_bot_username))
    except admin.AdminError as exc:
        print(exc, file=sys.stderr)
        return 2
    finally:
        await db.dispose()
    return 0


async def run_export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.export import ScopeError, deposit_rows, resolve_scope, to_csv, to_xlsx

    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            rows = await deposit_rows(session, await resolve_scope(session, args.scope))
    except ScopeError as exc:
        print(exc, file=sys.stderr)
        return 2
    finally:
        await db.dispose()
    path = Path(args.output or f"setoran.{args.format}")
    path.write_bytes(to_xlsx(rows) if args.format == "xlsx" else to_csv(rows))
    print(f"{len(rows)} rows written to {path}.")
    return 0


def upgrade(database_url: str) -> int:
    """`alembic upgrade head` on the configured database."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, "head")
    return 0


if __name__ == "__main__":
    sys.exit(main())
