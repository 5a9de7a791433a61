"""RDV Service Public: assets, jobs (sync, webhook retries, disconnection, write-back), schedule and sensors."""

import dagster as dg

from sync_assets.rdvsp.assets import rdvsp_account_sync
from sync_assets.rdvsp.jobs import rdvsp_disconnect_job, rdvsp_write_back_job
from sync_assets.rdvsp.schedules import (
    rdvsp_account_partitions,
    rdvsp_failed_webhook_organisations,
    rdvsp_nightly,
    rdvsp_sync_job,
    rdvsp_webhook_inbox_retry,
    rdvsp_webhook_retry_job,
    rdvsp_write_requests,
)

defs = dg.Definitions(
    assets=[rdvsp_account_sync],
    jobs=[rdvsp_sync_job, rdvsp_webhook_retry_job, rdvsp_disconnect_job, rdvsp_write_back_job],
    schedules=[rdvsp_nightly],
    sensors=[
        rdvsp_account_partitions,
        rdvsp_failed_webhook_organisations,
        rdvsp_webhook_inbox_retry,
        rdvsp_write_requests,
    ],
)
