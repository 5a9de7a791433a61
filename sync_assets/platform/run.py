"""One run of a connector, from its start to its end, in the one run log (`sync.runs`,
`sync.run_tables`).

A run's row is written when it starts, on a connection of its own (autocommit): the row, the raw
pages and the drift events stay even when the run's own transaction rolls back. The success is
written in that transaction (`finish` takes its connection), so it commits with the run's rows. A
failure is written on the side connection and reported the three ways: a log line, Sentry, and
the row's error. A run whose process died leaves its row `running`; the next run of any connector
marks it `interrupted` (its database backend is gone).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from sqlalchemy import Engine

from sync_assets.platform.errors import SyncError
from sync_assets.platform.http import ApiClient
from sync_assets.platform.merge import AnyConnection, MergeCounts, driver_connection
from sync_assets.platform.observability import report_failure, safe_error_message
from sync_assets.platform.progress import Progress, table_count_lines
from sync_assets.platform.sql_files import package_sql
from sync_assets.platform.warehouse import libpq_url

INTERRUPTED_REASON = (
    "the process running this sync stopped before it finished (killed, crashed, or cut from "
    "the database); nothing of it was applied, and the next run syncs what it would have"
)


@dataclass(frozen=True)
class RunRecord:
    """A run as the run log holds it (for the command line and the demo)."""

    id: str
    connector: str
    partition_key: str | None
    kind: str
    status: str
    error: str | None
    drift: int | None
    detail: dict
    tables: list[tuple] = field(default_factory=list)  # (name, count, created, updated, deleted, noop, drift)

    def table_lines(self) -> list[str]:
        return table_count_lines(self.tables)


class Run:
    """A run of `connector` for `partition_key`, recorded from its start (a context manager: a
    failure leaving the block is recorded and reported, then raised again).

    `ids`: what the failure report names besides the run (account, practice…); never personal data.
    Its `pages` are those reported to its `progress`; its `api_requests`, the calls `http` made.
    """

    def __init__(
        self,
        engine: Engine,
        connector: str,
        partition_key: str | None,
        *,
        kind: str,
        dagster_run_id: str | None,
        logger: logging.Logger,
        emit: Callable[[str], None],
        label: str,
        detail: Mapping[str, Any] | None = None,
        ids: Mapping[str, Any] | None = None,
        http: ApiClient | None = None,
    ):
        self.id = str(uuid.uuid4())
        self.conninfo = libpq_url(engine.url.render_as_string(hide_password=False))
        self.connector, self.partition_key, self.kind = connector, partition_key, kind
        self.dagster_run_id, self.logger, self.emit, self.label = dagster_run_id, logger, emit, label
        self.detail = dict(detail or {})  # the connector's own figures, kept with the row
        self.ids = dict(ids or {})
        self.http = http  # the client whose calls the run counts
        self.progress = Progress(label, emit)
        self._side: psycopg.Connection | None = None

    @property
    def side(self) -> psycopg.Connection:
        """The run's own connection (autocommit): for what must stay when the run rolls back."""
        if self._side is None:
            raise SyncError("the run has not started")
        return self._side

    def __enter__(self) -> Run:
        self._side = psycopg.connect(self.conninfo, autocommit=True)
        try:
            settle_interrupted_runs(self._side, self.logger)
            self._side.execute(
                package_sql(__file__, "start_run"),
                {
                    "id": self.id,
                    "connector": self.connector,
                    "partition_key": self.partition_key,
                    "kind": self.kind,
                    "dagster_run_id": self.dagster_run_id,
                    "detail": Jsonb(_plain(self.detail)),
                },
            )
        except BaseException:
            self._side.close()
            raise
        self.progress = Progress(self.label, self.emit)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if error is not None:
                self._record_failure(error)
        finally:
            self.side.close()

    def finish(self, conn: AnyConnection, tables: Mapping[str, MergeCounts]) -> None:
        """Record the success, in the transaction of `conn` (it commits with the run's rows)."""
        names = list(tables)
        driver_connection(conn).execute(
            package_sql(__file__, "finish_run"),
            {
                "id": self.id,
                "drift": sum(c.drift for c in tables.values()),
                **self._figures(),
                "tables": names,
                "counts": [tables[n].count for n in names],
                **{k: [getattr(tables[n], k) for n in names] for k in ("created", "updated", "deleted", "noop")},
                "drifts": [tables[n].drift for n in names],
            },
        )

    def _figures(self) -> dict:
        """Pages read (as reported to the run's progress) and calls made, so far; the detail, with
        the API's 429s and the shared paces they lowered, if any."""
        detail = dict(self.detail)
        if self.http is not None and self.http.throttled:
            detail["throttled_429"] = self.http.throttled
            lowered = getattr(self.http.budget, "lowest_per_minute", {})
            detail["budget_lowered_to_per_minute"] = {name: round(rate, 1) for name, rate in lowered.items()}
        return {
            "pages": self.progress.pages,
            "api_requests": self.http.requests if self.http else 0,
            "detail": Jsonb(_plain(detail)),
        }

    def _record_failure(self, error: BaseException) -> None:
        self.side.execute(
            package_sql(__file__, "fail_run"),
            {"id": self.id, "error": safe_error_message(error), **self._figures()},
        )
        if isinstance(error, Exception):
            report_failure(self.logger, error, f"{self.connector} sync failed", **self.ids, run_log_id=self.id)


def record_skipped_run(
    conn: AnyConnection,
    connector: str,
    reason: str,
    *,
    partition_key: str | None = None,
    kind: str,
    dagster_run_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> str:
    """A run that could not happen, kept with its reason; its id."""
    run_id = str(uuid.uuid4())
    driver_connection(conn).execute(
        package_sql(__file__, "skip_run"),
        {
            "id": run_id,
            "connector": connector,
            "partition_key": partition_key,
            "kind": kind,
            "dagster_run_id": dagster_run_id,
            "reason": reason,
            "detail": Jsonb(_plain(detail or {})),
        },
    )
    return run_id


def settle_interrupted_runs(conn: psycopg.Connection, logger: logging.Logger) -> int:
    """Mark `interrupted` the runs left `running` by a process that died, and report each as a
    failure (log line, Sentry). Returns how many there were."""
    settled = conn.execute(package_sql(__file__, "settle_interrupted_runs"), {"reason": INTERRUPTED_REASON}).fetchall()
    for run_id, connector, partition_key in settled:
        report_failure(
            logger,
            SyncError("a sync run was interrupted before it finished"),
            "a sync run was interrupted",
            connector=connector,
            partition=partition_key,
            run_log_id=str(run_id),
        )
    return len(settled)


def runs_of_dagster_run(engine: Engine, dagster_run_id: str) -> list[RunRecord]:
    """The runs a Dagster run recorded, oldest first."""
    with engine.connect() as conn, driver_connection(conn).cursor(row_factory=dict_row) as cur:
        rows = cur.execute(package_sql(__file__, "runs_of_dagster_run"), {"dagster_run_id": dagster_run_id}).fetchall()
    return [RunRecord(**{**row, "id": str(row["id"]), "tables": [tuple(t) for t in row["tables"]]}) for row in rows]


def _plain(detail: Mapping[str, Any]) -> dict:
    """`detail` as JSON holds it (dates as ISO 8601 text)."""
    return json.loads(json.dumps(detail, default=lambda value: value.isoformat()))
