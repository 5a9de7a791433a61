"""When RDV Service Public syncs run on their own: nightly, and as accounts get connected."""
# No `from __future__ import annotations` here: Dagster reads the resource annotations.

import dagster as dg
from sqlalchemy import text

from sync_assets.platform.resources import WarehouseResource
from sync_assets.platform.sql_files import package_sql
from sync_assets.rdvsp.partitions import rdvsp_accounts

rdvsp_sync_job = dg.define_asset_job(
    "rdvsp_sync",
    selection=dg.AssetSelection.groups("rdvsp"),
    description="Polls every RDV Service Public table of one account (a partition).",
)


def _account_ids(warehouse: WarehouseResource, statement: str) -> list[str]:
    with warehouse.begin() as conn:
        return [str(row[0]) for row in conn.execute(text(package_sql(__file__, statement)))]


@dg.schedule(
    name="rdvsp_nightly",
    job=rdvsp_sync_job,
    cron_schedule="0 3 * * *",
    execution_timezone="Europe/Paris",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "Every night at 03:00 Paris time: a full polling sync of every active account, which reconciles the "
        "warehouse with the API and measures drift (what webhooks missed). Accounts in error are skipped: "
        "they need to be reconnected."
    ),
)
def rdvsp_nightly(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource):
    known = set(context.instance.get_dynamic_partitions(rdvsp_accounts.name))
    day = context.scheduled_execution_time.date().isoformat()
    requests = [
        dg.RunRequest(run_key=f"rdvsp-nightly-{day}-{account}", partition_key=account,
                      tags={"sync_assets/kind": "nightly", "sync_assets/account": account})
        for account in _account_ids(warehouse, "active_accounts") if account in known
    ]
    if not requests:
        return dg.SkipReason("no active RDV Service Public account is connected")
    return requests


@dg.sensor(
    name="rdvsp_account_partitions",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a partition to rdvsp_accounts for every connected account that has none yet.",
)
def rdvsp_account_partitions(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    known = set(context.instance.get_dynamic_partitions(rdvsp_accounts.name))
    missing = [a for a in _account_ids(warehouse, "connected_accounts") if a not in known]
    if not missing:
        return dg.SkipReason("every connected account has its partition")
    return dg.SensorResult(dynamic_partitions_requests=[rdvsp_accounts.build_add_request(missing)])
