"""Webhooks end to end: the sandbox delivers signed events over HTTP to the receiver."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import uvicorn

from sync_assets.platform.observability import get_logger
from sync_assets.platform.warehouse import engine_for
from sync_assets.rdvsp import inbox
from sync_assets.rdvsp.receiver import build_receiver, signature_of
from sync_assets.sandbox.rdvsp_world import PARIS
from sync_assets.sandbox.server import free_port


class Receiver:
    def __init__(self, rdvsp, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        # The engine `sync-assets webhooks serve` uses.
        app = build_receiver(engine_for(rdvsp.database_url, low_latency=True), rdvsp.cipher, rdvsp.settings)
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def hooked(rdvsp):
    """A connected account, a receiver, and endpoints installed by a first polling sync."""
    port = free_port()
    rdvsp.settings = type(rdvsp.settings)(
        **{**rdvsp.settings.__dict__, "webhook_url": f"http://127.0.0.1:{port}/webhooks/rdvsp"}
    )
    receiver = Receiver(rdvsp, port)
    rdvsp.connect()
    rdvsp.sync()
    rdvsp.receiver = receiver
    yield rdvsp
    receiver.stop()


def secret_of(rdvsp, organisation_id: int) -> str:
    endpoint = next(e for e in rdvsp.world.webhook_endpoints.values() if e.organisation_id == organisation_id)
    return endpoint.secret


def post(rdvsp, organisation_id, body, secret=None, signature=None, raw: bytes | None = None):
    raw = raw if raw is not None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if signature is None and secret is not False:
        signature = signature_of(secret or secret_of(rdvsp, organisation_id), raw)
    if signature:
        headers["X-Lapin-Signature"] = signature
    return httpx.post(f"{rdvsp.receiver.url}/webhooks/rdvsp/{organisation_id}", content=raw, headers=headers)


def rdv_event(rdvsp, rdv, event="updated", at: datetime | None = None, reason=None):
    return {
        "data": rdvsp.world.rdv_json(rdv),
        "meta": {
            "model": "Rdv",
            "event": event,
            "webhook_reason": reason,
            "timestamp": (at or datetime.now(timezone.utc)).astimezone(PARIS).isoformat(timespec="milliseconds"),
        },
    }


def warehouse_rdvs(rdvsp):
    return {r[0]: r[1:] for r in rdvsp.query("SELECT id, status, starts_at, organisation_id FROM rdvsp.rdvs")}


def world_rdvs(rdvsp):
    return {r.id: (r.status, r.starts_at, r.organisation_id) for r in rdvsp.world.rdvs.values()}


def inbox_rows(rdvsp):
    return rdvsp.query("SELECT model, event, status, status_reason FROM sync.webhook_inbox ORDER BY id")


def test_changes_reach_the_warehouse_through_webhooks_alone(hooked):
    world = hooked.world
    api_calls = hooked.sandbox.rdvsp.api_requests
    ids = sorted(world.rdvs)
    created = [world.create_rdv(organisation_id=100), world.create_rdv(organisation_id=101)]
    world.update_rdv(ids[0], status="revoked" if world.rdvs[ids[0]].status != "revoked" else "seen")
    world.update_rdv(ids[1], starts_at=datetime(2026, 12, 24, 10, 0, tzinfo=PARIS))
    world.cancel_rdv(ids[2])
    world.delete_rdv(ids[3])
    user = world.create_user(organisation_id=100)
    renamed = world.update_user(next(iter(world.users)), first_name="Nouveau-Prénom")
    assert hooked.sandbox.deliverer.wait_idle(30)
    assert hooked.sandbox.deliverer.stats.abandoned == 0
    assert hooked.sandbox.rdvsp.api_requests == api_calls  # no polling: webhooks alone

    assert warehouse_rdvs(hooked) == world_rdvs(hooked)
    participations = {(p.id, r.id, p.user_id, p.status) for r in world.rdvs.values() for p in r.participations}
    assert set(hooked.query("SELECT id, rdv_id, user_id, status FROM rdvsp.participations")) == participations
    assert hooked.query("SELECT first_name FROM rdvsp.users WHERE id = %s", [user.id]) == [(user.first_name,)]
    assert hooked.query("SELECT first_name FROM rdvsp.users WHERE id = %s", [renamed.id]) == [("Nouveau-Prénom",)]
    assert {r[2] for r in inbox_rows(hooked)} == {"applied"}
    # Agent 1 (the connected account) is not among the new RDVs' agents: no link yet. The next
    # poll, where agent 1 lists them as administrator, links them and deletes nothing.
    created_ids = [r.id for r in created]
    assert hooked.query("SELECT count(*) FROM rdvsp.account_rdvs WHERE rdv_id = ANY(%s)", [created_ids]) == [(0,)]
    outcome = hooked.sync()
    assert outcome.tables["rdvs"].deleted == 0 and outcome.tables["rdvs"].created == 0
    assert hooked.query("SELECT count(*) FROM rdvsp.account_rdvs WHERE rdv_id = ANY(%s)", [created_ids]) == [(2,)]
    assert warehouse_rdvs(hooked) == world_rdvs(hooked)


def test_an_rdv_is_linked_to_every_connected_account_among_its_agents(hooked):
    world = hooked.world
    rdv = next(r for r in world.rdvs.values() if r.organisation_id == 100 and len(r.agent_ids) == 2)
    for agent_id in rdv.agent_ids:
        hooked.connect(agent_id=agent_id)
    world.update_rdv(rdv.id, context="deux agents")
    assert hooked.sandbox.deliverer.wait_idle(30)
    links = {r[0] for r in hooked.query("SELECT account_id FROM rdvsp.account_rdvs WHERE rdv_id = %s", [rdv.id])}
    assert set(rdv.agent_ids) <= links


def test_a_missing_or_forged_signature_is_refused_and_changes_nothing(hooked):
    rdv = next(r for r in hooked.world.rdvs.values() if r.organisation_id == 100)
    body = rdv_event(hooked, rdv)
    body["data"]["status"] = "revoked"
    before = warehouse_rdvs(hooked)
    assert post(hooked, 100, body, secret=False).status_code == 401
    assert post(hooked, 100, body, signature="0" * 64).status_code == 401
    assert post(hooked, 100, body, secret="not-the-secret").status_code == 401
    assert post(hooked, 100, body, secret=secret_of(hooked, 101)).status_code == 401  # another endpoint's secret
    assert warehouse_rdvs(hooked) == before
    assert inbox_rows(hooked) == []


def test_an_organisations_secret_cannot_change_another_organisation(hooked):
    other = next(r for r in hooked.world.rdvs.values() if r.organisation_id == 101)
    body = rdv_event(hooked, other)
    body["data"]["status"] = "revoked"
    before = warehouse_rdvs(hooked)
    response = post(hooked, 100, body)  # validly signed by organisation 100, about organisation 101
    assert response.status_code == 403
    assert warehouse_rdvs(hooked) == before
    [(model, event, status, reason)] = inbox_rows(hooked)
    assert status == "rejected" and "organisation 101" in reason


def test_a_duplicate_delivery_is_applied_once(hooked):
    rdv = next(r for r in hooked.world.rdvs.values() if r.organisation_id == 100)
    body = rdv_event(hooked, rdv)
    body["data"]["context"] = "nouvelle note"
    first, second = post(hooked, 100, body), post(hooked, 100, body)
    assert (first.status_code, first.json()["status"]) == (200, "applied")
    assert (second.status_code, second.json()["status"]) == (200, "duplicate")
    assert len(inbox_rows(hooked)) == 1
    assert hooked.query("SELECT context FROM rdvsp.rdvs WHERE id = %s", [rdv.id]) == [("nouvelle note",)]


def test_an_older_event_never_overwrites_a_newer_one(hooked):
    rdv = next(r for r in hooked.world.rdvs.values() if r.organisation_id == 100)
    now = datetime.now(timezone.utc)
    older, newer = (
        rdv_event(hooked, rdv, at=now + timedelta(seconds=1)),
        rdv_event(hooked, rdv, at=now + timedelta(seconds=2)),
    )
    older["data"]["status"], newer["data"]["status"] = "seen", "revoked"
    assert post(hooked, 100, newer).json()["status"] == "applied"
    assert post(hooked, 100, older).json()["status"] == "ignored"
    assert hooked.query("SELECT status FROM rdvsp.rdvs WHERE id = %s", [rdv.id]) == [("revoked",)]
    assert "newer state" in inbox_rows(hooked)[-1][3]


def test_deliveries_shuffled_and_duplicated_end_in_the_api_state(hooked):
    world, deliverer = hooked.world, hooked.sandbox.deliverer
    deliverer.hold_back, deliverer.duplicate_rate = 12, 0.5
    rdv_id = next(r.id for r in world.rdvs.values() if r.organisation_id == 100)
    for n, status in enumerate(["seen", "noshow", "excused", "seen", "revoked", "unknown"] * 2):
        world.update_rdv(rdv_id, status=status, context=f"version {n}")
        time.sleep(0.002)  # distinct event times
    deliverer.release()
    assert deliverer.wait_idle(30)
    assert hooked.query("SELECT status, context FROM rdvsp.rdvs WHERE id = %s", [rdv_id]) == [("unknown", "version 11")]


def test_destroying_an_unknown_record_is_a_2xx_no_op(hooked):
    body = {
        "data": {"id": 987654321},
        "meta": {"model": "Rdv", "event": "destroyed", "timestamp": "2025-01-01T10:00:00.000+01:00"},
    }
    response = post(hooked, 100, body)
    assert response.status_code == 200 and response.json()["status"] == "applied"
    user_body = {
        "data": {"id": 987654321},
        "meta": {"model": "User", "event": "destroyed", "timestamp": "2025-01-01T10:00:00.000+01:00"},
    }
    assert post(hooked, 100, user_body).status_code == 200


def test_rgpd_destruction_removes_the_rdv_and_its_participations(hooked):
    world = hooked.world
    old = min(world.rdvs.values(), key=lambda r: r.starts_at)
    world.delete_rdv(old.id, reason="rgpd")
    assert hooked.sandbox.deliverer.wait_idle(30)
    assert hooked.query("SELECT count(*) FROM rdvsp.rdvs WHERE id = %s", [old.id]) == [(0,)]
    assert hooked.query("SELECT count(*) FROM rdvsp.participations WHERE rdv_id = %s", [old.id]) == [(0,)]
    assert "purge" in hooked.query("SELECT status_reason FROM sync.webhook_inbox ORDER BY id DESC LIMIT 1")[0][0]


def test_malformed_and_oversized_bodies(hooked):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    get_logger("sync_assets").addHandler(handler)
    try:
        raw = b'{"data": {"first_name": "Gwendoline", "email": "gwendoline@exemple.fr"'  # truncated
        response = post(hooked, 100, None, raw=raw)
        assert response.status_code == 400
        not_an_event = post(hooked, 100, {"hello": "world"})
        assert not_an_event.status_code == 400
    finally:
        get_logger("sync_assets").removeHandler(handler)
    rows = hooked.query("SELECT status, raw_body IS NOT NULL, status_reason FROM sync.webhook_inbox ORDER BY id")
    assert rows[0][:2] == ("rejected", True) and "not valid JSON" in rows[0][2]
    assert rows[1][0] == "rejected"
    assert "Gwendoline" not in stream.getvalue() and "exemple.fr" not in stream.getvalue()
    huge = b"{" + b" " * (3 * 1024 * 1024) + b"}"
    assert post(hooked, 100, None, raw=huge).status_code == 413


def test_models_not_synced_are_ignored_with_a_reason(hooked):
    body = {
        "data": {"id": 5, "title": "Congés"},
        "meta": {"model": "Absence", "event": "created", "timestamp": "2025-01-01T10:00:00.000+01:00"},
    }
    response = post(hooked, 100, body)
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert "not synced" in inbox_rows(hooked)[0][3]


def test_an_event_that_fails_stays_in_the_inbox_and_is_retried(hooked, monkeypatch):
    rdv = next(r for r in hooked.world.rdvs.values() if r.organisation_id == 100)
    body = rdv_event(hooked, rdv)
    body["data"]["context"] = "après une panne"
    original = inbox.apply_event

    def broken(*args, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(inbox, "apply_event", broken)
    response = post(hooked, 100, body)
    assert response.status_code == 200 and response.json()["status"] == "failed"  # durably stored
    [(status, reason, attempts, due)] = hooked.query(
        "SELECT status, status_reason, attempts, next_attempt_at > now() FROM sync.webhook_inbox"
    )
    assert (status, attempts, due) == ("failed", 1, True) and "database hiccup" in reason
    monkeypatch.setattr(inbox, "apply_event", original)
    assert inbox.retry_due_events(hooked.engine).retried == 0  # not due yet
    hooked.execute("UPDATE sync.webhook_inbox SET next_attempt_at = now()")
    report = inbox.retry_due_events(hooked.engine)
    assert (report.retried, report.applied) == (1, 1)
    assert hooked.query("SELECT context FROM rdvsp.rdvs WHERE id = %s", [rdv.id]) == [("après une panne",)]


def test_retries_give_up_after_the_last_attempt(hooked, monkeypatch):
    rdv = next(r for r in hooked.world.rdvs.values() if r.organisation_id == 100)
    monkeypatch.setattr(inbox, "apply_event", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("always")))
    post(hooked, 100, rdv_event(hooked, rdv))
    given_up = []
    for _ in range(inbox.MAX_ATTEMPTS):
        hooked.execute("UPDATE sync.webhook_inbox SET next_attempt_at = now() WHERE next_attempt_at IS NOT NULL")
        given_up += inbox.retry_due_events(hooked.engine).given_up
    assert len(given_up) == 1
    assert hooked.query("SELECT status, attempts, next_attempt_at FROM sync.webhook_inbox") == [
        ("failed", inbox.MAX_ATTEMPTS, None)
    ]


def test_a_receiver_restarted_mid_burst_loses_nothing(hooked):
    world, deliverer = hooked.world, hooked.sandbox.deliverer
    ids = sorted(world.rdvs)[:40]
    for n, rdv_id in enumerate(ids[:20]):
        world.update_rdv(rdv_id, context=f"avant {n}")
    hooked.receiver.stop()  # the receiver goes down mid-burst
    for n, rdv_id in enumerate(ids[20:]):
        world.update_rdv(rdv_id, context=f"pendant {n}")
    time.sleep(0.3)
    hooked.receiver = Receiver(hooked, hooked.receiver.port)  # back on the same address
    assert deliverer.wait_idle(60)
    assert deliverer.stats.abandoned == 0
    expected = {i: world.rdvs[i].context for i in ids}
    assert dict(hooked.query("SELECT id, context FROM rdvsp.rdvs WHERE id = ANY(%s)", [ids])) == expected
    acknowledged = deliverer.stats.sent
    assert hooked.query("SELECT count(*) FROM sync.webhook_inbox WHERE status = 'applied'")[0][0] >= len(ids)
    assert acknowledged >= len(ids)


def test_the_receiver_serves_the_oauth_callback_of_connect(rdvsp):
    """`rdvsp connect` in one process, the browser coming back to the webhook server."""
    from sync_assets.rdvsp.oauth import RdvspSettings, connect

    port = free_port()
    rdvsp.settings = RdvspSettings(
        rdvsp.settings.base_url,
        rdvsp.settings.client_id,
        rdvsp.settings.client_secret,
        redirect_uri=f"http://127.0.0.1:{port}/oauth/rdvsp/callback",
    )
    receiver = Receiver(rdvsp, port)  # holds the redirect URI's address
    shown, result = [], {}
    try:
        thread = threading.Thread(
            target=lambda: result.update(
                account=connect(
                    rdvsp.engine,
                    rdvsp.settings,
                    rdvsp.cipher,
                    sync_from=datetime.now().date(),
                    unattended=False,
                    show=shown.append,
                )
            )
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not shown and time.monotonic() < deadline:
            time.sleep(0.02)
        browser = httpx.get(shown[0].split()[-1], follow_redirects=True, timeout=10)
        thread.join(timeout=15)
    finally:
        receiver.stop()
    assert "account 1 connected" in browser.text
    assert result["account"].account_id == 1
    assert rdvsp.query("SELECT status FROM rdvsp.accounts") == [("active",)]
    assert rdvsp.query("SELECT account_id, completed_at IS NOT NULL FROM rdvsp.pending_authorizations") == [(1, True)]


@pytest.mark.slow
def test_the_serve_command_receives_webhooks(hooked, tmp_path):
    """`sync-assets webhooks serve` as an operator runs it, in its own process."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from .conftest import SECRET_KEY

    port = free_port()
    env = {
        **os.environ,
        "SYNC_DATABASE_URL": hooked.database_url,
        "SYNC_SECRET_KEY": SECRET_KEY,
        "SYNC_LOCAL_DIR": str(tmp_path),
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("sync-assets")), "webhooks", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        rdv = next(r for r in hooked.world.rdvs.values() if r.organisation_id == 100)
        body = rdv_event(hooked, rdv)
        body["data"]["context"] = "par le serveur"
        raw = json.dumps(body).encode()
        response = httpx.post(
            f"http://127.0.0.1:{port}/webhooks/rdvsp/100",
            content=raw,
            headers={
                "X-Lapin-Signature": signature_of(secret_of(hooked, 100), raw),
                "Content-Type": "application/json",
            },
        )
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert response.status_code == 200, err.decode()[-2000:]
    assert hooked.query("SELECT context FROM rdvsp.rdvs WHERE id = %s", [rdv.id]) == [("par le serveur",)]
    assert b"OAuth callback disabled" in err  # RDVSP_* unset: webhooks still served, and it says so


def test_user_profiles_and_agent_roles_come_and_go(hooked):
    world = hooked.world
    user, agent = next(iter(world.users.values())), world.agents[10]
    at = "2030-01-01T10:00:00.000+01:00"
    profile = {"organisation": world.organisation_json(world.organisations[100]), "user": world.user_json(user)}
    role = {
        "organisation": world.organisation_json(world.organisations[100]),
        "agent": world.agent_json(agent),
        "access_level": "admin",
    }
    hooked.execute("DELETE FROM rdvsp.user_profiles WHERE user_id = %s AND organisation_id = 100", [user.id])
    assert (
        post(
            hooked, 100, {"data": profile, "meta": {"model": "UserProfile", "event": "created", "timestamp": at}}
        ).status_code
        == 200
    )
    assert hooked.query(
        "SELECT count(*) FROM rdvsp.user_profiles WHERE user_id = %s AND organisation_id = 100", [user.id]
    ) == [(1,)]
    assert (
        post(
            hooked, 100, {"data": role, "meta": {"model": "AgentRole", "event": "updated", "timestamp": at}}
        ).status_code
        == 200
    )
    assert hooked.query("SELECT access_level FROM rdvsp.agent_roles WHERE agent_id = 10 AND organisation_id = 100") == [
        ("admin",)
    ]
    for model, data in (("UserProfile", profile), ("AgentRole", role)):
        post(hooked, 100, {"data": data, "meta": {"model": model, "event": "destroyed", "timestamp": at}})
    assert hooked.query(
        "SELECT count(*) FROM rdvsp.user_profiles WHERE user_id = %s AND organisation_id = 100", [user.id]
    ) == [(0,)]
    assert hooked.query("SELECT count(*) FROM rdvsp.agent_roles WHERE agent_id = 10 AND organisation_id = 100") == [
        (0,)
    ]


def test_a_delivery_after_postgres_closed_the_receivers_connections_is_stored(hooked):
    """The receiver does not test connections before use: it retries on a new one instead."""
    rdvs = [r for r in hooked.world.rdvs.values() if r.organisation_id == 100][:2]
    first = rdv_event(hooked, rdvs[0])
    first["data"]["context"] = "avant"
    assert post(hooked, 100, first).status_code == 200
    closed = hooked.query(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )[0][0]
    assert closed >= 1  # the receiver's pooled connection among them
    second = rdv_event(hooked, rdvs[1])
    second["data"]["context"] = "après"
    response = post(hooked, 100, second)
    assert response.status_code == 200, response.text
    assert hooked.query("SELECT context FROM rdvsp.rdvs WHERE id = %s", [rdvs[1].id]) == [("après",)]
