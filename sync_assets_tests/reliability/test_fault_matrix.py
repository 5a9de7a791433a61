"""The fault matrix: each sandbox fault against each connector.

A fault the client can ride out (throttling, server errors, a dropped connection, a read
timeout, a truncated body, an expired token, an unknown field) must end with the tables a clean
run would leave: a clean run afterwards finds nothing to change, and the tables' digest stays the
same. A fault it cannot (an API down for good, breaking drift, a revoked grant) must fail loudly,
record its error, and leave the tables (and Doctolib's cursor) as they were before the run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import psycopg
import pytest

from sync_assets.doctolib.client import client_factory
from sync_assets.doctolib.sync import PracticeSync
from sync_assets.platform.errors import SyncError
from sync_assets.platform.http import RetryPolicy, Timeouts
from sync_assets.platform.warehouse import libpq_url
from sync_assets.rdvsp.sync import RdvspAccountSync
from sync_assets.sandbox.faults import Fault, drop_field, set_field
from sync_assets.sandbox.rdvsp_world import PARIS

from ..doctolib.conftest import Doctolib, environment_keys
from ..rdvsp.conftest import SYNCED_TABLES as RDVSP_TABLES
from ..rdvsp.conftest import connected, rdvsp  # noqa: F401  (fixtures, shared with the RDV-SP tests)

RETRY = RetryPolicy(attempts=4, backoff_multiplier=0.01, jitter=0)
TIMEOUTS = Timeouts(connect=2.0, read=0.5)
DOCTOLIB_TABLES = ("appointments", "patients", "practitioners", "visit_motives")


def digest(database_url: str, schema: str, tables) -> str:
    """A hash of every row of the tables, in key order, without synced_at nor raw payloads (the
    payload is what the API sent, unknown fields included)."""
    sha = hashlib.sha256()
    with psycopg.connect(libpq_url(database_url)) as conn:
        for table in tables:
            columns = [r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                "AND column_name NOT IN ('synced_at', 'raw') ORDER BY ordinal_position", [schema, table])]
            for row in conn.execute(f"SELECT {', '.join(columns)} FROM {schema}.{table} ORDER BY 1, 2"):
                sha.update(repr(row).encode())
    return sha.hexdigest()


def both(**spec) -> dict:
    return {"rdvsp": spec, "doctolib": spec}


# Each fault, as it is injected into each connector's listing (RDV-SP: `/api/v1/rdvs`; Doctolib:
# practice 1's appointments). A connector missing from an entry has no such fault.
RECOVERABLE = {
    "429 with Retry-After": both(kind="status", status=429, headers={"Retry-After": "1"}, times=2),
    "500": both(kind="status", status=500, times=2),
    "502": both(kind="status", status=502, times=2),
    "503": both(kind="status", status=503, times=3),
    "connection reset mid-body": both(kind="reset", times=2),
    "read timeout": both(kind="timeout", seconds=1.5, times=1),
    "truncated JSON body": both(kind="truncated", times=2),
    "5xx at a rate of 30%": both(kind="status", status=503, times=-1, rate=0.3, seed=3),
    # RDV-SP's access tokens expire; the client refreshes and retries. Doctolib's keys do not.
    "access token expired mid-run": {"rdvsp": dict(kind="status", status=401, body={"error": "invalid_token"},
                                                   after=1)},
    "new field (additive drift)": both(kind="drift", transform=set_field("brand_new_field", {"x": 1})),
}
# Data that changes between two pages of one listing: the run ends without error and without
# deleting what still exists, and the next run converges (see the test below).
PAGE_CHANGES = "a page that changes between two reads"
UNRECOVERABLE = {
    "API down (503 beyond the retries)": both(kind="status", status=503, times=-1),
    "field removed": both(kind="drift", transform=drop_field("status"), times=-1),
    # RDV-SP's ids are read leniently ("12" is 12), Doctolib's strictly; both break on a number
    # that is not one.
    "field retyped": {"rdvsp": dict(kind="drift", transform=set_field("duration_in_min", "quarante-cinq"), times=-1),
                      "doctolib": dict(kind="drift", transform=set_field("id", "1000001"), times=-1)},
    "unknown enum value": both(kind="drift", transform=set_field("status", "rescheduled"), times=-1),
    "nested object replaced by a string": {
        "rdvsp": dict(kind="drift", transform=set_field("motif", "Aide"), times=-1),
        "doctolib": dict(kind="drift", transform=set_field("visit_motive", "Détartrage"), times=-1)},
    # A refused Doctolib key fails the run and sets the account aside; the next run goes through
    # another account (sync_assets_tests/doctolib/test_sync.py).
    "API key refused during a run (401)": {"doctolib": dict(kind="status", status=401,
                                                            body={"error": "unauthorized"}, times=-1)},
}


def cases(table: dict) -> list:
    return [pytest.param(connector, name, id=f"{connector}-{name}")
            for name, specs in table.items() for connector in ("rdvsp", "doctolib") if connector in specs]


@dataclass
class RdvspRunner:
    helper: object  # the rdvsp test helper (`connected` fixture)
    path = "/api/v1/rdvs"
    schema = "rdvsp"
    tables = RDVSP_TABLES

    def run(self, kind: str = "polling"):
        h = self.helper
        client = h.client(retry=RETRY, timeouts=TIMEOUTS)
        try:
            return RdvspAccountSync(h.engine, client, h.account_id, cipher=h.cipher, webhook_url=h.settings.webhook_url,
                                    emit=lambda _: None, kind=kind).run()
        finally:
            client.close()

    def verify_clean(self):
        return self.run(kind="nightly")  # re-applies every page, skipped or not

    def last_error(self) -> tuple[str, str | None]:
        return self.helper.query("SELECT status, error FROM rdvsp.sync_logs ORDER BY started_at DESC LIMIT 1")[0]

    def change_source(self) -> None:
        world = self.helper.world
        world.cancel_rdv(next(i for i in sorted(world.rdvs) if world.rdvs[i].status == "unknown"))

    def move_pages(self) -> None:
        """A new RDV and a changed one: the API lists RDVs unordered, so every page moves."""
        world = self.helper.world
        world.create_rdv(organisation_id=100)
        world.update_rdv(min(world.rdvs), context="changed during the listing")

    def source_ids(self) -> set[int]:
        [(sync_from,)] = self.helper.query("SELECT sync_from FROM rdvsp.accounts WHERE id = %s", [self.helper.account_id])
        world = self.helper.world
        return set(world.rdv_listing(world.agents[self.helper.account_id],
                                     starts_after=datetime.combine(sync_from, time(0), PARIS)))

    def stored_ids(self) -> set[int]:
        return {r[0] for r in self.helper.query("SELECT id FROM rdvsp.rdvs")}

    def cursor(self):
        return None


@dataclass
class DoctolibRunner:
    helper: Doctolib
    path = "/v1/practices/1/appointments"
    schema = "doctolib"
    tables = DOCTOLIB_TABLES

    def run(self, full_refresh: bool = False):
        clients = client_factory(self.helper.sandbox.base_url, requests_per_second=1000, retry=RETRY, timeouts=TIMEOUTS)
        return PracticeSync(self.helper.engine, 1, clients=clients, api_keys=self.helper.keys, full_refresh=full_refresh,
                            lookback=timedelta(hours=1), emit=lambda _: None).run()

    def verify_clean(self):
        return self.run(full_refresh=True)  # re-reads everything and deletes what is not there

    def last_error(self) -> tuple[str, str | None]:
        return self.helper.query("SELECT status, reason FROM doctolib.sync_runs ORDER BY started_at DESC LIMIT 1")[0]

    def change_source(self) -> None:
        world = self.helper.world
        world.cancel(next(a.id for a in world.appointments_of(1, None) if a.status == "confirmed"))

    def move_pages(self) -> None:
        """A new appointment and one already read moved to the end of the listing (its stamp changes)."""
        world = self.helper.world
        world.add_appointment(1, world.now() + timedelta(days=3))
        world.cancel(world.appointments_of(1, None)[0].id)

    def source_ids(self) -> set[int]:
        return {a.id for a in self.helper.world.appointments_of(1, None)}

    def stored_ids(self) -> set[int]:
        return {r[0] for r in self.helper.query("SELECT id FROM doctolib.appointments WHERE practice_id = 1")}

    def cursor(self):
        return self.helper.cursor(1)


@pytest.fixture
def runners(request, sandbox, database_url, monkeypatch):
    """Builds the runner of a connector, after a first clean sync when `synced`."""
    # Doctolib pages of 50 rather than 500, so that practice 1's 200 appointments take 5 requests.
    monkeypatch.setattr("sync_assets.doctolib.listings.PAGE_SIZE", 50)

    def build(connector: str):
        if connector == "rdvsp":
            return RdvspRunner(request.getfixturevalue("connected"))
        helper = Doctolib(sandbox, database_url, environment_keys(sandbox))
        helper.discover()
        return DoctolibRunner(helper)

    return build


def add_fault(runner, spec: dict) -> Fault:
    return runner.helper.sandbox.faults.add(Fault(path=runner.path, **spec))


def database_url(runner) -> str:
    return runner.helper.database_url


def tables_digest(runner) -> str:
    return digest(database_url(runner), runner.schema, runner.tables)


@pytest.mark.parametrize(("connector", "name"), cases(RECOVERABLE))
def test_a_fault_the_client_rides_out_leaves_the_tables_of_a_clean_run(runners, connector, name):
    runner = runners(connector)
    fault = add_fault(runner, RECOVERABLE[name][connector])
    runner.run()
    assert fault.hits >= 1, "the fault was never applied"
    runner.helper.sandbox.faults.clear()
    after_fault = tables_digest(runner)
    clean = runner.verify_clean()
    assert clean.drift == 0, f"the clean run still changed rows: {clean.tables}"
    assert tables_digest(runner) == after_fault


@pytest.mark.parametrize("connector", ["rdvsp", "doctolib"])
def test_a_page_that_changes_between_two_reads_loses_nothing_and_the_next_run_converges(runners, connector):
    runner = runners(connector)
    runner.run()
    before = runner.source_ids()
    fault = add_fault(runner, dict(kind="change", action=runner.move_pages, after=1, times=2))
    runner.verify_clean()  # the run that reads every page and deletes what it does not find
    assert fault.hits == 2
    runner.helper.sandbox.faults.clear()
    # Nothing the API still holds was deleted by the run whose pages moved under it.
    assert before & runner.source_ids() <= runner.stored_ids()
    runner.run()  # the next ordinary run picks up what changed during the faulted one
    assert runner.stored_ids() == runner.source_ids()
    converged = tables_digest(runner)
    assert runner.verify_clean().drift == 0
    assert tables_digest(runner) == converged


@pytest.mark.parametrize(("connector", "name"), cases(UNRECOVERABLE))
def test_a_fault_that_cannot_be_ridden_out_fails_loudly_and_changes_nothing(runners, connector, name):
    runner = runners(connector)
    runner.run()  # a first, clean sync
    before, cursor = tables_digest(runner), runner.cursor()
    runner.change_source()  # a change the failed run must not half-apply
    fault = add_fault(runner, UNRECOVERABLE[name][connector])
    with pytest.raises(SyncError):
        runner.run()
    assert fault.hits >= 1
    status, error = runner.last_error()
    assert status == "failed" and error
    assert tables_digest(runner) == before
    assert runner.cursor() == cursor


def test_a_revoked_grant_fails_loudly_and_changes_nothing(connected):
    runner = RdvspRunner(connected)
    runner.run()
    before = digest(connected.database_url, "rdvsp", RDVSP_TABLES)
    runner.change_source()
    connected.sandbox.rdvsp.oauth.revoke_agent(1)
    connected.sandbox.rdvsp.oauth.expire_access_tokens()
    with pytest.raises(SyncError, match="refresh token was refused"):
        runner.run()
    assert connected.query("SELECT status FROM rdvsp.accounts WHERE id = 1") == [("error",)]
    status, error = runner.last_error()
    assert status == "failed" and "refresh token was refused" in error
    assert digest(connected.database_url, "rdvsp", RDVSP_TABLES) == before
