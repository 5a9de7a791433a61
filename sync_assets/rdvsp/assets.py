"""RDV Service Public tables as Dagster assets, partitioned by connected account.

One op syncs every table of an account, in one transaction (see `sync.py`), and reports one
materialization per table with its created/updated/deleted/noop/drift figures.
"""
# No `from __future__ import annotations` here: Dagster reads the context and config annotations.

import dagster as dg

from sync_assets.platform.checks import schema_contract_check
from sync_assets.platform.contract import ContractResult
from sync_assets.platform.errors import ContractBreach, SyncError
from sync_assets.platform.observability import safe_error_message
from sync_assets.platform.partition_assets import table_asset_specs
from sync_assets.platform.resources import WarehouseResource
from sync_assets.platform.secrets import TokenCipher
from sync_assets.platform.table_metadata import table_metadata
from sync_assets.rdvsp.partitions import rdvsp_accounts
from sync_assets.rdvsp.resources import RdvspApiResource
from sync_assets.rdvsp.sync import RdvspAccountSync, SyncOutcome, table_names

# RDV drift of an organisation whose webhook is installed, above which the nightly run warns
# (webhooks are probably being missed).
HIGH_DRIFT_WITH_WEBHOOK = 10

DESCRIPTIONS = {
    "organisations": "Organisations the connected agents belong to (GET /organisations).",
    "account_organisations": "Which connected account belongs to which organisation; stale links are removed.",
    "agents": "Agents of the synced organisations, and agents attached to synced RDVs.",
    "agent_roles": "Membership of agents in the synced organisations.",
    "users": "Users (usagers) of the synced organisations and of synced RDVs. Personal data: query with care.",
    "user_profiles": "A user's profile in an organisation.",
    "motifs": "Motifs of the synced organisations, with their category.",
    "lieux": "Places of the synced organisations.",
    "webhook_endpoints": "Webhook endpoints of the synced organisations, as the API lists them.",
    "rdvs": "RDVs of the synced organisations from each account's sync_from date on, with the raw payload.",
    "account_rdvs": "Which account sees which RDV (an RDV is deleted when no account sees it any more).",
    "participations": "Participants of each RDV, with their own status.",
}
# Tables whose rows come straight from one API entity: they carry that entity's contract check.
CONTRACT_ENTITY = {
    "organisations": "organisations",
    "agents": "agents",
    "users": "users",
    "motifs": "motifs",
    "lieux": "lieux",
    "rdvs": "rdvs",
    "webhook_endpoints": "webhook_endpoints",
}


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["rdvsp", table])


class RdvspSyncConfig(dg.Config):
    organisation_ids: list[int] = []
    """Sync only these organisations of the account (empty: all of them). Deletions apply only
    inside the organisations synced."""


SPECS = table_asset_specs("rdvsp", table_names(), rdvsp_accounts, DESCRIPTIONS)
CHECK_SPECS = [
    dg.AssetCheckSpec(
        "schema_contract",
        asset=_key(table),
        blocking=True,
        description=(
            f"Every {entity} payload matched its contract. Fails (ERROR) on breaking drift: a field missing, retyped "
            "or with an unknown value, or a row of an organisation outside the account; nothing of that run was "
            "applied. Warns on unknown fields. The field paths are in the metadata and in sync.drift_events. To do: "
            "read them, update rdvsp/models.py to the API's new shape, deploy, sync again (docs/runbook.md)."
        ),
    )
    for table, entity in CONTRACT_ENTITY.items()
] + [
    dg.AssetCheckSpec(
        "reconciliation",
        asset=_key("account_rdvs"),
        description=(
            "The account's RDVs in the warehouse (in the synced organisations, from sync_from on) are exactly the "
            "distinct RDVs the API listed. To do when it fails: sync the account again; if it persists, compare "
            "rdvsp.account_rdvs with the API listing (the metadata has both counts)."
        ),
    ),
    dg.AssetCheckSpec(
        "reconciliation",
        asset=_key("account_organisations"),
        description=(
            "The account's organisations in the warehouse equal the API's total_count. To do when it fails: sync "
            "the account again; if it persists, compare rdvsp.account_organisations with GET /organisations."
        ),
    ),
]


@dg.multi_asset(
    name="rdvsp_account_sync",
    specs=SPECS,
    check_specs=CHECK_SPECS,
    pool="rdvsp_api",
    description="Polls every RDV Service Public table of one account and merges them in one transaction.",
)
def rdvsp_account_sync(
    context: dg.AssetExecutionContext, config: RdvspSyncConfig, warehouse: WarehouseResource, rdvsp: RdvspApiResource
):
    account_id = int(context.partition_key)
    engine = warehouse.engine()
    cipher = TokenCipher.from_environment()
    client = rdvsp.client_for(engine, account_id, cipher)
    kind = context.run.tags.get("sync_assets/kind", "polling")
    sync = RdvspAccountSync(
        engine,
        client,
        account_id,
        cipher=cipher,
        webhook_url=rdvsp.settings().webhook_url,
        emit=context.log.info,
        run_id=context.run.run_id,
        kind=kind,
    )
    try:
        outcome = sync.run(config.organisation_ids or None)
    except ContractBreach as breach:
        yield from _contract_checks(sync.outcome.contracts if sync.outcome else {})
        raise dg.Failure(description=str(breach), allow_retries=False) from None
    except SyncError:
        raise  # written for operators: ids and reasons only
    except Exception as error:
        # Anything else may quote data (a database error's DETAIL quotes the failing row): the
        # run's event log gets the safe text only. The sync log and Sentry have it the same way.
        raise dg.Failure(description=safe_error_message(error)) from None
    finally:
        client.close()

    drift_by_organisation = _drift_by_organisation(outcome)
    _warn_of_missed_webhooks(context.log, outcome, drift_by_organisation, kind)
    yield from _materializations(engine, account_id, outcome, drift_by_organisation)
    yield from _contract_checks(outcome.contracts)
    yield from _reconciliation_checks(outcome)
    context.log.info(_summary(outcome))


def _drift_by_organisation(outcome: SyncOutcome) -> dict[str, dict]:
    """The RDV drift of each synced organisation, with its webhook installation status."""
    return {
        str(org): {
            "drift": c.drift,
            "created": c.created,
            "updated": c.updated,
            "deleted": c.deleted,
            "webhook": outcome.webhook_status.get(org),
        }
        for org, c in outcome.organisation_drift.items()
    }


def _warn_of_missed_webhooks(log, outcome: SyncOutcome, drift_by_organisation: dict[str, dict], kind: str) -> None:
    for org, figures in drift_by_organisation.items():
        # A first sync, or an endpoint installed by this very run, has drift that webhooks could not carry.
        hooked_before = figures["webhook"] == "installed" and int(org) not in outcome.webhooks_installed_now
        if hooked_before and kind != "initial" and figures["drift"] >= HIGH_DRIFT_WITH_WEBHOOK:
            log.warning(
                f"organisation {org}: drift {figures['drift']} although its webhook is installed. Webhooks are "
                "probably missed: check that the receiver answers 2xx and look at sync.webhook_inbox."
            )


def _materializations(engine, account_id: int, outcome: SyncOutcome, drift_by_organisation: dict[str, dict]):
    """One materialization per table, with its merge counts and its shape in the warehouse."""
    with engine.connect() as conn:
        shapes = table_metadata(conn, [f"rdvsp.{name}" for name in table_names()])
    for name in table_names():
        counts = outcome.tables[name]
        metadata = {
            **{k: dg.MetadataValue.int(v) for k, v in counts.as_dict().items()},
            **shapes[f"rdvsp.{name}"],
            "account_id": dg.MetadataValue.int(account_id),
            "organisation_ids": dg.MetadataValue.json(outcome.organisation_ids),
            "run_log_id": dg.MetadataValue.text(outcome.run_log_id),
            "api_requests": dg.MetadataValue.int(outcome.api_requests),
            "throttled_429": dg.MetadataValue.int(outcome.throttled_429),
            "organisations_reused": dg.MetadataValue.json(outcome.organisations_reused),
        }
        if name == "rdvs":
            metadata["drift_by_organisation"] = dg.MetadataValue.json(drift_by_organisation)
        yield dg.MaterializeResult(asset_key=_key(name), metadata=metadata)


def _contract_checks(contracts: dict[str, ContractResult]):
    for table, entity in CONTRACT_ENTITY.items():
        yield _contract_check(table, contracts.get(entity))


def _reconciliation_checks(outcome: SyncOutcome):
    yield dg.AssetCheckResult(
        asset_key=_key("account_rdvs"),
        check_name="reconciliation",
        passed=outcome.warehouse_rdvs == outcome.rdvs_listed,
        metadata={
            "warehouse": outcome.warehouse_rdvs,
            "api_distinct": outcome.rdvs_listed,
            "api_total_count": outcome.rdvs_api_total_count,
            "looked_up_by_id": outcome.rdvs_looked_up,
        },
        description=None
        if outcome.warehouse_rdvs == outcome.rdvs_listed
        else (
            "The warehouse and the API disagree on the account's RDVs: run the sync again; if it persists, "
            "compare rdvsp.account_rdvs with the API listing."
        ),
    )
    yield dg.AssetCheckResult(
        asset_key=_key("account_organisations"),
        check_name="reconciliation",
        passed=outcome.warehouse_organisations == outcome.organisations_api_total,
        metadata={"warehouse": outcome.warehouse_organisations, "api_total_count": outcome.organisations_api_total},
    )


def _contract_check(table: str, result: ContractResult | None) -> dg.AssetCheckResult:
    return schema_contract_check(_key(table), result)


def _summary(outcome: SyncOutcome) -> str:
    lines = [
        f"account {outcome.account_id}: {outcome.records} records, {outcome.pages} pages, "
        f"{outcome.api_requests} requests ({outcome.throttled_429} answered 429), {outcome.elapsed_s:.1f} s, "
        f"drift {outcome.drift}"
    ]
    for name, counts in outcome.tables.items():
        lines.append(
            f"  {name:<22} count {counts.count:>7}  created {counts.created:>6}  updated {counts.updated:>6}"
            f"  deleted {counts.deleted:>6}  noop {counts.noop:>7}"
        )
    return "\n".join(lines)
