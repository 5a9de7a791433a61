"""RDV Service Public: assets, job, schedule and sensors."""

import dagster as dg

from sync_assets.rdvsp.assets import rdvsp_account_sync
from sync_assets.rdvsp.schedules import (
    rdvsp_account_partitions,
    rdvsp_failed_webhook_organisations,
    rdvsp_nightly,
    rdvsp_sync_job,
    rdvsp_webhook_inbox_retry,
    rdvsp_webhook_retry_job,
)

defs = dg.Definitions(
    assets=[rdvsp_account_sync],
    jobs=[rdvsp_sync_job, rdvsp_webhook_retry_job],
    schedules=[rdvsp_nightly],
    sensors=[rdvsp_account_partitions, rdvsp_failed_webhook_organisations, rdvsp_webhook_inbox_retry],
)
