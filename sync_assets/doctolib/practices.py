"""Discovery: which accounts the environment holds, and which practices they reach.

Every account (`DOCTOLIB_API_KEY_<ACCOUNT>`) is asked who it is (`GET /v1/account`: a practice
or a dentist profile) and which practices it reaches (`GET /v1/practices`). The answers fill
`doctolib.accounts`, `doctolib.practices` and `doctolib.account_practices`, and each practice
gets the one account it will be synced through (`sync_account`).

An account whose key is refused keeps its links (we do not know what it reaches now), so its
practices do not vanish because of an expired key; an account whose variable was removed loses
them. A practice no account links to any more is marked vanished: its rows stay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine

from sync_assets.doctolib import listings, models, tables
from sync_assets.doctolib.client import KEY_PREFIX, ClientFactory
from sync_assets.doctolib.sync import CONNECTOR, choose_accounts
from sync_assets.platform.contract import ContractResult, settle_contracts, validate_batch
from sync_assets.platform.errors import ApiError, ConfigurationError
from sync_assets.platform.listing import ListingReader
from sync_assets.platform.merge import driver_connection, merge_rows, merge_values
from sync_assets.platform.observability import get_logger, report_failure, safe_error_message
from sync_assets.platform.sql_files import package_sql

log = get_logger("doctolib.practices")


@dataclass
class Discovery:
    accounts: dict[str, str] = field(default_factory=dict)  # name -> kind, for the accounts that answered
    failed_accounts: dict[str, str] = field(default_factory=dict)  # name -> reason (ids only)
    practices: list[int] = field(default_factory=list)  # practices some account reaches now
    vanished: list[int] = field(default_factory=list)  # practices that vanished in this discovery
    back: list[int] = field(default_factory=list)  # vanished practices listed again
    sync_accounts: dict[int, str] = field(default_factory=dict)  # practice -> the account it is synced through


def discover_practices(
    engine: Engine, clients: ClientFactory, api_keys: Mapping[str, str], *, emit: Callable[[str], None] = log.info
) -> Discovery:
    if not api_keys:
        raise ConfigurationError(
            f"no {KEY_PREFIX}<ACCOUNT> variable is set: set one per Doctolib account, "
            f"e.g. {KEY_PREFIX}CABINET_NORD=<its API key>."
        )
    found = Discovery()
    answers = _ask_accounts(clients, api_keys, found)
    with engine.begin() as conn:
        _save_answers(conn, api_keys, answers, found, emit)
    found.vanished.sort()
    found.back.sort()
    emit(
        f"doctolib: {len(found.accounts)} account(s) answered, {len(found.failed_accounts)} refused; "
        f"{len(found.practices)} practice(s) reached, {len(found.vanished)} vanished"
    )
    return found


@dataclass
class _Answers:
    """What the accounts said, as rows of doctolib.accounts, doctolib.practices and doctolib.account_practices."""

    accounts: list[tuple] = field(default_factory=list)
    practices: dict[int, tuple] = field(default_factory=dict)  # by id: several accounts may reach a practice
    links: list[tuple[str, int]] = field(default_factory=list)  # (account name, practice id)
    contracts: dict[str, ContractResult] = field(
        default_factory=lambda: {"accounts": ContractResult("accounts"), "practices": ContractResult("practices")}
    )


def _ask_accounts(clients: ClientFactory, api_keys: Mapping[str, str], found: Discovery) -> _Answers:
    """Ask every account who it is and which practices it reaches; a refused key is noted in `found`."""
    answers = _Answers()
    for name in sorted(api_keys):
        try:
            with clients(name, api_keys[name]) as client:
                profile = validate_batch(models.Account, [client.account_profile()], entity="accounts")
                answers.contracts["accounts"].merge(profile, keep_valid=False)
                listed = ListingReader(client.http, answers.contracts).read(listings.PRACTICES, {}, keep=True).valid
        except ApiError as error:
            found.failed_accounts[name] = safe_error_message(error)
            report_failure(log, error, "doctolib account refused", account=name)
            continue
        if not profile.valid:
            continue  # breaking drift: raised once recorded (`_save_answers`)
        account = profile.valid[0]
        found.accounts[name] = account.kind
        answers.accounts.append((name, str(account.id), account.kind, "active", None))
        for practice in listed:
            answers.practices[practice.id] = (practice.id, practice.name, practice.city, practice.zipcode)
            answers.links.append((name, practice.id))
    return answers


def _save_answers(
    conn, api_keys: Mapping[str, str], answers: _Answers, found: Discovery, emit: Callable[[str], None]
) -> None:
    """Record the accounts, practices and links, settle vanished practices and choose each practice's account."""
    pg = driver_connection(conn)
    settle_contracts(conn, CONNECTOR, answers.contracts.values(), emit=emit)
    known = {row[0] for row in pg.execute(package_sql(__file__, "known_accounts"))}
    removed = sorted(known - set(api_keys))
    errors = {**found.failed_accounts, **{name: f"{KEY_PREFIX}{name.upper()} is no longer set" for name in removed}}
    if answers.accounts:
        merge_values(conn, tables.ACCOUNTS, answers.accounts)
    if errors:
        pg.execute(
            package_sql(__file__, "mark_accounts_in_error"),
            {"names": list(errors), "reasons": list(errors.values())},
        )
    merge_rows(conn, tables.PRACTICES, list(answers.practices.values()))
    # Links are replaced for the accounts that answered, and dropped for removed ones.
    merge_rows(conn, tables.ACCOUNT_PRACTICES, answers.links, {"account_name": sorted(found.accounts) + removed})
    for practice_id, change in pg.execute(package_sql(__file__, "settle_practices")):
        (found.vanished if change == "vanished" else found.back).append(practice_id)
    found.practices = [row[0] for row in pg.execute(package_sql(__file__, "active_practices"))]
    found.sync_accounts = choose_accounts(pg, found.practices, sorted(api_keys))
    pg.execute(
        package_sql(__file__, "save_sync_accounts"),
        {"practice_ids": list(found.sync_accounts), "accounts": list(found.sync_accounts.values())},
    )
