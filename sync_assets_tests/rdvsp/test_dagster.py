"""RDV Service Public in Dagster: the partitioned assets, their checks, the schedule, the sensor, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

from sync_assets.platform.resources import WarehouseResource
from sync_assets.rdvsp.assets import rdvsp_account_sync
from sync_assets.rdvsp.partitions import rdvsp_accounts
from sync_assets.rdvsp.resources import RdvspApiResource
from sync_assets.rdvsp.schedules import rdvsp_account_partitions, rdvsp_nightly
from sync_assets.rdvsp.sync import table_names

from .conftest import SECRET_KEY


def resources(rdvsp):
    s = rdvsp.settings
    return {
        "warehouse": WarehouseResource(database_url=rdvsp.database_url),
        "rdvsp": RdvspApiResource(
            base_url=s.base_url, client_id=s.client_id, client_secret=s.client_secret, webhook_url=s.webhook_url
        ),
    }


def materialize(rdvsp, instance, config=None):
    instance.add_dynamic_partitions(rdvsp_accounts.name, [str(rdvsp.account_id)])
    return dg.materialize(
        [rdvsp_account_sync],
        instance=instance,
        partition_key=str(rdvsp.account_id),
        resources=resources(rdvsp),
        raise_on_error=False,
        run_config={"ops": {"rdvsp_account_sync": {"config": config or {}}}},
    )


def test_a_partition_materializes_every_table_with_its_figures(connected):
    with dg.instance_for_test() as instance:
        result = materialize(connected, instance)
    assert result.success
    materialized = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.get_asset_materialization_events()
        and [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    }
    assert sorted(materialized) == sorted(f"rdvsp/{t}" for t in table_names())
    rdvs = materialized["rdvsp/rdvs"]
    assert rdvs["created"].value == len(connected.world.rdvs) and rdvs["drift"].value == len(connected.world.rdvs)
    assert rdvs["account_id"].value == 1 and rdvs["organisation_ids"].value == [100, 101]
    columns = {c.name: c.type for c in rdvs["dagster/column_schema"].value.columns}
    assert columns["id"] == "bigint" and columns["status"] == "text" and "synced_at" in columns
    assert rdvs["dagster/row_count"].value == len(connected.world.rdvs)
    for key, metadata in materialized.items():  # every table shows its shape and size
        assert metadata["dagster/table_name"].value == key.replace("/", ".")
        assert metadata["dagster/column_schema"].value.columns and metadata["dagster/row_count"].value >= 0
        # Each column with the words of its COMMENT ON, as psql's \d+ shows them.
        assert all(c.description for c in metadata["dagster/column_schema"].value.columns), key
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks[("rdvsp/rdvs", "schema_contract")] is True
    assert checks[("rdvsp/account_rdvs", "reconciliation")] is True
    assert checks[("rdvsp/account_organisations", "reconciliation")] is True
    assert all(checks.values())


def test_a_scoped_run_is_configured_by_organisation_ids(connected):
    with dg.instance_for_test() as instance:
        result = materialize(connected, instance, {"organisation_ids": [101]})
    assert result.success
    metadata = [e.event_specific_data.materialization.metadata for e in result.get_asset_materialization_events()]
    assert all(m["organisation_ids"].value == [101] for m in metadata)
    assert {r[0] for r in connected.query("SELECT DISTINCT organisation_id FROM rdvsp.rdvs")} == {101}


def test_breaking_drift_fails_the_contract_check_and_the_run(connected, monkeypatch):
    world = connected.world
    render = world.rdv_json
    monkeypatch.setattr(world, "rdv_json", lambda rdv, base_url="x": {**render(rdv, base_url), "status": "teleconsult"})
    with dg.instance_for_test() as instance:
        result = materialize(connected, instance)
    assert not result.success
    assert result.get_asset_materialization_events() == []
    [rdvs_check] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.to_user_string() == "rdvsp/rdvs" and e.check_name == "schema_contract"
    ]
    assert not rdvs_check.passed and rdvs_check.severity == dg.AssetCheckSeverity.ERROR
    assert "status" in rdvs_check.metadata["fields"].value
    assert connected.query("SELECT count(*) FROM rdvsp.rdvs") == [(0,)]


def test_the_nightly_schedule_requests_one_run_per_active_account(connected):
    connected.connect(agent_id=2)
    connected.execute("UPDATE rdvsp.accounts SET status = 'error', error = 'revoked' WHERE id = 2")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(rdvsp_accounts.name, ["1", "2"])
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2026, 3, 1, 3, 0),
            resources={
                "warehouse": WarehouseResource(database_url=connected.database_url),
                "rdvsp": resources(connected)["rdvsp"],
            },
        ) as context:
            requests = rdvsp_nightly(context)
    assert [(r.partition_key, r.run_key, r.tags["sync_assets/kind"]) for r in requests] == [
        ("1", "rdvsp-nightly-2026-03-01-1", "nightly")
    ]
    assert rdvsp_nightly.cron_schedule == "0 3 * * *" and rdvsp_nightly.execution_timezone == "Europe/Paris"


def test_the_nightly_schedule_skips_when_no_account_is_active_or_the_api_is_not_configured(rdvsp, monkeypatch):
    def tick(api):
        with (
            dg.instance_for_test() as instance,
            dg.build_schedule_context(
                instance=instance,
                scheduled_execution_time=datetime(2026, 3, 1, 3, 0),
                resources={"warehouse": WarehouseResource(database_url=rdvsp.database_url), "rdvsp": api},
            ) as context,
        ):
            return rdvsp_nightly(context)

    assert "no active RDV Service Public account" in tick(resources(rdvsp)["rdvsp"]).skip_message
    monkeypatch.delenv("RDVSP_BASE_URL", raising=False)
    assert "RDVSP_BASE_URL is not set" in tick(RdvspApiResource()).skip_message


def test_the_partition_sensor_adds_connected_accounts(connected):
    connected.sync()  # its first sync ran (the sensor's other task: test_lifecycle.py)
    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(instance=instance, resources=resources(connected)) as context,
    ):
        result = rdvsp_account_partitions(context)
        assert [r.partition_keys for r in result.dynamic_partitions_requests] == [["1"]]
        assert result.run_requests == []
        instance.add_dynamic_partitions(rdvsp_accounts.name, ["1"])
        assert isinstance(rdvsp_account_partitions(context), dg.SkipReason)


@pytest.mark.slow
def test_the_sync_command_prints_the_counts_and_fails_loudly(connected, tmp_path):
    """`sync-assets rdvsp sync` as an operator runs it: its own process, the persistent instance."""
    s = connected.settings
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DAGSTER_POSTGRES_URL")}
    env.update(
        {
            "SYNC_DATABASE_URL": connected.database_url,
            "SYNC_LOCAL_DIR": str(tmp_path),
            "SYNC_SECRET_KEY": SECRET_KEY,
            "RDVSP_BASE_URL": s.base_url,
            "RDVSP_CLIENT_ID": s.client_id,
            "RDVSP_CLIENT_SECRET": s.client_secret,
        }
    )
    command = [str(Path(sys.executable).with_name("sync-assets")), "rdvsp", "sync"]

    def run(*args):
        return subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=300)

    first = run("--account", "1")
    assert first.returncode == 0, first.stderr
    assert "account 1: success" in first.stdout
    rdvs_line = next(line for line in first.stdout.splitlines() if line.strip().startswith("rdvs "))
    assert rdvs_line.split()[1:3] == [str(len(connected.world.rdvs))] * 2  # count, created

    scoped = run("--organisations", "100")  # every active account, one organisation
    assert scoped.returncode == 0 and "account 1: success" in scoped.stdout

    connected.sandbox.rdvsp.oauth.revoke_agent(1)
    connected.sandbox.rdvsp.oauth.expire_access_tokens()
    failed = run("--account", "1")
    assert failed.returncode == 1
    assert "account 1: FAILED" in failed.stdout and "refresh token was refused" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_an_unexpected_database_error_reaches_dagster_without_personal_data(connected, monkeypatch):
    """A real constraint violation quoting a user's row: the run's events carry no personal data."""
    user = next(iter(connected.world.users.values()))
    connected.world.update_user(user.id, first_name="Gwendoline", last_name="Kerjean-Lebihan")
    # A constraint the API's data breaks: PostgreSQL's error will quote the whole row.
    connected.execute("ALTER TABLE rdvsp.users ADD CONSTRAINT no_kerjean CHECK (last_name <> 'Kerjean-Lebihan')")
    with dg.instance_for_test() as instance:
        result = materialize(connected, instance)
        events = [str(e) for e in instance.all_logs(result.run_id)]
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "CheckViolation" in failure.step_failure_data.error.message
    assert not any("Gwendoline" in e or "Kerjean" in e for e in events)
