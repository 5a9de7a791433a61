"""The connectors of the project: one line each (see platform/registry.py)."""

from sync_assets.doctolib.connector import CONNECTOR as DOCTOLIB
from sync_assets.platform.registry import Connector
from sync_assets.rdvsp.connector import CONNECTOR as RDVSP

CONNECTORS: tuple[Connector, ...] = (
    RDVSP,
    DOCTOLIB,
)
