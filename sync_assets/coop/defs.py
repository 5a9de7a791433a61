"""The analytics views."""

import dagster as dg

from sync_assets.coop.views import analytics_views_job, view_assets

defs = dg.Definitions(assets=view_assets, jobs=[analytics_views_job])
