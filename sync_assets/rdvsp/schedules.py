"""When RDV Service Public work runs on its own: the nightly sync, partitions for new accounts,
polling where webhooks do not carry the changes, and retries of webhook events that failed."""
# No `from __future__ import annotations` here: Dagster reads the resource annotations.

import time

import dagster as dg
from sqlalchemy import text

from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.merge import driver_connection
from sync_assets.platform.resources import WarehouseResource
from sync_assets.platform.sql_files import package_sql
from sync_assets.rdvsp.inbox import MAX_ATTEMPTS, retry_due_events
from sync_assets.rdvsp.jobs import rdvsp_write_back_job
from sync_assets.rdvsp.partitions import rdvsp_accounts
from sync_assets.rdvsp.resources import RdvspApiResource

FALLBACK_INTERVAL_S = 3600  # organisations without working webhooks are polled every hour
SILENT_WEBHOOK_HOURS = 24

rdvsp_sync_job = dg.define_asset_job(
    "rdvsp_sync",
    selection=dg.AssetSelection.groups("rdvsp"),
    description="Polls every RDV Service Public table of one account (a partition).",
)


def _unconfigured(rdvsp: RdvspApiResource) -> dg.SkipReason | None:
    """A skip naming the missing variable, rather than runs that would all fail on it."""
    try:
        rdvsp.settings()
    except ConfigurationError as error:
        return dg.SkipReason(f"RDV Service Public is not configured: {error}")
    return None


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
def rdvsp_nightly(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource, rdvsp: RdvspApiResource):
    if skip := _unconfigured(rdvsp):
        return skip
    known = set(context.instance.get_dynamic_partitions(rdvsp_accounts.name))
    day = context.scheduled_execution_time.date().isoformat()
    requests = [
        dg.RunRequest(
            run_key=f"rdvsp-nightly-{day}-{account}",
            partition_key=account,
            tags={"sync_assets/kind": "nightly", "sync_assets/account": account},
        )
        for account in _account_ids(warehouse, "active_accounts")
        if account in known
    ]
    if not requests:
        return dg.SkipReason("no active RDV Service Public account is connected")
    return requests


@dg.sensor(
    name="rdvsp_account_partitions",
    job=rdvsp_sync_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Adds a partition to rdvsp_accounts for every connected account that has none yet, and requests the "
        "first sync of every account (re)connected since its last sync (tag sync_assets/kind=initial; the run "
        "key names the account and its connection, so each connection gets one first sync)."
    ),
)
def rdvsp_account_partitions(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, rdvsp: RdvspApiResource
):
    known = set(context.instance.get_dynamic_partitions(rdvsp_accounts.name))
    missing = [a for a in _account_ids(warehouse, "connected_accounts") if a not in known]
    unconfigured = _unconfigured(rdvsp)
    first_syncs = [] if unconfigured else _first_sync_requests(warehouse)
    if not missing and not first_syncs:
        return unconfigured or dg.SkipReason("every connected account has its partition and its first sync")
    return dg.SensorResult(
        run_requests=first_syncs,
        dynamic_partitions_requests=[rdvsp_accounts.build_add_request(missing)] if missing else [],
        skip_reason=unconfigured.skip_message if unconfigured else None,
    )


def _first_sync_requests(warehouse: WarehouseResource) -> list[dg.RunRequest]:
    with warehouse.begin() as conn:
        rows = driver_connection(conn).execute(package_sql(__file__, "accounts_awaiting_first_sync")).fetchall()
    return [
        dg.RunRequest(
            run_key=f"rdvsp-initial-{account}-{connection}",
            partition_key=str(account),
            tags={"sync_assets/kind": "initial", "sync_assets/account": str(account)},
        )
        for account, connection in rows
    ]


@dg.sensor(
    name="rdvsp_failed_webhook_organisations",
    job=rdvsp_sync_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Polls, every hour, the organisations whose changes webhooks do not carry: their webhook installation "
        "failed, did not take or is not configured, or it is installed but silent for a day while the last "
        "nightly sync found drift there. One run per account, scoped to exactly those organisations; the run "
        "key (organisations + hour) keeps a tick from launching the same run twice."
    ),
)
def rdvsp_failed_webhook_organisations(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, rdvsp: RdvspApiResource
):
    if skip := _unconfigured(rdvsp):
        return skip
    with warehouse.begin() as conn:
        rows = (
            driver_connection(conn)
            .execute(package_sql(__file__, "organisations_to_poll"), {"silent_hours": SILENT_WEBHOOK_HOURS})
            .fetchall()
        )
    known = set(context.instance.get_dynamic_partitions(rdvsp_accounts.name))
    by_account: dict[str, list[tuple[int, str]]] = {}
    for account_id, organisation_id, reason in rows:
        if str(account_id) in known:
            by_account.setdefault(str(account_id), []).append((organisation_id, reason))
    if not by_account:
        return dg.SkipReason("every organisation's webhook is installed and delivering")
    window = int(time.time() // FALLBACK_INTERVAL_S)
    return [
        dg.RunRequest(
            run_key=f"rdvsp-webhook-fallback-{account}-{'-'.join(str(o) for o, _ in orgs)}-{window}",
            partition_key=account,
            run_config={"ops": {"rdvsp_account_sync": {"config": {"organisation_ids": [o for o, _ in orgs]}}}},
            tags={
                "sync_assets/kind": "fallback",
                "sync_assets/account": account,
                "sync_assets/organisations": ",".join(str(o) for o, _ in orgs),
                "sync_assets/reasons": ",".join(sorted({r for _, r in orgs})),
            },
        )
        for account, orgs in sorted(by_account.items())
    ]


@dg.op(
    name="retry_webhook_events",
    description=(
        "Applies again the webhook events whose earlier attempt failed (when their retry is due). Fails, naming "
        "the inbox ids, when an event gives up after its last attempt."
    ),
)
def retry_webhook_events(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> None:
    report = retry_due_events(warehouse.engine())
    context.add_output_metadata(
        {
            "retried": report.retried,
            "applied": report.applied,
            "still_failing": report.still_failing,
            "given_up": len(report.given_up),
        }
    )
    if report.given_up:
        raise dg.Failure(
            description=(
                f"{len(report.given_up)} webhook event(s) failed {MAX_ATTEMPTS} times and will not be "
                f"retried: sync.webhook_inbox ids {report.given_up}. Read their status_reason, fix the "
                "cause, then set next_attempt_at = now() on them to retry (or let the nightly sync "
                "reconcile those records)."
            ),
            metadata={"inbox_ids": dg.MetadataValue.json(report.given_up)},
            allow_retries=False,
        )


@dg.job(name="rdvsp_webhook_retry", description="Retries the webhook events that failed to apply.")
def rdvsp_webhook_retry_job():
    retry_webhook_events()


@dg.sensor(
    name="rdvsp_webhook_inbox_retry",
    job=rdvsp_webhook_retry_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a retry run when webhook events that failed to apply are due (delays grow to 6 hours).",
)
def rdvsp_webhook_inbox_retry(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    with warehouse.begin() as conn:
        due = driver_connection(conn).execute(package_sql(__file__, "due_inbox_count")).fetchone()[0]
    if not due:
        return dg.SkipReason("no webhook event is due for a retry")
    return dg.RunRequest(run_key=f"rdvsp-webhook-retry-{int(time.time() // 60)}", tags={"sync_assets/due": str(due)})


WRITE_BACK_WINDOW_S = 600  # the same due work is asked again after this long, should a run have died


@dg.sensor(
    name="rdvsp_write_requests",
    job=rdvsp_write_back_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Runs rdvsp_write_back when the write-back outbox (rdvsp.write_requests) has requests due, or RDV plans "
        "are due to be looked up again. The run key is a digest of that due work: a tick asks for each run once."
    ),
)
def rdvsp_write_requests(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, rdvsp: RdvspApiResource):
    with warehouse.begin() as conn:
        requests, plans, digest = driver_connection(conn).execute(package_sql(__file__, "write_back_due")).fetchone()
    if not requests and not plans:
        return dg.SkipReason("no write request and no RDV plan lookup is due")
    if skip := _unconfigured(rdvsp):
        return skip
    window = int(time.time() // WRITE_BACK_WINDOW_S)
    return dg.RunRequest(
        run_key=f"rdvsp-write-back-{digest}-{window}",
        tags={
            "sync_assets/kind": "write_back",
            "sync_assets/requests_due": str(requests),
            "sync_assets/plans_due": str(plans),
        },
    )
