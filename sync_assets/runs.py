"""Running the project's jobs through Dagster from the command line and the demo.

Runs are executed in this process but recorded in the persistent instance (the same storage
as `make dev`), with the same definitions the schedules use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

from sync_assets.doctolib.partitions import doctolib_practices
from sync_assets.platform.instance import prepare_dagster_environment
from sync_assets.platform.run import RunRecord, runs_of_dagster_run
from sync_assets.platform.warehouse import engine_for
from sync_assets.rdvsp.partitions import rdvsp_accounts


@dataclass(frozen=True)
class SyncRun:
    """A sync run through Dagster, and what the run log holds of it."""

    partition_key: str  # the account, the practice
    run_id: str  # Dagster's
    success: bool
    record: RunRecord | None
    failure: str | None

    @property
    def reason(self) -> str | None:
        """Why it failed: the run log's words (ids and reasons only), else Dagster's."""
        return self.record.error if self.record and self.record.error else self.failure


def instance() -> dg.DagsterInstance:
    prepare_dagster_environment()
    return dg.DagsterInstance.get()


def ensure_partition(dagster: dg.DagsterInstance, partitions: dg.DynamicPartitionsDefinition, key: str) -> None:
    if not dagster.has_dynamic_partition(partitions.name, key):
        dagster.add_dynamic_partitions(partitions.name, [key])


@dataclass(frozen=True)
class JobRun:
    run_id: str
    success: bool
    failure: str | None = None
    metadata: dict = field(default_factory=dict)  # the output metadata of the job's ops, merged


def run_job(dagster: dg.DagsterInstance, name: str, ops_config: dict | None = None,
            tags: dict[str, str] | None = None) -> JobRun:
    """An unpartitioned job of the definitions, run once (`ops_config`: the run config's `ops`)."""
    from sync_assets.definitions import defs

    result = defs.resolve_job_def(name).execute_in_process(
        instance=dagster, raise_on_error=False, tags=tags,
        run_config={"ops": ops_config or {}, "loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    metadata = {key: value.value for event in result.all_events if event.is_successful_output
                for key, value in event.step_output_data.metadata.items()}
    return JobRun(result.run_id, result.success, _failure_of(result), metadata)


def run_rdvsp_sync(dagster: dg.DagsterInstance, database_url: str, account_id: int,
                   organisation_ids: list[int] | None = None, kind: str = "polling") -> SyncRun:
    from sync_assets.definitions import defs

    ensure_partition(dagster, rdvsp_accounts, str(account_id))
    job = defs.resolve_job_def("rdvsp_sync")
    result = job.execute_in_process(
        instance=dagster, partition_key=str(account_id), raise_on_error=False,
        run_config={"ops": {"rdvsp_account_sync": {"config": {"organisation_ids": organisation_ids or []}}},
                    "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        tags={"sync_assets/kind": "scoped" if organisation_ids else kind, "sync_assets/account": str(account_id),
              "sync_assets/organisations": ",".join(map(str, organisation_ids)) if organisation_ids else "all"},
    )
    return _sync_run(database_url, str(account_id), result)


def run_doctolib_sync(dagster: dg.DagsterInstance, database_url: str, practice_id: int,
                      full_refresh: bool = False) -> SyncRun:
    """One practice, through the job the daily schedule uses."""
    from sync_assets.definitions import defs

    ensure_partition(dagster, doctolib_practices, str(practice_id))
    job = defs.resolve_job_def("doctolib_sync")
    result = job.execute_in_process(
        instance=dagster, partition_key=str(practice_id), raise_on_error=False,
        run_config={"ops": {"doctolib_practice_sync": {"config": {"full_refresh": full_refresh}}},
                    "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        tags={"sync_assets/kind": "manual", "sync_assets/practice": str(practice_id),
              "sync_assets/mode": "full_refresh" if full_refresh else "incremental"},
    )
    return _sync_run(database_url, str(practice_id), result)


def _sync_run(database_url: str, partition_key: str, result: dg.ExecuteInProcessResult) -> SyncRun:
    records = runs_of_dagster_run(engine_for(database_url), result.run_id)
    return SyncRun(partition_key, result.run_id, result.success, records[-1] if records else None, _failure_of(result))


def _failure_of(result: dg.ExecuteInProcessResult) -> str | None:
    """The first step failure's message (our errors carry ids and reasons only)."""
    if result.success:
        return None
    failures = [e for e in result.all_events if e.is_step_failure]
    error = failures[0].step_failure_data.error if failures else None
    return error.message.strip() if error else "the run failed"
