"""The sync of a Doctolib practice against the sandbox: incremental with a cursor and lookback,
full refresh, one account per practice, one practice per run, failures that change nothing."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from sync_assets.doctolib.sync import SyncSkipped
from sync_assets.platform.errors import ApiError, ConfigurationError, ContractBreach
from sync_assets.platform.warehouse import libpq_url


def newest_run(doctolib, practice_id: int) -> tuple:
    return doctolib.query(
        "SELECT status, reason, mode, account_name, updated_since, cursor_after FROM doctolib.sync_runs "
        "WHERE practice_id = %s ORDER BY started_at DESC LIMIT 1",
        [practice_id],
    )[0]


def stored_matches_sandbox(doctolib, practice_id: int) -> bool:
    stored = {i: row[:3] for i, row in doctolib.appointments(practice_id).items()}
    return stored == doctolib.sandbox_appointments(practice_id)


def test_a_first_run_reads_everything_and_sets_the_cursor(synced):
    for practice_id in synced.world.practices:
        assert stored_matches_sandbox(synced, practice_id)
        status, _, mode, _, updated_since, cursor = newest_run(synced, practice_id)
        assert (status, mode, updated_since) == ("success", "incremental", None)
        assert cursor == max(a.updated_at for a in synced.world.appointments_of(practice_id, None))
        assert synced.cursor(practice_id) == cursor
    assert len(synced.appointments()) == len(synced.world.appointments)


def test_an_incremental_run_picks_up_exactly_the_changed_appointments(synced):
    world = synced.world
    before = synced.cursor(1)
    lookback_rows = [a.id for a in world.appointments_of(1, before - timedelta(hours=1))]  # re-read, unchanged
    confirmed = [a.id for a in world.appointments_of(1, None) if a.status == "confirmed"]
    world.cancel(confirmed[0])
    world.soft_delete(confirmed[1])
    added = world.add_appointment(1, datetime(2026, 12, 1, 9, tzinfo=timezone.utc))
    others = {p: synced.appointments(p) for p in (2, 3)}

    outcome = synced.sync(1)

    assert outcome.since == before - timedelta(hours=1)
    counts = outcome.tables["appointments"]
    assert (counts.created, counts.updated, counts.deleted) == (1, 2, 0)
    assert counts.count == 3 + len(lookback_rows) and counts.noop == len(lookback_rows)
    assert stored_matches_sandbox(synced, 1)
    assert synced.appointments(1)[added.id][1] == "confirmed"
    assert synced.cursor(1) == world.appointments[added.id].updated_at
    assert {p: synced.appointments(p) for p in (2, 3)} == others  # other practices untouched


def test_the_lookback_rereads_without_double_counting(synced):
    world = synced.world
    rows_before = synced.query("SELECT count(*) FROM doctolib.appointments")[0][0]
    world.cancel(next(a.id for a in world.appointments_of(1, None) if a.status == "confirmed"))

    outcome = synced.sync(1, lookback=timedelta(days=2000))  # everything of the practice is re-read

    counts = outcome.tables["appointments"]
    assert counts.count == len(world.appointments_of(1, None))
    assert (counts.created, counts.updated, counts.deleted) == (0, 1, 0)
    assert counts.noop == counts.count - 1
    assert outcome.tables["patients"].created == 0 and outcome.tables["patients"].updated == 0
    assert synced.query("SELECT count(*) FROM doctolib.appointments")[0][0] == rows_before
    figures = synced.query(
        "SELECT count, created, updated, noop FROM sync.run_tables WHERE run_id = %s AND table_name = 'appointments'",
        [outcome.run_log_id],
    )
    assert figures == [(counts.count, 0, 1, counts.count - 1)]


def test_a_failed_run_does_not_advance_the_cursor(synced):
    world = synced.world
    cursor = synced.cursor(1)
    changed = next(a.id for a in world.appointments_of(1, None) if a.status == "confirmed")
    world.cancel(changed)
    synced.api.fail_requests("/v1/practices/1/appointments", 503, times=10)

    with pytest.raises(ApiError, match="503"):
        synced.sync(1)

    assert synced.cursor(1) == cursor
    assert synced.appointments(1)[changed][1] == "confirmed"
    status, reason, *_ = newest_run(synced, 1)
    assert status == "failed" and "/v1/practices/1/appointments" in reason and "503" in reason
    synced.api.faults.clear()
    outcome = synced.sync(1)  # the next run starts from the same cursor and finds the change
    assert outcome.since == cursor - timedelta(hours=1)
    assert outcome.tables["appointments"].updated == 1
    assert synced.appointments(1)[changed][1] == "cancelled"


def appointment_payload(doctolib, appointment_id: int) -> dict:
    return doctolib.world.appointment_json(doctolib.world.appointments[appointment_id])


def test_breaking_drift_fails_the_run_records_the_fields_and_applies_nothing(synced):
    world = synced.world
    ids = [a.id for a in world.appointments_of(1, None)][:4]
    unknown_status = appointment_payload(synced, ids[0]) | {"status": "rescheduled"}
    missing_patient = {k: v for k, v in appointment_payload(synced, ids[1]).items() if k != "patient"}
    retyped = appointment_payload(synced, ids[2]) | {"practice_id": "1"}
    valid_changed = appointment_payload(synced, ids[3]) | {
        "status": "no_show",
        "updated_at": "2027-01-01T00:00:00Z",
        "extra_field": 1,
    }
    synced.api.fail_requests("/v1/practices/1/appointments", 200, times=1).body = {
        "data": [unknown_status, missing_patient, retyped, valid_changed],
        "next_cursor": None,
    }
    cursor, before = synced.cursor(1), synced.appointments(1)

    with pytest.raises(ContractBreach) as raised:
        synced.sync(1)

    assert "3 record(s) broke the schema contract" in str(raised.value)
    assert synced.appointments(1) == before and synced.cursor(1) == cursor  # nothing applied
    drift = set(
        synced.query(
            "SELECT kind, field_path, error_type, row_count FROM sync.drift_events "
            "WHERE connector = 'doctolib' AND entity = 'appointments'"
        )
    )
    assert drift == {
        ("breaking", "status", "literal_error", 1),
        ("breaking", "patient", "missing", 1),
        ("breaking", "practice_id", "int_type", 1),
        ("additive", "extra_field", "unknown_field", 1),
    }
    assert newest_run(synced, 1)[0] == "failed"


def test_a_row_of_another_practice_is_never_stored(synced):
    other = next(a.id for a in synced.world.appointments_of(2, None))
    synced.api.fail_requests("/v1/practices/1/appointments", 200, times=1).body = {
        "data": [appointment_payload(synced, other) | {"status": "no_show"}],
        "next_cursor": None,
    }
    before = synced.appointments()

    with pytest.raises(ContractBreach):
        synced.sync(1)

    assert synced.appointments() == before
    assert synced.query("SELECT field_path, error_type, sample_record_ids FROM sync.drift_events") == [
        ("practice_id", "other_practice", [str(other)])
    ]


def test_a_full_refresh_removes_what_no_longer_exists_in_its_practice_only(synced):
    world = synced.world
    appointments_of = {}
    for a in world.appointments.values():
        appointments_of.setdefault(a.patient_id, []).append(a)
    lone = next(a for a in world.appointments_of(1, None) if len(appointments_of[a.patient_id]) == 1)
    other = next(a for a in world.appointments_of(1, None) if a.id != lone.id)
    world.hard_delete(lone.id)
    world.hard_delete(other.id)
    world.hard_delete(next(a.id for a in world.appointments_of(2, None)))  # not practice 1's business
    others = synced.appointments(2)

    incremental = synced.sync(1)
    assert incremental.tables["appointments"].deleted == 0 and lone.id in synced.appointments(1)

    full = synced.sync(1, full_refresh=True)

    assert full.since is None and full.mode == "full_refresh"
    assert full.tables["appointments"].deleted == 2 and full.tables["appointments"].count == len(
        world.appointments_of(1, None)
    )
    assert full.tables["patients"].deleted == 1  # the patient with no appointment left
    assert synced.query("SELECT count(*) FROM doctolib.patients WHERE id = %s", [lone.patient_id]) == [(0,)]
    assert stored_matches_sandbox(synced, 1)
    assert synced.appointments(2) == others  # practice 2's vanished row waits for practice 2's full refresh
    assert synced.query(
        "SELECT last_full_refresh_at IS NOT NULL FROM sync.cursors WHERE connector = 'doctolib' AND partition_key = '1'"
    ) == [(True,)]


def test_a_practice_reached_by_two_accounts_is_synced_once_through_the_chosen_one(doctolib):
    found = doctolib.discover()
    assert found.accounts == {
        "dentist_1": "dentist",
        "practice_1": "practice",
        "practice_2": "practice",
        "practice_3": "practice",
    }
    assert sorted(doctolib.query("SELECT account_name, practice_id FROM doctolib.account_practices")) == [
        ("dentist_1", 1),
        ("dentist_1", 2),
        ("practice_1", 1),
        ("practice_2", 2),
        ("practice_3", 3),
    ]
    # The practice profile is preferred to the dentist profile.
    assert found.sync_accounts == {1: "practice_1", 2: "practice_2", 3: "practice_3"}
    assert doctolib.sync(2).account == "practice_2"

    del doctolib.keys["practice_2"]  # the practice's own key is withdrawn: the dentist's is next
    found = doctolib.discover()
    assert found.sync_accounts[2] == "dentist_1" and found.vanished == []
    assert doctolib.query("SELECT status, status_reason FROM doctolib.accounts WHERE name = 'practice_2'") == [
        ("error", "DOCTOLIB_API_KEY_PRACTICE_2 is no longer set")
    ]
    again = doctolib.sync(2, full_refresh=True)
    assert again.account == "dentist_1"
    assert again.tables["appointments"].created == 0 and again.tables["appointments"].deleted == 0
    assert len(doctolib.appointments(2)) == len(doctolib.world.appointments_of(2, None))
    assert newest_run(doctolib, 2)[3] == "dentist_1"


def test_vanished_practices_are_reported_and_keep_their_rows(synced):
    del synced.keys["practice_3"]  # the only account reaching practice 3
    found = synced.discover()
    assert found.vanished == [3] and 3 not in found.practices
    assert len(synced.appointments(3)) == len(synced.world.appointments_of(3, None))
    assert synced.query("SELECT vanished_at IS NOT NULL FROM doctolib.practices WHERE id = 3") == [(True,)]
    synced.keys["practice_3"] = "practice-3-key"
    assert synced.discover().back == [3]


def test_a_refused_key_is_recorded_and_does_not_make_its_practices_vanish(doctolib):
    doctolib.discover()
    doctolib.keys["practice_3"] = "revoked-key"
    found = doctolib.discover()
    assert "HTTP 401" in found.failed_accounts["practice_3"]
    assert found.vanished == [] and 3 in found.practices  # unknown is not gone
    assert doctolib.query("SELECT status FROM doctolib.accounts WHERE name = 'practice_3'") == [("error",)]
    with pytest.raises(SyncSkipped, match="no account with an API key reaches practice 3"):
        doctolib.sync(3)
    status, reason, *_ = newest_run(doctolib, 3)
    assert status == "skipped" and "DOCTOLIB_API_KEY_<ACCOUNT>" in reason


def test_a_key_refused_during_a_run_hands_the_practice_to_the_next_account(synced):
    synced.keys["practice_1"] = "revoked-key"
    with pytest.raises(ApiError, match="HTTP 401"):
        synced.sync(1)
    assert synced.query("SELECT status FROM doctolib.accounts WHERE name = 'practice_1'") == [("error",)]
    assert synced.sync(1).account == "dentist_1"  # the retry goes through the dentist's profile


def test_without_keys_discovery_names_the_variable_to_set(doctolib):
    doctolib.keys.clear()
    with pytest.raises(ConfigurationError, match="DOCTOLIB_API_KEY_<ACCOUNT>"):
        doctolib.discover()


def test_a_second_run_of_the_same_practice_waits_for_the_first(synced):
    synced.world.cancel(next(a.id for a in synced.world.appointments_of(1, None) if a.status == "confirmed"))
    outcome: list = []
    with psycopg.connect(libpq_url(synced.database_url)) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(hashtextextended('doctolib:1', 0))")  # a run in progress
        worker = threading.Thread(target=lambda: outcome.append(synced.sync(1)))
        worker.start()
        deadline = time.monotonic() + 30
        while not synced.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"):
            assert time.monotonic() < deadline, "the second run never waited for the lock"
            time.sleep(0.05)
        assert not outcome  # waiting, not running alongside
        holder.rollback()
    worker.join(30)
    assert outcome and outcome[0].tables["appointments"].updated == 1
