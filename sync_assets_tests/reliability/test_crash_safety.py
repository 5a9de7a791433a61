"""Crash safety: processes killed outright (SIGKILL) in the middle of their work.

- A sync process (the `sync-assets` command, running the Dagster job) killed between two pages:
  nothing of it is applied, its log row ends as `interrupted`, and the next run converges to
  the clean result.
- The webhook receiver killed during a burst: every delivery it acknowledged is in the
  warehouse, and the deliveries it did not acknowledge, sent again, are applied once.
- A run that fails after installing a webhook keeps the secret the API now signs with.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from sync_assets.platform.errors import SyncError
from sync_assets.rdvsp.receiver import signature_of
from sync_assets.sandbox.faults import Fault
from sync_assets.sandbox.server import free_port, start_in_thread

from ..doctolib.conformance import DoctolibHarness
from ..doctolib.conftest import Doctolib, environment_keys
from ..rdvsp.conformance import RdvspHarness
from ..rdvsp.conftest import SECRET_KEY, connected, rdvsp  # noqa: F401  (fixtures)
from ..rdvsp.test_webhooks import rdv_event, secret_of

COMMAND = str(Path(sys.executable).with_name("sync-assets"))


def command_environment(database_url: str, local_dir: Path, **variables: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("RDVSP_", "DOCTOLIB_", "DAGSTER_"))}
    return {
        **environment,
        "SYNC_DATABASE_URL": database_url,
        "SYNC_SECRET_KEY": SECRET_KEY,
        "SYNC_LOCAL_DIR": str(local_dir),
        **variables,
    }


def start(arguments: list[str], environment: dict[str, str]) -> subprocess.Popen:
    # A session of its own, so that the kill reaches every process it started.
    return subprocess.Popen(
        [COMMAND, *arguments], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)


def wait_for(condition, seconds: float, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the process ended before {what}: {err.decode()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def big_sandbox():
    """Doctolib practices of 1,200 appointments: three pages of 500, so a kill can fall between two."""
    running = start_in_thread(seed=7, scale=400, doctolib_appointments=1200)
    yield running
    running.stop()


def rdvsp_case(request, database_url, tmp_path):
    helper = request.getfixturevalue("connected")
    settings = helper.settings
    environment = command_environment(
        database_url,
        tmp_path,
        RDVSP_BASE_URL=settings.base_url,
        RDVSP_CLIENT_ID=settings.client_id,
        RDVSP_CLIENT_SECRET=settings.client_secret,
        RDVSP_WEBHOOK_URL=settings.webhook_url,
        RDVSP_REQUESTS_PER_MINUTE=os.environ["RDVSP_REQUESTS_PER_MINUTE"],
    )
    return RdvspHarness(helper), ["rdvsp", "sync", "--account", str(helper.account_id)], environment


def doctolib_case(request, database_url, tmp_path):
    sandbox = request.getfixturevalue("big_sandbox")
    helper = Doctolib(sandbox, database_url, environment_keys(sandbox))
    environment = command_environment(database_url, tmp_path, **sandbox.doctolib.environment(sandbox.base_url))
    return DoctolibHarness(helper), ["doctolib", "sync", "--practice", "1", "--full-refresh"], environment


def run_rows(runner) -> list[tuple[str, str | None]]:
    return runner.query(
        "SELECT status, error FROM sync.runs WHERE connector = %s AND partition_key = %s ORDER BY started_at",
        [runner.connector.name, runner.partition_key],
    )


@pytest.mark.slow
@pytest.mark.parametrize("connector", ["rdvsp", "doctolib"])
def test_a_sync_killed_between_two_pages_applies_nothing_and_the_next_run_converges(
    request, database_url, tmp_path, connector
):
    runner, arguments, environment = (rdvsp_case if connector == "rdvsp" else doctolib_case)(
        request, database_url, tmp_path
    )
    runner.run()  # a first, clean sync
    before, cursor = runner.digest(), runner.cursor()
    runner.change_source(1)
    # The second listing request hangs: the process has read a page and staged it, and waits.
    hang = runner.add_fault(dict(kind="timeout", after=1, seconds=5))
    process = start(arguments, environment)
    try:
        wait_for(lambda: hang.hits >= 1, 120, "the second page", process)
    finally:
        kill(process)
    runner.faults.clear()

    assert runner.digest() == before, "the killed run applied something"
    assert runner.cursor() == cursor
    assert run_rows(runner)[-1][0] == "running"  # nobody was left to write its end

    runner.run()  # the next run: the killed one's connection is gone, so nothing waits on its locks
    statuses = [status for status, _ in run_rows(runner)]
    assert statuses[-2:] == ["interrupted", "success"], statuses
    assert "stopped before it finished" in run_rows(runner)[-2][1]
    converged = runner.digest()
    assert converged != before  # the change made before the killed run is in
    assert runner.run(full=True).drift == 0
    assert runner.digest() == converged


def test_a_run_that_fails_after_installing_a_webhook_keeps_the_secret_the_api_signs_with(connected):
    runner = RdvspHarness(connected)
    runner.run()  # installs our endpoints, one secret per organisation
    secret_of(connected, 100)  # installed
    ours = next(e for e in connected.world.webhook_endpoints.values() if e.organisation_id == 100)
    ours.subscriptions = ["rdv"]  # someone edited it in RDV Service Public: the next run installs it again
    connected.sandbox.faults.add(Fault(kind="status", path="/api/v1/rdvs", status=503, times=-1))
    with pytest.raises(SyncError):
        runner.run()  # re-saves the endpoint with a new secret, then fails on the RDV listing
    connected.sandbox.faults.clear()

    def stored_secret() -> str:
        [(encrypted,)] = connected.query(
            "SELECT secret_encrypted FROM rdvsp.webhook_installations WHERE organisation_id = 100"
        )
        return connected.cipher.decrypt(encrypted)

    assert stored_secret() == secret_of(connected, 100)
    runner.run()
    assert stored_secret() == secret_of(connected, 100)


@pytest.mark.slow
def test_a_receiver_killed_during_a_burst_loses_no_acknowledged_delivery(connected, tmp_path):
    port = free_port()
    connected.settings = type(connected.settings)(
        **{**connected.settings.__dict__, "webhook_url": f"http://127.0.0.1:{port}/webhooks/rdvsp"}
    )
    connected.sync()  # installs the endpoints towards this receiver
    # The workers' metrics folder is made under TMPDIR; a killed command cannot remove it.
    environment = command_environment(connected.database_url, tmp_path, TMPDIR=str(tmp_path))
    arguments = ["webhooks", "serve", "--port", str(port), "--workers", "2"]
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    rdvs = [r for r in connected.world.rdvs.values() if r.organisation_id == 100][:150]
    secret = secret_of(connected, 100)
    deliveries = {}
    for n, rdv in enumerate(rdvs):
        body = rdv_event(connected, rdv)
        body["data"]["context"] = f"rafale {n}"
        deliveries[rdv.id] = json.dumps(body).encode()
    acknowledged: set[int] = set()
    lock = threading.Lock()

    def send(ids: list[int]) -> None:
        with httpx.Client(timeout=5) as client:
            for rdv_id in ids:
                raw = deliveries[rdv_id]
                try:
                    response = client.post(
                        f"{url}/webhooks/rdvsp/100",
                        content=raw,
                        headers={"X-Lapin-Signature": signature_of(secret, raw), "Content-Type": "application/json"},
                    )
                except httpx.HTTPError:
                    continue  # not acknowledged: the sender keeps it and tries again later
                if response.status_code == 200:
                    with lock:
                        acknowledged.add(rdv_id)

    process = start(arguments, environment)
    try:
        wait_for(healthy, 60, "the receiver", process)
        ids = list(deliveries)
        senders = [threading.Thread(target=send, args=(ids[i::4],)) for i in range(4)]
        for sender in senders:
            sender.start()
        wait_for(lambda: len(acknowledged) >= 40, 60, "40 acknowledged deliveries")
    finally:
        kill(process)  # mid-burst: requests in flight are cut
    for sender in senders:
        sender.join(timeout=60)
    assert 40 <= len(acknowledged) < len(deliveries)

    def stored() -> dict[int, str]:
        return dict(connected.query("SELECT id, context FROM rdvsp.rdvs WHERE id = ANY(%s)", [list(deliveries)]))

    expected = {rdv_id: json.loads(deliveries[rdv_id])["data"]["context"] for rdv_id in deliveries}
    after_kill = stored()
    assert {i: after_kill[i] for i in acknowledged} == {i: expected[i] for i in acknowledged}

    # The sender tries again what was not acknowledged (and, not knowing, some that were).
    process = start(arguments, environment)
    try:
        wait_for(healthy, 60, "the restarted receiver", process)
        send(sorted(set(deliveries) - acknowledged) + sorted(acknowledged)[:10])
    finally:
        kill(process)
    assert acknowledged == set(deliveries)
    assert stored() == expected
    [(applied, bodies)] = connected.query(
        "SELECT count(*) FILTER (WHERE status = 'applied'), count(DISTINCT body_sha256) FROM sync.webhook_inbox "
        "WHERE record_id = ANY(%s)",
        [[str(i) for i in deliveries]],
    )
    assert applied == bodies == len(deliveries)  # each delivery stored once, applied once
