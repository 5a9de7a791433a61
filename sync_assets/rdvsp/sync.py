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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timezone
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from sqlalchemy import Engine

from sync_assets.platform.contract import ContractResult, settle_contracts, validate_batch
from sync_assets.platform.errors import ApiError, SyncError
from sync_assets.platform.http import Page
from sync_assets.platform.merge import (
    DeleteScope,
    DeleteWhere,
    MergeCounts,
    Stager,
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
from sync_assets.rdvsp import models, tables
from sync_assets.rdvsp.client import WEBHOOK_SUBSCRIPTIONS, RdvspClient
from sync_assets.rdvsp.oauth import AccountError, unusable_account

log = get_logger("rdvsp.sync")
PARIS = ZoneInfo("Europe/Paris")
CONNECTOR = "rdvsp"
MERGE_ATTEMPTS = 3


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
    # RDV drift per organisation: what webhooks missed, when the run re-applies every page (nightly).
    organisation_drift: dict[int, MergeCounts] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def drift(self) -> int:
        return sum(c.drift for c in self.tables.values())


class RdvspAccountSync:
    def __init__(self, engine: Engine, client: RdvspClient, account_id: int, *, cipher: TokenCipher,
                 webhook_url: str | None, emit: Callable[[str], None] = log.info, run_id: str | None = None,
                 kind: str = "polling"):
        self.engine, self.client, self.account_id, self.cipher = engine, client, account_id, cipher
        self.webhook_url = webhook_url.rstrip("/") if webhook_url else None
        self.emit, self.run_id, self.kind = emit, run_id, kind
        self.outcome: SyncOutcome | None = None  # also set when the run fails, for the checks

    # --- the run ------------------------------------------------------------------------

    def run(self, organisation_ids: list[int] | None = None) -> SyncOutcome:
        sync_from = self._sync_from()
        run = Run(self.engine, CONNECTOR, str(self.account_id), kind="scoped" if organisation_ids else self.kind,
                  dagster_run_id=self.run_id, logger=log, emit=self.emit, label=f"rdvsp account {self.account_id}",
                  ids={"account_id": self.account_id})
        if organisation_ids:
            run.detail["organisation_ids"] = sorted(organisation_ids)
        outcome = self.outcome = SyncOutcome(run.id, self.account_id, sorted(organisation_ids or []))
        with run, self.engine.begin() as conn, BackgroundLander(run.conninfo, CONNECTOR) as lander, \
                Stager(conn) as stager:
            self._sync(conn, run.side, lander, stager, outcome, sync_from, organisation_ids, run.progress)
            outcome.elapsed_s = run.progress.elapsed()
            run.pages, run.api_requests = outcome.pages, self.client.requests
            outcome.api_requests = self.client.requests
            run.detail["organisation_ids"] = outcome.organisation_ids
            run.finish(conn, outcome.tables)  # commits with the rows
            self._record_organisation_drift(conn, outcome)
        self.emit(f"rdvsp account {self.account_id}: {outcome.records} records in {outcome.pages} pages, "
                  f"{outcome.elapsed_s:.1f} s, drift {outcome.drift}")
        return outcome

    def _sync_from(self) -> date:
        """The account's first day of RDVs; AccountError when it cannot be synced."""
        with self.engine.connect() as conn:
            account = driver_connection(conn).execute(package_sql(__file__, "account_for_sync"),
                                                      {"account_id": self.account_id}).fetchone()
        if account is None:
            raise AccountError(f"RDV Service Public account {self.account_id} is not connected: "
                               "run `sync-assets rdvsp connect`.")
        if account[3] != "active":
            raise unusable_account(self.account_id, account[3], account[4])
        return account[2]

    def _record_organisation_drift(self, conn, outcome: SyncOutcome) -> None:
        orgs = sorted(outcome.organisation_drift)
        driver_connection(conn).execute(package_sql(__file__, "record_organisation_drift"), {
            "run_id": outcome.run_log_id, "organisation_ids": orgs,
            "created": [outcome.organisation_drift[o].created for o in orgs],
            "updated": [outcome.organisation_drift[o].updated for o in orgs],
            "deleted": [outcome.organisation_drift[o].deleted for o in orgs],
            "drift": [outcome.organisation_drift[o].drift for o in orgs],
            "webhook_status": [outcome.webhook_status.get(o) for o in orgs]})

    def _sync(self, conn, side: psycopg.Connection, lander: BackgroundLander, stager: Stager, outcome: SyncOutcome,
              sync_from: date, requested: list[int] | None, progress: Progress) -> None:
        polled_at = datetime.now(timezone.utc)  # the version of every state this poll reads
        me = self.client.me()
        agent_id = (me.get("agent") or {}).get("id") if isinstance(me, dict) else None
        if agent_id != self.account_id:
            raise AccountError(f"The token stored for account {self.account_id} belongs to agent {agent_id}: "
                               "reconnect the account with `sync-assets rdvsp connect`.")
        contracts = outcome.contracts

        def listed_items(page: Page, key: str) -> list:
            lander.land(page)
            items = page.data.get(key) if isinstance(page.data, dict) else None
            if not isinstance(items, list):
                raise ApiError(CONNECTOR, "GET", page.endpoint, f"the response has no `{key}` list")
            outcome.pages += 1
            outcome.records += len(items)
            progress.page(len(items))
            return items

        def consume(page: Page, key: str, model, entity: str, keep_payloads: bool = False,
                    organisations: set[int] | None = None) -> ContractResult:
            """A page's rows that hold to the contract; with `organisations`, only rows of those
            (an account writes rows of its own organisations only)."""
            items = listed_items(page, key)
            result = validate_batch(model, items, entity=entity, keep_payloads=keep_payloads)
            if organisations is not None:
                result.keep_tenant(_organisation_of, organisations, "organisation_id", "other_organisation")
            contracts.setdefault(entity, ContractResult(entity)).merge(result, keep_valid=False)
            return result

        listed_organisations: list[int] = []
        for page in self.client.organisations():
            for o in consume(page, "organisations", models.Organisation, "organisations").valid:
                stager.add(tables.ORGANISATIONS, tables.organisation_row(o, polled_at))
                stager.add(tables.ACCOUNT_ORGANISATIONS, (self.account_id, o.id))
                listed_organisations.append(o.id)
            outcome.organisations_api_total = page.data["meta"].get("total_count", 0)
        scope = self._scope(requested, listed_organisations)
        outcome.organisation_ids = scope
        sync_from_at = datetime.combine(sync_from, time.min, PARIS)
        installations = {row[0]: row for row in side.execute(package_sql(__file__, "webhook_installations"),
                                                             {"organisation_ids": scope})}
        listed_rdvs: set[int] = set()
        rejected_rdvs: set[int] = set()  # listed, but broke the contract: present, never "missing"
        # Pages a successful sync applied, by (endpoint, parameters). Polling runs skip a page
        # whose body is the same; the nightly run re-applies everything.
        applied = {} if self.kind == "nightly" else {
            (endpoint, _canonical(params)): sha for endpoint, params, sha in
            side.execute(package_sql(__file__, "applied_pages"), {"account_id": self.account_id})}
        skipped = {"rdvs": 0, "participations": 0}

        def stage_listing_page(page: Page) -> set[int]:
            """An RDV listing page: fully processed, or, if already applied, only its links staged."""
            stager.add(tables.APPLIED_PAGES, (self.account_id, page.endpoint, dict(page.params), page.sha256))
            if applied.get((page.endpoint, _canonical(page.params))) != page.sha256:
                return stage_rdvs(page)
            ids = set()
            for item in listed_items(page, "rdvs"):
                ids.add(item["id"])
                stager.add(tables.ACCOUNT_RDVS, (self.account_id, item["id"], item["organisation"]["id"],
                                                 models.parse_timestamp(item["starts_at"])))
                skipped["participations"] += len(item["participations"])
            skipped["rdvs"] += len(ids)
            return ids

        def stage_rdvs(page: Page) -> set[int]:
            result = consume(page, "rdvs", models.Rdv, "rdvs", keep_payloads=True, organisations=set(scope))
            if result.rejected:
                valid_ids = {rdv.id for rdv in result.valid}
                rejected_rdvs.update(p["id"] for p in page.data["rdvs"]
                                     if isinstance(p, dict) and isinstance(p.get("id"), int) and p["id"] not in valid_ids)
            ids = set()
            for rdv, raw in zip(result.valid, result.valid_payloads):
                ids.add(rdv.id)
                stager.add(tables.RDVS, tables.rdv_row(rdv, raw, polled_at))
                stager.add(tables.ACCOUNT_RDVS, (self.account_id, rdv.id, rdv.organisation.id, rdv.starts_at))
                stager.add(tables.MOTIFS, tables.motif_row(rdv.motif, polled_at))
                if rdv.lieu is not None:
                    stager.add(tables.LIEUX, tables.lieu_row(rdv.lieu, polled_at))
                for agent in rdv.agents:
                    stager.add(tables.AGENTS, tables.agent_row(agent, polled_at))
                for participation in rdv.participations:
                    stager.add(tables.PARTICIPATIONS, tables.participation_row(rdv.id, participation))
                    stager.add(tables.USERS, tables.user_row(participation.user, polled_at))
            return ids

        for org_id in scope:
            for page in self.client.motifs(org_id):
                for m in consume(page, "motifs", models.Motif, "motifs", organisations={org_id}).valid:
                    stager.add(tables.MOTIFS, tables.motif_row(m, polled_at))
            for page in self.client.lieux(org_id):
                for lieu in consume(page, "lieux", models.Lieu, "lieux", organisations={org_id}).valid:
                    stager.add(tables.LIEUX, tables.lieu_row(lieu, polled_at))
            for page in self.client.agents(org_id):
                for a in consume(page, "agents", models.Agent, "agents").valid:
                    stager.add(tables.AGENTS, tables.agent_row(a, polled_at))
                    stager.add(tables.AGENT_ROLES, (org_id, a.id, polled_at))
            for page in self.client.organisation_users(org_id):
                for u in consume(page, "users", models.User, "users").valid:
                    stager.add(tables.USERS, tables.user_row(u, polled_at))
                    stager.add(tables.USER_PROFILES, (org_id, u.id, polled_at))
            endpoints: list[models.WebhookEndpoint] = []
            for page in self.client.webhook_endpoints(org_id):
                endpoints += consume(page, "webhook_endpoints", models.WebhookEndpoint, "webhook_endpoints").valid
            for endpoint in self._install_webhook(side, org_id, endpoints, installations.get(org_id), outcome):
                stager.add(tables.WEBHOOK_ENDPOINTS, tables.webhook_endpoint_row(endpoint))
            total_count = 0
            for page in self.client.rdvs(org_id, sync_from):
                listed_rdvs |= stage_listing_page(page)
                total_count = page.data["meta"].get("total_count", 0)
            outcome.rdvs_api_total_count += total_count

        # RDVs seen before but missing from this listing: look them up before deleting anything.
        stager.flush(tables.ACCOUNT_RDVS)
        unlisted_sql = sql.SQL(package_sql(__file__, "unlisted_account_rdvs")).format(
            stage=stager.stage(tables.ACCOUNT_RDVS).stage)
        unlisted = [r[0] for r in conn.connection.driver_connection.execute(unlisted_sql, {
            "account_id": self.account_id, "organisation_ids": scope, "sync_from": sync_from_at})
            if r[0] not in rejected_rdvs]
        outcome.rdvs_looked_up = len(unlisted)
        found: set[int] = set()
        for page in self.client.rdvs_by_id(unlisted):
            found |= stage_rdvs(page)
        outcome.rdvs_found_on_lookup = len(found & set(unlisted))
        outcome.rdvs_listed = len(listed_rdvs | found)

        settle_contracts(side, CONNECTOR, contracts.values(), run_id=self.run_id, emit=self.emit)
        self._merge(conn, stager, outcome, scope, sync_from_at, progress, as_of=polled_at)
        stager.merge(tables.APPLIED_PAGES, None)
        for name, count in skipped.items():  # rows of skipped pages were seen, and unchanged
            c = outcome.tables[name]
            outcome.tables[name] = replace(c, count=c.count + count, noop=c.noop + count)
        pg = conn.connection.driver_connection
        if pg.execute(package_sql(__file__, "touch_account_synced"), {"account_id": self.account_id}).fetchone() is None:
            # Disconnected while this run fetched: nothing of it is applied.
            raise AccountError(f"RDV Service Public account {self.account_id} was disconnected during this sync: "
                               "nothing was applied.")
        outcome.warehouse_organisations, outcome.warehouse_rdvs = pg.execute(
            package_sql(__file__, "count_account_scope"),
            {"account_id": self.account_id, "organisation_ids": scope, "sync_from": sync_from_at}).fetchone()

    def _scope(self, requested: list[int] | None, listed: list[int]) -> list[int]:
        if not requested:
            return sorted(set(listed))
        foreign = sorted(set(requested) - set(listed))
        if foreign:
            raise ScopeError(
                f"organisation(s) {', '.join(map(str, foreign))} are not among the organisations of account "
                f"{self.account_id}: a run may only sync the organisations of its own account.")
        return sorted(set(requested))

    def _merge(self, conn, stager: Stager, outcome: SyncOutcome, scope: list[int], sync_from_at: datetime,
               progress: Progress, as_of: datetime) -> None:
        """Merge every staged table and delete what is gone, as of `as_of` (when this poll's
        listing began: what webhooks changed since is neither overwritten nor deleted). Webhook
        applies of the scope's organisations wait for the merge (lock_tenants); a deadlock with
        another writer of shared rows (users) undoes this attempt only, which is tried again."""
        pg = conn.connection.driver_connection
        for attempt in range(1, MERGE_ATTEMPTS + 1):
            try:
                with pg.transaction():  # a savepoint
                    lock_tenants(pg, CONNECTOR, scope)
                    self._merge_tables(pg, stager, outcome, scope, sync_from_at, progress, as_of)
                return
            except psycopg.errors.DeadlockDetected:
                if attempt == MERGE_ATTEMPTS:
                    raise
                log.warning("merge deadlocked with another writer: tried again",
                            extra={"account_id": self.account_id, "attempt": attempt})

    def _merge_tables(self, pg: psycopg.Connection, stager: Stager, outcome: SyncOutcome, scope: list[int],
                      sync_from_at: datetime, progress: Progress, as_of: datetime) -> None:
        in_scope = {"organisation_id": scope}
        rdv_stage = stager.stage(tables.RDVS).stage
        scopes: dict[str, DeleteScope | None] = {
            tables.ACCOUNT_ORGANISATIONS.table: {"account_id": [self.account_id]},
            tables.AGENT_ROLES.table: in_scope,
            tables.USER_PROFILES.table: in_scope,
            tables.MOTIFS.table: in_scope,
            tables.LIEUX.table: in_scope,
            tables.WEBHOOK_ENDPOINTS.table: in_scope,
            tables.ACCOUNT_RDVS.table: DeleteWhere(
                sql.SQL("t.account_id = %s AND t.organisation_id = ANY(%s) AND t.starts_at >= %s"),
                [self.account_id, scope, sync_from_at]),
            tables.PARTICIPATIONS.table: DeleteWhere(sql.SQL("t.rdv_id IN (SELECT id FROM {})").format(rdv_stage)),
        }
        counts = outcome.tables
        for spec in tables.MERGE_ORDER:
            group_by = "organisation_id" if spec is tables.RDVS else None
            counts[tables.short_name(spec)] = stager.merge(spec, scopes.get(spec.table), group_by, as_of)
            progress.merged(tables.short_name(spec), counts[tables.short_name(spec)].count)
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

    def _install_webhook(self, side: psycopg.Connection, org_id: int, endpoints: list[models.WebhookEndpoint],
                         current: Any, outcome: SyncOutcome) -> list[models.WebhookEndpoint]:
        """Make sure our endpoint exists for `org_id`, without replaying every record.

        The installation is saved at once on the side connection, not with the sync's rows: the
        API signs with the new secret from now on, even if this run fails later.

        Returns the organisation's endpoints as they are after the installation.
        """
        status, reason, endpoint_id, target, secret_enc = "not_configured", "RDVSP_WEBHOOK_URL is not set", None, None, None
        if self.webhook_url:
            target = f"{self.webhook_url}/{org_id}"
            ours = next((e for e in endpoints if e.target_url == target), None)
            known_secret = bool(current and current[3] and ours and current[1] == ours.id)
            if ours and known_secret and set(ours.subscriptions) == set(WEBHOOK_SUBSCRIPTIONS):
                status, reason, endpoint_id = "installed", None, ours.id
            else:
                secret = secrets.token_urlsafe(32)
                response = self.client.save_webhook_endpoint(org_id, target, secret, ours.id if ours else None)
                if response.status_code == 403:
                    status, reason = "failed", (f"forbidden: account {self.account_id} is not an administrator "
                                                f"of organisation {org_id}")
                elif response.status_code in (404, 422):
                    status, reason = "failed", f"refused with HTTP {response.status_code}"
                else:
                    # Re-list: an endpoint creation may answer 200 and not take.
                    relisted = [e for page in self.client.webhook_endpoints(org_id, target_url=target)
                                for e in validate_batch(models.WebhookEndpoint, page.data.get("webhook_endpoints", []),
                                                        entity="webhook_endpoints").valid]
                    mine = next((e for e in relisted if e.target_url == target), None)
                    if mine is None:
                        status, reason = "not_taken", "the API accepted the endpoint but does not list it"
                    else:
                        status, reason, endpoint_id = "installed", None, mine.id
                        secret_enc = self.cipher.encrypt(secret)
                        outcome.webhooks_installed_now.add(org_id)
                        endpoints = [e for e in endpoints if e.id != mine.id] + [mine]
        side.execute(package_sql(__file__, "save_webhook_installation"), {
            "organisation_id": org_id, "account_id": self.account_id, "endpoint_id": endpoint_id,
            "target_url": target, "secret_encrypted": secret_enc, "status": status, "reason": reason})
        outcome.webhooks[status] = outcome.webhooks.get(status, 0) + 1
        outcome.webhook_status[org_id] = status
        return endpoints



def _organisation_of(row) -> int:
    """The organisation a listed row belongs to (an RDV's is nested, a motif's or lieu's is an id)."""
    return row.organisation.id if isinstance(row, models.Rdv) else row.organisation_id


def _canonical(params) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def table_names() -> list[str]:
    return [tables.short_name(spec) for spec in tables.MERGE_ORDER]
