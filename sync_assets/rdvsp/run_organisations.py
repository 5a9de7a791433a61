"""Reading back what RDV Service Public runs recorded of their own (for the demo and the sensors)."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg.rows import class_row
from sqlalchemy import Engine

from sync_assets.platform.merge import driver_connection
from sync_assets.platform.sql_files import package_sql


@dataclass(frozen=True)
class OrganisationDrift:
    organisation_id: int
    drift: int
    created: int
    updated: int
    deleted: int
    webhook_status: str | None


def organisation_drift(engine: Engine, run_id: str) -> list[OrganisationDrift]:
    """The RDV drift of each organisation a run covered."""
    with engine.connect() as conn, driver_connection(conn).cursor(row_factory=class_row(OrganisationDrift)) as cur:
        return cur.execute(package_sql(__file__, "organisation_drift_of_run"), {"run_id": run_id}).fetchall()
