"""Dagster resources of the connector contract."""

from __future__ import annotations

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
