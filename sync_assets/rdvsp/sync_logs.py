"""Reading `rdvsp.sync_logs` back (for the command line and the demo)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from sync_assets.platform.merge import driver_connection
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
        lines = [f"  {'table':<22}{'count':>8}{'created':>9}{'updated':>9}{'deleted':>9}{'noop':>8}{'drift':>7}"]
        lines += [f"  {name:<22}{count:>8}{created:>9}{updated:>9}{deleted:>9}{noop:>8}{drift:>7}"
                  for name, count, created, updated, deleted, noop, drift in self.tables]
        return lines


def sync_log_of_run(engine: Engine, run_id: str) -> SyncLog | None:
    with engine.connect() as conn:
        row = driver_connection(conn).execute(package_sql(__file__, "sync_log_of_run"), {"run_id": run_id}).fetchone()
    if row is None:
        return None
    return SyncLog(str(row[0]), row[1], row[2], row[3], row[4], row[5], [tuple(t) for t in row[8]])
