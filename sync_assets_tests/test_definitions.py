"""The Dagster definitions: loadable, and the platform's asset, job and schedule really work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from sync_assets.connectors import CONNECTORS
from sync_assets.definitions import defs
from sync_assets.platform import migrations
from sync_assets.platform.defs import raw_responses_retention_job, raw_responses_retention_schedule, warehouse_schema
from sync_assets.platform.resources import WarehouseResource
from sync_assets.platform.warehouse import libpq_url

PROJECT = Path(__file__).resolve().parents[1]


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
    assert dg.AssetKey(["sync", "warehouse_schema"]) in defs.resolve_all_asset_keys()
    assert defs.resolve_job_def("sync_raw_responses_retention")
    assert defs.resolve_schedule_def("sync_raw_responses_retention_daily")


@pytest.mark.parametrize("connector", CONNECTORS, ids=lambda c: c.name)
def test_each_registered_connector_is_in_the_definitions_and_its_sync_requests_fit_its_job(connector):
    job = defs.resolve_job_def(connector.sync_job)
    assert job.partitions_def is not None and job.partitions_def.name == connector.partitions
    dg.validate_run_config(job, {"ops": dict(connector.request(7).ops_config)})  # raises on a config the job refuses
    assert connector.resources() and all(key in defs.resources for key in connector.resources())
    materialized = {key.path[0] for key in job.asset_layer.executable_asset_keys}
    assert materialized == {connector.name}  # its assets live under its own name
    assert {spec.table.split(".")[0] for spec in connector.tables} == {connector.name}


def test_warehouse_schema_asset_applies_the_migrations(empty_database_url):
    result = dg.materialize(
        [warehouse_schema], resources={"warehouse": WarehouseResource(database_url=empty_database_url)}
    )
    assert result.success
    [materialization] = result.asset_materializations_for_node("sync__warehouse_schema")
    latest = migrations.discover()[-1]
    assert materialization.metadata["schema_version"].value == latest.version
    assert len(materialization.metadata["migrations_applied_now"].value) == len(migrations.discover())
    assert "sync.raw_responses" in materialization.metadata["tables"].value
    assert [v for v, _ in migrations.applied(empty_database_url)][-1] == latest.version

    again = dg.materialize(
        [warehouse_schema], resources={"warehouse": WarehouseResource(database_url=empty_database_url)}
    )
    assert (
        again.asset_materializations_for_node("sync__warehouse_schema")[0].metadata["migrations_applied_now"].value
        == []
    )


def test_retention_job_prunes_old_raw_responses(database_url, monkeypatch):
    monkeypatch.setenv("SYNC_RAW_RETENTION_DAYS", "10")
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sync.raw_responses (connector, endpoint, params, status, body_sha256, body, last_fetched_at) "
            "VALUES ('rdvsp', '/a', '{}', 200, repeat('a', 64), '{}', now() - interval '11 days'),"
            "       ('rdvsp', '/b', '{}', 200, repeat('b', 64), '{}', now() - interval '9 days')"
        )
    result = raw_responses_retention_job.execute_in_process(
        resources={"warehouse": WarehouseResource(database_url=database_url)}
    )
    assert result.success and result.output_for_node("prune_raw_responses_op") == 1
    with psycopg.connect(libpq_url(database_url)) as conn:
        assert conn.execute("SELECT endpoint FROM sync.raw_responses").fetchall() == [("/b",)]


def test_retention_schedule_runs_daily_at_half_past_four_in_paris():
    assert raw_responses_retention_schedule.cron_schedule == "30 4 * * *"
    assert raw_responses_retention_schedule.execution_timezone == "Europe/Paris"
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance)
        data = raw_responses_retention_schedule.evaluate_tick(context)
    assert len(data.run_requests) == 1


@pytest.mark.slow
def test_dagster_cli_validates_the_workspace(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


CONNECTOR_KINDS = {"rdvsp": "rdvsp", "doctolib": "doctolib"}


def test_every_asset_check_sensor_and_schedule_explains_itself_in_the_ui():
    """What a data engineer sees in the UI: a description, a group named like the key's prefix,
    kinds (postgres, and the source's), owners; checks, sensors and schedules described."""
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node, prefix = graph.get(key), key.path[0]
        assert node.description and len(node.description) > 20, key
        assert node.group_name == prefix, key
        assert "postgres" in node.kinds and (prefix not in CONNECTOR_KINDS or CONNECTOR_KINDS[prefix] in node.kinds), (
            key
        )
        assert node.owners, key
    for check_key in graph.asset_check_keys:  # what it holds, and what to do when it fails
        description = graph.get_check_spec(check_key).description
        assert description and ("To do" in description or "look at" in description), check_key
    for definition in [*defs.schedules, *defs.sensors]:
        assert definition.description and len(definition.description) > 20, definition.name


def test_the_dagster_runs_retention_job_deletes_finished_runs_past_the_window(database_url, monkeypatch):
    from datetime import timedelta

    from sync_assets.platform import defs as platform_defs

    resources = {"warehouse": WarehouseResource(database_url=database_url)}
    with dg.instance_for_test() as instance:
        for _ in range(2):
            assert raw_responses_retention_job.execute_in_process(instance=instance, resources=resources).success
        kept = platform_defs.dagster_runs_retention_job.execute_in_process(instance=instance)
        assert kept.output_for_node("prune_dagster_runs_op") == 0  # all of them are recent
        later = platform_defs.now() + timedelta(days=91)
        monkeypatch.setattr(platform_defs, "now", lambda: later)
        pruned = platform_defs.dagster_runs_retention_job.execute_in_process(instance=instance)
        assert pruned.output_for_node("prune_dagster_runs_op") == 3  # the two jobs and the first retention run
        assert [run.run_id for run in instance.get_runs()] == [pruned.run_id]
    assert platform_defs.dagster_runs_retention_schedule.cron_schedule == "45 4 * * *"


@pytest.mark.slow
def test_the_one_machine_dagster_yaml_runs_a_job_with_the_multiprocess_executor(database_url, tmp_path, monkeypatch):
    """deploy/dagster.one-machine.yaml, as an operator uses it: the `dagster` command runs the
    analyst layer, each of its steps in a process of its own, on that instance."""
    import shutil

    shutil.copyfile(PROJECT / "deploy" / "dagster.one-machine.yaml", tmp_path / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "SYNC_DATABASE_URL": database_url}
    env["DAGSTER_POSTGRES_URL"] = subprocess.run(
        [sys.executable, "-c", "from sync_assets.platform.warehouse import dagster_storage_url as u; print(u())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("dagster")),
            "job",
            "execute",
            "-m",
            "sync_assets.definitions",
            "-a",
            "defs",
            "-j",
            "analyst_layer",
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", env["DAGSTER_POSTGRES_URL"])
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 8
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        steps = instance.get_run_step_stats(run.run_id)
        layer = len(defs.resolve_job_def("analyst_layer").nodes)  # coop/beneficiaires and each analytics view
        assert layer == 7 and len(steps) == layer and {step.status.value for step in steps} == {"SUCCESS"}
        workers = [
            e
            for e in instance.all_logs(run.run_id)
            if e.dagster_event and e.dagster_event.event_type_value == "STEP_WORKER_STARTED"
        ]
        assert len(workers) == layer  # each step in a process of its own
    finally:
        instance.dispose()
