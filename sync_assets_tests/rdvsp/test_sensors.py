"""The webhook sensors, evaluated with Dagster's sensor test context on a real warehouse."""

from __future__ import annotations

import dagster as dg
import pytest

from sync_assets.platform.resources import WarehouseResource
from sync_assets.rdvsp.partitions import rdvsp_accounts
from sync_assets.rdvsp.resources import RdvspApiResource
from sync_assets.rdvsp.schedules import (
    rdvsp_failed_webhook_organisations,
    rdvsp_webhook_inbox_retry,
    rdvsp_webhook_retry_job,
)


@pytest.fixture
def warehouse(rdvsp):
    """Two accounts; organisations 100-104 in several webhook situations."""
    rdvsp.execute("""
        INSERT INTO rdvsp.accounts (id, base_url, sync_from, status) VALUES
            (1, 'https://rdv.example', '2024-01-01', 'active'), (2, 'https://rdv.example', '2024-01-01', 'active'),
            (3, 'https://rdv.example', '2024-01-01', 'error');
        INSERT INTO rdvsp.account_organisations (account_id, organisation_id, synced_at) VALUES
            (1, 100, now()), (1, 101, now()), (2, 101, now()), (1, 102, now()), (2, 103, now()), (3, 104, now()),
            (1, 105, now());
        INSERT INTO rdvsp.webhook_installations (organisation_id, account_id, status, reason) VALUES
            (100, 1, 'failed', 'forbidden'),          -- failed install: poll it
            (101, 1, 'installed', NULL),              -- installed, silent, drift last night: poll it
            (102, 1, 'installed', NULL),              -- installed, delivering, drift last night: fine
            (103, 2, 'not_configured', 'no url'),     -- no webhook: poll it, through account 2
            (104, 3, 'failed', 'forbidden'),          -- its only account is in error: nothing to run
            (105, 1, 'installed', NULL);              -- installed, silent, no drift: fine
        INSERT INTO sync.runs (id, connector, partition_key, kind, status, started_at) VALUES
            ('00000000-0000-0000-0000-000000000001', 'rdvsp', '1', 'nightly', 'success', now() - interval '3 hours');
        INSERT INTO rdvsp.run_organisations VALUES
            ('00000000-0000-0000-0000-000000000001', 101, 2, 1, 0, 3, 'installed'),
            ('00000000-0000-0000-0000-000000000001', 102, 1, 0, 0, 1, 'installed'),
            ('00000000-0000-0000-0000-000000000001', 105, 0, 0, 0, 0, 'installed');
        INSERT INTO sync.webhook_inbox (connector, body_sha256, body, endpoint_organisation_id, status, received_at)
            VALUES ('rdvsp', repeat('a', 64), '{}', 102, 'applied', now() - interval '1 hour');
    """)
    return WarehouseResource(database_url=rdvsp.database_url)


CONFIGURED = RdvspApiResource(base_url="http://127.0.0.1:9", client_id="client", client_secret="secret")


def evaluate(sensor, warehouse, instance, rdvsp_api=CONFIGURED):
    with dg.build_sensor_context(instance=instance, resources={"warehouse": warehouse, "rdvsp": rdvsp_api}) as context:
        return sensor(context)


def test_polling_runs_are_scoped_to_exactly_the_organisations_webhooks_miss(warehouse):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(rdvsp_accounts.name, ["1", "2", "3"])
        requests = evaluate(rdvsp_failed_webhook_organisations, warehouse, instance)
    scoped = {
        r.partition_key: r.run_config["ops"]["rdvsp_account_sync"]["config"]["organisation_ids"] for r in requests
    }
    assert scoped == {"1": [100, 101], "2": [103]}
    assert {r.tags["sync_assets/kind"] for r in requests} == {"fallback"}
    assert requests[0].tags["sync_assets/reasons"] == "failed,silent"
    # The run list names each run's account and scope.
    assert {r.tags["sync_assets/account"]: r.tags["sync_assets/organisations"] for r in requests} == {
        "1": "100,101",
        "2": "103",
    }


def test_without_the_api_configured_the_sensor_skips_and_names_the_variable(warehouse, monkeypatch):
    """Rather than runs that would all fail: `make dev` on the demo data, before RDVSP_* are set."""
    for name in ("RDVSP_BASE_URL", "RDVSP_CLIENT_ID", "RDVSP_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(rdvsp_accounts.name, ["1", "2", "3"])
        result = evaluate(rdvsp_failed_webhook_organisations, warehouse, instance, RdvspApiResource())
    assert isinstance(result, dg.SkipReason) and "RDVSP_BASE_URL is not set" in result.skip_message


def test_a_second_tick_asks_for_the_same_runs_so_none_is_duplicated(warehouse):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(rdvsp_accounts.name, ["1", "2"])
        first = evaluate(rdvsp_failed_webhook_organisations, warehouse, instance)
        second = evaluate(rdvsp_failed_webhook_organisations, warehouse, instance)
    assert [r.run_key for r in first] == [r.run_key for r in second]
    assert len({r.run_key for r in first}) == len(first)


def test_nothing_to_poll_when_every_webhook_works(rdvsp):
    rdvsp.execute(
        "INSERT INTO rdvsp.accounts (id, base_url, sync_from) VALUES (1, 'x', '2024-01-01');"
        "INSERT INTO rdvsp.account_organisations VALUES (1, 100, now());"
        "INSERT INTO rdvsp.webhook_installations (organisation_id, account_id, status) VALUES (100, 1, 'installed')"
    )
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(rdvsp_accounts.name, ["1"])
        result = evaluate(
            rdvsp_failed_webhook_organisations, WarehouseResource(database_url=rdvsp.database_url), instance
        )
    assert isinstance(result, dg.SkipReason)


def test_the_retry_sensor_asks_for_a_run_only_when_events_are_due(rdvsp):
    warehouse = WarehouseResource(database_url=rdvsp.database_url)
    rdvsp.execute(
        "INSERT INTO sync.webhook_inbox (connector, body_sha256, body, status, next_attempt_at) VALUES "
        "('rdvsp', repeat('b', 64), '{}', 'failed', now() + interval '1 hour')"
    )
    with dg.instance_for_test() as instance:
        assert isinstance(evaluate(rdvsp_webhook_inbox_retry, warehouse, instance), dg.SkipReason)
        rdvsp.execute("UPDATE sync.webhook_inbox SET next_attempt_at = now() - interval '1 second'")
        request = evaluate(rdvsp_webhook_inbox_retry, warehouse, instance)
    assert isinstance(request, dg.RunRequest) and request.tags["sync_assets/due"] == "1"


def test_the_retry_job_fails_loudly_on_events_it_gives_up(rdvsp):
    rdvsp.execute(
        "INSERT INTO sync.webhook_inbox "
        "(connector, body_sha256, body, model, event, status, attempts, next_attempt_at) "
        "VALUES ('rdvsp', repeat('c', 64), "
        '\'{"data": {"id": 1, "name": 42}, "meta": {"model": "Lieu", "event": "updated", '
        "\"timestamp\": \"2025-01-01T10:00:00+01:00\"}}', 'Lieu', 'updated', 'failed', 7, now())"
    )
    result = rdvsp_webhook_retry_job.execute_in_process(
        resources={"warehouse": WarehouseResource(database_url=rdvsp.database_url)}, raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "failed 8 times" in failure.step_failure_data.user_failure_data.description
    assert rdvsp.query("SELECT status, attempts, next_attempt_at FROM sync.webhook_inbox") == [("failed", 8, None)]
