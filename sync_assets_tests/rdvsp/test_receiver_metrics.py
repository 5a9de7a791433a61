"""The receiver's /metrics: deliveries posted over HTTP, then the scrape read as Prometheus does."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sync_assets.rdvsp import inbox
from sync_assets.rdvsp.receiver import signature_of
from sync_assets.rdvsp.receiver_metrics import model_label, shared_metrics_directory
from sync_assets.sandbox.server import free_port

from .test_webhooks import Receiver, hooked, post, rdv_event, secret_of  # noqa: F401  (fixture)

ABSENCE = {
    "data": {"id": 5, "title": "Congés"},
    "meta": {"model": "Absence", "event": "created", "timestamp": "2025-01-01T10:00:00.000+01:00"},
}
WEBINAIRE = {
    "data": {"id": 6, "title": "Atelier"},
    "meta": {"model": "Webinaire", "event": "created", "timestamp": "2025-01-01T10:00:00.000+01:00"},
}


def scrape(url: str) -> tuple[str, dict[str, list]]:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f.samples for f in text_string_to_metric_families(response.text)}
    return response.text, families


def deliveries(families) -> dict[tuple[str, str], float]:
    return {
        (s.labels["model"], s.labels["outcome"]): s.value
        for s in families["rdvsp_webhook_deliveries"]
        if s.name == "rdvsp_webhook_deliveries_total"
    }


def value(families, family: str, sample: str | None = None, **labels) -> float | None:
    for s in families.get(family, []):
        if s.name == (sample or family) and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def rdvs_of(hooked, organisation_id: int, count: int):
    return [r for r in hooked.world.rdvs.values() if r.organisation_id == organisation_id][:count]


def personal_data(hooked, rdvs) -> set[str]:
    users = [hooked.world.users[p.user_id] for rdv in rdvs for p in rdv.participations]
    return {v for u in users for v in (u.first_name, u.last_name, u.email) if v}


def test_metrics_count_deliveries_by_model_and_outcome(hooked):
    assert hooked.sandbox.deliverer.wait_idle(30)
    first, second = rdvs_of(hooked, 100, 2)
    assert post(hooked, 100, rdv_event(hooked, first)).json()["status"] == "applied"
    assert post(hooked, 100, rdv_event(hooked, second)).json()["status"] == "applied"
    twice = rdv_event(hooked, first)
    twice["data"]["context"] = "envoyé deux fois"
    raw = json.dumps(twice).encode()
    assert post(hooked, 100, None, raw=raw).json()["status"] == "applied"  # a third event, sent twice
    assert post(hooked, 100, None, raw=raw).json()["status"] == "duplicate"
    assert post(hooked, 100, rdv_event(hooked, first), secret="forged").status_code == 401
    assert post(hooked, 100, rdv_event(hooked, first), secret=False).status_code == 401
    assert post(hooked, 100, None, raw=b"{" + b" " * (3 * 1024 * 1024) + b"}").status_code == 413
    assert post(hooked, 100, None, raw=b'{"data": {"first_name": "Gwendoline"').status_code == 400
    assert post(hooked, 100, ABSENCE).json()["status"] == "ignored"
    assert post(hooked, 100, WEBINAIRE).json()["status"] == "ignored"

    text, families = scrape(hooked.receiver.url)

    assert deliveries(families) == {
        ("Rdv", "applied"): 3,
        ("Rdv", "duplicate"): 1,
        ("unknown", "unauthorised"): 2,
        ("unknown", "oversized"): 1,
        ("unknown", "rejected"): 1,
        ("Absence", "ignored"): 1,
        ("other", "ignored"): 1,
    }
    assert value(families, "rdvsp_webhook_apply_seconds", "rdvsp_webhook_apply_seconds_count") == 3
    assert value(families, "rdvsp_webhook_inbox_backlog") == 0
    age = value(families, "rdvsp_webhook_last_delivery_age_seconds", organisation_id="100")
    assert age is not None and 0 <= age < 60
    assert "Webinaire" not in text and "Gwendoline" not in text
    leaked = {v for v in personal_data(hooked, [first, second]) if v in text}
    assert not leaked


def test_the_backlog_counts_failed_events_due_for_a_retry(hooked, monkeypatch):
    rdv = rdvs_of(hooked, 100, 1)[0]
    monkeypatch.setattr(inbox, "apply_event", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("hiccup")))
    assert post(hooked, 100, rdv_event(hooked, rdv)).json()["status"] == "failed"
    _, families = scrape(hooked.receiver.url)
    assert deliveries(families) == {("Rdv", "failed"): 1}
    assert value(families, "rdvsp_webhook_apply_seconds", "rdvsp_webhook_apply_seconds_count") == 0
    assert value(families, "rdvsp_webhook_inbox_backlog") == 0  # its retry is 30 s away
    hooked.execute("UPDATE sync.webhook_inbox SET next_attempt_at = now()")
    _, families = scrape(hooked.receiver.url)
    assert value(families, "rdvsp_webhook_inbox_backlog") == 1
    monkeypatch.undo()
    inbox.retry_due_events(hooked.engine)
    _, families = scrape(hooked.receiver.url)
    assert value(families, "rdvsp_webhook_inbox_backlog") == 0


def test_a_restarted_receiver_still_shows_the_age_of_the_last_delivery(hooked):
    """An organisation that went silent before a restart is not lost from sight."""
    post(hooked, 100, rdv_event(hooked, rdvs_of(hooked, 100, 1)[0]))
    [(received_at,)] = hooked.query("SELECT extract(epoch FROM received_at) FROM sync.webhook_inbox")
    restarted = Receiver(hooked, free_port())
    try:
        _, families = scrape(restarted.url)
    finally:
        restarted.stop()
    assert families["rdvsp_webhook_deliveries"] == []  # nothing counted by this process
    timestamp = value(families, "rdvsp_webhook_last_delivery_timestamp_seconds", organisation_id="100")
    assert timestamp == pytest.approx(float(received_at), abs=0.01)
    age = value(families, "rdvsp_webhook_last_delivery_age_seconds", organisation_id="100")
    assert age is not None and age == pytest.approx(time.time() - float(received_at), abs=30)


def test_model_labels_are_bounded():
    assert [model_label(m) for m in ("Rdv", "AgentRole", "Absence", "Webinaire", "", None)] == [
        "Rdv",
        "AgentRole",
        "Absence",
        "other",
        "other",
        "unknown",
    ]


def test_the_workers_metrics_folder(monkeypatch, tmp_path):
    given = tmp_path / "given"
    given.mkdir()
    (given / "counter_4242.db").write_bytes(b"from a previous run")
    (given / "notes.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(given))
    with shared_metrics_directory(workers=4):
        assert sorted(p.name for p in given.iterdir()) == ["notes.txt"]  # only the metrics' files
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    with shared_metrics_directory(workers=1):
        assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ  # one process keeps them in memory
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with shared_metrics_directory(workers=2):
        made = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        assert made.parent == tmp_path and made.is_dir()
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ and not made.exists()


@pytest.mark.slow
def test_the_serve_command_adds_up_the_workers_metrics(hooked, tmp_path):
    """`sync-assets webhooks serve --workers 2`: whichever worker answers, /metrics counts all."""
    import subprocess
    import sys

    from .conftest import SECRET_KEY

    port, temporary = free_port(), tmp_path / "tmp"
    temporary.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        "SYNC_DATABASE_URL": hooked.database_url,
        "SYNC_SECRET_KEY": SECRET_KEY,
        "SYNC_LOCAL_DIR": str(tmp_path),
        "TMPDIR": str(temporary),  # where the command makes the workers' metrics folder
    }
    command = [str(Path(sys.executable).with_name("sync-assets")), "webhooks", "serve", "--port", str(port)]
    process = subprocess.Popen([*command, "--workers", "2"], env=env, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    rdvs = rdvs_of(hooked, 100, 40)
    try:
        wait_for(f"{url}/health")
        posted = post_at_once(url, hooked, rdvs)
        counting = sorted(p.name for p in temporary.glob("sync-assets-metrics-*/counter_*.db"))
        scrapes = [scrape(url)[1] for _ in range(4)]  # answered by either worker
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert posted == len(rdvs), err.decode()[-2000:]
    assert len(counting) == 2  # both workers counted deliveries
    for families in scrapes:
        assert deliveries(families) == {("Rdv", "applied"): len(rdvs)}
        assert value(families, "rdvsp_webhook_apply_seconds", "rdvsp_webhook_apply_seconds_count") == len(rdvs)
        assert value(families, "rdvsp_webhook_last_delivery_age_seconds", organisation_id="100") is not None
    assert not list(temporary.iterdir())  # the folder went with the command


def wait_for(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout_s} s")


def post_at_once(url: str, hooked, rdvs) -> int:
    """Deliveries from eight threads, each on a connection of its own: both workers accept some."""
    from concurrent.futures import ThreadPoolExecutor

    secret = secret_of(hooked, 100)

    def send(rdv) -> bool:
        raw = json.dumps(rdv_event(hooked, rdv)).encode()
        headers = {"X-Lapin-Signature": signature_of(secret, raw), "Content-Type": "application/json"}
        return httpx.post(f"{url}/webhooks/rdvsp/100", content=raw, headers=headers, timeout=30).status_code == 200

    with ThreadPoolExecutor(8) as pool:
        return sum(pool.map(send, rdvs))
