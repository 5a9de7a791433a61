"""Reading `rdvsp.sync_logs` back (for the command line and the demo)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from sync_assets.platform.merge import driver_connection
from sync_assets.platform.progress import table_count_lines
from sync_assets.platform.sql_files import package_sql


@dataclass(frozen=True)
class SyncLog:
    id: str
    account_id: int
    status: str
    error: str | None
    organisation_ids: list[int] | None
    drift: int | None
    tables: list[tuple[str, int, int, int, int, int, int]]  # name, count, created, updated, deleted, noop, drift

    def table_lines(self) -> list[str]:
        return table_count_lines(self.tables)


def sync_log_of_run(engine: Engine, run_id: str) -> SyncLog | None:
    with engine.connect() as conn:
        row = driver_connection(conn).execute(package_sql(__file__, "sync_log_of_run"), {"run_id": run_id}).fetchone()
    if row is None:
        return None
    return SyncLog(str(row[0]), row[1], row[2], row[3], row[4], row[5], [tuple(t) for t in row[8]])


@dataclass(frozen=True)
class OrganisationDrift:
    organisation_id: int
    drift: int
    created: int
    updated: int
    deleted: int
    webhook_status: str | None


def organisation_drift(engine: Engine, sync_log_id: str) -> list[OrganisationDrift]:
    """The RDV drift of each organisation a sync covered."""
    with engine.connect() as conn:
        rows = driver_connection(conn).execute(package_sql(__file__, "organisation_drift_of_log"),
                                               {"sync_log_id": sync_log_id}).fetchall()
    return [OrganisationDrift(*row) for row in rows]
