"""The conformance suite: what every registered connector guarantees, run against each through its
harness (`<connector>/conformance.py`), and against the example connector of this folder.

- A fault the client can ride out (throttling, server errors, a dropped connection, a read timeout,
  a truncated body, an unknown field…) ends with the tables a clean run would leave: a run that
  re-reads everything afterwards finds nothing to change, and the tables' digest stays the same.
- A fault it cannot (an API down for good, breaking drift, refused credentials) fails loudly,
  records its error in the run log, and leaves the tables and the cursor as they were.
- Pages that change while they are read lose nothing; an unchanged source changes nothing; N
  changes at the source are counted as N updates; rows of another tenant are refused; no personal
  data reaches a log, a drift event or the run log; a run whose process died is settled by the
  next; the connector's Dagster job runs a partition as its registry asks and records that run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from sync_assets.connectors import CONNECTORS
from sync_assets.platform.errors import ContractBreach, SyncError
from sync_assets.platform.resources import WarehouseResource
from sync_assets.platform.warehouse import libpq_url
from sync_assets.sandbox.faults import drop_field, set_field

from ..doctolib.conformance import DoctolibHarness
from ..rdvsp.conformance import RdvspHarness
from ..rdvsp.conftest import connected, rdvsp  # noqa: F401  (fixtures RdvspHarness builds on)
from .conformance import Harness
from .example_connector import connector as example
from .example_connector.conformance import ExampleHarness

HARNESSES: dict[str, type[Harness]] = {"rdvsp": RdvspHarness, "doctolib": DoctolibHarness, "example": ExampleHarness}
REGISTERED = (*CONNECTORS, example.CONNECTOR)

RECOVERABLE = {
    "429 with Retry-After": dict(kind="status", status=429, headers={"Retry-After": "1"}, times=2),
    "500": dict(kind="status", status=500, times=2),
    "502": dict(kind="status", status=502, times=2),
    "503": dict(kind="status", status=503, times=3),
    "connection reset mid-body": dict(kind="reset", times=2),
    "read timeout": dict(kind="timeout", seconds=1.5, times=1),
    "truncated JSON body": dict(kind="truncated", times=2),
    "5xx at a rate of 30%": dict(kind="status", status=503, times=-1, rate=0.3, seed=3),
    "new field (additive drift)": dict(kind="drift", transform=set_field("brand_new_field", {"x": 1})),
}


# Partition and tenant locks are the runs' own: none is left held once a run has ended, on a
# pooled connection or elsewhere.
NO_LOCK_LEFT = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"


def unrecoverable(harness: type[Harness]) -> dict[str, dict]:
    field, value = harness.retyped
    return {
        "API down (503 beyond the retries)": dict(kind="status", status=503, times=-1),
        "field removed": dict(kind="drift", transform=drop_field("status"), times=-1),
        "field retyped": dict(kind="drift", transform=set_field(field, value), times=-1),
        "unknown enum value": dict(kind="drift", transform=set_field("status", "rescheduled"), times=-1),
        "nested object replaced by a string": dict(
            kind="drift", transform=set_field(harness.nested_field, "texte"), times=-1
        ),
        "credentials refused (401)": dict(kind="status", status=401, body={"error": "unauthorized"}, times=-1),
    }


def recoverable(harness: type[Harness]) -> dict[str, dict]:
    return {**RECOVERABLE, **harness.extra_recoverable}


def cases(table) -> list:
    return [
        pytest.param(name, fault, id=f"{name}-{fault}")
        for name, harness in HARNESSES.items()
        for fault in table(harness)
    ]


@pytest.fixture
def harness(request) -> Harness:
    return HARNESSES[request.param].build(request)


every_connector = pytest.mark.parametrize("harness", list(HARNESSES), indirect=True)


def test_every_registered_connector_has_a_harness():
    assert {connector.name for connector in REGISTERED} == set(HARNESSES)
    for connector in REGISTERED:
        assert HARNESSES[connector.name].connector is connector


def test_the_example_connector_stays_a_small_folder():
    """The proof that a connector is little more than declarations: under 300 lines of Python,
    its stand-in API and harness included (docs/adding-a-connector.md)."""
    folder = Path(example.__file__).parent
    assert sum(len(f.read_text().splitlines()) for f in folder.glob("*.py")) <= 300


@pytest.mark.parametrize(("harness", "fault"), cases(recoverable), indirect=["harness"])
def test_a_fault_the_client_rides_out_leaves_the_tables_of_a_clean_run(harness, fault):
    injected = harness.add_fault(recoverable(type(harness))[fault])
    harness.run()
    assert injected.hits >= 1, "the fault was never applied"
    harness.faults.clear()
    after_fault = harness.digest()
    clean = harness.run(full=True)
    assert clean.drift == 0, f"the clean run still changed rows: {clean.tables}"
    assert harness.digest() == after_fault
    assert harness.stored_ids() == harness.source_ids()


@pytest.mark.parametrize(("harness", "fault"), cases(unrecoverable), indirect=["harness"])
def test_a_fault_that_cannot_be_ridden_out_fails_loudly_and_changes_nothing(harness, fault):
    harness.run()  # a first, clean sync
    before, cursor = harness.digest(), harness.cursor()
    harness.change_source(1)  # a change the failed run must not half-apply
    injected = harness.add_fault(unrecoverable(type(harness))[fault])
    with pytest.raises(SyncError):
        harness.run()
    assert injected.hits >= 1
    status, error = harness.last_run()
    assert status == "failed" and error
    assert harness.digest() == before
    assert harness.cursor() == cursor
    assert harness.query(NO_LOCK_LEFT) == [(0,)]  # the next run of the partition need not wait


@every_connector
def test_a_page_that_changes_between_two_reads_loses_nothing_and_the_next_run_converges(harness):
    harness.run()
    before = harness.source_ids()
    injected = harness.add_fault(dict(kind="change", action=harness.move_pages, after=1, times=2))
    harness.run(full=True)  # the run that reads every page and deletes what it does not find
    assert injected.hits == 2
    harness.faults.clear()
    # Nothing the API still holds was deleted by the run whose pages moved under it.
    assert before & harness.source_ids() <= harness.stored_ids()
    harness.run()  # the next ordinary run picks up what changed during the faulted one
    assert harness.stored_ids() == harness.source_ids()
    converged = harness.digest()
    assert harness.run(full=True).drift == 0
    assert harness.digest() == converged


@every_connector
def test_an_unchanged_source_changes_nothing(harness):
    first = harness.run()
    assert first.drift > 0 and harness.stored_ids() == harness.source_ids()
    synced, cursor = harness.digest(), harness.cursor()
    assert harness.run().drift == 0
    assert harness.run(full=True).drift == 0
    assert harness.digest() == synced
    assert harness.cursor() == cursor
    assert harness.query(NO_LOCK_LEFT) == [(0,)]


@every_connector
def test_changes_at_the_source_are_counted_exactly(harness):
    harness.run()
    harness.change_source(5)
    outcome = harness.run()
    owned = outcome.tables[harness.owned]
    assert owned.updated == 5, outcome.tables
    assert sum(c.created + c.deleted for c in outcome.tables.values()) == 0, outcome.tables
    assert harness.query(
        "SELECT t.updated FROM sync.run_tables t JOIN sync.runs r ON r.id = t.run_id "
        "WHERE r.connector = %s AND t.table_name = %s ORDER BY r.started_at DESC LIMIT 1",
        [harness.connector.name, harness.owned],
    ) == [(5,)]


@every_connector
def test_rows_of_another_tenant_are_refused_and_never_stored(harness):
    harness.run()
    before, cursor = harness.digest(), harness.cursor()
    harness.change_source(1)
    injected = harness.add_fault(dict(kind="drift", transform=harness.foreign, times=-1))
    with pytest.raises(ContractBreach):
        harness.run()
    assert injected.hits >= 1
    assert harness.digest() == before and harness.cursor() == cursor
    [(error_type,)] = harness.query(
        "SELECT DISTINCT error_type FROM sync.drift_events WHERE connector = %s", [harness.connector.name]
    )
    assert error_type.startswith("other_")


@every_connector
def test_no_personal_data_reaches_a_log_a_drift_event_or_the_run_log(harness, caplog):
    caplog.set_level(logging.DEBUG)
    harness.run()
    harness.add_fault(dict(kind="drift", transform=set_field("status", "rescheduled"), times=-1))
    with pytest.raises(SyncError) as failure:
        harness.run()
    written = " ".join(
        str(r)
        for r in harness.query(
            "SELECT to_jsonb(e)::text FROM sync.drift_events e UNION ALL SELECT to_jsonb(r)::text FROM sync.runs r"
        )
    )
    assert "rescheduled" in written or "status" in written  # the drift was recorded
    people = harness.personal_values()
    assert people
    for seen in (caplog.text, written, str(failure.value)):
        assert not [value for value in people if value in seen]


@every_connector
def test_a_run_whose_process_died_is_settled_by_the_next(harness):
    with psycopg.connect(libpq_url(harness.database_url), autocommit=True) as dead:  # its backend ends with it
        dead.execute(
            "INSERT INTO sync.runs (id, connector, partition_key, kind, started_at, status, runner_pid, detail) "
            "VALUES (gen_random_uuid(), %s, %s, 'polling', now(), 'running', pg_backend_pid(), '{}')",
            [harness.connector.name, harness.partition_key],
        )
    harness.run()
    assert harness.query(
        "SELECT status FROM sync.runs WHERE connector = %s ORDER BY started_at", [harness.connector.name]
    ) == [("interrupted",), ("success",)]


@every_connector
def test_the_dagster_job_syncs_a_partition_as_the_registry_requests_it(harness):
    connector = harness.connector
    defs = dg.Definitions.merge(
        connector.definitions(),
        dg.Definitions(
            resources={"warehouse": WarehouseResource(database_url=harness.database_url), **harness.resources()}
        ),
    )
    request = connector.request(harness.partition_key)
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(connector.partitions, [request.partition_key])
        result = defs.resolve_job_def(connector.sync_job).execute_in_process(
            instance=instance,
            partition_key=request.partition_key,
            run_config={"ops": dict(request.ops_config)},
            tags=dict(request.tags),
        )
    assert result.success
    assert harness.stored_ids() == harness.source_ids()
    assert harness.query(
        "SELECT connector, partition_key, status FROM sync.runs WHERE dagster_run_id = %s", [result.run_id]
    ) == [(connector.name, request.partition_key, "success")]


@every_connector
def test_no_transaction_is_held_open_while_the_api_is_read(harness):
    """A run paced by an API's budget waits on it for minutes: whenever the API is answering the
    run's listing, none of the warehouse's connections is inside a transaction."""
    seen: list[tuple[str, int]] = []

    def look() -> None:
        seen.extend(
            harness.query(
                "SELECT state, count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend' GROUP BY state"
            )
        )

    harness.run()
    harness.change_source(3)
    harness.add_fault(dict(kind="change", action=look, times=-1))
    harness.run(full=True)
    states = {state for state, _ in seen}
    assert states and "idle" in states  # the run's connections were there, waiting
    assert not {state for state in states if state.startswith("idle in transaction")}, seen
