"""Analyst views as Dagster assets: materializing one (re)creates `analytics.<name>` from
`sql/views/<name>.sql` and records its row count."""
# No `from __future__ import annotations` here: Dagster reads the context annotations.

import dagster as dg

from sync_assets.platform.resources import WarehouseResource
from sync_assets.platform.table_metadata import table_metadata
from sync_assets.platform.views import apply_view, view_path

OWNERS = ["team:data-engineering"]

VIEWS = {
    "appointments": (
        "Doctolib appointments and RDV Service Public RDVs in one shape (source, source id, practice or "
        "organisation, starts/ends, status in a common vocabulary). Each column's description gives its meaning and "
        "the status mapping (sql/views/appointments.sql).",
        [
            ["doctolib", "appointments"],
            ["doctolib", "visit_motives"],
            ["rdvsp", "rdvs"],
            ["rdvsp", "organisations"],
            ["rdvsp", "motifs"],
        ],
    ),
    "activity_listing": (
        "A mediator's activities and RDVs (not yet converted) in one list, newest first, with filters (date, "
        "beneficiary, place, type, theme, RDV status) and keyset or offset pagination: sql/queries/0[1-4]*.sql.",
        [
            ["coop", "beneficiaires"],
            ["rdvsp", "account_rdvs"],
            ["rdvsp", "rdvs"],
            ["rdvsp", "participations"],
            ["rdvsp", "lieux"],
            ["rdvsp", "motifs"],
        ],
    ),
    "account_dashboard": (
        "Per mediator: future RDVs, the next RDV, past RDVs, RDVs to convert into activities.",
        [["rdvsp", "account_rdvs"], ["rdvsp", "rdvs"]],
    ),
    "rdv_statistics": (
        "RDV counts per account, month, status, motif and place (a materialized view, rebuilt on materialization).",
        [
            ["rdvsp", "account_rdvs"],
            ["rdvsp", "rdvs"],
            ["rdvsp", "participations"],
            ["rdvsp", "motifs"],
            ["rdvsp", "lieux"],
        ],
    ),
    "sync_history": (
        "One row per sync run of any connector (RDV Service Public, Doctolib), newest first: when, what, how it "
        "went (or why not), and the rows it changed, in total and per table. For support staff, in SQL.",
        [["sync", "warehouse_schema"]],
    ),
    "doctolib_patients": (
        "Doctolib patients without personal data: a pseudonymous key, the birth year, appointment counts.",
        [["doctolib", "patients"], ["doctolib", "appointments"]],
    ),
}


def _view_asset(name: str, description: str, deps: list[list[str]]) -> dg.AssetsDefinition:
    @dg.asset(
        key=["analytics", name],
        group_name="analytics",
        kinds={"postgres"},
        owners=OWNERS,
        description=description,
        deps=[dg.AssetKey(d) for d in deps],
    )
    def view(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.begin() as conn:
            rows = apply_view(conn, name)
            # apply_view has counted the rows already (a plain view is only counted by running it).
            shape = table_metadata(conn, [f"analytics.{name}"], count_rows=False)[f"analytics.{name}"]
        return dg.MaterializeResult(
            metadata={
                "rows": dg.MetadataValue.int(rows),
                "dagster/row_count": rows,
                "definition": dg.MetadataValue.path(str(view_path(name))),
                **shape,
            }
        )

    return view


view_assets = [_view_asset(name, description, deps) for name, (description, deps) in VIEWS.items()]

analyst_layer_job = dg.define_asset_job(
    "analyst_layer",
    selection=dg.AssetSelection.groups("coop", "analytics"),
    description="Merges beneficiaries from RDV users, then (re)creates the analyst views of the analytics schema.",
)

analyst_layer_daily = dg.ScheduleDefinition(
    name="analyst_layer_daily",
    job=analyst_layer_job,
    cron_schedule="0 4 * * *",
    execution_timezone="Europe/Paris",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 04:00 Paris time, after the 03:00 syncs: merges beneficiaries and rebuilds the "
    "analytics views (the RDV statistics are a materialized view).",
)
