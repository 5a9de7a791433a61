"""Doctolib, as the registry knows it (`sync_assets/connectors.py`): one partition per practice."""

from __future__ import annotations

import argparse

from sync_assets.doctolib import listings, tables
from sync_assets.platform.arguments import positive_int
from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.registry import Connector, SyncRequest


def sync_request(practice_id: int | str, *, full_refresh: bool = False, kind: str = "manual") -> SyncRequest:
    """A sync of one practice (`full_refresh`: re-read everything, delete what Doctolib no longer returns)."""
    return SyncRequest(
        str(practice_id),
        {"doctolib_practice_sync": {"config": {"full_refresh": full_refresh}}},
        {
            "sync_assets/kind": kind,
            "sync_assets/practice": str(practice_id),
            "sync_assets/mode": "full_refresh" if full_refresh else "incremental",
        },
    )


def _sync_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--practice", type=positive_int, help="one practice id; default: every practice an account reaches"
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="re-read every appointment and delete those Doctolib no longer returns",
    )


def _sync_requests(args: argparse.Namespace, database_url: str) -> list[SyncRequest]:
    """The practices to sync, discovered first (which accounts reach which practices)."""
    import sys

    from sync_assets.doctolib.client import api_keys, base_url, client_factory
    from sync_assets.doctolib.practices import discover_practices
    from sync_assets.platform.warehouse import engine_for

    found = discover_practices(engine_for(database_url), client_factory(base_url()), api_keys())
    for name, reason in found.failed_accounts.items():
        print(f"account {name}: refused ({reason})", file=sys.stderr)
    if args.practice and args.practice not in found.practices:
        raise ConfigurationError(
            f"practice {args.practice} is not reached by any Doctolib account "
            f"(reached: {', '.join(map(str, found.practices)) or 'none'})."
        )
    practices = [args.practice] if args.practice else found.practices
    if not practices:
        raise ConfigurationError(
            "No Doctolib account reaches any practice: check the DOCTOLIB_API_KEY_<ACCOUNT> variables."
        )
    return [sync_request(practice_id, full_refresh=args.full_refresh) for practice_id in practices]


def _definitions():
    from sync_assets.doctolib.defs import defs

    return defs


def _resources() -> dict:
    from sync_assets.doctolib.resources import DoctolibApiResource
    from sync_assets.platform.resources import set_or_none

    return {"doctolib": DoctolibApiResource(base_url=set_or_none("DOCTOLIB_BASE_URL"))}


CONNECTOR = Connector(
    name="doctolib",
    title="Doctolib",
    partition="practice",
    partitions="doctolib_practices",
    sync_job="doctolib_sync",
    tables=(tables.ACCOUNTS, tables.PRACTICES, tables.ACCOUNT_PRACTICES, *tables.PRACTICE_TABLES),
    listings=(listings.PRACTICES, listings.APPOINTMENTS),
    definitions=_definitions,
    resources=_resources,
    request=sync_request,
    sync_arguments=_sync_arguments,
    sync_requests=_sync_requests,
    help="Doctolib: sync practices",
)
