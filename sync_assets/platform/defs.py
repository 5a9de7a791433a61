"""The platform's own Dagster definitions: the warehouse schema, and the retention of raw
responses and of Dagster's own run history."""
# No `from __future__ import annotations` here: Dagster reads the context annotations.

from datetime import datetime, timedelta, timezone

import dagster as dg
from sqlalchemy import text

from sync_assets.platform import migrations
from sync_assets.platform.merge import TOMBSTONE_RETENTION_DAYS, prune_tombstones
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
    return dg.MaterializeResult(
        metadata={
            "schema_version": dg.MetadataValue.int(recorded[-1][0]),
            "migrations_applied_now": dg.MetadataValue.json([f"{m.version:04d}_{m.name}" for m in applied_now]),
            "table_count": dg.MetadataValue.int(len(tables)),
            "tables": dg.MetadataValue.md(
                "| table | rows (estimate) | what it holds |\n|---|---|---|\n"
                + "\n".join(
                    f"| {schema}.{table} | {rows} | {_table_cell(description)} |"
                    for schema, table, rows, description in tables
                )
            ),
        }
    )


def _table_cell(comment: str | None) -> str:
    """A table's comment as one markdown table cell."""
    return " ".join((comment or "").split()).replace("|", "\\|")


@dg.op(description="Deletes raw API responses not fetched again within SYNC_RAW_RETENTION_DAYS (30 by default).")
def prune_raw_responses_op(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> int:
    days = retention_days()
    with warehouse.begin() as conn:
        deleted = prune_raw_responses(conn, days)
    context.log.info(f"pruned {deleted} raw response(s) older than {days} days")
    context.add_output_metadata({"deleted": deleted, "retention_days": days})
    return deleted


@dg.op(
    description=(
        "Deletes the tombstones of deleted records written more than SYNC_TOMBSTONE_RETENTION_DAYS (30 by default) "
        "ago: longer than RDV Service Public retries a webhook, so no late delivery can still bring a record back."
    )
)
def prune_tombstones_op(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> int:
    days = retention_days("SYNC_TOMBSTONE_RETENTION_DAYS", TOMBSTONE_RETENTION_DAYS)
    with warehouse.begin() as conn:
        deleted = prune_tombstones(conn, days)
    context.log.info(f"pruned {deleted} tombstone(s) older than {days} days")
    context.add_output_metadata({"deleted": deleted, "retention_days": days})
    return deleted


@dg.job(
    name="sync_raw_responses_retention",
    description="Applies the retention windows to sync.raw_responses and sync.tombstones.",
    tags={"sync_assets/area": "platform"},
)
def raw_responses_retention_job() -> None:
    prune_raw_responses_op()
    prune_tombstones_op()


raw_responses_retention_schedule = dg.ScheduleDefinition(
    name="sync_raw_responses_retention_daily",
    job=raw_responses_retention_job,
    cron_schedule="30 4 * * *",
    execution_timezone="Europe/Paris",
    description="Every day at 04:30 Paris time, after the 03:00 syncs: prune old raw responses and tombstones.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

DAGSTER_RETENTION_DAYS = 90
RUNS_DELETED_PER_DAY = 5000  # a backlog is worked off over several days, each run short
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


def now() -> datetime:
    return datetime.now(timezone.utc)


@dg.op(
    description=(
        "Deletes the Dagster runs (with their event logs) finished more than SYNC_DAGSTER_RETENTION_DAYS days ago "
        "(90 by default): Dagster keeps every event of every run otherwise. The sync logs in the warehouse "
        "(sync.runs) keeps its own history."
    )
)
def prune_dagster_runs_op(context: dg.OpExecutionContext) -> int:
    days = retention_days("SYNC_DAGSTER_RETENTION_DAYS", DAGSTER_RETENTION_DAYS)
    cutoff = now() - timedelta(days=days)
    deleted = 0
    while deleted < RUNS_DELETED_PER_DAY:
        records = context.instance.get_run_records(
            filters=dg.RunsFilter(statuses=FINISHED, updated_before=cutoff),
            limit=min(500, RUNS_DELETED_PER_DAY - deleted),
            ascending=True,
        )
        if not records:
            break
        for record in records:
            context.instance.delete_run(record.dagster_run.run_id)
        deleted += len(records)
    context.log.info(f"deleted {deleted} Dagster run(s) finished more than {days} days ago")
    context.add_output_metadata({"deleted": deleted, "retention_days": days})
    return deleted


@dg.job(
    name="sync_dagster_runs_retention",
    description="Applies the retention window to Dagster's run history (runs and their event logs).",
    tags={"sync_assets/area": "platform"},
)
def dagster_runs_retention_job() -> None:
    prune_dagster_runs_op()


dagster_runs_retention_schedule = dg.ScheduleDefinition(
    name="sync_dagster_runs_retention_daily",
    job=dagster_runs_retention_job,
    cron_schedule="45 4 * * *",
    execution_timezone="Europe/Paris",
    description="Every day at 04:45 Paris time: delete the Dagster runs older than the retention window.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

warehouse_schema_job = dg.define_asset_job(
    "sync_warehouse_schema",
    selection=dg.AssetSelection.assets(warehouse_schema),
    description="Applies the pending migrations (materializes sync/warehouse_schema).",
)

defs = dg.Definitions(
    assets=[warehouse_schema],
    jobs=[raw_responses_retention_job, dagster_runs_retention_job, warehouse_schema_job],
    schedules=[raw_responses_retention_schedule, dagster_runs_retention_schedule],
)
