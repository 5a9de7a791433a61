"""The sync of one Doctolib practice (one partition).

Incremental by default: the API is asked for the appointments updated since the practice's
cursor minus a lookback window (clock skew, late writes), and the rows it returns are merged;
re-read rows that did not change are counted as noop, never twice. A full refresh re-reads
everything and deletes the practice's appointments the API no longer returns.

Everything happens in one transaction: the rows, the cursor and the run's success row commit
together, so a failed run leaves the tables and the cursor as they were. Its sync.runs row,
its raw pages and its drift events are written on a side connection and stay.

A practice reached through several accounts is read through one of them (`practice_accounts.sql`),
so its appointments are neither missed nor duplicated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import psycopg
from sqlalchemy import Engine

from sync_assets.doctolib import listings, tables
from sync_assets.doctolib.client import ClientFactory, DoctolibClient
from sync_assets.platform.contract import ContractResult, settle_contracts
from sync_assets.platform.errors import ApiError, SyncError
from sync_assets.platform.listing import ListingReader
from sync_assets.platform.merge import MergeCounts, Stager, driver_connection
from sync_assets.platform.observability import get_logger, report_failure
from sync_assets.platform.progress import Progress
from sync_assets.platform.raw import BackgroundLander
from sync_assets.platform.run import Run, record_skipped_run
from sync_assets.platform.sql_files import package_sql

log = get_logger("doctolib.sync")
CONNECTOR = "doctolib"


class SyncSkipped(SyncError):
    """The run could not happen (no account can reach the practice); recorded as skipped."""


@dataclass
class PracticeOutcome:
    run_log_id: str  # its row in sync.runs
    practice_id: int
    mode: str
    account: str | None = None
    updated_since: datetime | None = None
    cursor_before: datetime | None = None
    cursor_after: datetime | None = None
    tables: dict[str, MergeCounts] = field(default_factory=dict)
    contract: ContractResult = field(default_factory=lambda: ContractResult("appointments"))
    pages: int = 0
    records: int = 0
    api_requests: int = 0
    elapsed_s: float = 0.0

    @property
    def drift(self) -> int:
        return sum(c.drift for c in self.tables.values())


def choose_accounts(conn, practice_ids: list[int], account_names: list[str]) -> dict[int, str]:
    """Practice -> the account it is synced through (see practice_accounts.sql for the rule)."""
    rows = conn.execute(package_sql(__file__, "practice_accounts"),
                        {"practice_ids": practice_ids, "names": account_names}).fetchall()
    return {practice_id: name for practice_id, name in rows}


def record_skipped(conn, reason: str, *, practice_id: int | None = None, run_id: str | None = None,
                   mode: str = "incremental") -> str:
    """A run that could not happen, kept in the run log with its reason; returns its id."""
    return record_skipped_run(conn, CONNECTOR, reason, partition_key=str(practice_id) if practice_id else None,
                              kind=mode, dagster_run_id=run_id)


class PracticeSync:
    def __init__(self, engine: Engine, practice_id: int, *, clients: ClientFactory, api_keys: Mapping[str, str],
                 full_refresh: bool = False, lookback: timedelta | None = None, run_id: str | None = None,
                 emit: Callable[[str], None] = log.info):
        if lookback is not None and lookback < timedelta(0):
            raise SyncError("the lookback window cannot be negative")
        self.engine, self.practice_id, self.clients, self.api_keys = engine, practice_id, clients, api_keys
        self.full_refresh, self.lookback, self.run_id, self.emit = full_refresh, lookback, run_id, emit
        self.outcome: PracticeOutcome | None = None  # also set when the run fails, for the checks

    def run(self) -> PracticeOutcome:
        mode = "full_refresh" if self.full_refresh else "incremental"
        account = self._account(mode)
        client = self.clients(account, self.api_keys[account])
        run = Run(self.engine, CONNECTOR, str(self.practice_id), kind=mode, dagster_run_id=self.run_id, logger=log,
                  emit=self.emit, label=f"doctolib practice {self.practice_id}", detail={"account_name": account},
                  ids={"practice_id": self.practice_id, "account": account}, http=client.http)
        outcome = self.outcome = PracticeOutcome(run.id, self.practice_id, mode, account)
        with run, client, self.engine.begin() as conn, BackgroundLander(run.conninfo, CONNECTOR) as lander, \
                Stager(conn, flush_rows=5000) as stager:
            try:
                self._sync(conn.connection.driver_connection, run.side, client, lander, stager, outcome, run.progress)
            except BaseException as error:
                self._note_failure(run, error, outcome)
                raise
            run.detail.update(self._cursor_detail(outcome))
            run.finish(conn, outcome.tables)  # with the rows and the cursor
        self.emit(f"doctolib practice {self.practice_id} ({mode} via {account}): {outcome.records} appointments in "
                  f"{outcome.pages} pages, {outcome.elapsed_s:.1f} s, drift {outcome.drift}")
        return outcome

    def _account(self, mode: str) -> str:
        """The account the practice is synced through; SyncSkipped (recorded) when none can."""
        with self.engine.connect() as conn:
            account = choose_accounts(driver_connection(conn), [self.practice_id],
                                      sorted(self.api_keys)).get(self.practice_id)
        if account is not None:
            return account
        reason = (f"no account with an API key reaches practice {self.practice_id}: set the "
                  "DOCTOLIB_API_KEY_<ACCOUNT> of an account that lists it, then let the "
                  "doctolib_practice_partitions sensor rediscover practices.")
        with self.engine.begin() as conn:
            run_log_id = record_skipped(conn, reason, practice_id=self.practice_id, run_id=self.run_id, mode=mode)
        report_failure(log, SyncSkipped(reason), "doctolib sync skipped", practice_id=self.practice_id,
                       run_log_id=run_log_id)
        raise SyncSkipped(reason)

    def _note_failure(self, run: Run, error: BaseException, outcome: PracticeOutcome) -> None:
        """What the failed run's row keeps; a refused key sets its account aside, so that the next
        run (a retry, the next schedule) goes through another account that reaches the practice."""
        run.detail.update(self._cursor_detail(outcome))
        if isinstance(error, ApiError) and error.status == 401:
            run.side.execute(package_sql(__file__, "mark_accounts_in_error"), {
                "names": [outcome.account], "reasons": [f"the API refused the key (HTTP 401) during a sync of "
                                                        f"practice {self.practice_id}"]})

    @staticmethod
    def _cursor_detail(outcome: PracticeOutcome) -> dict:
        return {"updated_since": outcome.updated_since, "cursor_before": outcome.cursor_before,
                "cursor_after": outcome.cursor_after}

    def _sync(self, pg: psycopg.Connection, side: psycopg.Connection, client: DoctolibClient,
              lander: BackgroundLander, stager: Stager, outcome: PracticeOutcome, progress: Progress) -> None:
        practice_id = self.practice_id
        pg.execute(package_sql(__file__, "lock_practice"), {"practice_id": practice_id})
        state = pg.execute(package_sql(__file__, "read_sync_state"), {"practice_id": practice_id}).fetchone()
        outcome.cursor_before = state[0] if state else None
        reader = ListingReader(client.http, {"appointments": outcome.contract}, stager=stager, lander=lander,
                               progress=progress)
        found = reader.read(listings.APPOINTMENTS, {"practice_id": practice_id}, tenants={practice_id},
                            cursor=None if self.full_refresh else outcome.cursor_before, lookback=self.lookback)
        outcome.pages, outcome.records, outcome.updated_since = reader.pages_read, reader.records_read, found.since
        high_water = found.high_water
        settle_contracts(side, CONNECTOR, [outcome.contract], run_id=self.run_id, emit=self.emit)

        former_patients: list[int] = []
        if self.full_refresh:
            former_patients = [r[0] for r in pg.execute(package_sql(__file__, "practice_patients"),
                                                        {"practice_id": practice_id})]
        merged = stager.merge_all([
            (spec, {"practice_id": [practice_id]} if spec is tables.APPOINTMENTS and self.full_refresh else None)
            for spec in tables.PRACTICE_TABLES])
        outcome.tables = {tables.short_name(spec): merged[spec.table] for spec in tables.PRACTICE_TABLES}
        for name, counts in outcome.tables.items():
            progress.merged(name, counts.count)
        if former_patients:
            gone = pg.execute(package_sql(__file__, "delete_orphan_patients"), {"patient_ids": former_patients}).rowcount
            outcome.tables["patients"] = replace(outcome.tables["patients"],
                                                 deleted=outcome.tables["patients"].deleted + gone)

        outcome.cursor_after = high_water
        outcome.api_requests = client.http.requests
        outcome.elapsed_s = progress.elapsed()
        pg.execute(package_sql(__file__, "save_sync_state"), {
            "practice_id": practice_id, "cursor": high_water, "full_refresh": self.full_refresh,
            "sync_run_id": outcome.run_log_id})


def table_names() -> list[str]:
    return [tables.short_name(spec) for spec in tables.PRACTICE_TABLES]
