"""Doctolib in Dagster: the practice-partitioned assets and their checks, the partitions sensor,
the daily schedule, the freshness check, the command line, and no patient data anywhere."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

from sync_assets.doctolib.assets import doctolib_appointments_freshness, doctolib_practice_sync
from sync_assets.doctolib.partitions import doctolib_practices
from sync_assets.doctolib.resources import DoctolibApiResource
from sync_assets.doctolib.schedules import doctolib_daily, doctolib_freshness_job, doctolib_practice_partitions
from sync_assets.doctolib.sync import table_names
from sync_assets.platform.resources import WarehouseResource


@pytest.fixture
def keys_in_environment(doctolib, monkeypatch):
    for name, value in doctolib.sandbox.doctolib.environment(doctolib.sandbox.base_url).items():
        monkeypatch.setenv(name, value)
    return doctolib


def resources(doctolib):
    return {
        "warehouse": WarehouseResource(database_url=doctolib.database_url),
        "doctolib": DoctolibApiResource(base_url=doctolib.sandbox.base_url, requests_per_second=1000),
    }


def materialize(doctolib, instance, practice_id: int, config=None):
    instance.add_dynamic_partitions(doctolib_practices.name, [str(practice_id)])
    return dg.materialize(
        [doctolib_practice_sync],
        instance=instance,
        partition_key=str(practice_id),
        resources=resources(doctolib),
        raise_on_error=False,
        run_config={"ops": {"doctolib_practice_sync": {"config": config or {}}}},
    )


def materialized(result) -> dict[str, dict]:
    return {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }


def test_a_practice_partition_materializes_its_tables_with_their_figures(keys_in_environment):
    doctolib = keys_in_environment
    doctolib.discover()
    with dg.instance_for_test() as instance:
        first = materialize(doctolib, instance, 2)
        doctolib.world.hard_delete(doctolib.world.appointments_of(2, None)[0].id)
        full = materialize(doctolib, instance, 2, {"full_refresh": True})
    assert first.success and full.success
    metadata = materialized(first)
    assert sorted(metadata) == sorted(f"doctolib/{t}" for t in table_names())
    appointments = metadata["doctolib/appointments"]
    assert appointments["created"].value == 200 and appointments["practice_id"].value == 2
    assert appointments["account"].value == "practice_2" and appointments["mode"].value == "incremental"
    assert [(c.check_name, c.passed) for c in first.get_asset_check_evaluations()] == [("schema_contract", True)]
    # The table's shape and size, for the UI: columns with their types and keys, the row count.
    schema = appointments["dagster/column_schema"].value
    assert appointments["dagster/table_name"].value == "doctolib.appointments"
    columns = {c.name: c for c in schema.columns}
    assert (
        columns["id"].type == "bigint" and columns["id"].constraints.unique and not columns["id"].constraints.nullable
    )
    assert {"practice_id", "status", "start_at", "updated_at", "synced_at"} <= set(columns)
    # Each column with the words of its COMMENT ON, as psql's \d+ shows them.
    assert all(c.description for m in metadata.values() for c in m["dagster/column_schema"].value.columns)
    assert appointments["dagster/row_count"].value == 200
    refreshed = materialized(full)["doctolib/appointments"]
    assert refreshed["mode"].value == "full_refresh" and refreshed["deleted"].value == 1
    assert refreshed["dagster/row_count"].value == 199
    assert {r[0] for r in doctolib.query("SELECT DISTINCT practice_id FROM doctolib.appointments")} == {2}


def test_breaking_drift_fails_the_blocking_check_and_the_run(keys_in_environment):
    doctolib = keys_in_environment
    doctolib.discover()
    payload = doctolib.world.appointment_json(doctolib.world.appointments_of(1, None)[0]) | {"status": "moved"}
    doctolib.api.fail_requests("/v1/practices/1/appointments", 200).body = {"data": [payload], "next_cursor": None}
    with dg.instance_for_test() as instance:
        result = materialize(doctolib, instance, 1)
    assert not result.success
    check = result.get_asset_check_evaluations()[0]
    assert (check.check_name, check.passed, check.severity) == ("schema_contract", False, dg.AssetCheckSeverity.ERROR)
    assert check.metadata["fields"].value == {"status": "literal_error, 1 records"}
    assert result.get_asset_materialization_events() == []
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error.message
    assert "broke the schema contract: status (literal_error, 1 rows)" in failure
    assert doctolib.query("SELECT count(*) FROM doctolib.appointments") == [(0,)]


def test_the_partition_sensor_adds_practices_and_reports_vanished_ones(keys_in_environment, monkeypatch):
    doctolib = keys_in_environment
    with dg.instance_for_test() as instance:

        def tick():
            with dg.build_sensor_context(instance=instance, resources=resources(doctolib)) as context:
                return doctolib_practice_partitions(context)

        added = tick()
        assert added.dynamic_partitions_requests[0].partition_keys == ["1", "2", "3"]
        instance.add_dynamic_partitions(doctolib_practices.name, ["1", "2", "3"])
        assert "every one of the 3 practices has its partition" in tick().skip_message
        monkeypatch.delenv("DOCTOLIB_API_KEY_PRACTICE_3")
        skipped = tick()
        assert "vanished: [3]" in skipped.skip_message
        assert instance.get_dynamic_partitions(doctolib_practices.name) == ["1", "2", "3"]  # history kept
        # Without the API's address (the UI opened before DOCTOLIB_* are set): a skip that names it.
        monkeypatch.delenv("DOCTOLIB_BASE_URL", raising=False)
        with dg.build_sensor_context(
            instance=instance, resources={**resources(doctolib), "doctolib": DoctolibApiResource()}
        ) as context:
            assert "DOCTOLIB_BASE_URL is not set" in doctolib_practice_partitions(context).skip_message


def test_the_daily_schedule_requests_one_run_per_practice(keys_in_environment):
    doctolib = keys_in_environment
    doctolib.discover()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(doctolib_practices.name, ["1", "2", "3"])
        with dg.build_schedule_context(
            instance=instance, resources=resources(doctolib), scheduled_execution_time=datetime(2026, 3, 1, 3, 0)
        ) as context:
            requests = doctolib_daily(context)
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("1", "doctolib-daily-2026-03-01-1"),
        ("2", "doctolib-daily-2026-03-01-2"),
        ("3", "doctolib-daily-2026-03-01-3"),
    ]
    assert requests[0].tags["sync_assets/practice"] == "1" and requests[0].tags["sync_assets/mode"] == "incremental"
    assert (doctolib_daily.cron_schedule, doctolib_daily.execution_timezone) == ("0 3 * * *", "Europe/Paris")


def test_without_credentials_the_daily_run_is_recorded_as_skipped(doctolib, monkeypatch):
    for name in [n for n in os.environ if n.startswith("DOCTOLIB_API_KEY_")]:
        monkeypatch.delenv(name)
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(instance=instance, resources=resources(doctolib)) as context,
    ):
        skipped = doctolib_daily(context)
    assert "no DOCTOLIB_API_KEY_<ACCOUNT> variable is set" in skipped.skip_message
    assert doctolib.query("SELECT status, reason FROM doctolib.sync_runs") == [("skipped", skipped.skip_message)]


def test_the_freshness_check_fails_for_practices_without_a_recent_success(keys_in_environment):
    doctolib = keys_in_environment
    doctolib.discover()

    job = dg.Definitions(
        assets=[doctolib_practice_sync],
        asset_checks=[doctolib_appointments_freshness],
        jobs=[doctolib_freshness_job],
        resources=resources(doctolib),
    ).resolve_job_def("doctolib_freshness")

    def evaluate():
        with dg.instance_for_test() as instance:
            result = job.execute_in_process(instance=instance)
        assert result.success  # a failing check is an evaluation, not a failed run
        [evaluation] = result.get_asset_check_evaluations()
        assert evaluation.check_name == "freshness"
        return evaluation

    never = evaluate()
    assert not never.passed and never.metadata["hours_since_success"].value == {"1": None, "2": None, "3": None}
    for practice_id in (1, 2, 3):
        doctolib.sync(practice_id)
    assert evaluate().passed
    doctolib.query(
        "UPDATE sync.cursors SET last_success_at = now() - interval '27 hours' "
        "WHERE connector = 'doctolib' AND partition_key = '2' RETURNING 1"
    )
    stale = evaluate()
    assert not stale.passed and list(stale.metadata["hours_since_success"].value) == ["2"]
    assert stale.severity == dg.AssetCheckSeverity.ERROR


def test_the_sync_command_runs_through_dagster_and_names_bad_input(keys_in_environment, tmp_path):
    """`sync-assets doctolib sync` as an operator runs it: its own process, the persistent instance."""
    doctolib = keys_in_environment
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DAGSTER_POSTGRES_URL")}
    env.update({"SYNC_DATABASE_URL": doctolib.database_url, "SYNC_LOCAL_DIR": str(tmp_path)})
    command = [str(Path(sys.executable).with_name("sync-assets")), "doctolib", "sync"]

    def run(*args):
        return subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=300)

    doctolib.world.hard_delete(doctolib.world.appointments_of(1, None)[0].id)
    first = run("--practice", "1", "--full-refresh")
    assert first.returncode == 0, first.stderr
    assert "practice 1 via practice_1: success" in first.stdout
    line = next(line for line in first.stdout.splitlines() if line.strip().startswith("appointments "))
    assert line.split()[1:3] == ["199", "199"]  # count, created
    unknown = run("--practice", "99")
    assert unknown.returncode == 2 and "practice 99 is not reached by any Doctolib account" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_no_patient_data_in_any_log_line_or_dagster_event(keys_in_environment, caplog):
    """Successful, incremental, drifting and failing runs: no patient's name, phone, email or
    birth date in a log record, a Dagster event or its metadata."""
    doctolib = keys_in_environment
    caplog.set_level(logging.DEBUG)
    world = doctolib.world
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(instance=instance, resources=resources(doctolib)) as context:
            doctolib_practice_partitions(context)
        runs = [materialize(doctolib, instance, p) for p in (1, 2, 3)]
        world.cancel(world.appointments_of(1, None)[0].id)
        runs.append(materialize(doctolib, instance, 1))
        drifted = world.appointment_json(world.appointments_of(2, None)[0])
        drifted["patient"] = drifted["patient"] | {"birth_date": 19800101}
        doctolib.api.fail_requests("/v1/practices/2/appointments", 200).body = {"data": [drifted], "next_cursor": None}
        runs.append(materialize(doctolib, instance, 2))
        doctolib.api.fail_requests("/v1/practices/3/appointments", 502, times=20)
        runs.append(materialize(doctolib, instance, 3))
        events = [str(record) for run in runs for record in instance.all_logs(run.run_id)]
    assert [r.success for r in runs] == [True, True, True, True, False, False]
    text = "\n".join(events + [record.getMessage() + str(record.__dict__) for record in caplog.records])
    assert "practice 1" in text and "doctolib/appointments" in text  # the capture holds what it should
    for patient in world.patients.values():
        for value in (
            f"{patient['first_name']} {patient['last_name']}",
            patient["email"],
            patient["phone"],
            patient["birth_date"],
        ):
            assert value not in text, f"patient data leaked: {value!r}"
        assert not re.search(rf"\b{re.escape(patient['last_name'])}\b", text), "a patient's last name leaked"


def test_the_run_wide_guard_sees_log_records_and_would_catch_a_leak(no_patient_data_in_logs, doctolib):
    """The session guard (conftest) is not vacuous: it holds this run's patients and records,
    and finds a patient's email or name written to a project logger."""
    from sync_assets.platform.observability import get_logger
    from sync_assets_tests.personal_data_guard import PersonalDataGuard

    patient = next(iter(doctolib.world.patients.values()))
    assert patient["email"] in no_patient_data_in_logs.people.emails
    probe = PersonalDataGuard()
    probe.register([patient])
    project = logging.getLogger("sync_assets")
    project.removeHandler(no_patient_data_in_logs)  # the deliberate leak is the probe's alone
    probe.install()
    try:
        get_logger("doctolib.probe").debug("looked at %s %s", patient["first_name"], patient["last_name"])
    finally:
        probe.uninstall()
        project.addHandler(no_patient_data_in_logs)
    assert f"{patient['first_name']} {patient['last_name']}".lower() in probe.leaks()
