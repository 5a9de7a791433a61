"""The host application's side: beneficiaries, activities from RDVs, and the analytics views."""

import dagster as dg

from sync_assets.coop.assets import activities_from_rdvs_job, beneficiaires
from sync_assets.coop.views import analyst_layer_daily, analyst_layer_job, view_assets

defs = dg.Definitions(
    assets=[beneficiaires, *view_assets],
    jobs=[analyst_layer_job, activities_from_rdvs_job],
    schedules=[analyst_layer_daily],
)
