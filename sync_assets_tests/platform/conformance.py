"""What the conformance suite (test_conformance.py) needs of a connector: a harness.

Each connector's tests give one (`<connector>/conformance.py`): how to run a sync of one
partition (ordinary, or one that re-reads everything and deletes what is gone), how to change its
source, and where to look. The rest is common: the tables' digest, the run log, the cursors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, ClassVar

import psycopg
import pytest

from sync_assets.platform.http import RetryPolicy, Timeouts
from sync_assets.platform.merge import TableSpec
from sync_assets.platform.registry import Connector
from sync_assets.platform.warehouse import libpq_url
from sync_assets.sandbox.faults import Fault, FaultInjector

RETRY = RetryPolicy(attempts=4, backoff_multiplier=0.01, jitter=0)
TIMEOUTS = Timeouts(connect=2.0, read=0.5)


class Harness:
    connector: ClassVar[Connector]
    fault_path: ClassVar[str]  # the listing the faults go into (one partition's)
    owned: ClassVar[str]  # the table whose rows `change_source` changes
    retyped: ClassVar[tuple[str, Any]]  # a strictly typed field, and a value of another type
    nested_field: ClassVar[str]  # an embedded object of a record
    foreign: ClassVar[Callable[[Any], Any]]  # a drift transform giving the records to another tenant
    extra_recoverable: ClassVar[dict[str, dict]] = {}  # faults of this connector only
    not_unrecoverable: ClassVar[frozenset[str]] = frozenset()  # common faults this connector rides out
    partition_key: str
    database_url: str
    faults: FaultInjector
    tables: tuple[TableSpec, ...]  # what its runs write

    @classmethod
    def build(cls, request: pytest.FixtureRequest) -> Harness:
        raise NotImplementedError

    def run(self, full: bool = False) -> Any:
        """A sync of the partition; `full`: one that re-reads everything and deletes what is gone."""
        raise NotImplementedError

    def change_source(self, count: int) -> None:
        """Change `count` records of the partition at the source (an update each)."""
        raise NotImplementedError

    def move_pages(self) -> None:
        """A change that moves records between the pages of a listing being read."""
        raise NotImplementedError

    def source_ids(self) -> set[int]:
        raise NotImplementedError

    def stored_ids(self) -> set[int]:
        raise NotImplementedError

    def personal_values(self) -> set[str]:
        """Names, emails… of the source's people, which must never reach a log or an event."""
        raise NotImplementedError

    def resources(self) -> dict:
        """The connector's Dagster resources, pointed at this harness's API."""
        raise NotImplementedError

    # --- common ---------------------------------------------------------------------------

    def add_fault(self, spec: dict) -> Fault:
        return self.faults.add(Fault(path=self.fault_path, **spec))

    def query(self, statement: str, params=None) -> list[tuple]:
        with psycopg.connect(libpq_url(self.database_url)) as conn:
            return conn.execute(statement, params).fetchall()

    def digest(self) -> str:
        """A hash of every row of the tables, in key order, without synced_at nor raw payloads (the
        payload is what the API sent, unknown fields included)."""
        sha = hashlib.sha256()
        for spec in self.tables:
            schema, table = spec.table.split(".")
            columns = [
                r[0]
                for r in self.query(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                    "AND column_name NOT IN ('synced_at', 'raw') ORDER BY ordinal_position",
                    [schema, table],
                )
            ]
            for row in self.query(f"SELECT {', '.join(columns)} FROM {spec.table} ORDER BY 1, 2"):
                sha.update(repr(row).encode())
        return sha.hexdigest()

    def last_run(self) -> tuple[str, str | None]:
        return self.query(
            "SELECT status, error FROM sync.runs WHERE connector = %s ORDER BY started_at DESC LIMIT 1",
            [self.connector.name],
        )[0]

    def cursor(self):
        rows = self.query(
            "SELECT cursor FROM sync.cursors WHERE connector = %s AND partition_key = %s",
            [self.connector.name, self.partition_key],
        )
        return rows[0][0] if rows else None
