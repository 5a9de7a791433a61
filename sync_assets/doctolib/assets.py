"""Doctolib tables as Dagster assets, partitioned by practice.

One op syncs a practice's appointments (and the patients, practitioners and visit motives they
carry) in one transaction (see `sync.py`), and reports one materialization per table with its
created/updated/deleted/noop/drift figures. The task argument is always one practice.
"""
# No `from __future__ import annotations` here: Dagster reads the context and config annotations.

from datetime import timedelta

import dagster as dg

from sync_assets.doctolib.partitions import doctolib_practices
from sync_assets.doctolib.resources import DoctolibApiResource
from sync_assets.doctolib.sync import PracticeOutcome, PracticeSync, SyncSkipped, table_names
from sync_assets.platform.checks import schema_contract_check
from sync_assets.platform.contract import ContractResult
from sync_assets.platform.errors import ContractBreach, SyncError
from sync_assets.platform.merge import driver_connection
from sync_assets.platform.observability import safe_error_message
from sync_assets.platform.partition_assets import table_asset_specs
from sync_assets.platform.progress import table_count_lines
from sync_assets.platform.resources import WarehouseResource
from sync_assets.platform.sql_files import package_sql
from sync_assets.platform.table_metadata import table_metadata

STALE_AFTER_HOURS = 26

DESCRIPTIONS = {
    "practitioners": "Practitioners seen on synced appointments (id and name).",
    "visit_motives": "Visit motives seen on synced appointments (id and name).",
    "patients": (
        "Patients of synced appointments. Personal data: names, birth dates, phones and emails live "
        "only here; analysts use analytics.doctolib_patients."
    ),
    "appointments": (
        "Appointments of one practice per partition, incremental from the practice's cursor "
        "(sync.cursors); a full refresh also deletes what Doctolib no longer returns."
    ),
}


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["doctolib", table])


class DoctolibSyncConfig(dg.Config):
    full_refresh: bool = False
    """Re-read every appointment of the practice and delete those Doctolib no longer returns."""
    lookback_minutes: int = 60
    """An incremental run asks for the appointments updated since the cursor minus this window, so that
    late writes and clock skew are not missed. Re-read rows that did not change count as noop."""


SPECS = table_asset_specs("doctolib", table_names(), doctolib_practices, DESCRIPTIONS)
CHECK_SPECS = [
    dg.AssetCheckSpec(
        "schema_contract",
        asset=_key("appointments"),
        blocking=True,
        description=(
            "Every appointment payload matched its contract (docs/doctolib-api.md). Fails (ERROR) on breaking drift: a "
            "field missing, retyped, an unknown status, or a row of another practice; nothing of that run was applied "
            "and the cursor did not move. Warns on unknown fields. The field paths are in the metadata and in "
            "sync.drift_events. To do: read them, update doctolib/models.py, deploy, sync again (docs/runbook.md)."
        ),
    ),
]


@dg.multi_asset(
    name="doctolib_practice_sync",
    specs=SPECS,
    check_specs=CHECK_SPECS,
    pool="doctolib_api",
    description="Syncs the appointments of one Doctolib practice (a partition) in one transaction.",
)
def doctolib_practice_sync(
    context: dg.AssetExecutionContext,
    config: DoctolibSyncConfig,
    warehouse: WarehouseResource,
    doctolib: DoctolibApiResource,
):
    practice_id = int(context.partition_key)
    if config.lookback_minutes < 0:
        raise dg.Failure(description="lookback_minutes cannot be negative.", allow_retries=False)
    sync = PracticeSync(
        warehouse.engine(),
        practice_id,
        clients=doctolib.clients(),
        api_keys=doctolib.api_keys(),
        full_refresh=config.full_refresh,
        lookback=timedelta(minutes=config.lookback_minutes),
        run_id=context.run.run_id,
        emit=context.log.info,
    )
    try:
        outcome = sync.run()
    except ContractBreach as breach:
        yield _contract_check(sync.outcome.contract if sync.outcome else None)
        raise dg.Failure(description=str(breach), allow_retries=False) from None
    except SyncSkipped as skipped:
        raise dg.Failure(description=f"skipped: {skipped}", allow_retries=False) from None
    except SyncError:
        raise  # written for operators: ids and reasons only
    except Exception as error:
        # Anything else may quote data (a database error's DETAIL quotes the failing row).
        raise dg.Failure(description=safe_error_message(error)) from None

    with warehouse.engine().connect() as conn:
        shapes = table_metadata(conn, [f"doctolib.{name}" for name in table_names()])
    for name in table_names():
        counts = outcome.tables[name]
        yield dg.MaterializeResult(
            asset_key=_key(name),
            metadata={
                **{k: dg.MetadataValue.int(v) for k, v in counts.as_dict().items()},
                **shapes[f"doctolib.{name}"],
                "practice_id": dg.MetadataValue.int(practice_id),
                "account": dg.MetadataValue.text(outcome.account or ""),
                "mode": dg.MetadataValue.text(outcome.mode),
                "run_log_id": dg.MetadataValue.text(outcome.run_log_id),
            },
        )
    yield _contract_check(outcome.contract)
    context.log.info(_summary(outcome))


def _contract_check(result: ContractResult | None) -> dg.AssetCheckResult:
    return schema_contract_check(_key("appointments"), result)


def _summary(outcome: PracticeOutcome) -> str:
    since = outcome.since.isoformat() if outcome.since else "the beginning"
    return "\n".join(
        [
            f"practice {outcome.practice_id} ({outcome.mode} via {outcome.account}, updated since {since}): "
            f"{outcome.records} appointments, {outcome.pages} pages, {outcome.api_requests} requests, "
            f"{outcome.elapsed_s:.1f} s, drift {outcome.drift}",
            *table_count_lines((name, *counts.table_line()) for name, counts in outcome.tables.items()),
        ]
    )


@dg.asset_check(
    asset=_key("appointments"),
    name="freshness",
    description=(
        f"Every practice still reached by an account had a successful sync in the last {STALE_AFTER_HOURS} "
        "hours. When it fails, the metadata lists the stale practices: look at their latest rows in "
        "sync.runs (connector doctolib: status and error), then run `sync-assets doctolib sync --practice ID`."
    ),
)
def doctolib_appointments_freshness(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.begin() as conn:
        rows = driver_connection(conn).execute(package_sql(__file__, "practice_freshness")).fetchall()
    stale = {
        str(practice): (None if hours is None else round(float(hours), 1))
        for practice, _, hours in rows
        if hours is None or hours > STALE_AFTER_HOURS
    }
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "practices": len(rows),
            "stale_practices": len(stale),
            "hours_since_success": dg.MetadataValue.json(stale),
        },
        description=None
        if not stale
        else (
            f"{len(stale)} practice(s) without a successful sync for more than {STALE_AFTER_HOURS} hours "
            "(null: never synced)."
        ),
    )
