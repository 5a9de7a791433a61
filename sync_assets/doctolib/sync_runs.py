"""Reading `doctolib.sync_runs` back (for the command line and the demo)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from sync_assets.platform.merge import driver_connection
from sync_assets.platform.progress import table_count_lines
from sync_assets.platform.sql_files import package_sql


@dataclass(frozen=True)
class SyncRun:
    id: str
    practice_id: int | None
    account: str | None
    mode: str
    status: str
    reason: str | None
    updated_since: datetime | None
    cursor_after: datetime | None
    tables: list[tuple[str, int, int, int, int, int, int]]  # name, count, created, updated, deleted, noop, drift

    def table_lines(self) -> list[str]:
        return table_count_lines(self.tables)


def sync_run_of(engine: Engine, dagster_run_id: str) -> SyncRun | None:
    """The latest doctolib.sync_runs row a Dagster run wrote."""
    with engine.connect() as conn:
        rows = driver_connection(conn).execute(package_sql(__file__, "sync_runs_of_dagster_run"),
                                               {"run_id": dagster_run_id}).fetchall()
    if not rows:
        return None
    row = rows[-1]
    return SyncRun(str(row[0]), *row[1:8], [tuple(t) for t in row[8]])
