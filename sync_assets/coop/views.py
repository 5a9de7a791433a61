"""Analyst views as Dagster assets: materializing one (re)creates `analytics.<name>` from
`sql/views/<name>.sql` and records its row count."""
# No `from __future__ import annotations` here: Dagster reads the context annotations.

import dagster as dg

from sync_assets.platform.resources import WarehouseResource
from sync_assets.platform.views import apply_view, view_path

OWNERS = ["team:data-engineering"]

VIEWS = {
    "appointments": (
        "Doctolib appointments and RDV Service Public RDVs in one shape (source, source id, practice or "
        "organisation, starts/ends, status in a common vocabulary). Columns and status mapping: "
        "sql/views/appointments.sql.",
        [["doctolib", "appointments"], ["doctolib", "visit_motives"], ["rdvsp", "rdvs"], ["rdvsp", "organisations"],
         ["rdvsp", "motifs"]]),
    "doctolib_patients": (
        "Doctolib patients without personal data: a pseudonymous key, the birth year, appointment counts.",
        [["doctolib", "patients"], ["doctolib", "appointments"]]),
}


def _view_asset(name: str, description: str, deps: list[list[str]]) -> dg.AssetsDefinition:
    @dg.asset(key=["analytics", name], group_name="analytics", kinds={"postgres"}, owners=OWNERS,
              description=description, deps=[dg.AssetKey(d) for d in deps])
    def view(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.begin() as conn:
            rows = apply_view(conn, name)
        return dg.MaterializeResult(metadata={"rows": dg.MetadataValue.int(rows),
                                              "definition": dg.MetadataValue.path(str(view_path(name)))})

    return view


view_assets = [_view_asset(name, description, deps) for name, (description, deps) in VIEWS.items()]

analytics_views_job = dg.define_asset_job(
    "analytics_views", selection=dg.AssetSelection.groups("analytics"),
    description="(Re)creates the analyst views of the analytics schema.")
