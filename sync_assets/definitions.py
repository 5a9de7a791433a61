"""The one Definitions of the project: the platform's, each registered connector's (with its
resources, see connectors.py) and the analyst layer's, merged."""

import warnings

import dagster as dg

from sync_assets.connectors import CONNECTORS
from sync_assets.coop import defs as coop
from sync_assets.platform import defs as platform
from sync_assets.platform.executor import configured_executor
from sync_assets.platform.observability import configure_logging, init_sentry
from sync_assets.platform.resources import WarehouseResource

# Dagster copies a sensor when it resolves the asset job the sensor targets, and the copy passes
# the sensor's (empty) owners to the beta `owners` parameter: a warning of Dagster's own making,
# not of ours (no sensor here has owners).
warnings.filterwarnings(
    "ignore", message="Parameter `owners` of initializer `SensorDefinition.__init__`", category=dg.BetaWarning
)
configure_logging()
init_sentry()

defs = dg.Definitions.merge(
    platform.defs,
    *(connector.definitions() for connector in CONNECTORS),
    coop.defs,
    dg.Definitions(
        executor=configured_executor(),
        resources={
            "warehouse": WarehouseResource(),
            **{key: resource for connector in CONNECTORS for key, resource in connector.resources().items()},
        },
    ),
)
