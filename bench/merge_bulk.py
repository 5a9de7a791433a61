"""Bulk merge benchmark: what the set-based merge costs on top of a plain COPY.

Measured in one run, on a scratch database (on SYNC_DATABASE_URL's server, or the embedded one):
- copy_only_s: COPY the rows into an empty table, nothing else (the floor);
- merge_initial_s: merge the same rows into an empty table (all created);
- merge_noop_s: merge them again, unchanged (all noop: nothing may be rewritten);
- merge_changes_s: 10% changed, 1% gone, whole-table delete scope.

Usage: python bench/merge_bulk.py [--rows 100000] [--repeat 3]
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from sync_assets.platform.merge import WHOLE_TABLE, TableSpec, merge_rows
from sync_assets.platform.warehouse import database_url, engine_for, libpq_url, normalize_database_url

SCRATCH = "sync_assets_bench"
SPEC = TableSpec(
    "bench.rdvs",
    key=("id",),
    columns=("id", "organisation_id", "status", "starts_at", "duration_in_min", "name", "raw"),
)
TABLE = """
CREATE SCHEMA IF NOT EXISTS bench;
DROP TABLE IF EXISTS bench.rdvs;
CREATE TABLE bench.rdvs (id bigint PRIMARY KEY, organisation_id bigint NOT NULL, status text NOT NULL,
    starts_at timestamptz NOT NULL, duration_in_min integer, name text, raw jsonb NOT NULL,
    synced_at timestamptz NOT NULL);
"""


def rows(count: int, changed_every: int = 0, generation: int = 0):
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    statuses = ("unknown", "seen", "noshow", "excused", "revoked")
    for i in range(count):
        status = statuses[(i + (generation if changed_every and i % changed_every == 0 else 0)) % 5]
        starts_at = start + timedelta(minutes=30 * i)
        yield (
            i,
            i % 50,
            status,
            starts_at,
            30,
            None,
            {"id": i, "status": status, "starts_at": starts_at.isoformat(), "motif": {"id": i % 40}},
        )


def timed(function) -> tuple[float, object]:
    began = time.perf_counter()
    value = function()
    return time.perf_counter() - began, value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    admin = libpq_url(database_url())
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(SCRATCH)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SCRATCH)))
    url = normalize_database_url(make_url(admin).set(database=SCRATCH).render_as_string(hide_password=False))
    engine = engine_for(url)
    initial = list(rows(args.rows))
    changed = [r for r in rows(args.rows, changed_every=10, generation=1) if r[0] % 100 != 99]

    def reset():
        with engine.begin() as conn:
            conn.exec_driver_sql(TABLE)

    def copy_only():
        with engine.begin() as conn:
            pg = conn.connection.driver_connection
            with pg.cursor().copy(
                "COPY bench.rdvs (id, organisation_id, status, starts_at, duration_in_min, name, raw,"
                " synced_at) FROM STDIN"
            ) as copy:
                copy.set_types(["int8", "int8", "text", "timestamptz", "int4", "text", "jsonb", "timestamptz"])
                now = datetime.now(timezone.utc)
                for row in initial:
                    copy.write_row((*row, now))

    def merge(batch, scope=None):
        with engine.begin() as conn:
            return merge_rows(conn, SPEC, batch, delete_scope=scope)

    results: dict[str, list[float]] = {
        "copy_only_s": [],
        "merge_initial_s": [],
        "merge_noop_s": [],
        "merge_changes_s": [],
    }
    counts = {}
    for _ in range(args.repeat):
        reset()
        results["copy_only_s"].append(timed(copy_only)[0])
        reset()
        seconds, counts["initial"] = timed(lambda: merge(initial))
        results["merge_initial_s"].append(seconds)
        seconds, counts["noop"] = timed(lambda: merge(initial))
        results["merge_noop_s"].append(seconds)
        seconds, counts["changes"] = timed(lambda: merge(changed, WHOLE_TABLE))
        results["merge_changes_s"].append(seconds)

    engine.dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(SCRATCH)))

    median = {name: round(statistics.median(values), 3) for name, values in results.items()}
    report = {
        "benchmark": "merge_bulk",
        "rows": args.rows,
        "repeat": args.repeat,
        **median,
        "initial_vs_copy": round(median["merge_initial_s"] / median["copy_only_s"], 2),
        "noop_vs_copy": round(median["merge_noop_s"] / median["copy_only_s"], 2),
        "changes_vs_copy": round(median["merge_changes_s"] / median["copy_only_s"], 2),
        "merge_rows_per_s": round(args.rows / median["merge_initial_s"]),
        "counts": {name: c.as_dict() for name, c in counts.items()},
    }
    for name, value in report.items():
        if name != "counts":
            print(f"{name:>20}: {value}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
