"""The `sync-assets` command.

Expected failures (configuration, API, migrations) print one clear line and exit with status 2,
without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sync_assets.platform.errors import SyncError


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except SyncError as error:
        print(f"sync-assets: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sync-assets: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sync-assets",
        description="Keep a PostgreSQL warehouse in step with RDV Service Public and Doctolib.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    db = commands.add_parser("db", help="the warehouse: migrations, URL, embedded server")
    db_commands = db.add_subparsers(title="db commands", metavar="COMMAND")
    upgrade = db_commands.add_parser("upgrade", help="apply the pending migrations of sql/migrations")
    upgrade.set_defaults(handler=_db_upgrade)
    url = db_commands.add_parser("url", help="print the warehouse URL (starting the embedded server if needed)")
    url.add_argument("--dagster", action="store_true", help="print the URL of Dagster's storage instead")
    url.set_defaults(handler=_db_url)
    stop = db_commands.add_parser("stop", help="stop the embedded PostgreSQL (it starts again on demand)")
    stop.set_defaults(handler=_db_stop)
    db.set_defaults(handler=lambda _: db.print_help() or 2)

    demo = commands.add_parser("demo", help="start the warehouse, materialize every asset once, print a summary")
    demo.set_defaults(handler=_demo)

    dev = commands.add_parser("dev", help="open the Dagster UI on the same instance and warehouse")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(handler=_dev)
    return parser


def _db_upgrade(args: argparse.Namespace) -> int:
    from sync_assets.platform import migrations
    from sync_assets.platform.warehouse import database_url, redacted_url

    url = database_url()
    applied = migrations.upgrade(url)
    for migration in applied:
        print(f"applied {migration.path.name}")
    version = migrations.applied(url)[-1][0]
    print(f"{redacted_url(url)}: schema at version {version:04d} ({len(applied)} migration(s) applied now)")
    return 0


def _db_url(args: argparse.Namespace) -> int:
    from sync_assets.platform.warehouse import dagster_storage_url, database_url

    print(dagster_storage_url() if args.dagster else database_url())
    return 0


def _db_stop(args: argparse.Namespace) -> int:
    from sync_assets.platform.warehouse import embedded_server, uses_embedded_server

    if not uses_embedded_server():
        print("SYNC_DATABASE_URL is set: there is no embedded server to stop.")
        return 0
    server = embedded_server()
    print(f"stopped the embedded PostgreSQL in {server.pgdata}" if server.stop()
          else "the embedded PostgreSQL was not running")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from sync_assets.demo import run_demo

    return run_demo()


def _dev(args: argparse.Namespace) -> int:
    from sync_assets.platform import migrations
    from sync_assets.platform.instance import prepare_dagster_environment
    from sync_assets.platform.warehouse import database_url

    migrations.upgrade(database_url())
    environment = prepare_dagster_environment()
    project = Path(__file__).resolve().parents[1]
    dagster = Path(sys.executable).with_name("dagster")
    print(f"Dagster UI on http://127.0.0.1:{args.port} (DAGSTER_HOME={environment['DAGSTER_HOME']})", flush=True)
    os.chdir(project)
    os.execv(dagster, [str(dagster), "dev", "-w", str(project / "workspace.yaml"), "-p", str(args.port)])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
