"""The platform's own Dagster definitions: the warehouse schema and raw-response retention."""
# No `from __future__ import annotations` here: Dagster reads the context annotations.


import dagster as dg
from sqlalchemy import text

from sync_assets.platform import migrations
from sync_assets.platform.raw import prune_raw_responses, retention_days
from sync_assets.platform.resources import WarehouseResource
from sync_assets.platform.sql_files import package_sql

OWNERS = ["team:data-engineering"]


@dg.asset(
    key=["sync", "warehouse_schema"],
    group_name="sync",
    kinds={"postgres"},
    owners=OWNERS,
    description=(
        "The warehouse's schemas and tables, at the latest migration of sql/migrations. "
        "Materializing it applies the pending migrations (each once, in its own transaction)."
    ),
)
def warehouse_schema(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    url = warehouse.url()
    applied_now = migrations.upgrade(url)
    recorded = migrations.applied(url)
    with warehouse.begin() as conn:
        tables = conn.execute(text(package_sql(__file__, "warehouse_tables"))).all()
    context.log.info(f"{len(applied_now)} migration(s) applied; schema at version {recorded[-1][0]:04d}")
    return dg.MaterializeResult(metadata={
        "schema_version": dg.MetadataValue.int(recorded[-1][0]),
        "migrations_applied_now": dg.MetadataValue.json([f"{m.version:04d}_{m.name}" for m in applied_now]),
        "table_count": dg.MetadataValue.int(len(tables)),
        "tables": dg.MetadataValue.md(
            "| table | rows (estimate) |\n|---|---|\n"
            + "\n".join(f"| {schema}.{table} | {rows} |" for schema, table, rows in tables)
        ),
    })


@dg.op(description="Deletes raw API responses not fetched again within SYNC_RAW_RETENTION_DAYS (30 by default).")
def prune_raw_responses_op(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> int:
    days = retention_days()
    with warehouse.begin() as conn:
        deleted = prune_raw_responses(conn, days)
    context.log.info(f"pruned {deleted} raw response(s) older than {days} days")
    context.add_output_metadata({"deleted": deleted, "retention_days": days})
    return deleted


@dg.job(
    name="sync_raw_responses_retention",
    description="Applies the retention window to sync.raw_responses.",
    tags={"sync_assets/area": "platform"},
)
def raw_responses_retention_job():
    prune_raw_responses_op()


raw_responses_retention_schedule = dg.ScheduleDefinition(
    name="sync_raw_responses_retention_daily",
    job=raw_responses_retention_job,
    cron_schedule="30 4 * * *",
    execution_timezone="Europe/Paris",
    description="Every day at 04:30 Paris time, after the 03:00 syncs: prune old raw responses.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

warehouse_schema_job = dg.define_asset_job(
    "sync_warehouse_schema",
    selection=dg.AssetSelection.assets(warehouse_schema),
    description="Applies the pending migrations (materializes sync/warehouse_schema).",
)

defs = dg.Definitions(
    assets=[warehouse_schema],
    jobs=[raw_responses_retention_job, warehouse_schema_job],
    schedules=[raw_responses_retention_schedule],
)
