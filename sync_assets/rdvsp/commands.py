"""RDV Service Public's own commands: `sync-assets rdvsp connect | disconnect | set-status | plan`
(its `sync` is the registry's, see platform/registry.py)."""

from __future__ import annotations

import argparse
import sys

from sync_assets.platform.arguments import iso_date, positive_int


def add_commands(subcommands) -> None:
    connect = subcommands.add_parser("connect", help="connect an agent account (OAuth authorization code)")
    connect.add_argument(
        "--unattended",
        action="store_true",
        help="follow the authorize redirect ourselves (servers that approve at once, e.g. the sandbox)",
    )
    connect.add_argument(
        "--sync-from",
        type=iso_date,
        default=None,
        help="first day of RDVs to sync (YYYY-MM-DD); default: two years ago",
    )
    connect.add_argument(
        "--sync-now",
        action="store_true",
        help="run the account's first sync now, through Dagster (otherwise it is queued for the "
        "rdvsp_account_partitions sensor)",
    )
    connect.set_defaults(handler=_connect)
    disconnect = subcommands.add_parser(
        "disconnect", help="disconnect an account: revoke its tokens, stop its webhooks, keep or purge its rows"
    )
    disconnect.add_argument("--account", type=positive_int, required=True, help="the account (agent id)")
    disconnect.add_argument(
        "--purge",
        action="store_true",
        help="also remove its links and the rows no other connected account sees (never coop.* rows)",
    )
    disconnect.set_defaults(handler=_disconnect)
    set_status = subcommands.add_parser(
        "set-status", help="set an RDV's attendance status at RDV Service Public (through the write-back outbox)"
    )
    set_status.add_argument("--account", type=positive_int, required=True, help="the account (agent id)")
    set_status.add_argument("--rdv", type=positive_int, required=True, help="the RDV id")
    set_status.add_argument("--status", required=True, choices=("seen", "noshow", "excused", "revoked"))
    set_status.set_defaults(handler=_set_status)
    plan = subcommands.add_parser(
        "plan", help="create an RDV plan at RDV Service Public (through the write-back outbox); prints its URL"
    )
    plan.add_argument("--account", type=positive_int, required=True, help="the account (agent id)")
    person = plan.add_mutually_exclusive_group(required=True)
    person.add_argument("--user", type=positive_int, help="an RDV Service Public user id")
    person.add_argument("--beneficiaire", type=positive_int, help="a coop.beneficiaires id")
    plan.add_argument("--return-url", help="where RDV Service Public sends the agent back once the RDV is taken")
    plan.add_argument("--dossier-url", help="the person's file in the host application")
    plan.set_defaults(handler=_plan)


def _connect(args: argparse.Namespace) -> int:
    from datetime import date, timedelta

    from sync_assets.platform import migrations
    from sync_assets.platform.secrets import TokenCipher
    from sync_assets.platform.warehouse import database_url, engine_for
    from sync_assets.rdvsp.connector import CONNECTOR, sync_request
    from sync_assets.rdvsp.oauth import RdvspSettings, connect
    from sync_assets.runs import ensure_partition, instance, print_runs, run_sync

    settings = RdvspSettings.from_environment()
    cipher = TokenCipher.from_environment()
    url = database_url()
    migrations.upgrade(url)
    sync_from = args.sync_from or date.today() - timedelta(days=730)
    account = connect(engine_for(url), settings, cipher, sync_from=sync_from, unattended=args.unattended)
    dagster = instance()
    ensure_partition(dagster, CONNECTOR.partitions, str(account.account_id))
    print(f"connected RDV Service Public account {account.account_id} (RDVs from {account.sync_from} on).")
    if not args.sync_now:
        print(
            "Its first sync is queued: the rdvsp_account_partitions sensor requests it within a minute while the "
            "Dagster daemon runs (make dev, or dagster-daemon). To run it now instead: "
            f"sync-assets rdvsp sync --account {account.account_id}"
        )
        return 0
    return print_runs(CONNECTOR, [run_sync(dagster, url, CONNECTOR, sync_request(account.account_id, kind="initial"))])


def _disconnect(args: argparse.Namespace) -> int:
    from sync_assets.platform import migrations
    from sync_assets.platform.warehouse import database_url
    from sync_assets.rdvsp.oauth import RdvspSettings
    from sync_assets.runs import instance, run_job

    RdvspSettings.from_environment()  # the tokens are revoked at the API: say now what is missing
    migrations.upgrade(database_url())
    run = run_job(
        instance(),
        "rdvsp_disconnect",
        {"disconnect_account": {"config": {"account_id": args.account, "purge": args.purge}}},
        tags={"sync_assets/account": str(args.account)},
    )
    if not run.success:
        print(f"sync-assets: account {args.account} was not disconnected: {run.failure}", file=sys.stderr)
        return 1
    summary = run.metadata.get("summary", "")
    print("\n".join(line.removeprefix("- ") for line in summary.splitlines()))
    return 0


def _set_status(args: argparse.Namespace) -> int:
    return _write_back(args.account, "rdv_status", {"rdv_id": args.rdv, "status": args.status})


def _plan(args: argparse.Namespace) -> int:
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
    run = run_job(
        instance(),
        "rdvsp_write_back",
        {"deliver_write_requests": {"config": {"request_ids": [request_id]}}},
        tags={"sync_assets/account": str(account_id), "sync_assets/kind": "write_back"},
    )
    request = write_request(engine, request_id)
    if request is None or request.status == "sending":
        print(f"sync-assets: write request {request_id} was not delivered: {run.failure}", file=sys.stderr)
        return 1
    if request.status == "done":
        result = request.result or {}
        what = (
            f"RDV {result.get('rdv_id')} is now '{result.get('status')}'"
            if kind == "rdv_status"
            else f"RDV plan {result.get('rdv_plan_id')} for user {result.get('user_id')}: {result.get('url')}"
        )
        print(f"write request {request_id}: done. {what}")
        return 0
    if request.status == "pending":
        print(
            f"write request {request_id}: not delivered yet ({request.error}); the rdvsp_write_requests sensor "
            f"sends it again from {request.next_attempt_at:%Y-%m-%d %H:%M:%S %Z}.",
            file=sys.stderr,
        )
        return 1
    print(f"write request {request_id}: failed. {request.error}", file=sys.stderr)
    return 1
