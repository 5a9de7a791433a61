"""Dagster assets and the sync job of a source read by the partition engine (`partition_sync.py`).

`partition_definitions` makes, from a `PartitionSource`, the multi-asset that syncs one partition
(one asset per table, materialized with its counts, column schema and row count), its blocking
`schema_contract` check and the job the command line and schedules run. A connector gives its
descriptions and how its resource opens a client for a partition.
"""
# No `from __future__ import annotations` here: Dagster reads the context and config annotations.

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import dagster as dg
from sqlalchemy import Engine

from sync_assets.platform.checks import schema_contract_check
from sync_assets.platform.errors import ContractBreach, SyncError
from sync_assets.platform.http import ApiClient
from sync_assets.platform.observability import safe_error_message
from sync_assets.platform.partition_sync import PartitionOutcome, PartitionSource, PartitionSync
from sync_assets.platform.table_metadata import table_metadata

OWNERS = ["team:data-engineering"]


class PartitionSyncConfig(dg.Config):
    full_refresh: bool = False
    """Re-read the whole partition and delete its rows the API no longer returns."""
    lookback_minutes: int | None = None
    """An incremental run asks from the cursor less this window (default: the listing's own)."""


def partition_definitions(
    source: PartitionSource,
    *,
    partitions: dg.DynamicPartitionsDefinition,
    resource_key: str,
    client: Callable[[Any, str], ApiClient],
    descriptions: Mapping[str, str],
) -> dg.Definitions:
    """`client(resource, partition_key)`: the API client a run of that partition reads with."""
    name = source.connector
    owned_key = dg.AssetKey([name, source.owned.name])

    @dg.multi_asset(
        name=f"{name}_partition_sync",
        specs=_asset_specs(source, partitions, descriptions),
        check_specs=[_schema_contract_spec(source, owned_key)],
        required_resource_keys={"warehouse", resource_key},
        description=f"Syncs one partition of {name} ({source.partition}) in one transaction.",
    )
    def partition_sync(
        context: dg.AssetExecutionContext, config: PartitionSyncConfig
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        lookback = None if config.lookback_minutes is None else timedelta(minutes=config.lookback_minutes)
        engine = context.resources.warehouse.engine()
        with client(getattr(context.resources, resource_key), context.partition_key) as http:
            sync = PartitionSync(
                engine,
                source,
                context.partition_key,
                http,
                full_refresh=config.full_refresh,
                lookback=lookback,
                run_id=context.run.run_id,
                emit=context.log.info,
            )
            outcome = _run(sync)
        if isinstance(outcome, ContractBreach):
            # Recorded before the failure, so that the run shows which fields broke it.
            yield schema_contract_check(owned_key, sync.outcome.contract if sync.outcome else None)
            raise dg.Failure(description=str(outcome), allow_retries=False)
        yield from _materializations(source, engine, outcome)
        yield schema_contract_check(owned_key, outcome.contract)

    job = dg.define_asset_job(f"{name}_sync", selection=[partition_sync], description=f"Syncs one partition of {name}.")
    return dg.Definitions(assets=[partition_sync], jobs=[job])


def _asset_specs(
    source: PartitionSource, partitions: dg.DynamicPartitionsDefinition, descriptions: Mapping[str, str]
) -> list[dg.AssetSpec]:
    return table_asset_specs(source.connector, [spec.name for spec in source.tables], partitions, descriptions)


def table_asset_specs(
    connector: str,
    tables: Sequence[str],
    partitions: dg.PartitionsDefinition,
    descriptions: Mapping[str, str],
) -> list[dg.AssetSpec]:
    """One asset per table of a connector, keyed `<connector>/<table>`, in the connector's group."""
    return [
        dg.AssetSpec(
            dg.AssetKey([connector, table]),
            group_name=connector,
            kinds={"postgres", connector},
            owners=OWNERS,
            description=descriptions[table],
            partitions_def=partitions,
        )
        for table in tables
    ]


def _schema_contract_spec(source: PartitionSource, owned_key: dg.AssetKey) -> dg.AssetCheckSpec:
    # Blocking: a partition whose records broke their contract leaves the assets downstream unmaterialized.
    return dg.AssetCheckSpec(
        "schema_contract",
        asset=owned_key,
        blocking=True,
        description=(
            f"Every {source.listing.entity} record matched its contract; ERROR on breaking drift "
            "(nothing of that run was applied, the cursor did not move), WARN on unknown fields. "
            "Field paths in the metadata."
        ),
    )


def _materializations(
    source: PartitionSource, engine: Engine, outcome: PartitionOutcome
) -> Iterator[dg.MaterializeResult]:
    """Each table's materialization: the run's counts, and the table's column schema and row count."""
    with engine.connect() as conn:
        shapes = table_metadata(conn, [spec.table for spec in source.tables])
    for spec in source.tables:
        yield dg.MaterializeResult(
            asset_key=dg.AssetKey([source.connector, spec.name]),
            metadata={
                **{k: dg.MetadataValue.int(v) for k, v in outcome.tables[spec.name].as_dict().items()},
                **shapes[spec.table],
                "mode": outcome.mode,
                "run_log_id": outcome.run_log_id,
            },
        )


def _run(sync: PartitionSync) -> "PartitionOutcome | ContractBreach":
    try:
        return sync.run()
    except ContractBreach as breach:
        return breach
    except SyncError:
        raise  # written for operators: ids and reasons only
    except Exception as error:
        # Anything else may quote data (a database error's DETAIL quotes the failing row).
        raise dg.Failure(description=safe_error_message(error)) from None
