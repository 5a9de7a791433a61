"""The one Definitions of the project: each folder's small `defs`, merged, plus shared resources."""

import os

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


def set_or_none(name: str) -> dg.EnvVar | None:
    """The variable when it is set. Unset, the resource is built without it, so that the UI, the
    warehouse's jobs and the other source still work. The schedules and sensors that need it skip
    their tick, naming the variable, and a run that needs it fails with the same message."""
    return dg.EnvVar(name) if os.environ.get(name, "").strip() else None


defs = dg.Definitions.merge(
    platform.defs,
    rdvsp.defs,
    doctolib.defs,
    coop.defs,
    dg.Definitions(resources={
        "warehouse": WarehouseResource(),
        "rdvsp": RdvspApiResource(
            base_url=set_or_none("RDVSP_BASE_URL"),
            client_id=set_or_none("RDVSP_CLIENT_ID"),
            client_secret=set_or_none("RDVSP_CLIENT_SECRET"),
        ),
        "doctolib": DoctolibApiResource(base_url=set_or_none("DOCTOLIB_BASE_URL")),
    }),
)
