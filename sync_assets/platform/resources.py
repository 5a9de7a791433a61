"""Dagster resources of the connector contract."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from sqlalchemy import Connection, Engine

from sync_assets.platform.warehouse import database_url, engine_for, normalize_database_url


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL warehouse: `database_url`, else SYNC_DATABASE_URL, else the embedded server."""

    database_url: str | None = None

    def url(self) -> str:
        return normalize_database_url(self.database_url) if self.database_url else database_url()

    def engine(self) -> Engine:
        return engine_for(self.url())

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction, committed when the block ends without error."""
        with self.engine().begin() as conn:
            yield conn


def set_or_none(name: str) -> dg.EnvVar | None:
    """The variable when it is set. Unset, a resource is built without it, so that the UI, the
    warehouse's jobs and the other sources still work. The schedules and sensors that need it skip
    their tick, naming the variable, and a run that needs it fails with the same message."""
    return dg.EnvVar(name) if os.environ.get(name, "").strip() else None
