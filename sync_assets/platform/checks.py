"""Asset-check results shared by the connectors."""
# No `from __future__ import annotations` here: Dagster reads annotations in this package.

import dagster as dg

from sync_assets.platform.contract import ContractResult


def schema_contract_check(asset_key: dg.AssetKey, result: ContractResult | None) -> dg.AssetCheckResult:
    """The `schema_contract` check of one entity: ERROR on breaking drift, WARN on unknown fields.

    The metadata names field paths, error types and record counts, never values.
    """
    breaking = result.breaking if result else []
    additive = result.additive if result else []
    paths = {d.field_path: f"{d.error_type}, {d.row_count} records" for d in breaking + additive}
    if breaking:
        severity, passed = dg.AssetCheckSeverity.ERROR, False
    else:
        severity, passed = dg.AssetCheckSeverity.WARN, not additive
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name="schema_contract",
        passed=passed,
        severity=severity,
        metadata={
            "rejected_records": result.rejected if result else 0,
            "breaking_fields": len(breaking),
            "additive_fields": len(additive),
            "fields": dg.MetadataValue.json(paths),
        },
    )
