"""`sync-assets demo` (`make run`): the warehouse up, every asset materialized once, a summary.

Runs go through the persistent Dagster instance, so `make dev` shows them afterwards.
"""

from __future__ import annotations

from psycopg import sql

from sync_assets.platform import migrations
from sync_assets.platform.errors import SyncError
from sync_assets.platform.instance import prepare_dagster_environment
from sync_assets.platform.merge import driver_connection
from sync_assets.platform.warehouse import database_url, engine_for, redacted_url, uses_embedded_server
from sync_assets.platform.sql_files import package_sql


def run_demo() -> int:
    url = database_url()
    print(f"warehouse   {redacted_url(url)} ({'embedded, under .local/' if uses_embedded_server() else 'SYNC_DATABASE_URL'})")
    applied = migrations.upgrade(url)
    version = migrations.applied(url)[-1][0]
    print(f"schema      version {version:04d} ({len(applied)} migration(s) applied now)")

    environment = prepare_dagster_environment()
    import dagster as dg

    from sync_assets.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance, raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
        materialized = sorted(
            event.asset_key.to_user_string() for event in result.get_asset_materialization_events()
        )
    status = "SUCCESS" if result.success else "FAILURE"
    print(f"dagster     run {result.run_id[:8]} {status}: {len(materialized)} asset(s) materialized "
          f"(DAGSTER_HOME={environment['DAGSTER_HOME']})")
    for key in materialized:
        print(f"              {key}")

    print()
    print(f"{'table':<40}{'rows':>10}")
    for table, rows in table_row_counts(url):
        print(f"{table:<40}{rows:>10}")
    print()
    print("Next: `make dev` opens the Dagster UI on this data; `sync-assets db url` prints the URL for psql.")
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        raise SyncError(f"the demo run failed at step(s) {', '.join(failed)}; see the Dagster UI (make dev) for details")
    return 0


def table_row_counts(url: str) -> list[tuple[str, int]]:
    """Exact row counts of every table in the warehouse's schemas, in one statement."""
    with engine_for(url).connect() as conn:
        pg = driver_connection(conn)
        tables = [(schema, table) for schema, table, _ in pg.execute(package_sql(migrations.__file__, "warehouse_tables"))]
        if not tables:
            return []
        counts = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {name}, count(*) FROM {table}").format(
                name=sql.Literal(f"{schema}.{table}"), table=sql.Identifier(schema, table))
            for schema, table in tables
        )
        return [(name, count) for name, count in pg.execute(counts)]
