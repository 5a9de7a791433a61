"""RDV Service Public, as the registry knows it (`sync_assets/connectors.py`): one partition per
connected agent account."""

from __future__ import annotations

import argparse

from sync_assets.platform.arguments import id_list, positive_int
from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.registry import Connector, SyncRequest
from sync_assets.rdvsp import listings, tables


def sync_request(
    account_id: int | str, *, organisation_ids: list[int] | None = None, kind: str = "polling"
) -> SyncRequest:
    """A sync of one account (`kind`: initial, polling, nightly; `organisation_ids`: only those)."""
    return SyncRequest(
        str(account_id),
        {"rdvsp_account_sync": {"config": {"organisation_ids": organisation_ids or []}}},
        {
            "sync_assets/kind": "scoped" if organisation_ids else kind,
            "sync_assets/account": str(account_id),
            "sync_assets/organisations": ",".join(map(str, organisation_ids)) if organisation_ids else "all",
        },
    )


def _sync_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", type=positive_int, help="one account (agent id); default: every active account")
    parser.add_argument(
        "--organisations",
        type=id_list,
        default=None,
        help="comma-separated organisation ids: sync only these (deletions stay inside them)",
    )


def _sync_requests(args: argparse.Namespace, database_url: str) -> list[SyncRequest]:
    from sync_assets.platform.merge import driver_connection
    from sync_assets.platform.sql_files import package_sql
    from sync_assets.platform.warehouse import engine_for

    accounts = [args.account]
    if not args.account:
        with engine_for(database_url).connect() as conn:
            accounts = [row[0] for row in driver_connection(conn).execute(package_sql(__file__, "active_accounts"))]
        if not accounts:
            raise ConfigurationError(
                "No active RDV Service Public account: connect one with `sync-assets rdvsp connect`."
            )
    return [sync_request(account_id, organisation_ids=args.organisations) for account_id in accounts]


def _definitions():
    from sync_assets.rdvsp.defs import defs

    return defs


def _resources() -> dict:
    from sync_assets.platform.resources import set_or_none
    from sync_assets.rdvsp.resources import RdvspApiResource

    return {
        "rdvsp": RdvspApiResource(
            base_url=set_or_none("RDVSP_BASE_URL"),
            client_id=set_or_none("RDVSP_CLIENT_ID"),
            client_secret=set_or_none("RDVSP_CLIENT_SECRET"),
        )
    }


def _commands(subcommands) -> None:
    from sync_assets.rdvsp.commands import add_commands

    add_commands(subcommands)


CONNECTOR = Connector(
    name="rdvsp",
    title="RDV Service Public",
    partition="account",
    partitions="rdvsp_accounts",
    sync_job="rdvsp_sync",
    tables=tables.MERGE_ORDER,
    listings=(
        listings.ORGANISATIONS,
        listings.MOTIFS,
        listings.LIEUX,
        listings.AGENTS,
        listings.USERS,
        listings.WEBHOOK_ENDPOINTS,
        listings.RDVS,
        listings.RDVS_BY_ID,
    ),
    definitions=_definitions,
    resources=_resources,
    request=sync_request,
    sync_arguments=_sync_arguments,
    sync_requests=_sync_requests,
    help="RDV Service Public: connect accounts, sync them",
    commands=_commands,
)
