"""When Doctolib work runs on its own: practice discovery, the daily sync, the freshness check."""
# No `from __future__ import annotations` here: Dagster reads the resource annotations.

import dagster as dg

from sync_assets.doctolib.assets import doctolib_appointments_freshness
from sync_assets.doctolib.client import KEY_PREFIX
from sync_assets.doctolib.partitions import doctolib_practices
from sync_assets.doctolib.practices import discover_practices
from sync_assets.doctolib.resources import DoctolibApiResource
from sync_assets.doctolib.sync import record_skipped
from sync_assets.platform.errors import SyncError
from sync_assets.platform.merge import driver_connection
from sync_assets.platform.resources import WarehouseResource
from sync_assets.platform.sql_files import package_sql

doctolib_sync_job = dg.define_asset_job(
    "doctolib_sync",
    # The freshness check looks at every practice: it runs on its own job, not in each partition's run.
    selection=dg.AssetSelection.groups("doctolib") - dg.AssetSelection.checks(doctolib_appointments_freshness),
    description="Syncs the appointments of one Doctolib practice (a partition). Run config `full_refresh: true` "
    "re-reads everything and deletes what Doctolib no longer returns.",
)

doctolib_freshness_job = dg.define_asset_job(
    "doctolib_freshness",
    selection=dg.AssetSelection.checks(doctolib_appointments_freshness),
    description="Checks that every practice had a successful sync in the last 26 hours.",
)


def practice_tags(practice: str, kind: str) -> dict[str, str]:
    return {"sync_assets/kind": kind, "sync_assets/practice": practice, "sync_assets/mode": "incremental"}


@dg.schedule(
    name="doctolib_daily",
    job=doctolib_sync_job,
    cron_schedule="0 3 * * *",
    execution_timezone="Europe/Paris",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "Every day at 03:00 Paris time: an incremental sync of every practice still reached by an account, one "
        "run per practice; the doctolib_api pool bounds how many call the API at once. When no API key is set, "
        "the tick is skipped and a 'skipped' run with the reason is written to sync.runs."
    ),
)
def doctolib_daily(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource, doctolib: DoctolibApiResource):
    if not doctolib.api_keys():
        reason = f"no {KEY_PREFIX}<ACCOUNT> variable is set: no Doctolib practice can be synced"
        with warehouse.begin() as conn:
            record_skipped(driver_connection(conn), reason)
        return dg.SkipReason(reason)
    known = set(context.instance.get_dynamic_partitions(doctolib_practices.name))
    with warehouse.begin() as conn:
        active = [str(row[0]) for row in driver_connection(conn).execute(package_sql(__file__, "active_practices"))]
    day = context.scheduled_execution_time.date().isoformat()
    requests = [
        dg.RunRequest(
            run_key=f"doctolib-daily-{day}-{practice}", partition_key=practice, tags=practice_tags(practice, "daily")
        )
        for practice in active
        if practice in known
    ]
    if not requests:
        return dg.SkipReason("no Doctolib practice is known yet: the doctolib_practice_partitions sensor adds them")
    return requests


@dg.sensor(
    name="doctolib_practice_partitions",
    minimum_interval_seconds=900,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Every 15 minutes: asks each Doctolib account which practices it reaches (doctolib.accounts, "
        "doctolib.practices), adds a doctolib_practices partition for each new practice, and reports practices "
        "that vanished (no account lists them any more). Vanished practices keep their partition and their rows."
    ),
)
def doctolib_practice_partitions(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, doctolib: DoctolibApiResource
):
    try:
        found = discover_practices(warehouse.engine(), doctolib.clients(), doctolib.api_keys(), emit=context.log.info)
    except SyncError as error:
        return dg.SkipReason(str(error))
    for name, reason in found.failed_accounts.items():
        context.log.warning(f"doctolib account {name} was refused: {reason}")
    if found.vanished:
        context.log.warning(f"doctolib practices no account lists any more (their rows are kept): {found.vanished}")
    known = set(context.instance.get_dynamic_partitions(doctolib_practices.name))
    missing = [str(p) for p in found.practices if str(p) not in known]
    if not missing:
        return dg.SkipReason(
            f"every one of the {len(found.practices)} practices has its partition"
            + (f"; vanished: {found.vanished}" if found.vanished else "")
        )
    return dg.SensorResult(dynamic_partitions_requests=[doctolib_practices.build_add_request(missing)])


@dg.schedule(
    name="doctolib_freshness_hourly",
    job=doctolib_freshness_job,
    cron_schedule="15 * * * *",
    execution_timezone="Europe/Paris",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour: the freshness check of Doctolib appointments (no practice without a successful sync "
    "for more than 26 hours).",
)
def doctolib_freshness_hourly(context: dg.ScheduleEvaluationContext):
    return dg.RunRequest(run_key=f"doctolib-freshness-{context.scheduled_execution_time.isoformat()}")
