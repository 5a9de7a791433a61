"""The write-back outbox: attendance statuses and RDV plans delivered to the sandbox over HTTP,
their outcomes recorded, webhooks that follow, failures, and a run that dies after the API answered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from sync_assets.platform.resources import WarehouseResource
from sync_assets.rdvsp.jobs import rdvsp_write_back_job
from sync_assets.rdvsp.schedules import rdvsp_write_requests
from sync_assets.rdvsp.write_back import WriteBack, WriteRequestFailed, queue_write_request, write_request
from sync_assets.sandbox.faults import Fault

from .conftest import SECRET_KEY
from .test_lifecycle import api_resource
from .test_webhooks import hooked, post, rdv_event  # noqa: F401  (fixture)


def deliver(rdvsp, request_ids=None):
    return WriteBack(rdvsp.engine, lambda account_id: rdvsp.client(account_id), emit=lambda _: None).run(request_ids)


def queue(rdvsp, kind: str, **payload) -> int:
    return queue_write_request(rdvsp.engine, rdvsp.account_id, kind, payload)


def an_rdv(rdvsp, status: str = "unknown", organisation_id: int = 100):
    return next(r for r in rdvsp.world.rdvs.values() if r.status == status and r.organisation_id == organisation_id)


@pytest.fixture
def synced(connected):
    connected.sync()
    return connected


# --- attendance statuses --------------------------------------------------------------------


def test_a_status_is_set_at_the_api_and_in_the_warehouse_at_once(synced):
    rdv = an_rdv(synced)
    request_id = queue(synced, "rdv_status", rdv_id=rdv.id, status="seen")
    report = deliver(synced)
    assert report.done == [request_id]
    assert synced.world.rdvs[rdv.id].status == "seen"  # at the API
    [(status, version)] = synced.query("SELECT status, last_event_at FROM rdvsp.rdvs WHERE id = %s", [rdv.id])
    assert status == "seen" and version is not None
    assert {s for (s,) in synced.query("SELECT status FROM rdvsp.participations WHERE rdv_id = %s", [rdv.id])} == {
        "seen"
    }
    done = write_request(synced.engine, request_id)
    assert (done.status, done.attempts, done.error, done.result) == (
        "done",
        1,
        None,
        {"rdv_id": rdv.id, "status": "seen"},
    )


def test_a_stale_webhook_after_a_written_back_status_changes_nothing_and_the_next_one_is_a_noop(hooked):
    rdv = an_rdv(hooked)
    before = rdv_event(hooked, rdv)  # computed before the change, delivered late
    hooked.sandbox.deliverer.hold_back = 10_000  # the webhook for our change waits
    queue(hooked, "rdv_status", rdv_id=rdv.id, status="noshow")
    assert deliver(hooked).done
    late = post(hooked, rdv.organisation_id, before)
    assert late.json()["status"] == "ignored"
    assert hooked.query("SELECT status FROM rdvsp.rdvs WHERE id = %s", [rdv.id]) == [("noshow",)]
    hooked.sandbox.deliverer.release()  # RDV Service Public's own webhook for the change
    assert hooked.sandbox.deliverer.wait_idle(30)
    [(status, reason)] = hooked.query(
        "SELECT status, status_reason FROM sync.webhook_inbox WHERE record_id = %s AND body_sha256 <> "
        "(SELECT body_sha256 FROM sync.webhook_inbox WHERE id = %s)",
        [str(rdv.id), late.json()["inbox_id"]],
    )
    rows = hooked.query("SELECT status, synced_at FROM rdvsp.rdvs WHERE id = %s", [rdv.id])
    assert rows[0][0] == "noshow"
    assert status in ("applied", "ignored")  # applied as a noop, or stale: either way nothing moved
    assert hooked.query("SELECT count(*) FROM rdvsp.rdvs WHERE id = %s AND synced_at > %s", [rdv.id, rows[0][1]]) == [
        (0,)
    ]


def test_a_refused_status_fails_with_its_reason_and_the_job_names_it(synced):
    missing = queue(synced, "rdv_status", rdv_id=999_999, status="seen")
    resources = {"warehouse": WarehouseResource(database_url=synced.database_url), "rdvsp": api_resource(synced)}
    result = rdvsp_write_back_job.execute_in_process(resources=resources, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert f"ids [{missing}]" in failure.step_failure_data.user_failure_data.description
    failed = write_request(synced.engine, missing)
    assert failed.status == "failed" and "refused with HTTP 404" in failed.error


def test_a_server_error_is_retried_and_a_status_twice_is_one_change(synced):
    rdv = an_rdv(synced)
    synced.sandbox.faults.add(Fault("status", f"/api/v1/rdvs/{rdv.id}/update_status", times=1, status=502))
    first = queue(synced, "rdv_status", rdv_id=rdv.id, status="seen")
    second = queue(synced, "rdv_status", rdv_id=rdv.id, status="seen")
    assert deliver(synced).done == [first, second]  # the client rode out the 502
    assert synced.world.rdvs[rdv.id].status == "seen"


def test_an_api_that_stays_down_leaves_the_request_pending_with_a_growing_delay(synced):
    synced.sandbox.faults.add(Fault("status", "/api/v1/rdvs/", times=-1, status=503))
    request_id = queue(synced, "rdv_status", rdv_id=an_rdv(synced).id, status="seen")
    report = deliver(synced)
    assert report.retrying == [request_id]
    pending = write_request(synced.engine, request_id)
    assert pending.status == "pending" and pending.attempts == 1 and "HTTP 503" in pending.error
    [(delay,)] = synced.query("SELECT next_attempt_at - sent_at FROM rdvsp.write_requests")
    assert timedelta(seconds=50) < delay < timedelta(minutes=2)
    assert deliver(synced).retrying == []  # not due yet


def test_a_bad_request_is_refused_when_inserted(synced):
    with pytest.raises(WriteRequestFailed, match="seen, noshow, excused, revoked"):
        queue(synced, "rdv_status", rdv_id=1, status="present")
    with pytest.raises(WriteRequestFailed, match="not both"):
        queue(synced, "rdv_plan", user_id=1, beneficiaire_id=2)


def test_the_sensor_asks_for_a_run_once_per_due_work(synced):
    resources = {"warehouse": WarehouseResource(database_url=synced.database_url), "rdvsp": api_resource(synced)}

    def tick():
        with (
            dg.instance_for_test() as instance,
            dg.build_sensor_context(instance=instance, resources=resources) as context,
        ):
            return rdvsp_write_requests(context)

    assert isinstance(tick(), dg.SkipReason)
    queue(synced, "rdv_status", rdv_id=an_rdv(synced).id, status="seen")
    first, again = tick(), tick()
    assert first.run_key == again.run_key and first.tags["sync_assets/requests_due"] == "1"
    queue(synced, "rdv_status", rdv_id=an_rdv(synced).id, status="excused")
    assert tick().run_key != first.run_key
    deliver(synced)
    assert isinstance(tick(), dg.SkipReason)


# --- RDV plans ------------------------------------------------------------------------------


def test_a_plan_for_a_user_is_stored_and_its_rdv_found_later(synced):
    user = next(u for u in synced.world.users.values() if 100 in u.organisation_ids)
    request_id = queue(synced, "rdv_plan", user_id=user.id, return_url="https://coop.example/beneficiaires/7")
    assert deliver(synced).done == [request_id]
    [plan] = synced.world.rdv_plans.values()
    assert (plan.user_id, plan.return_url) == (user.id, "https://coop.example/beneficiaires/7")
    result = write_request(synced.engine, request_id).result
    assert result["rdv_plan_id"] == plan.id and result["url"].endswith(f"/agents/rdv_plans/{plan.id}")
    assert synced.query("SELECT user_id, rdv_id, write_request_id FROM rdvsp.rdv_plans") == [
        (user.id, None, request_id)
    ]

    rdv = synced.world.book_rdv_plan(plan.id)  # the agent takes the RDV
    synced.execute("UPDATE rdvsp.rdv_plans SET next_check_at = now()")
    report = deliver(synced)
    assert (report.plans_checked, report.plans_with_rdv) == (1, 1)
    assert synced.query("SELECT rdv_id, next_check_at FROM rdvsp.rdv_plans") == [(rdv.id, None)]


def test_a_plan_for_a_beneficiary_makes_the_user_and_links_the_beneficiary(synced):
    [(beneficiaire_id,)] = synced.query(
        "INSERT INTO coop.beneficiaires (account_id, first_name, last_name, email, phone, address) VALUES "
        "(1, 'Maëlys', 'Ravelonanosy', 'maelys.r@example.org', '+33612345678', '3 rue des Lilas 35000 Rennes') "
        "RETURNING id"
    )
    users_before = set(synced.world.users)
    request_id = queue(synced, "rdv_plan", beneficiaire_id=beneficiaire_id)
    assert deliver(synced).done == [request_id]
    [new_user] = set(synced.world.users) - users_before
    made = synced.world.users[new_user]
    assert (made.first_name, made.last_name, made.email) == ("Maëlys", "Ravelonanosy", "maelys.r@example.org")
    assert synced.query("SELECT rdv_user_id FROM coop.beneficiaires WHERE id = %s", [beneficiaire_id]) == [(new_user,)]
    assert synced.query("SELECT last_name FROM rdvsp.users WHERE id = %s", [new_user]) == [("Ravelonanosy",)]
    assert synced.query("SELECT organisation_id FROM rdvsp.user_profiles WHERE user_id = %s", [new_user]) == [(100,)]
    stored = json.dumps(synced.query("SELECT payload, result, error FROM rdvsp.write_requests")[0], default=str)
    assert "Ravelonanosy" not in stored and "maelys" not in stored  # ids only in the outbox


def test_a_beneficiary_of_another_account_is_refused(synced):
    synced.connect(agent_id=2)
    [(beneficiaire_id,)] = synced.query(
        "INSERT INTO coop.beneficiaires (account_id, first_name, last_name) VALUES (2, 'A', 'B') RETURNING id"
    )
    synced.account_id = 1
    request_id = queue(synced, "rdv_plan", beneficiaire_id=beneficiaire_id)
    assert deliver(synced).failed == [request_id]
    assert "is not a beneficiary of account 1" in write_request(synced.engine, request_id).error
    assert synced.world.rdv_plans == {}


def test_a_plan_is_never_sent_twice_when_the_answer_is_lost(synced):
    """A 502 may come after the API made the plan: not retried, failed with the doubt said."""
    synced.sandbox.faults.add(Fault("status", "/api/v1/rdv_plans", times=1, status=502))
    user = next(iter(synced.world.users.values()))
    request_id = queue(synced, "rdv_plan", user_id=user.id)
    assert deliver(synced).failed == [request_id]
    failed = write_request(synced.engine, request_id)
    assert failed.attempts == 1 and "may have created the plan" in failed.error
    assert synced.sandbox.rdvsp.requested_paths.count("/api/v1/rdv_plans") == 0  # the fault answered; no retry


# --- a run that dies after the API answered ----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["rdv_status", "rdv_plan"])
def test_a_run_killed_after_the_api_answered_is_settled_by_the_next_run(synced, tmp_path, kind):
    """`sync-assets rdvsp set-status` / `plan`, killed (SIGKILL) once the API has answered and before
    the outcome is committed: the next run sends a status again, and never a plan twice."""
    rdv, user = an_rdv(synced), next(iter(synced.world.users.values()))
    s = synced.settings
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DAGSTER_POSTGRES_URL")}
    env.update(
        {
            "SYNC_DATABASE_URL": synced.database_url,
            "SYNC_LOCAL_DIR": str(tmp_path),
            "SYNC_SECRET_KEY": SECRET_KEY,
            "RDVSP_BASE_URL": s.base_url,
            "RDVSP_CLIENT_ID": s.client_id,
            "RDVSP_CLIENT_SECRET": s.client_secret,
        }
    )
    arguments = (
        ["set-status", "--rdv", str(rdv.id), "--status", "seen"]
        if kind == "rdv_status"
        else ["plan", "--user", str(user.id)]
    )
    command = subprocess.Popen(
        [str(Path(sys.executable).with_name("sync-assets")), "rdvsp", *arguments, "--account", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The request after the write (reading the RDV or the user back) comes once the API answered.
    after_the_write = "/api/v1/rdvs" if kind == "rdv_status" else f"/api/v1/users/{user.id}"
    sandbox = synced.sandbox.rdvsp

    def kill_once(path: str) -> None:
        if path == after_the_write and sandbox.before_request is not None:
            sandbox.before_request = None
            os.kill(command.pid, signal.SIGKILL)

    sandbox.before_request = kill_once
    command.wait(timeout=120)
    assert command.returncode == -signal.SIGKILL
    [(request_id, status, attempts)] = synced.query("SELECT id, status, attempts FROM rdvsp.write_requests")
    assert (status, attempts) == ("sending", 1)

    report = deliver(synced)
    assert report.interrupted == [request_id]
    settled = write_request(synced.engine, request_id)
    if kind == "rdv_status":  # at least once: sent again, and the same status twice is one change
        assert report.done == [request_id] and settled.attempts == 2
        assert sandbox.requested_paths.count(f"/api/v1/rdvs/{rdv.id}/update_status") == 2
        assert synced.query("SELECT status FROM rdvsp.rdvs WHERE id = %s", [rdv.id]) == [("seen",)]
    else:  # at most once: the plan exists once, and the request says it may
        assert settled.status == "failed" and "may have created the plan" in settled.error
        assert len(synced.world.rdv_plans) == 1 and settled.attempts == 1
