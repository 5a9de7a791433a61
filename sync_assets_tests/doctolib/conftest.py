"""A Doctolib sandbox over real HTTP, a migrated warehouse, and the accounts' keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
import pytest

from sync_assets.doctolib.client import client_factory
from sync_assets.doctolib.practices import Discovery, discover_practices
from sync_assets.doctolib.sync import PracticeOutcome, PracticeSync
from sync_assets.platform.http import RetryPolicy
from sync_assets.platform.warehouse import engine_for, libpq_url
from sync_assets.sandbox.server import Sandbox

FAST_RETRY = RetryPolicy(attempts=3, backoff_multiplier=0.01, jitter=0)


@dataclass
class Doctolib:
    sandbox: Sandbox
    database_url: str
    keys: dict[str, str] = field(default_factory=dict)  # account name -> API key

    @property
    def engine(self):
        return engine_for(self.database_url)

    @property
    def world(self):
        return self.sandbox.doctolib.world

    @property
    def api(self):
        return self.sandbox.doctolib

    def clients(self):
        return client_factory(self.sandbox.base_url, requests_per_second=1000, retry=FAST_RETRY)

    def discover(self) -> Discovery:
        return discover_practices(self.engine, self.clients(), self.keys, emit=lambda _: None)

    def sync(
        self, practice_id: int, full_refresh: bool = False, lookback: timedelta = timedelta(hours=1)
    ) -> PracticeOutcome:
        return PracticeSync(
            self.engine,
            practice_id,
            clients=self.clients(),
            api_keys=self.keys,
            full_refresh=full_refresh,
            lookback=lookback,
            emit=lambda _: None,
        ).run()

    def query(self, statement: str, params=None) -> list[tuple]:
        with psycopg.connect(libpq_url(self.database_url)) as conn:
            return conn.execute(statement, params).fetchall()

    def appointments(self, practice_id: int | None = None) -> dict[int, tuple]:
        """id -> (practice, status, deleted?, synced_at) as stored."""
        rows = self.query(
            "SELECT id, practice_id, status, deleted_at IS NOT NULL, synced_at FROM doctolib.appointments"
            + ("" if practice_id is None else " WHERE practice_id = %s"),
            None if practice_id is None else [practice_id],
        )
        return {r[0]: r[1:] for r in rows}

    def sandbox_appointments(self, practice_id: int) -> dict[int, tuple]:
        return {
            a.id: (a.practice_id, a.status, a.deleted_at is not None)
            for a in self.world.appointments_of(practice_id, None)
        }

    def cursor(self, practice_id: int):
        rows = self.query(
            "SELECT cursor FROM sync.cursors WHERE connector = 'doctolib' AND partition_key = %s", [str(practice_id)]
        )
        return rows[0][0] if rows else None


def environment_keys(sandbox: Sandbox) -> dict[str, str]:
    return {
        name.removeprefix("DOCTOLIB_API_KEY_").lower(): value
        for name, value in sandbox.doctolib.environment(sandbox.base_url).items()
        if name.startswith("DOCTOLIB_API_KEY_")
    }


@pytest.fixture
def doctolib(sandbox, database_url) -> Doctolib:
    return Doctolib(sandbox, database_url, environment_keys(sandbox))


@pytest.fixture
def synced(doctolib) -> Doctolib:
    """Practices discovered and each synced once (in full, since there is no cursor yet)."""
    doctolib.discover()
    for practice_id in sorted(doctolib.world.practices):
        doctolib.sync(practice_id)
    return doctolib
