"""Running the project's jobs through Dagster from the command line and the demo.

Runs are executed in this process but recorded in the persistent instance (the same storage
as `make dev`), with the same definitions the schedules use.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

import dagster as dg

from sync_assets.platform.instance import prepare_dagster_environment
from sync_assets.platform.registry import Connector, SyncRequest, find
from sync_assets.platform.run import RunRecord, runs_of_dagster_run
from sync_assets.platform.warehouse import engine_for


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


def ensure_partition(dagster: dg.DagsterInstance, partitions: str, key: str) -> None:
    """The partition `key` of the dynamic partitions named `partitions`, added if new."""
    if not dagster.has_dynamic_partition(partitions, key):
        dagster.add_dynamic_partitions(partitions, [key])


@dataclass(frozen=True)
class JobRun:
    run_id: str
    success: bool
    failure: str | None = None
    metadata: dict = field(default_factory=dict)  # the output metadata of the job's ops, merged


def run_job(
    dagster: dg.DagsterInstance, name: str, ops_config: dict | None = None, tags: dict[str, str] | None = None
) -> JobRun:
    """An unpartitioned job of the definitions, run once (`ops_config`: the run config's `ops`)."""
    from sync_assets.definitions import defs

    result = defs.resolve_job_def(name).execute_in_process(
        instance=dagster,
        raise_on_error=False,
        tags=tags,
        run_config={"ops": ops_config or {}, "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    metadata = {
        key: value.value
        for event in result.all_events
        if event.is_successful_output
        for key, value in event.step_output_data.metadata.items()
    }
    return JobRun(result.run_id, result.success, _failure_of(result), metadata)


def run_sync(dagster: dg.DagsterInstance, database_url: str, connector: Connector, request: SyncRequest) -> SyncRun:
    """One partition of `connector`, through the job its schedules use."""
    from sync_assets.definitions import defs

    ensure_partition(dagster, connector.partitions, request.partition_key)
    result = defs.resolve_job_def(connector.sync_job).execute_in_process(
        instance=dagster,
        partition_key=request.partition_key,
        raise_on_error=False,
        tags=dict(request.tags),
        run_config={"ops": dict(request.ops_config), "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    return _sync_run(database_url, request.partition_key, result)


def sync_partition(
    dagster: dg.DagsterInstance, database_url: str, connector: str, partition_key: int | str, **options
) -> SyncRun:
    """`run_sync` by the connector's name, with its options (`sync_partition(…, "rdvsp", 7, kind="nightly")`)."""
    from sync_assets.connectors import CONNECTORS

    found = find(CONNECTORS, connector)
    return run_sync(dagster, database_url, found, found.request(partition_key, **options))


def print_runs(connector: Connector, runs: Iterable[SyncRun]) -> int:
    """Each sync's outcome and table counts; 1 when one failed."""
    failed = 0
    for run in runs:
        account = run.record.detail.get("account_name") if run.record else None
        via = f" via {account}" if account else ""
        print(
            f"{connector.partition} {run.partition_key}{via}: {'success' if run.success else 'FAILED'} "
            f"(Dagster run {run.run_id[:8]})"
        )
        if run.record and run.success:
            print("\n".join(run.record.table_lines()))
        if not run.success:
            failed += 1
            print(f"  {run.reason}", file=sys.stderr)
    return 1 if failed else 0


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
