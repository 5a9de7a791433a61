"""The one Definitions of the project: each folder's small `defs`, merged, plus shared resources."""

from __future__ import annotations

import dagster as dg

from sync_assets.platform import defs as platform
from sync_assets.platform.observability import configure_logging, init_sentry
from sync_assets.platform.resources import WarehouseResource

configure_logging()
init_sentry()

defs = dg.Definitions.merge(
    platform.defs,
    dg.Definitions(resources={"warehouse": WarehouseResource()}),
)
