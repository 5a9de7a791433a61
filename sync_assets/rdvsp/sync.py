"""The polling sync of one RDV Service Public account.

Every page is landed raw, validated against the contract, and staged with COPY; at the end
every table is merged with one statement, in one transaction. A run that fails leaves the
tables as they were; its sync log (written on a connection of its own) says why.

Deletions apply only to the scope that was listed in full: the account's organisation links,
and, within the organisations of the run, motifs, lieux, agent roles, user profiles, webhook
endpoints and the account's RDVs from its `sync_from` date on. RDVs missing from a listing are
looked up by id before anything is deleted, since the RDV listing is unordered and a row can
slip between two pages. An RDV row goes only when no connected account sees it any more.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine

from sync_assets.platform.contract import ContractResult, settle_contracts, validate_batch
from sync_assets.platform.errors import SyncError
from sync_assets.platform.http import Page, dig, interleaved
from sync_assets.platform.listing import ListingRead, ListingReader
from sync_assets.platform.merge import (
    DeleteScope,
    DeleteWhere,
    MergeCounts,
    Stager,
    autocommit_connection,
    delete_rows,
    driver_connection,
    lock_tenants,
)
from sync_assets.platform.observability import get_logger
from sync_assets.platform.progress import Progress
from sync_assets.platform.raw import BackgroundLander
from sync_assets.platform.run import Run
from sync_assets.platform.secrets import TokenCipher
from sync_assets.platform.sql_files import package_sql
from sync_assets.rdvsp import listings, models, tables
from sync_assets.rdvsp.client import WEBHOOK_SUBSCRIPTIONS, RdvspClient
from sync_assets.rdvsp.oauth import AccountError, unusable_account

log = get_logger("rdvsp.sync")
PARIS = ZoneInfo("Europe/Paris")
CONNECTOR = "rdvsp"
MERGE_ATTEMPTS = 3
# Outside the nightly, another account's read of an organisation's own listings is reused this long
# (the accounts of one sweep of the fallback sensor, or of `rdvsp sync`, share it).
SHARED_LISTINGS_REUSED_FOR = timedelta(minutes=15)
# RDV listings read side by side: three organisations' budgets (20 a minute each) exceed the
# global one (50), so the global budget, not one organisation's, paces the run.
RDV_LISTINGS_AT_ONCE = 3


class ScopeError(SyncError):
    """A run asked for organisations the account does not belong to."""


@dataclass
class SyncOutcome:
    run_log_id: str  # its row in sync.runs
    account_id: int
    organisation_ids: list[int]
    tables: dict[str, MergeCounts] = field(default_factory=dict)
    contracts: dict[str, ContractResult] = field(default_factory=dict)
    pages: int = 0
    records: int = 0
    api_requests: int = 0
    throttled_429: int = 0  # 429s the API answered, waited out
    organisations_api_total: int = 0
    rdvs_listed: int = 0  # distinct RDV ids the API returned for the scope
    rdvs_api_total_count: int = 0  # sum of `meta.total_count` (counts join duplicates)
    rdvs_looked_up: int = 0  # RDVs missing from the listing, looked up by id
    rdvs_found_on_lookup: int = 0
    warehouse_organisations: int = 0
    warehouse_rdvs: int = 0
    webhooks: dict[str, int] = field(default_factory=dict)  # installation status -> organisations
    webhook_status: dict[int, str] = field(default_factory=dict)  # organisation -> installation status
    webhooks_installed_now: set[int] = field(default_factory=set)  # organisations whose endpoint this run saved
    # Organisations whose own listings another account's run had just read: not read again.
    organisations_reused: list[int] = field(default_factory=list)
    # Organisations whose RDVs a peer (an account seen to list the same there) had just listed: the
    # peer's read was taken after one page (organisation -> peer account).
    rdv_listings_shared: dict[int, int] = field(default_factory=dict)
    # RDV drift per organisation: what webhooks missed, when the run re-applies every page (nightly).
    organisation_drift: dict[int, MergeCounts] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def drift(self) -> int:
        return sum(c.drift for c in self.tables.values())


@dataclass(frozen=True)
class Fetched:
    """What a run fetched and staged, for the transaction that writes it."""

    scope: list[int]  # the organisations synced
    polled_at: datetime  # when the listing began: the version of what it read
    sync_from_at: datetime
    skipped: dict[str, int]  # rows of pages applied before and unchanged, by table


class RdvspAccountSync:
    def __init__(
        self,
        engine: Engine,
        client: RdvspClient,
        account_id: int,
        *,
        cipher: TokenCipher,
        webhook_url: str | None,
        emit: Callable[[str], None] = log.info,
        run_id: str | None = None,
        kind: str = "polling",
    ):
        self.engine, self.client, self.account_id, self.cipher = engine, client, account_id, cipher
        self.webhook_url = webhook_url.rstrip("/") if webhook_url else None
        self.emit, self.run_id, self.kind = emit, run_id, kind
        self.outcome: SyncOutcome | None = None  # also set when the run fails, for the checks

    # --- the run ------------------------------------------------------------------------

    def run(self, organisation_ids: list[int] | None = None) -> SyncOutcome:
        sync_from = self._sync_from()
        run = Run(
            self.engine,
            CONNECTOR,
            str(self.account_id),
            kind="scoped" if organisation_ids else self.kind,
            dagster_run_id=self.run_id,
            logger=log,
            emit=self.emit,
            label=f"rdvsp account {self.account_id}",
            ids={"account_id": self.account_id},
            http=self.client.http,
        )
        if organisation_ids:
            run.detail["organisation_ids"] = sorted(organisation_ids)
        outcome = self.outcome = SyncOutcome(run.id, self.account_id, sorted(organisation_ids or []))
        with (
            run,
            autocommit_connection(self.engine) as pg,
            BackgroundLander(run.conninfo, CONNECTOR) as lander,
            Stager(pg) as stager,
        ):
            # Pages are fetched and staged (session temporary tables) outside any transaction, at
            # the API budget's pace; the run's rows are written by one short transaction after.
            fetched = self._fetch(pg, run.side, lander, stager, outcome, sync_from, organisation_ids, run.progress)
            outcome.api_requests, outcome.throttled_429 = self.client.http.requests, self.client.http.throttled
            run.detail["organisation_ids"] = outcome.organisation_ids
            run.detail["organisations_reused"] = outcome.organisations_reused
            run.detail["rdv_listings_shared"] = {str(org): peer for org, peer in outcome.rdv_listings_shared.items()}
            with pg.transaction():
                self._write(pg, stager, outcome, fetched, run.progress)
                outcome.elapsed_s = run.progress.elapsed()
                run.finish(pg, outcome.tables)  # commits with the rows
                self._record_organisation_drift(pg, outcome)
        self.emit(
            f"rdvsp account {self.account_id}: {outcome.records} records in {outcome.pages} pages, "
            f"{outcome.elapsed_s:.1f} s, drift {outcome.drift}"
        )
        return outcome

    def _sync_from(self) -> date:
        """The account's first day of RDVs; AccountError when it cannot be synced."""
        with self.engine.connect() as conn, driver_connection(conn).cursor(row_factory=namedtuple_row) as cur:
            account = cur.execute(package_sql(__file__, "account_for_sync"), {"account_id": self.account_id}).fetchone()
        if account is None:
            raise AccountError(
                f"RDV Service Public account {self.account_id} is not connected: run `sync-assets rdvsp connect`."
            )
        if account.status != "active":
            raise unusable_account(self.account_id, account.status, account.error)
        return account.sync_from

    def _record_organisation_drift(self, conn, outcome: SyncOutcome) -> None:
        orgs = sorted(outcome.organisation_drift)
        driver_connection(conn).execute(
            package_sql(__file__, "record_organisation_drift"),
            {
                "run_id": outcome.run_log_id,
                "organisation_ids": orgs,
                "created": [outcome.organisation_drift[o].created for o in orgs],
                "updated": [outcome.organisation_drift[o].updated for o in orgs],
                "deleted": [outcome.organisation_drift[o].deleted for o in orgs],
                "drift": [outcome.organisation_drift[o].drift for o in orgs],
                "webhook_status": [outcome.webhook_status.get(o) for o in orgs],
            },
        )

    def _fetch(
        self,
        conn,
        side: psycopg.Connection,
        lander: BackgroundLander,
        stager: Stager,
        outcome: SyncOutcome,
        sync_from: date,
        requested: list[int] | None,
        progress: Progress,
    ) -> Fetched:
        """Read the account's listings and stage their rows; nothing of the warehouse changes."""
        polled_at = datetime.now(timezone.utc)  # the version of every state this poll reads
        self._check_identity()
        reader = ListingReader(self.client.http, outcome.contracts, stager=stager, lander=lander, progress=progress)
        account_scope = {"account_id": self.account_id, "polled_at": polled_at, "sync_from": sync_from}
        found = reader.read(listings.ORGANISATIONS, account_scope, keep=True)
        outcome.organisations_api_total = found.total
        scope = self._scope(requested, [o.id for o in found.valid])
        outcome.organisation_ids = scope
        with side.cursor(row_factory=namedtuple_row) as cur:
            cur.execute(package_sql(__file__, "webhook_installations"), {"organisation_ids": scope})
            installations = {row.organisation_id: row for row in cur}
        outcome.organisations_reused = self._organisations_read_elsewhere(side, scope, polled_at)
        org_scopes = [{**account_scope, "organisation_id": org_id} for org_id in scope]
        for org_scope in org_scopes:
            if org_scope["organisation_id"] not in outcome.organisations_reused:
                current = installations.get(org_scope["organisation_id"])
                self._read_organisation(reader, stager, side, org_scope, current, outcome)
        sync_from_at = datetime.combine(sync_from, time.min, PARIS)
        peers = self._rdv_listing_peers(side, scope, polled_at, sync_from_at)
        rdvs = RdvListing(self, reader, stager, side, peers)
        outcome.rdvs_api_total_count += rdvs.read(org_scopes, set(scope))
        outcome.rdv_listings_shared = rdvs.shared
        rdvs.look_up_unlisted(conn, account_scope, scope, sync_from_at, outcome)
        outcome.pages, outcome.records = reader.pages_read, reader.records_read

        settle_contracts(side, CONNECTOR, outcome.contracts.values(), run_id=self.run_id, emit=self.emit)
        return Fetched(scope, polled_at, sync_from_at, rdvs.skipped)

    def _write(
        self, conn: psycopg.Connection, stager: Stager, outcome: SyncOutcome, fetched: Fetched, progress: Progress
    ) -> None:
        """Merge what was staged, in the caller's transaction."""
        scope, polled_at, sync_from_at = fetched.scope, fetched.polled_at, fetched.sync_from_at
        self._merge(conn, stager, outcome, scope, sync_from_at, progress, as_of=polled_at)
        driver_connection(conn).execute(
            package_sql(__file__, "save_organisation_listings"),
            {
                "organisation_ids": _read_here(scope, outcome),
                "read_at": polled_at,
                "account_id": self.account_id,
                "run_id": outcome.run_log_id,
            },
        )
        self._save_rdv_listing_reads(conn, outcome, fetched)
        stager.merge(tables.APPLIED_PAGES, None)
        for name, count in fetched.skipped.items():  # rows of skipped pages were seen, and unchanged
            c = outcome.tables[name]
            outcome.tables[name] = replace(c, count=c.count + count, noop=c.noop + count)
        self._close_scope(conn, outcome, scope, sync_from_at)

    def _read_organisation(
        self,
        reader: ListingReader,
        stager: Stager,
        side: psycopg.Connection,
        org_scope: dict,
        current: Any,
        outcome: SyncOutcome,
    ) -> None:
        """The organisation's own listings (whoever reads them), and our webhook endpoint in it."""
        org_id = org_scope["organisation_id"]
        for listing in (listings.MOTIFS, listings.LIEUX, listings.AGENTS, listings.USERS):
            reader.read(listing, org_scope, tenants={org_id})
        endpoints = reader.read(listings.WEBHOOK_ENDPOINTS, org_scope, keep=True).valid
        for endpoint in self._install_webhook(side, org_id, endpoints, current, outcome):
            stager.add(tables.WEBHOOK_ENDPOINTS, tables.webhook_endpoint_row(endpoint))

    def _reused_since(self, now: datetime) -> datetime:
        """Since when another account's read is taken: this night (nightly runs), or the last
        minutes (the others)."""
        if self.kind == "nightly":
            return datetime.combine(now.astimezone(PARIS).date(), time.min, PARIS)
        return now - SHARED_LISTINGS_REUSED_FOR

    def _organisations_read_elsewhere(self, side: psycopg.Connection, scope: list[int], now: datetime) -> list[int]:
        """Organisations whose own listings another account's run read lately: their requests are
        not spent again."""
        rows = side.execute(
            package_sql(__file__, "organisations_read_elsewhere"),
            {"organisation_ids": scope, "account_id": self.account_id, "since": self._reused_since(now)},
        )
        return sorted(row[0] for row in rows)

    def _rdv_listing_peers(
        self, side: psycopg.Connection, scope: list[int], now: datetime, sync_from_at: datetime
    ) -> dict[int, RdvPeer]:
        """Per organisation, the peer whose recent full read of its RDVs this run may take."""
        rows = side.execute(
            package_sql(__file__, "rdv_listing_peers"),
            {
                "account_id": self.account_id,
                "organisation_ids": scope,
                "since": self._reused_since(now),
                "sync_from": sync_from_at,
                "sync_from_date": sync_from_at.date(),
            },
        )
        return {org: RdvPeer(peer_id, rdvs) for org, peer_id, rdvs in rows}

    def _save_rdv_listing_reads(self, conn, outcome: SyncOutcome, fetched: Fetched) -> None:
        """Which organisations' RDVs this run listed in full (and who lists the same there), and
        which it took from a peer."""
        pg, shared = driver_connection(conn), outcome.rdv_listings_shared
        read = {"account_id": self.account_id, "read_at": fetched.polled_at, "run_id": outcome.run_log_id}
        pg.execute(
            package_sql(__file__, "save_rdv_listing_reads"),
            {
                **read,
                "organisation_ids": [org for org in fetched.scope if org not in shared],
                "sync_from": fetched.sync_from_at,
                "compared_since": self._reused_since(fetched.polled_at),
            },
        )
        pg.execute(
            package_sql(__file__, "save_shared_rdv_listing_reads"),
            {**read, "organisation_ids": list(shared), "peer_ids": list(shared.values())},
        )

    def _check_identity(self) -> None:
        me = self.client.me()
        agent_id = (me.get("agent") or {}).get("id") if isinstance(me, dict) else None
        if agent_id != self.account_id:
            raise AccountError(
                f"The token stored for account {self.account_id} belongs to agent {agent_id}: "
                "reconnect the account with `sync-assets rdvsp connect`."
            )

    def _close_scope(self, conn, outcome: SyncOutcome, scope: list[int], sync_from_at: datetime) -> None:
        """The account's end of sync (refused if it was disconnected meanwhile), and the warehouse's
        count of its scope, for the reconciliation checks."""
        pg = driver_connection(conn)
        if (
            pg.execute(package_sql(__file__, "touch_account_synced"), {"account_id": self.account_id}).fetchone()
            is None
        ):
            # Disconnected while this run fetched: nothing of it is applied.
            raise AccountError(
                f"RDV Service Public account {self.account_id} was disconnected during this sync: nothing was applied."
            )
        outcome.warehouse_organisations, outcome.warehouse_rdvs = pg.execute(
            package_sql(__file__, "count_account_scope"),
            {"account_id": self.account_id, "organisation_ids": scope, "sync_from": sync_from_at},
        ).fetchone()

    def _scope(self, requested: list[int] | None, listed: list[int]) -> list[int]:
        if not requested:
            return sorted(set(listed))
        foreign = sorted(set(requested) - set(listed))
        if foreign:
            raise ScopeError(
                f"organisation(s) {', '.join(map(str, foreign))} are not among the organisations of account "
                f"{self.account_id}: a run may only sync the organisations of its own account."
            )
        return sorted(set(requested))

    def _merge(
        self,
        conn,
        stager: Stager,
        outcome: SyncOutcome,
        scope: list[int],
        sync_from_at: datetime,
        progress: Progress,
        as_of: datetime,
    ) -> None:
        """Merge every staged table and delete what is gone, as of `as_of` (when this poll's
        listing began: what webhooks changed since is neither overwritten nor deleted). Webhook
        applies of the scope's organisations wait for the merge (lock_tenants); a deadlock with
        another writer of shared rows (users) undoes this attempt only, which is tried again."""
        pg = driver_connection(conn)
        for attempt in range(1, MERGE_ATTEMPTS + 1):
            try:
                with pg.transaction():  # a savepoint
                    lock_tenants(pg, CONNECTOR, scope)
                    self._merge_tables(pg, stager, outcome, scope, sync_from_at, progress, as_of)
                return
            except psycopg.errors.DeadlockDetected:
                if attempt == MERGE_ATTEMPTS:
                    raise
                log.warning(
                    "merge deadlocked with another writer: tried again",
                    extra={"account_id": self.account_id, "attempt": attempt},
                )

    def _merge_tables(
        self,
        pg: psycopg.Connection,
        stager: Stager,
        outcome: SyncOutcome,
        scope: list[int],
        sync_from_at: datetime,
        progress: Progress,
        as_of: datetime,
    ) -> None:
        read_here = {"organisation_id": _read_here(scope, outcome)}  # what is gone is known where it was read
        rdv_stage = stager.stage(tables.RDVS).stage
        scopes: dict[str, DeleteScope | None] = {
            tables.ACCOUNT_ORGANISATIONS.table: {"account_id": [self.account_id]},
            tables.AGENT_ROLES.table: read_here,
            tables.USER_PROFILES.table: read_here,
            tables.MOTIFS.table: read_here,
            tables.LIEUX.table: read_here,
            tables.WEBHOOK_ENDPOINTS.table: read_here,
            tables.ACCOUNT_RDVS.table: DeleteWhere(
                sql.SQL("t.account_id = %s AND t.organisation_id = ANY(%s) AND t.starts_at >= %s"),
                [self.account_id, scope, sync_from_at],
            ),
            tables.PARTICIPATIONS.table: DeleteWhere(sql.SQL("t.rdv_id IN (SELECT id FROM {})").format(rdv_stage)),
        }
        counts = outcome.tables
        for spec in tables.MERGE_ORDER:
            group_by = "organisation_id" if spec is tables.RDVS else None
            counts[spec.name] = stager.merge(spec, scopes.get(spec.table), group_by, as_of)
            progress.merged(spec.name, counts[spec.name].count)
        by_organisation = dict(stager.stage(tables.RDVS).groups)

        def delete_unseen(spec, condition: str, params: list, group_by: str | None = None) -> list[tuple]:
            return delete_rows(pg, spec, sql.SQL(package_sql(__file__, condition)), params, as_of, group_by)

        gone_participations = sum(n for _, n in delete_unseen(tables.PARTICIPATIONS, "unseen_participations", [scope]))
        gone_rdvs = 0
        for organisation_id, gone in delete_unseen(tables.RDVS, "unseen_rdvs", [scope], "organisation_id"):
            gone_rdvs += gone
            c = by_organisation.get(organisation_id, MergeCounts())
            by_organisation[organisation_id] = replace(c, deleted=c.deleted + gone)
        outcome.organisation_drift = {org: by_organisation.get(org, MergeCounts()) for org in scope}
        gone_users = sum(n for _, n in delete_unseen(tables.USERS, "orphan_users", []))
        for name, extra in (("participations", gone_participations), ("rdvs", gone_rdvs), ("users", gone_users)):
            counts[name] = replace(counts[name], deleted=counts[name].deleted + extra)

    # --- webhooks -----------------------------------------------------------------------

    def _install_webhook(
        self,
        side: psycopg.Connection,
        org_id: int,
        endpoints: list[models.WebhookEndpoint],
        current: Any,
        outcome: SyncOutcome,
    ) -> list[models.WebhookEndpoint]:
        """Make sure our endpoint exists for `org_id`, without replaying every record.

        The installation is saved at once on the side connection, not with the sync's rows: the
        API signs with the new secret from now on, even if this run fails later. `current` is the
        organisation's row of webhook_installations.sql, if any.

        Returns the organisation's endpoints as they are after the installation.
        """
        if not self.webhook_url:
            installation = WebhookInstallation("not_configured", "RDVSP_WEBHOOK_URL is not set")
        else:
            target = f"{self.webhook_url}/{org_id}"
            ours = next((e for e in endpoints if e.target_url == target), None)
            known_secret = bool(current and current.secret_encrypted and ours and current.endpoint_id == ours.id)
            if ours and known_secret and set(ours.subscriptions) == set(WEBHOOK_SUBSCRIPTIONS):
                installation = WebhookInstallation("installed", None, target, ours.id)
            else:
                installation, saved = self._save_endpoint(org_id, target, ours)
                if saved is not None:
                    outcome.webhooks_installed_now.add(org_id)
                    endpoints = [e for e in endpoints if e.id != saved.id] + [saved]
        self._record_installation(side, org_id, installation, outcome)
        return endpoints

    def _save_endpoint(
        self, org_id: int, target: str, ours: models.WebhookEndpoint | None
    ) -> tuple[WebhookInstallation, models.WebhookEndpoint | None]:
        """Create our endpoint (or update `ours`) with a new secret; the outcome, and the endpoint
        as the API lists it when it took."""
        secret = secrets.token_urlsafe(32)
        response = self.client.save_webhook_endpoint(org_id, target, secret, ours.id if ours else None)
        if response.status_code == 403:
            reason = f"forbidden: account {self.account_id} is not an administrator of organisation {org_id}"
            return WebhookInstallation("failed", reason, target), None
        if response.status_code in (404, 422):
            return WebhookInstallation("failed", f"refused with HTTP {response.status_code}", target), None
        # Re-list: an endpoint creation may answer 200 and not take.
        relisted = validate_batch(
            models.WebhookEndpoint, self.client.webhook_endpoints(org_id, target), entity="webhook_endpoints"
        ).valid
        mine = next((e for e in relisted if e.target_url == target), None)
        if mine is None:
            return WebhookInstallation("not_taken", "the API accepted the endpoint but does not list it", target), None
        return WebhookInstallation("installed", None, target, mine.id, self.cipher.encrypt(secret)), mine

    def _record_installation(
        self, side: psycopg.Connection, org_id: int, installation: WebhookInstallation, outcome: SyncOutcome
    ) -> None:
        side.execute(
            package_sql(__file__, "save_webhook_installation"),
            {
                "organisation_id": org_id,
                "account_id": self.account_id,
                "endpoint_id": installation.endpoint_id,
                "target_url": installation.target_url,
                "secret_encrypted": installation.secret_encrypted,
                "status": installation.status,
                "reason": installation.reason,
            },
        )
        outcome.webhooks[installation.status] = outcome.webhooks.get(installation.status, 0) + 1
        outcome.webhook_status[org_id] = installation.status


@dataclass(frozen=True)
class WebhookInstallation:
    """One organisation's webhook installation, as save_webhook_installation.sql records it."""

    status: str  # installed | failed | not_taken | not_configured
    reason: str | None
    target_url: str | None = None
    endpoint_id: int | None = None
    secret_encrypted: str | None = None  # set only when this run gave the endpoint a new secret


@dataclass(frozen=True)
class RdvPeer:
    """An account seen to list the same RDVs in an organisation, which just listed them in full."""

    account_id: int
    rdvs: int  # its RDVs there from this account's first day on: what our first page must announce


class RdvListing:
    """What is RDV Service Public's own in reading RDVs: a polling run skips the pages whose body is
    the one the last successful sync applied (`rdvsp.applied_pages`; the nightly run re-applies
    everything); where a peer just listed the same RDVs, its read is taken once our first page
    announces as many; and RDVs seen before but missing from the unordered listing are looked up by
    id before anything is deleted."""

    def __init__(
        self,
        sync: RdvspAccountSync,
        reader: ListingReader,
        stager: Stager,
        side: psycopg.Connection,
        peers: dict[int, RdvPeer],
    ):
        self.account_id, self.reader, self.stager, self.peers = sync.account_id, reader, stager, peers
        self.shared: dict[int, int] = {}  # organisation -> the peer whose read was taken
        self.applied = (
            {}
            if sync.kind == "nightly"
            else {
                (endpoint, _canonical(params)): sha
                for endpoint, params, sha in side.execute(
                    package_sql(__file__, "applied_pages"), {"account_id": sync.account_id}
                )
            }
        )
        self.found = ListingRead()  # rejected ids: listed, but broke the contract (present, never "missing")
        self.listed: set[int] = set()
        self.skipped = {"rdvs": 0, "participations": 0}

    def read(self, org_scopes: list[dict], tenants: set[int]) -> int:
        """Stage the organisations' RDVs, their listings read side by side (each organisation has
        its own budget of RDV listings); the sum of the API's total counts."""
        found = {scope["organisation_id"]: ListingRead() for scope in org_scopes}
        streams = ((scope, self._pages(scope)) for scope in org_scopes)
        for scope, page in interleaved(streams, RDV_LISTINGS_AT_ONCE):
            read = found[scope["organisation_id"]]
            self.stager.add(tables.APPLIED_PAGES, (self.account_id, page.endpoint, dict(page.params), page.sha256))
            if self.applied.get((page.endpoint, _canonical(page.params))) != page.sha256:
                result = self.reader.stage(listings.RDVS, page, scope, read, tenants=tenants)
                self.listed |= {rdv.id for rdv in result.valid}
            else:
                self._stage_links_only(page)
            read.total = dig(page.data, listings.RDVS.total) or 0
        for read in found.values():
            self.found.rejected_ids |= read.rejected_ids
        for scope in org_scopes:
            if scope["organisation_id"] in self.shared:
                self._stage_peer_links(scope)
        return sum(read.total for read in found.values())

    def _pages(self, scope: dict) -> Iterator[Page]:
        """The organisation's pages of RDVs; only the first when it announces as many RDVs as a
        peer just listed there in full (the peer's read is then taken)."""
        peer = self.peers.get(scope["organisation_id"])
        pages = self.reader.pages(listings.RDVS, scope, first_alone=peer is not None)
        for page in pages:
            yield page
            if peer is not None and dig(page.data, listings.RDVS.total) == peer.rdvs:
                self.shared[scope["organisation_id"]] = peer.account_id
                pages.close()
                return
            peer = None  # another count (or a later page): listed in full

    def _stage_peer_links(self, scope: dict) -> None:
        """This account's links to the organisation's RDVs, as its peer's."""
        self.stager.flush(tables.ACCOUNT_RDVS)
        statement = sql.SQL(package_sql(__file__, "share_rdv_links")).format(
            stage=self.stager.stage(tables.ACCOUNT_RDVS).stage
        )
        organisation_id = scope["organisation_id"]
        rows = driver_connection(self.stager.conn).execute(
            statement,
            {
                "account_id": self.account_id,
                "peer_id": self.shared[organisation_id],
                "organisation_id": organisation_id,
                "sync_from": datetime.combine(scope["sync_from"], time.min, PARIS),
            },
        )
        self.listed |= {row[0] for row in rows}

    def _stage_links_only(self, page) -> None:
        """A page applied before, unchanged: only its RDVs' links to the account are staged."""
        ids = set()
        for item in self.reader.items(listings.RDVS, page):
            ids.add(item["id"])
            self.stager.add(
                tables.ACCOUNT_RDVS,
                (self.account_id, item["id"], item["organisation"]["id"], models.parse_timestamp(item["starts_at"])),
            )
            self.skipped["participations"] += len(item["participations"])
        self.skipped["rdvs"] += len(ids)
        self.listed |= ids

    def look_up_unlisted(
        self, conn, scope, organisation_ids: list[int], sync_from_at: datetime, outcome: SyncOutcome
    ) -> None:
        """RDVs seen before but missing from this listing, looked up by id before anything is deleted."""
        self.stager.flush(tables.ACCOUNT_RDVS)
        unlisted_sql = sql.SQL(package_sql(__file__, "unlisted_account_rdvs")).format(
            stage=self.stager.stage(tables.ACCOUNT_RDVS).stage
        )
        unlisted = [
            r[0]
            for r in driver_connection(conn).execute(
                unlisted_sql,
                {"account_id": self.account_id, "organisation_ids": organisation_ids, "sync_from": sync_from_at},
            )
            if r[0] not in self.found.rejected_ids
        ]
        outcome.rdvs_looked_up = len(unlisted)
        found: set[int] = set()
        for start in range(0, len(unlisted), listings.IDS_PER_LOOKUP):
            lookup = {**scope, "ids": unlisted[start : start + listings.IDS_PER_LOOKUP]}
            for page in self.reader.pages(listings.RDVS_BY_ID, lookup):
                result = self.reader.stage(
                    listings.RDVS_BY_ID, page, lookup, ListingRead(), tenants=set(organisation_ids)
                )
                found |= {rdv.id for rdv in result.valid}
        outcome.rdvs_found_on_lookup = len(found & set(unlisted))
        outcome.rdvs_listed = len(self.listed | found)


def _read_here(scope: list[int], outcome: SyncOutcome) -> list[int]:
    """The organisations of the scope whose own listings this run read."""
    return [org for org in scope if org not in outcome.organisations_reused]


def _canonical(params) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def table_names() -> list[str]:
    return [spec.name for spec in tables.MERGE_ORDER]
