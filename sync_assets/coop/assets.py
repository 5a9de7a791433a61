"""The host application's side in Dagster: beneficiaries merged from RDV users (an asset), and
activities created from attended RDVs (a job, run on request)."""
# No `from __future__ import annotations` here: Dagster reads the context and config annotations.

import dagster as dg

from sync_assets.coop.activities import create_activities_from_rdvs
from sync_assets.coop.beneficiaires import merge_beneficiaires
from sync_assets.platform.errors import SyncError
from sync_assets.platform.resources import WarehouseResource
from sync_assets.platform.table_metadata import table_metadata

OWNERS = ["team:data-engineering"]


@dg.asset(
    key=["coop", "beneficiaires"],
    group_name="coop",
    kinds={"postgres"},
    owners=OWNERS,
    deps=[dg.AssetKey(["rdvsp", t]) for t in ("users", "participations", "account_rdvs")],
    description=(
        "Beneficiaries of each mediator, created or merged from the users of the RDVs their account sees "
        "(linked by rdv_user_id). Empty fields are filled from RDV Service Public, never overwritten; a birth "
        "date of 1900-01-01 counts as unknown; phone numbers come in international format (+33…, E.164) when they "
        "parse, and are kept as they are (and counted) otherwise; an anonymised user ('Usager supprimé') unlinks "
        "its beneficiary "
        "and removes its identity, keeping its activities. Rule: sync_assets/coop/sql/merge_beneficiaires.sql."
    ),
)
def beneficiaires(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.begin() as conn:
        merged = merge_beneficiaires(conn)
        shape = table_metadata(conn, ["coop.beneficiaires"])["coop.beneficiaires"]
    context.log.info(
        f"beneficiaires: {merged.users_seen} RDV users seen, {merged.created} created, {merged.filled} "
        f"filled, {merged.anonymised} anonymised, {merged.unchanged} unchanged; "
        f"{merged.phones_unparsed} phone number(s) kept as they were (not a valid number)"
    )
    return dg.MaterializeResult(
        metadata={
            "rdv_users_seen": merged.users_seen,
            "created": merged.created,
            "filled": merged.filled,
            "anonymised": merged.anonymised,
            "unchanged": merged.unchanged,
            "phones_unparsed": merged.phones_unparsed,
            **shape,
        }
    )


class ActivitiesFromRdvsConfig(dg.Config):
    rdv_id: int | None = None
    """One RDV to turn into an activity (it must be attended: status seen)."""
    account_id: int | None = None
    """Every attended RDV of this account (rdvsp.accounts id) not yet converted or declined."""


@dg.op(
    name="create_activities_from_rdvs",
    description=(
        "Creates an activity (CRA) from each attended RDV asked for (config rdv_id, or account_id), with its "
        "participants' beneficiaries. Idempotent: an RDV already converted or declined is skipped."
    ),
)
def create_activities_op(
    context: dg.OpExecutionContext, config: ActivitiesFromRdvsConfig, warehouse: WarehouseResource
) -> None:
    try:
        with warehouse.begin() as conn:
            created = create_activities_from_rdvs(conn, rdv_id=config.rdv_id, account_id=config.account_id)
    except SyncError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    context.log.info(
        f"{created.activities} activities created from RDVs, with {created.beneficiary_links} beneficiary links"
    )
    context.add_output_metadata(
        {
            "activities_created": created.activities,
            "beneficiary_links": created.beneficiary_links,
            "rdv_ids": dg.MetadataValue.json(created.rdv_ids[:100]),
        }
    )


@dg.job(
    name="coop_activities_from_rdvs",
    tags={"sync_assets/area": "coop"},
    description="Turns attended RDVs into activities (CRA): config rdv_id, or account_id for all of them.",
)
def activities_from_rdvs_job():
    create_activities_op()
