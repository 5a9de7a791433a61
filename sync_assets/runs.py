"""Running the project's jobs through Dagster from the command line and the demo.

Runs are executed in this process but recorded in the persistent instance (the same storage
as `make dev`), with the same definitions the schedules use.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from sync_assets.platform.instance import prepare_dagster_environment
from sync_assets.platform.warehouse import engine_for
from sync_assets.rdvsp.partitions import rdvsp_accounts
from sync_assets.rdvsp.sync_logs import SyncLog, sync_log_of_run


@dataclass(frozen=True)
class RdvspRun:
    account_id: int
    run_id: str
    success: bool
    log: SyncLog | None
    failure: str | None


def instance() -> dg.DagsterInstance:
    prepare_dagster_environment()
    return dg.DagsterInstance.get()


def ensure_account_partition(dagster: dg.DagsterInstance, account_id: int) -> None:
    key = str(account_id)
    if not dagster.has_dynamic_partition(rdvsp_accounts.name, key):
        dagster.add_dynamic_partitions(rdvsp_accounts.name, [key])


@dataclass(frozen=True)
class JobRun:
    run_id: str
    success: bool


def run_job(dagster: dg.DagsterInstance, name: str) -> JobRun:
    """An unpartitioned job of the definitions, run once."""
    from sync_assets.definitions import defs

    result = defs.resolve_job_def(name).execute_in_process(
        instance=dagster, raise_on_error=False, run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    return JobRun(result.run_id, result.success)


def run_rdvsp_sync(dagster: dg.DagsterInstance, database_url: str, account_id: int,
                   organisation_ids: list[int] | None = None, kind: str = "polling") -> RdvspRun:
    from sync_assets.definitions import defs

    ensure_account_partition(dagster, account_id)
    job = defs.resolve_job_def("rdvsp_sync")
    result = job.execute_in_process(
        instance=dagster, partition_key=str(account_id), raise_on_error=False,
        run_config={"ops": {"rdvsp_account_sync": {"config": {"organisation_ids": organisation_ids or []}}},
                    "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        tags={"sync_assets/kind": "scoped" if organisation_ids else kind, "sync_assets/account": str(account_id)},
    )
    failure = None
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        failure = failures[0].step_failure_data.error.message.strip() if failures and failures[0].step_failure_data.error else "the run failed"
    return RdvspRun(account_id, result.run_id, result.success, sync_log_of_run(engine_for(database_url), result.run_id),
                    failure)
