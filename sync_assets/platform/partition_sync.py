"""The sync of one partition of a source read incrementally: one listing, one transaction.

The family the integrations guideline names (Doctolib, Pennylane, Logosw, INPI): an API key per
account, one listing per partition (a practice, a company), paged, that can be asked for what
changed since a moment. A run reads the partition's listing from its cursor less a lookback
window (or everything, on a full refresh), merges the source's tables in order, deletes on a full
refresh the partition's rows the API no longer lists, and saves the cursor (`sync.cursors`) in
the transaction of its rows and its success: a failed run leaves the tables and the cursor as
they were. One run per partition at a time (an advisory lock). Re-read rows that did not change
count as noop, never twice.

What is a connector's own is a hook of `PartitionSync`: `before_merge` and `after_merge` (what
else a full refresh removes), `failed` (what a failure changes besides the run log).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Engine

from sync_assets.platform.contract import ContractResult, settle_contracts
from sync_assets.platform.errors import SyncError
from sync_assets.platform.http import ApiClient
from sync_assets.platform.listing import Listing, ListingReader
from sync_assets.platform.merge import MergeCounts, Stager, TableSpec, autocommit_connection
from sync_assets.platform.observability import get_logger
from sync_assets.platform.raw import BackgroundLander
from sync_assets.platform.run import Run
from sync_assets.platform.sql_files import package_sql

log = get_logger("platform.partition_sync")


@dataclass(frozen=True)
class PartitionSource:
    """What a partition run reads and writes."""

    connector: str  # its name in the run log and the cursors ("doctolib")
    partition: str  # the scope key naming a partition, and the owned table's column ("practice_id")
    listing: Listing  # incremental, formatted with {partition: value}; its tenant rule keeps the partition's rows
    tables: tuple[TableSpec, ...]  # merged in this order, parents first
    owned: TableSpec  # the table whose rows belong to one partition: a full refresh deletes what is unlisted
    partition_value: Callable[[str], Any] = int  # a partition key as the API and the rows name it


@dataclass
class PartitionOutcome:
    run_log_id: str  # its row in sync.runs
    partition_key: str
    mode: str  # incremental | full_refresh
    since: datetime | None = None  # what the listing was asked from (None: everything)
    cursor_before: datetime | None = None
    cursor_after: datetime | None = None
    tables: dict[str, MergeCounts] = field(default_factory=dict)
    contract: ContractResult = field(default_factory=lambda: ContractResult(""))
    pages: int = 0
    records: int = 0
    api_requests: int = 0
    elapsed_s: float = 0.0

    @property
    def drift(self) -> int:
        return sum(c.drift for c in self.tables.values())

    def cursor_detail(self) -> dict:
        return {"since": self.since, "cursor_before": self.cursor_before, "cursor_after": self.cursor_after}


class PartitionSync:
    """One run of one partition (`run`); subclasses add a connector's own steps as hooks."""

    def __init__(
        self,
        engine: Engine,
        source: PartitionSource,
        partition_key: str,
        http: ApiClient | None,
        *,
        full_refresh: bool = False,
        lookback: timedelta | None = None,
        run_id: str | None = None,
        emit: Callable[[str], None] = log.info,
        detail: dict | None = None,
        ids: dict | None = None,
    ):
        if lookback is not None and lookback < timedelta(0):
            raise SyncError("the lookback window cannot be negative")
        self.engine, self.source, self.partition_key = engine, source, partition_key
        self.http = http  # the partition's client (a subclass may choose it when the run starts)
        self.full_refresh, self.lookback, self.run_id, self.emit = full_refresh, lookback, run_id, emit
        self.detail = detail or {}  # the connector's own figures, kept with the run
        self.ids = {source.partition: source.partition_value(partition_key), **(ids or {})}  # for failure reports
        self.mode = "full_refresh" if full_refresh else "incremental"
        self.outcome: PartitionOutcome | None = None  # also set when the run fails, for the checks

    @property
    def label(self) -> str:
        return f"{self.source.connector} {self.source.partition.removesuffix('_id')} {self.partition_key}"

    def run(self) -> PartitionOutcome:
        http = self.http
        if http is None:
            raise SyncError(f"{self.label}: no API client to read it with")
        run = Run(
            self.engine,
            self.source.connector,
            self.partition_key,
            kind=self.mode,
            dagster_run_id=self.run_id,
            logger=log,
            emit=self.emit,
            label=self.label,
            detail=self.detail,
            ids=self.ids,
            http=http,
        )
        outcome = self.outcome = self.new_outcome(run.id)
        # Pages are fetched and staged (session temporary tables) outside any transaction, at the
        # API's pace; the rows, the cursor and the run's success are written by one short one.
        with (
            run,
            autocommit_connection(self.engine) as pg,
            BackgroundLander(run.conninfo, self.source.connector) as lander,
            Stager(pg, flush_rows=5000) as stager,
        ):
            try:
                self._sync(pg, run, http, lander, stager, outcome)
            except BaseException as error:
                run.detail.update(outcome.cursor_detail())
                self.failed(run, error, outcome)
                raise
        self.emit(
            f"{self.label} ({self.mode}): {outcome.records} records in {outcome.pages} pages, "
            f"{outcome.elapsed_s:.1f} s, drift {outcome.drift}"
        )
        return outcome

    def new_outcome(self, run_log_id: str) -> PartitionOutcome:
        return PartitionOutcome(
            run_log_id, self.partition_key, self.mode, contract=ContractResult(self.source.listing.entity)
        )

    def _sync(
        self,
        pg: psycopg.Connection,
        run: Run,
        http: ApiClient,
        lander: BackgroundLander,
        stager: Stager,
        outcome: PartitionOutcome,
    ) -> None:
        keys = {"connector": self.source.connector, "partition_key": self.partition_key}
        pg.execute(package_sql(__file__, "lock_partition"), keys)
        try:
            self._read_and_write(pg, run, http, lander, stager, outcome, keys)
        finally:  # the connection goes back to the pool: its session lock must not go with it
            _unlock(pg, keys)

    def _read_and_write(
        self,
        pg: psycopg.Connection,
        run: Run,
        http: ApiClient,
        lander: BackgroundLander,
        stager: Stager,
        outcome: PartitionOutcome,
        keys: dict[str, str],
    ) -> None:
        source, value = self.source, self.source.partition_value(self.partition_key)
        state = pg.execute(package_sql(__file__, "read_cursor"), keys).fetchone()
        outcome.cursor_before = state[0] if state else None
        reader = ListingReader(
            http, {source.listing.entity: outcome.contract}, stager=stager, lander=lander, progress=run.progress
        )
        found = reader.read(
            source.listing,
            {source.partition: value},
            tenants={value},
            cursor=None if self.full_refresh else outcome.cursor_before,
            lookback=self.lookback,
        )
        outcome.pages, outcome.records, outcome.since = reader.pages_read, reader.records_read, found.since
        settle_contracts(run.side, source.connector, [outcome.contract], run_id=self.run_id, emit=self.emit)

        with pg.transaction():
            self._write(pg, run, stager, outcome, found.high_water, keys)

    def _write(
        self,
        pg: psycopg.Connection,
        run: Run,
        stager: Stager,
        outcome: PartitionOutcome,
        high_water: datetime | None,
        keys: dict[str, str],
    ) -> None:
        """Merge what was staged, save the cursor and record the success, in the caller's transaction."""
        source, value = self.source, self.source.partition_value(self.partition_key)
        self.before_merge(pg, outcome)
        merged = stager.merge_all(
            [
                (spec, {source.partition: [value]} if spec is source.owned and self.full_refresh else None)
                for spec in source.tables
            ]
        )
        outcome.tables = {spec.name: merged[spec.table] for spec in source.tables}
        for name, counts in outcome.tables.items():
            run.progress.merged(name, counts.count)
        self.after_merge(pg, outcome)

        outcome.cursor_after = high_water
        outcome.api_requests = run.http.requests if run.http else 0
        outcome.elapsed_s = run.progress.elapsed()
        pg.execute(
            package_sql(__file__, "save_cursor"),
            {**keys, "cursor": high_water, "full_refresh": self.full_refresh, "run_id": outcome.run_log_id},
        )
        run.detail.update(outcome.cursor_detail())
        run.finish(pg, outcome.tables)  # with the rows and the cursor

    # --- hooks ----------------------------------------------------------------------------

    def before_merge(self, pg: psycopg.Connection, outcome: PartitionOutcome) -> None:
        """After the listing is read and its contract settled, before anything is merged."""

    def after_merge(self, pg: psycopg.Connection, outcome: PartitionOutcome) -> None:
        """After every table is merged, in the same transaction (`outcome.tables` may be amended)."""

    def failed(self, run: Run, error: BaseException, outcome: PartitionOutcome) -> None:
        """The run failed (recorded and reported next): what else must change, on `run.side`."""


def _unlock(pg: psycopg.Connection, keys: dict[str, str]) -> None:
    """Release the partition's lock; a connection that cannot run the statement is closed, which
    releases it too (and the pool then discards the connection)."""
    try:
        pg.execute(package_sql(__file__, "unlock_partition"), keys)
    except psycopg.Error:
        pg.close()
