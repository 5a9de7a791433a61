"""Doctolib: assets, checks, jobs, schedules and the partitions sensor."""

import dagster as dg

from sync_assets.doctolib.assets import doctolib_appointments_freshness, doctolib_practice_sync
from sync_assets.doctolib.schedules import (
    doctolib_daily,
    doctolib_freshness_hourly,
    doctolib_freshness_job,
    doctolib_practice_partitions,
    doctolib_sync_job,
)

defs = dg.Definitions(
    assets=[doctolib_practice_sync],
    asset_checks=[doctolib_appointments_freshness],
    jobs=[doctolib_sync_job, doctolib_freshness_job],
    schedules=[doctolib_daily, doctolib_freshness_hourly],
    sensors=[doctolib_practice_partitions],
)
