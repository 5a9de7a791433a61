"""The one Definitions of the project: each folder's small `defs`, merged, plus shared resources."""

import dagster as dg

from sync_assets.coop import defs as coop
from sync_assets.doctolib import defs as doctolib
from sync_assets.doctolib.resources import DoctolibApiResource
from sync_assets.platform import defs as platform
from sync_assets.platform.observability import configure_logging, init_sentry
from sync_assets.platform.resources import WarehouseResource
from sync_assets.rdvsp import defs as rdvsp
from sync_assets.rdvsp.resources import RdvspApiResource

configure_logging()
init_sentry()

defs = dg.Definitions.merge(
    platform.defs,
    rdvsp.defs,
    doctolib.defs,
    coop.defs,
    dg.Definitions(resources={
        "warehouse": WarehouseResource(),
        "rdvsp": RdvspApiResource(
            base_url=dg.EnvVar("RDVSP_BASE_URL"),
            client_id=dg.EnvVar("RDVSP_CLIENT_ID"),
            client_secret=dg.EnvVar("RDVSP_CLIENT_SECRET"),
        ),
        "doctolib": DoctolibApiResource(base_url=dg.EnvVar("DOCTOLIB_BASE_URL")),
    }),
)
