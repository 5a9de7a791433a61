"""Disconnecting an RDV Service Public account (`sync-assets rdvsp disconnect`, job `rdvsp_disconnect`).

1. Webhooks: in each organisation of the account that no other connected account needs, our
   endpoint is updated to subscribe to nothing (the API cannot delete an endpoint), or the reason
   it could not be is kept. Either way the installation is marked `disconnected`: the receiver
   acknowledges and ignores what still arrives for that organisation. An organisation another
   connected account belongs to keeps its webhook, handed over to that account.
2. Tokens: the refresh and access tokens are revoked at the API (RFC 7009). When that fails (the
   API is down, the server has no revocation), the account is disconnected here all the same and
   the reason is kept in `rdvsp.accounts.error`.
3. Here, in one short transaction: tokens erased, status `disconnected` and when, the account's
   pending write requests failed, installations handed over or marked. With `purge`, also its
   links and the rows no other connected account sees (RDVs with their participations, user
   profiles of organisations left without an account, users left orphan); never a coop.* row.

The API is called before that transaction, never during it. The account's partition stays, for
its history; schedules and sensors skip a disconnected account. Reconnecting makes it active again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from psycopg import sql
from sqlalchemy import Engine

from sync_assets.platform.errors import ApiError, SyncError
from sync_assets.platform.merge import delete_rows, driver_connection
from sync_assets.platform.observability import get_logger, report_failure
from sync_assets.platform.secrets import TokenCipher
from sync_assets.platform.sql_files import package_sql
from sync_assets.rdvsp import tables
from sync_assets.rdvsp.client import RdvspClient
from sync_assets.rdvsp.oauth import AccountError, RdvspSettings, revoke_tokens

log = get_logger("rdvsp.disconnect")


@dataclass
class Disconnection:
    account_id: int
    tokens_revoked: bool | None = None  # None: no token was left to revoke (already disconnected)
    revocation_problem: str | None = None
    unsubscribed: list[int] = field(default_factory=list)  # organisations
    not_unsubscribed: dict[int, str] = field(default_factory=dict)  # organisation -> why
    handed_over: dict[int, int] = field(default_factory=dict)  # organisation -> account keeping its webhook
    write_requests_failed: int = 0
    purged: dict[str, int] = field(default_factory=dict)  # table -> rows removed

    def lines(self) -> list[str]:
        """What the command line and the run's log say (ids and counts only)."""
        if self.tokens_revoked:
            lines = [f"account {self.account_id} disconnected: its tokens were revoked at RDV Service Public."]
        elif self.tokens_revoked is None:
            lines = [f"account {self.account_id} disconnected (it held no token any more)."]
        else:
            lines = [
                f"account {self.account_id} disconnected here, but its tokens could not be revoked at "
                f"RDV Service Public: {self.revocation_problem}"
            ]
        if self.unsubscribed:
            lines.append(f"webhooks unsubscribed: organisations {_ids(self.unsubscribed)}")
        for organisation, reason in sorted(self.not_unsubscribed.items()):
            lines.append(
                f"webhook of organisation {organisation} not unsubscribed ({reason}): what it still "
                "delivers is acknowledged and ignored"
            )
        if self.handed_over:
            lines.append(
                "webhooks kept for the accounts that still use them: "
                + ", ".join(f"organisation {o} (account {a})" for o, a in sorted(self.handed_over.items()))
            )
        if self.write_requests_failed:
            lines.append(f"{self.write_requests_failed} pending write request(s) failed: the account is disconnected")
        if self.purged:
            lines.append(
                "purged: "
                + ", ".join(f"{count} {table}" for table, count in self.purged.items())
                + " (coop.* rows kept)"
            )
        return lines


def disconnect_account(
    engine: Engine,
    settings: RdvspSettings,
    cipher: TokenCipher,
    account_id: int,
    *,
    purge: bool = False,
    client_factory: Callable[[], RdvspClient],
) -> Disconnection:
    """Disconnect one account (see the module's docstring). Idempotent: a second call only does
    what is left (a purge, say)."""
    with engine.connect() as conn:
        pg = driver_connection(conn)
        account = pg.execute(package_sql(__file__, "account_for_disconnection"), {"account_id": account_id}).fetchone()
        organisations = pg.execute(
            package_sql(__file__, "disconnection_organisations"), {"account_id": account_id}
        ).fetchall()
    if account is None:
        raise AccountError(f"There is no RDV Service Public account {account_id}: nothing to disconnect.")
    status, access_encrypted, refresh_encrypted, _ = account
    outcome = Disconnection(account_id)
    installations = _release_webhooks(outcome, organisations, usable=status == "active", client_factory=client_factory)
    tokens = [
        (cipher.decrypt(value), hint)
        for value, hint in ((refresh_encrypted, "refresh_token"), (access_encrypted, "access_token"))
        if value
    ]
    if tokens:
        revocation = revoke_tokens(settings, tokens)
        outcome.tokens_revoked, outcome.revocation_problem = revocation.revoked, revocation.problem
        if not revocation.revoked:
            report_failure(
                log,
                SyncError(f"tokens not revoked: {revocation.problem}"),
                "account disconnected without revoking its tokens",
                account_id=account_id,
            )
    with engine.begin() as conn:
        _disconnect_here(driver_connection(conn), outcome, installations, purge)
    log.info(
        "account disconnected",
        extra={"account_id": account_id, "tokens_revoked": outcome.tokens_revoked, "purge": purge},
    )
    return outcome


def _release_webhooks(
    outcome: Disconnection, organisations: list[tuple], *, usable: bool, client_factory: Callable[[], RdvspClient]
) -> list[tuple[int, int, str | None, str | None]]:
    """Unsubscribe our endpoints that no connected account needs any more; returns the changes to
    the installations: (organisation, account, new status or None, reason)."""
    changes: list[tuple[int, int, str | None, str | None]] = []
    client: RdvspClient | None = None
    try:
        for organisation_id, endpoint_id, status, needed_by in organisations:
            if status is None or status == "disconnected":
                continue  # no installation, or already released
            if needed_by is not None:
                outcome.handed_over[organisation_id] = needed_by
                changes.append((organisation_id, needed_by, None, None))
                continue
            problem = None
            if endpoint_id is not None and status == "installed":
                if not usable:
                    problem = "the account's token cannot be used any more"
                else:
                    client = client or client_factory()
                    problem = _unsubscribe(client, organisation_id, endpoint_id)
                if problem is None:
                    outcome.unsubscribed.append(organisation_id)
                else:
                    outcome.not_unsubscribed[organisation_id] = problem
            reason = (
                f"account {outcome.account_id} was disconnected and no other connected account belongs to "
                "this organisation: "
                + (
                    f"the endpoint could not be unsubscribed ({problem}); deliveries are acknowledged and ignored"
                    if problem
                    else "deliveries stopped"
                )
            )
            changes.append((organisation_id, outcome.account_id, "disconnected", reason))
    finally:
        if client is not None:
            client.close()
    return changes


def _unsubscribe(client: RdvspClient, organisation_id: int, endpoint_id: int) -> str | None:
    """Why the endpoint could not be unsubscribed, or None when it was."""
    try:
        response = client.unsubscribe_webhook_endpoint(organisation_id, endpoint_id)
    except (ApiError, AccountError) as error:
        return str(error)
    return None if response.is_success else f"refused with HTTP {response.status_code}"


def _disconnect_here(pg, outcome: Disconnection, installations: list[tuple], purge: bool) -> None:
    account = {"account_id": outcome.account_id}
    pg.execute(
        package_sql(__file__, "disconnect_account"),
        {**account, "tokens_revoked": outcome.tokens_revoked, "problem": _problem_to_keep(outcome)},
    )
    if installations:
        organisation_ids, account_ids, statuses, reasons = (list(column) for column in zip(*installations, strict=True))
        pg.execute(
            package_sql(__file__, "hand_over_webhook_installations"),
            {
                "organisation_ids": organisation_ids,
                "account_ids": account_ids,
                "statuses": statuses,
                "reasons": reasons,
            },
        )
    outcome.write_requests_failed = pg.execute(
        package_sql(__file__, "fail_pending_write_requests"),
        {**account, "error": f"account {outcome.account_id} was disconnected before this request was delivered"},
    ).fetchone()[0]
    if purge:
        links, rdvs, participations = pg.execute(package_sql(__file__, "purge_account_rdvs"), account).fetchone()
        organisation_links, profiles = pg.execute(
            package_sql(__file__, "purge_account_organisations"), account
        ).fetchone()
        users = sum(n for _, n in delete_rows(pg, tables.USERS, sql.SQL(package_sql(__file__, "orphan_users"))))
        outcome.purged = {
            "account_rdvs": links,
            "rdvs": rdvs,
            "participations": participations,
            "account_organisations": organisation_links,
            "user_profiles": profiles,
            "users": users,
        }


def _problem_to_keep(outcome: Disconnection) -> str | None:
    if outcome.tokens_revoked is not False:
        return None
    return (
        f"its tokens could not be revoked at RDV Service Public ({outcome.revocation_problem}); they were "
        "erased here. The agent can revoke the application in RDV Service Public (/oauth/authorized_applications)."
    )


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, sorted(ids)))
