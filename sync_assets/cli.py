"""The `sync-assets` command.

Expected failures (configuration, API, migrations) print one clear line and exit with status 2,
without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import socket
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

    sandbox = commands.add_parser("sandbox", help="serve the local stand-ins of the RDV Service Public and Doctolib APIs")
    sandbox.add_argument("--port", type=int, default=8900)
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--seed", type=int, default=1, help="same seed, same data")
    sandbox.add_argument("--scale", type=_positive_int, default=1000, help="number of RDVs")
    sandbox.add_argument("--doctolib-practices", type=_positive_int, default=3, help="number of Doctolib practices")
    sandbox.add_argument("--doctolib-appointments", type=_positive_int, default=200,
                         help="appointments per Doctolib practice")
    sandbox.add_argument("--doctolib-rate", type=float, default=200.0,
                         help="requests per second allowed per Doctolib API key (above: 429)")
    sandbox.set_defaults(handler=_sandbox)

    webhooks = commands.add_parser("webhooks", help="the webhook receiver")
    webhooks_commands = webhooks.add_subparsers(title="webhooks commands", metavar="COMMAND")
    serve = webhooks_commands.add_parser("serve", help="receive RDV Service Public webhooks and OAuth callbacks")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--workers", type=_positive_int, default=2,
                       help="receiver processes, each applying one delivery at a time (default 2)")
    serve.set_defaults(handler=_webhooks_serve)
    webhooks.set_defaults(handler=lambda _: webhooks.print_help() or 2)

    rdvsp = commands.add_parser("rdvsp", help="RDV Service Public: connect accounts, sync them")
    rdvsp_commands = rdvsp.add_subparsers(title="rdvsp commands", metavar="COMMAND")
    connect = rdvsp_commands.add_parser("connect", help="connect an agent account (OAuth authorization code)")
    connect.add_argument("--unattended", action="store_true",
                         help="follow the authorize redirect ourselves (servers that approve at once, e.g. the sandbox)")
    connect.add_argument("--sync-from", type=_date, default=None,
                         help="first day of RDVs to sync (YYYY-MM-DD); default: two years ago")
    connect.add_argument("--sync-now", action="store_true",
                         help="run the account's first sync now, through Dagster (otherwise it is queued for the "
                              "rdvsp_account_partitions sensor)")
    connect.set_defaults(handler=_rdvsp_connect)
    disconnect = rdvsp_commands.add_parser(
        "disconnect", help="disconnect an account: revoke its tokens, stop its webhooks, keep or purge its rows")
    disconnect.add_argument("--account", type=_positive_int, required=True, help="the account (agent id)")
    disconnect.add_argument("--purge", action="store_true",
                            help="also remove its links and the rows no other connected account sees "
                                 "(never coop.* rows)")
    disconnect.set_defaults(handler=_rdvsp_disconnect)
    sync = rdvsp_commands.add_parser("sync", help="sync accounts now, through Dagster; prints per-table counts")
    sync.add_argument("--account", type=_positive_int, help="one account (agent id); default: every active account")
    sync.add_argument("--organisations", type=_id_list, default=None,
                      help="comma-separated organisation ids: sync only these (deletions stay inside them)")
    sync.set_defaults(handler=_rdvsp_sync)
    set_status = rdvsp_commands.add_parser(
        "set-status", help="set an RDV's attendance status at RDV Service Public (through the write-back outbox)")
    set_status.add_argument("--account", type=_positive_int, required=True, help="the account (agent id)")
    set_status.add_argument("--rdv", type=_positive_int, required=True, help="the RDV id")
    set_status.add_argument("--status", required=True, choices=("seen", "noshow", "excused", "revoked"))
    set_status.set_defaults(handler=_rdvsp_set_status)
    plan = rdvsp_commands.add_parser(
        "plan", help="create an RDV plan at RDV Service Public (through the write-back outbox); prints its URL")
    plan.add_argument("--account", type=_positive_int, required=True, help="the account (agent id)")
    person = plan.add_mutually_exclusive_group(required=True)
    person.add_argument("--user", type=_positive_int, help="an RDV Service Public user id")
    person.add_argument("--beneficiaire", type=_positive_int, help="a coop.beneficiaires id")
    plan.add_argument("--return-url", help="where RDV Service Public sends the agent back once the RDV is taken")
    plan.add_argument("--dossier-url", help="the person's file in the host application")
    plan.set_defaults(handler=_rdvsp_plan)
    rdvsp.set_defaults(handler=lambda _: rdvsp.print_help() or 2)

    doctolib = commands.add_parser("doctolib", help="Doctolib: sync practices")
    doctolib_commands = doctolib.add_subparsers(title="doctolib commands", metavar="COMMAND")
    doctolib_sync = doctolib_commands.add_parser(
        "sync", help="sync practices now, through Dagster (the daily schedule's job); prints per-table counts")
    doctolib_sync.add_argument("--practice", type=_positive_int,
                               help="one practice id; default: every practice an account reaches")
    doctolib_sync.add_argument("--full-refresh", action="store_true",
                               help="re-read every appointment and delete those Doctolib no longer returns")
    doctolib_sync.set_defaults(handler=_doctolib_sync)
    doctolib.set_defaults(handler=lambda _: doctolib.print_help() or 2)

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


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}")
    return number


def _id_list(value: str) -> list[int]:
    try:
        ids = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        ids = []
    if not ids or any(i < 1 for i in ids):
        raise argparse.ArgumentTypeError(f"expected comma-separated ids such as 12,15, got {value!r}")
    return ids


def _date(value: str):
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def _sandbox(args: argparse.Namespace) -> int:
    from sync_assets.sandbox.server import build_sandbox

    print(f"building the sandbox data (seed {args.seed}, {args.scale} RDVs, {args.doctolib_practices} Doctolib "
          f"practices of {args.doctolib_appointments} appointments)…", flush=True)
    sandbox = build_sandbox(seed=args.seed, scale=args.scale, port=args.port, host=args.host,
                            doctolib_practices=args.doctolib_practices,
                            doctolib_appointments=args.doctolib_appointments, doctolib_rate=args.doctolib_rate)
    oauth = sandbox.rdvsp.oauth
    print(f"RDV Service Public sandbox on {sandbox.base_url}\n"
          f"  RDVSP_BASE_URL={sandbox.base_url} RDVSP_CLIENT_ID={oauth.client_id} "
          f"RDVSP_CLIENT_SECRET={oauth.client_secret}\n"
          f"  changes at runtime: POST/PATCH/DELETE {sandbox.base_url}/sandbox/rdvs, /sandbox/users\n"
          f"Doctolib sandbox on {sandbox.base_url}\n"
          f"  {' '.join(f'{k}={v}' for k, v in sandbox.doctolib.environment(sandbox.base_url).items())}\n"
          f"  changes at runtime: PATCH/DELETE {sandbox.base_url}/sandbox/doctolib/appointments/<id>\n"
          f"Faults of both APIs: POST/GET/DELETE {sandbox.base_url}/sandbox/faults (see the README)", flush=True)
    sandbox.server.run()
    return 0


def _webhooks_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sync_assets.platform import migrations
    from sync_assets.platform.errors import ConfigurationError
    from sync_assets.platform.secrets import TokenCipher
    from sync_assets.platform.warehouse import database_url
    from sync_assets.rdvsp.oauth import RdvspSettings

    migrations.upgrade(database_url())
    TokenCipher.from_environment()  # fail now, clearly, rather than in each worker
    try:
        RdvspSettings.from_environment()
    except ConfigurationError as error:
        print(f"OAuth callback disabled: {error}", file=sys.stderr)
    print(f"webhook receiver on http://{args.host}:{args.port}/webhooks/rdvsp/<organisation id> "
          f"({args.workers} worker process{'es' if args.workers > 1 else ''})", flush=True)
    config = uvicorn.Config("sync_assets.rdvsp.receiver:app_from_environment", factory=True, host=args.host,
                            port=args.port, workers=args.workers, log_level="warning", access_log=False)
    if args.workers == 1:
        uvicorn.Server(config).run()
        return 0
    from uvicorn.supervisors import Multiprocess

    # uvicorn binds the shared socket with protocol 0, and asyncio sets TCP_NODELAY only on
    # connections accepted from an IPPROTO_TCP socket: each answer would then wait for the
    # client's delayed ACK (about 40 ms). Rewrapping the socket lets its protocol be detected.
    listening = config.bind_socket()
    Multiprocess(config, sockets=[socket.socket(fileno=listening.detach())]).run()
    return 0


def _rdvsp_connect(args: argparse.Namespace) -> int:
    from datetime import date, timedelta

    from sync_assets.platform import migrations
    from sync_assets.platform.secrets import TokenCipher
    from sync_assets.platform.warehouse import database_url, engine_for
    from sync_assets.rdvsp.oauth import RdvspSettings, connect
    from sync_assets.rdvsp.partitions import rdvsp_accounts
    from sync_assets.runs import ensure_partition, instance, run_rdvsp_sync

    settings = RdvspSettings.from_environment()
    cipher = TokenCipher.from_environment()
    url = database_url()
    migrations.upgrade(url)
    sync_from = args.sync_from or date.today() - timedelta(days=730)
    account = connect(engine_for(url), settings, cipher, sync_from=sync_from, unattended=args.unattended)
    dagster = instance()
    ensure_partition(dagster, rdvsp_accounts, str(account.account_id))
    print(f"connected RDV Service Public account {account.account_id} (RDVs from {account.sync_from} on).")
    if not args.sync_now:
        print("Its first sync is queued: the rdvsp_account_partitions sensor requests it within a minute while the "
              "Dagster daemon runs (make dev, or dagster-daemon). To run it now instead: "
              f"sync-assets rdvsp sync --account {account.account_id}")
        return 0
    return _print_rdvsp_runs([run_rdvsp_sync(dagster, url, account.account_id, kind="initial")])


def _rdvsp_sync(args: argparse.Namespace) -> int:
    from sqlalchemy import text

    from sync_assets.platform import migrations
    from sync_assets.platform.errors import ConfigurationError
    from sync_assets.platform.warehouse import database_url, engine_for
    from sync_assets.runs import instance, run_rdvsp_sync

    url = database_url()
    migrations.upgrade(url)
    if args.account:
        accounts = [args.account]
    else:
        with engine_for(url).connect() as conn:
            accounts = list(conn.execute(text("SELECT id FROM rdvsp.accounts WHERE status = 'active' ORDER BY id")).scalars())
        if not accounts:
            raise ConfigurationError("No active RDV Service Public account: connect one with `sync-assets rdvsp connect`.")
    dagster = instance()
    return _print_rdvsp_runs(run_rdvsp_sync(dagster, url, account_id, args.organisations) for account_id in accounts)


def _print_rdvsp_runs(runs) -> int:
    """Each sync's outcome and table counts; 1 when one failed."""
    failed = 0
    for run in runs:
        print(f"account {run.partition_key}: {'success' if run.success else 'FAILED'} (Dagster run {run.run_id[:8]})")
        if run.record and run.success:
            print("\n".join(run.record.table_lines()))
        if not run.success:
            failed += 1
            print(f"  {run.reason}", file=sys.stderr)
    return 1 if failed else 0


def _rdvsp_disconnect(args: argparse.Namespace) -> int:
    from sync_assets.platform import migrations
    from sync_assets.platform.warehouse import database_url
    from sync_assets.rdvsp.oauth import RdvspSettings
    from sync_assets.runs import instance, run_job

    RdvspSettings.from_environment()  # the tokens are revoked at the API: say now what is missing
    migrations.upgrade(database_url())
    run = run_job(instance(), "rdvsp_disconnect",
                  {"disconnect_account": {"config": {"account_id": args.account, "purge": args.purge}}},
                  tags={"sync_assets/account": str(args.account)})
    if not run.success:
        print(f"sync-assets: account {args.account} was not disconnected: {run.failure}", file=sys.stderr)
        return 1
    summary = run.metadata.get("summary", "")
    print("\n".join(line.removeprefix("- ") for line in summary.splitlines()))
    return 0


def _rdvsp_set_status(args: argparse.Namespace) -> int:
    return _write_back(args.account, "rdv_status", {"rdv_id": args.rdv, "status": args.status})


def _rdvsp_plan(args: argparse.Namespace) -> int:
    payload = {"user_id": args.user} if args.user else {"beneficiaire_id": args.beneficiaire}
    payload.update({k: v for k, v in (("return_url", args.return_url), ("dossier_url", args.dossier_url)) if v})
    return _write_back(args.account, "rdv_plan", payload)


def _write_back(account_id: int, kind: str, payload: dict) -> int:
    """Queue one request in the outbox, deliver it now through the write-back job, say how it went."""
    from sync_assets.platform import migrations
    from sync_assets.platform.warehouse import database_url, engine_for
    from sync_assets.rdvsp.oauth import RdvspSettings
    from sync_assets.rdvsp.write_back import queue_write_request, write_request
    from sync_assets.runs import instance, run_job

    RdvspSettings.from_environment()
    url = database_url()
    migrations.upgrade(url)
    engine = engine_for(url)
    request_id = queue_write_request(engine, account_id, kind, payload)
    run = run_job(instance(), "rdvsp_write_back", {"deliver_write_requests": {"config": {"request_ids": [request_id]}}},
                  tags={"sync_assets/account": str(account_id), "sync_assets/kind": "write_back"})
    request = write_request(engine, request_id)
    if request is None or request.status == "sending":
        print(f"sync-assets: write request {request_id} was not delivered: {run.failure}", file=sys.stderr)
        return 1
    if request.status == "done":
        result = request.result or {}
        what = (f"RDV {result.get('rdv_id')} is now '{result.get('status')}'" if kind == "rdv_status" else
                f"RDV plan {result.get('rdv_plan_id')} for user {result.get('user_id')}: {result.get('url')}")
        print(f"write request {request_id}: done. {what}")
        return 0
    if request.status == "pending":
        print(f"write request {request_id}: not delivered yet ({request.error}); the rdvsp_write_requests sensor "
              f"sends it again from {request.next_attempt_at:%Y-%m-%d %H:%M:%S %Z}.", file=sys.stderr)
        return 1
    print(f"write request {request_id}: failed. {request.error}", file=sys.stderr)
    return 1


def _doctolib_sync(args: argparse.Namespace) -> int:
    from sync_assets.doctolib.client import api_keys, base_url, client_factory
    from sync_assets.doctolib.practices import discover_practices
    from sync_assets.platform import migrations
    from sync_assets.platform.errors import ConfigurationError
    from sync_assets.platform.warehouse import database_url, engine_for
    from sync_assets.runs import instance, run_doctolib_sync

    url = database_url()
    migrations.upgrade(url)
    found = discover_practices(engine_for(url), client_factory(base_url()), api_keys())
    for name, reason in found.failed_accounts.items():
        print(f"account {name}: refused ({reason})", file=sys.stderr)
    if args.practice and args.practice not in found.practices:
        raise ConfigurationError(f"practice {args.practice} is not reached by any Doctolib account "
                                 f"(reached: {', '.join(map(str, found.practices)) or 'none'}).")
    practices = [args.practice] if args.practice else found.practices
    if not practices:
        raise ConfigurationError("No Doctolib account reaches any practice: check the DOCTOLIB_API_KEY_<ACCOUNT> variables.")
    dagster = instance()
    failed = 0
    for practice_id in practices:
        run = run_doctolib_sync(dagster, url, practice_id, args.full_refresh)
        account = run.record.detail.get("account_name") if run.record else None
        via = f" via {account}" if account else ""
        print(f"practice {practice_id}{via}: {'success' if run.success else 'FAILED'} (Dagster run {run.run_id[:8]})")
        if run.record and run.success:
            print("\n".join(run.record.table_lines()))
        if not run.success:
            failed += 1
            print(f"  {run.reason}", file=sys.stderr)
    return 1 if failed else 0


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
