"""`ksbb`: run the bot, chat in the terminal, run a worker, migrate the database."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import tempfile
from pathlib import Path

from sqlalchemy.exc import InterfaceError, OperationalError

from bot import admin, logs
from bot.settings import Settings, SettingsError, load_settings
from storage import schema
from storage.db import Database

# Commands that use the database's tables: its schema is checked first (the embedded default is migrated).
NEEDS_SCHEMA = ("run", "chat", "worker", "web", "admin", "export", "catalog")


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
    pledge_export = export_parser.add_parser("pledges", help="pledges and gifts of savings, contacts masked")
    pledge_export.add_argument("--out", help="file to write (default: ikrar.csv, with --summary ikrar-ringkasan.csv)")
    pledge_export.add_argument("--summary", action="store_true",
                               help="one row per RW and package: pledged, confirmed, received, sedekah")
    catalog = commands.add_parser("catalog", help="the upgrading catalog").add_subparsers(dest="action", required=True)
    catalog_import = catalog.add_parser("import", help="check a catalog CSV and report (dry run); --apply writes it")
    catalog_import.add_argument("file", type=Path, metavar="FILE.csv")
    catalog_import.add_argument("--apply", action="store_true", help="write the catalog, in one transaction")
    catalog_import.add_argument("--sample", action="store_true",
                                help="mark the RWs as sample data and their targets as assumptions")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
        if args.command == "db":
            return upgrade(settings.database_url)  # Alembic configures its own logging
        if args.command in NEEDS_SCHEMA and schema.ensure_current(settings.database_url):
            print(f"Migrated the embedded database {settings.database_url.removeprefix('sqlite:///')}.",
                  file=sys.stderr)
        if args.command == "admin":
            return asyncio.run(run_admin(settings, args))
        if args.command == "export":
            exporting = run_export(settings, args) if args.what == "deposits" else run_pledge_export(settings, args)
            return asyncio.run(exporting)
        if args.command == "catalog":
            return asyncio.run(run_catalog_import(settings, args))
    except (SettingsError, schema.SchemaError) as exc:
        print(exc, file=sys.stderr)
        return 1
    except (OperationalError, InterfaceError) as exc:  # the database went away during the command
        print(f"The database {schema.shown(settings.database_url)} failed: {schema.reason(exc)}.", file=sys.stderr)
        return 1

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
            return 1
        return 0
    user = (getattr(args, "user", None) or getpass.getuser() or "warga") if chatting else None
    if args.command == "run":
        asyncio.run(app.run(user))
    elif args.command == "chat":
        asyncio.run(app.run_chat(user or "warga"))
    else:
        asyncio.run(app.run_worker())
    return 0


async def run_admin(settings: Settings, args: argparse.Namespace) -> int:
    db = Database(settings.database_url)
    try:
        print(await admin.run(db, args, settings.telegram_bot_username))
    except admin.AdminError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    return 0


async def run_export(settings: Settings, args: argparse.Namespace) -> int:
    from handlers.documents.export import ScopeError, deposit_rows, resolve_scope, to_csv, to_xlsx

    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            rows = await deposit_rows(session, await resolve_scope(session, args.scope))
    except ScopeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    path = Path(args.output or f"setoran.{args.format}")
    return written(path, to_xlsx(rows) if args.format == "xlsx" else to_csv(rows), len(rows))


async def run_pledge_export(settings: Settings, args: argparse.Namespace) -> int:
    from handlers.documents.export import (
        PLEDGE_COLUMNS,
        PLEDGE_SUMMARY_COLUMNS,
        pledge_rows,
        pledge_summary_rows,
        to_csv,
    )

    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            rows = await (pledge_summary_rows(session) if args.summary else pledge_rows(session))
    finally:
        await db.dispose()
    path = Path(args.out or ("ikrar-ringkasan.csv" if args.summary else "ikrar.csv"))
    return written(path, to_csv(rows, PLEDGE_SUMMARY_COLUMNS if args.summary else PLEDGE_COLUMNS), len(rows))


def written(path: Path, content: bytes, count: int) -> int:
    """Write an export to a temporary file beside `path`, then rename it: a reader never sees half a file,
    and a failure leaves no file (and any earlier one as it was). 1, with one sentence, when it cannot."""
    temporary: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as out:
            temporary = Path(out.name)
            out.write(content)
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        print(f"Cannot write {path}: {exc.strerror or exc}.", file=sys.stderr)
        return 1
    print(f"{count} rows written to {path}.")
    return 0


async def run_catalog_import(settings: Settings, args: argparse.Namespace) -> int:
    """`ksbb catalog import FILE.csv [--apply]`: the report of what the file adds, changes and rejects;
    with --apply and no rejected row, the write in one audited transaction. 1 when nothing could be written."""
    from storage.audit import audit
    from storage.catalog_import import CatalogError, apply, plan, read_file
    from storage.types import utcnow

    db = Database(settings.database_url)
    try:
        content = read_file(args.file)
        async with db.transaction() as session:
            planned = await session.run_sync(lambda sync: plan(sync.connection(), content, sample=args.sample))
            print(planned.report())
            if args.apply:
                counts = {"added": len(planned.added), "changed": len(planned.changed),
                          "rejected": len(planned.rejected)}
                if planned.ok:
                    await session.run_sync(lambda sync: apply(sync.connection(), planned))
                await audit(session, None, "catalog_import", "applied" if planned.ok else "refused", utcnow(),
                            target=args.file.name, **counts)
    except CatalogError as exc:
        print(f"{args.file}: {exc} Nothing written.", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    if not planned.ok:
        print(f"Nothing written: {len(planned.rejected)} rows rejected. Fix them and run the import again.")
        return 1
    if not planned.added and not planned.changed:
        print("Nothing to change: the catalog already matches the file.")
    elif not args.apply:
        print("Dry run: nothing written. Run again with --apply to write these changes.")
    else:
        print(f"Applied in one transaction: {len(planned.added)} RWs added, {len(planned.changed)} changed.")
    return 0


def upgrade(database_url: str) -> int:
    """`alembic upgrade head` on the configured database (SchemaError when it cannot be reached)."""
    schema.upgrade(database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
