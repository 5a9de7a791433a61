"""The `sync-assets` command.

Expected failures (configuration, API, migrations) print one clear line and exit with status 2,
without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import functools
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from sync_assets.connectors import CONNECTORS
from sync_assets.platform.arguments import positive_int
from sync_assets.platform.errors import SyncError
from sync_assets.platform.registry import Connector


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

    sandbox = commands.add_parser(
        "sandbox", help="serve the local stand-ins of the RDV Service Public and Doctolib APIs"
    )
    sandbox.add_argument("--port", type=int, default=8900)
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--seed", type=int, default=1, help="same seed, same data")
    sandbox.add_argument("--scale", type=positive_int, default=1000, help="number of RDVs")
    sandbox.add_argument("--doctolib-practices", type=positive_int, default=3, help="number of Doctolib practices")
    sandbox.add_argument(
        "--doctolib-appointments", type=positive_int, default=200, help="appointments per Doctolib practice"
    )
    sandbox.add_argument(
        "--doctolib-rate",
        type=float,
        default=200.0,
        help="requests per second allowed per Doctolib API key (above: 429)",
    )
    sandbox.add_argument(
        "--budget",
        type=positive_int,
        help="throttle RDV Service Public as its Rack::Attack does: N requests per period per client IP "
        "on /api/v1/ (above: 429 with Retry-After); default: no throttling",
    )
    sandbox.add_argument(
        "--budget-period",
        type=_positive_seconds,
        help="the throttle's fixed window, in seconds (default 60; fractions allowed); needs --budget",
    )
    sandbox.add_argument(
        "--rdv-listing-budget",
        type=positive_int,
        help="also M RDV listings (GET /api/v1/rdvs) per period per client IP and organisation; needs --budget",
    )
    sandbox.set_defaults(handler=functools.partial(_sandbox, sandbox))

    webhooks = commands.add_parser("webhooks", help="the webhook receiver")
    webhooks_commands = webhooks.add_subparsers(title="webhooks commands", metavar="COMMAND")
    serve = webhooks_commands.add_parser("serve", help="receive RDV Service Public webhooks and OAuth callbacks")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--workers",
        type=positive_int,
        default=2,
        help="receiver processes, each applying one delivery at a time (default 2)",
    )
    serve.set_defaults(handler=_webhooks_serve)
    webhooks.set_defaults(handler=lambda _: webhooks.print_help() or 2)

    for connector in CONNECTORS:
        _add_connector_commands(commands, connector)

    demo = commands.add_parser("demo", help="start the warehouse, materialize every asset once, print a summary")
    demo.set_defaults(handler=_demo)

    dev = commands.add_parser("dev", help="open the Dagster UI on the same instance and warehouse")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(handler=_dev)
    return parser


def _add_connector_commands(commands, connector: Connector) -> None:
    """`sync-assets <connector> sync`, with the connector's options, and its own commands."""
    group = commands.add_parser(connector.name, help=connector.help or f"{connector.title}: sync it")
    subcommands = group.add_subparsers(title=f"{connector.name} commands", metavar="COMMAND")
    sync = subcommands.add_parser(
        "sync",
        help=f"sync {connector.partition}s now, through Dagster (the job its schedules use); prints per-table counts",
    )
    connector.sync_arguments(sync)
    sync.set_defaults(handler=functools.partial(_sync, connector))
    if connector.commands is not None:
        connector.commands(subcommands)
    group.set_defaults(handler=lambda _: group.print_help() or 2)


def _sync(connector: Connector, args: argparse.Namespace) -> int:
    from sync_assets.platform import migrations
    from sync_assets.platform.warehouse import database_url
    from sync_assets.runs import instance, print_runs, run_sync

    url = database_url()
    migrations.upgrade(url)
    requests = connector.sync_requests(args, url)
    dagster = instance()
    return print_runs(connector, (run_sync(dagster, url, connector, request) for request in requests))


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
    print(
        f"stopped the embedded PostgreSQL in {server.pgdata}"
        if server.stop()
        else "the embedded PostgreSQL was not running"
    )
    return 0


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value!r}")
    return seconds


def _sandbox(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from sync_assets.sandbox.server import build_sandbox

    if args.budget is None:
        for given, option in (
            (args.rdv_listing_budget, "--rdv-listing-budget"),
            (args.budget_period, "--budget-period"),
        ):
            if given is not None:
                parser.error(f"{option} needs --budget (the requests per period allowed on /api/v1/)")
    print(
        f"building the sandbox data (seed {args.seed}, {args.scale} RDVs, {args.doctolib_practices} Doctolib "
        f"practices of {args.doctolib_appointments} appointments)…",
        flush=True,
    )
    sandbox = build_sandbox(
        seed=args.seed,
        scale=args.scale,
        port=args.port,
        host=args.host,
        doctolib_practices=args.doctolib_practices,
        doctolib_appointments=args.doctolib_appointments,
        doctolib_rate=args.doctolib_rate,
        budget=args.budget,
        budget_period=args.budget_period or 60.0,
        rdv_listing_budget=args.rdv_listing_budget,
    )
    oauth = sandbox.rdvsp.oauth
    print(
        f"RDV Service Public sandbox on {sandbox.base_url}\n"
        f"  RDVSP_BASE_URL={sandbox.base_url} RDVSP_CLIENT_ID={oauth.client_id} "
        f"RDVSP_CLIENT_SECRET={oauth.client_secret}\n"
        f"  changes at runtime: POST/PATCH/DELETE {sandbox.base_url}/sandbox/rdvs, /sandbox/users\n"
        f"Doctolib sandbox on {sandbox.base_url}\n"
        f"  {' '.join(f'{k}={v}' for k, v in sandbox.doctolib.environment(sandbox.base_url).items())}\n"
        f"  changes at runtime: PATCH/DELETE {sandbox.base_url}/sandbox/doctolib/appointments/<id>\n"
        f"Faults of both APIs: POST/GET/DELETE {sandbox.base_url}/sandbox/faults (see the README)\n"
        f"RDV Service Public {sandbox.throttle.describe() if sandbox.throttle else 'not throttled (see --budget)'}",
        flush=True,
    )
    sandbox.server.run()
    return 0


def _webhooks_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sync_assets.platform import migrations
    from sync_assets.platform.errors import ConfigurationError
    from sync_assets.platform.secrets import TokenCipher
    from sync_assets.platform.warehouse import database_url
    from sync_assets.rdvsp.oauth import RdvspSettings
    from sync_assets.rdvsp.receiver_metrics import shared_metrics_directory

    migrations.upgrade(database_url())
    TokenCipher.from_environment()  # fail now, clearly, rather than in each worker
    try:
        RdvspSettings.from_environment()
    except ConfigurationError as error:
        print(f"OAuth callback disabled: {error}", file=sys.stderr)
    print(
        f"webhook receiver on http://{args.host}:{args.port}/webhooks/rdvsp/<organisation id> "
        f"({args.workers} worker process{'es' if args.workers > 1 else ''})",
        flush=True,
    )
    config = uvicorn.Config(
        "sync_assets.rdvsp.receiver:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )
    # Worker processes add up their metrics in a shared folder. No gauge of ours is per live
    # process, so a worker that exits leaves nothing to forget (no mark_process_dead).
    with shared_metrics_directory(args.workers):
        _run_receiver(config, args.workers)
    return 0


def _run_receiver(config, workers: int) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if workers == 1:
        uvicorn.Server(config).run()
        return
    # uvicorn binds the shared socket with protocol 0, and asyncio sets TCP_NODELAY only on
    # connections accepted from an IPPROTO_TCP socket: each answer would then wait for the
    # client's delayed ACK (about 40 ms). Rewrapping the socket lets its protocol be detected.
    listening = config.bind_socket()
    Multiprocess(config, sockets=[socket.socket(fileno=listening.detach())]).run()


def _demo(args: argparse.Namespace) -> int:
    from sync_assets.demo import run_demo

    return run_demo()


def _dev(args: argparse.Namespace) -> int:
    from sync_assets.platform import migrations
    from sync_assets.platform.instance import prepare_dagster_environment
    from sync_assets.platform.warehouse import database_url, local_dir

    migrations.upgrade(database_url())
    environment = prepare_dagster_environment()
    project = Path(__file__).resolve().parents[1]
    dagster = Path(sys.executable).with_name("dagster")
    print(f"Dagster UI on http://127.0.0.1:{args.port} (DAGSTER_HOME={environment['DAGSTER_HOME']})", flush=True)
    # From the instance's folder: Dagster warns when the folder it starts in holds a dagster.yaml
    # (the project's template) that is not DAGSTER_HOME's.
    os.environ["SYNC_LOCAL_DIR"] = str(local_dir())  # absolute: the code server starts there too
    os.chdir(environment["DAGSTER_HOME"])
    # `dagster dev` is the pinned release's command (its successor, `dg`, is not installed): its
    # notice that `dg dev` supersedes it is not for our users.
    os.environ["PYTHONWARNINGS"] = "ignore:Function `dev_command` is superseded"
    os.execv(dagster, [str(dagster), "dev", "-w", str(project / "workspace.yaml"), "-p", str(args.port)])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
