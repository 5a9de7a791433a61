"""Hostile input on the webhook receiver: whatever arrives, no 5xx (which would make the sender
retry it for ever), nothing applied that should not be, and no statement built from input."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from sync_assets.rdvsp.receiver import MAX_BODY_BYTES, signature_of
from sync_assets.sandbox.faults import each_item

from ..doctolib.conformance import DoctolibHarness
from ..rdvsp.conformance import RdvspHarness
from ..rdvsp.conftest import connected, rdvsp  # noqa: F401  (fixtures)
from ..rdvsp.test_webhooks import hooked, post, rdv_event, secret_of, warehouse_rdvs  # noqa: F401

SQL_LOOKING = "Robert'); DROP TABLE rdvsp.rdvs; -- \" OR 1=1; SELECT pg_sleep(5); $$ \\x00"
VERY_LONG = "é" * 20_000


# Free-text fields of an RDV event, and the statement reading the column that keeps each (its
# parameter: the id at the path's parent in the event).
FREE_TEXT_COLUMNS = {
    ("context",): "SELECT context FROM rdvsp.rdvs WHERE id = %s",
    ("motif", "name"): "SELECT name FROM rdvsp.motifs WHERE id = %s",
    ("participations", 0, "user", "last_name"): "SELECT last_name FROM rdvsp.users WHERE id = %s",
}


def parent_id(data: dict, path: tuple) -> int:
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    return parent["id"]


def an_rdv(hooked, organisation_id: int = 100):
    return next(r for r in hooked.world.rdvs.values() if r.organisation_id == organisation_id)


def inbox(hooked) -> list[tuple]:
    return hooked.query("SELECT status, status_reason FROM sync.webhook_inbox ORDER BY id")


def string_leaves(value, path=()):
    """The paths of every string in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from string_leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_leaves(item, (*path, index))
    elif isinstance(value, str):
        yield path


def replaced(value, path, new):
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy


def test_a_replayed_delivery_is_applied_once_and_never_undoes_a_later_change(hooked):
    rdv = an_rdv(hooked)
    now = datetime.now(timezone.utc)
    first = rdv_event(hooked, rdv, at=now)
    first["data"]["context"] = "premier"
    later = rdv_event(hooked, rdv, at=now + timedelta(seconds=5))
    later["data"]["context"] = "second"
    raw_first = json.dumps(first).encode()
    signature = signature_of(secret_of(hooked, 100), raw_first)
    assert post(hooked, 100, None, raw=raw_first, signature=signature).json()["status"] == "applied"
    assert post(hooked, 100, later).json()["status"] == "applied"
    replay = post(hooked, 100, None, raw=raw_first, signature=signature)  # the same bytes, the same signature
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    assert hooked.query("SELECT context FROM rdvsp.rdvs WHERE id = %s", [rdv.id]) == [("second",)]
    # The same signed bytes sent to another organisation's endpoint: that secret did not sign them.
    assert post(hooked, 101, None, raw=raw_first, signature=signature).status_code == 401
    # An old event sent again with a new body (a re-sign is only possible with the secret) still
    # loses against the later one: events are applied by their own time, not their arrival.
    first["data"]["agents"] = first["data"]["agents"]  # a new body, same event time
    first["meta"]["webhook_reason"] = "replay"
    assert post(hooked, 100, first).json()["status"] == "ignored"
    assert hooked.query("SELECT context FROM rdvsp.rdvs WHERE id = %s", [rdv.id]) == [("second",)]


def test_oversized_bodies_are_refused_whether_announced_or_streamed(hooked):
    before = warehouse_rdvs(hooked)
    url = f"{hooked.receiver.url}/webhooks/rdvsp/100"
    announced = httpx.post(url, content=b" " * (MAX_BODY_BYTES + 1), headers={"X-Lapin-Signature": "0" * 64})
    assert announced.status_code == 413

    def chunks():  # no Content-Length: the limit holds on what is read
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    streamed = httpx.post(url, content=chunks(), headers={"X-Lapin-Signature": "0" * 64})
    assert streamed.status_code == 413
    assert warehouse_rdvs(hooked) == before and inbox(hooked) == []


@pytest.mark.parametrize("depth", [64, 100_000])
def test_deeply_nested_json_is_rejected_without_a_server_error(hooked, depth):
    raw = b'{"data": ' + b"[" * depth + b"]" * depth + b', "meta": {"model": "Rdv", "event": "updated"}}'
    response = post(hooked, 100, None, raw=raw)
    assert response.status_code == 400, response.text
    [(status, reason)] = inbox(hooked)
    assert status == "rejected" and "nested" in reason


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]
)
def test_the_content_type_is_not_trusted_the_signed_body_is(hooked, content_type):
    rdv = an_rdv(hooked)
    event = rdv_event(hooked, rdv)
    event["data"]["context"] = f"reçu en {content_type}"
    raw = json.dumps(event).encode()
    headers = {"X-Lapin-Signature": signature_of(secret_of(hooked, 100), raw)}
    if content_type:
        headers["Content-Type"] = content_type
    url = f"{hooked.receiver.url}/webhooks/rdvsp/100"
    assert httpx.post(url, content=raw, headers=headers).status_code == 200  # an authentic event
    form = b"data=1&meta=2"
    form_headers = {**headers, "X-Lapin-Signature": signature_of(secret_of(hooked, 100), form)}
    assert httpx.post(url, content=form, headers=form_headers).status_code == 400  # not JSON: rejected
    assert hooked.query("SELECT context FROM rdvsp.rdvs WHERE id = %s", [rdv.id]) == [(f"reçu en {content_type}",)]


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"model": "Rdv", "event": "archived"}, 400),
        ({"model": "Planning", "event": "created"}, 200),
        ({"model": ["Rdv"], "event": "updated"}, 400),
        ({"model": "Rdv", "event": "updated", "timestamp": "hier"}, 400),
        ({"model": "Rdv'; DROP TABLE rdvsp.rdvs; --", "event": "updated"}, 200),
    ],
)
def test_unknown_models_and_events_are_answered_and_change_nothing(hooked, meta, expected):
    rdv = an_rdv(hooked)
    body = {"data": {**hooked.world.rdv_json(rdv), "status": "revoked"}, "meta": meta}
    before = warehouse_rdvs(hooked)
    response = post(hooked, 100, body)
    assert response.status_code == expected, response.text
    assert response.json()["status"] in ("rejected", "ignored")
    assert warehouse_rdvs(hooked) == before
    [(status, reason)] = inbox(hooked)
    assert status in ("rejected", "ignored") and reason


@pytest.mark.parametrize(
    "hostile",
    [SQL_LOOKING, VERY_LONG, "\u0000nul\u0000", "\ud800"[:0] + "😀\u202e\u200b"],
    ids=["sql-looking", "very-long", "nul-characters", "unicode-controls"],
)
def test_hostile_strings_in_every_text_field_are_stored_verbatim_or_refused(hooked, hostile):
    """Each string of an RDV event replaced in turn: stored exactly as sent (free text), or the
    event is refused by its contract (ids, dates, statuses); never a 5xx, never a changed schema."""
    rdv = an_rdv(hooked)
    template = rdv_event(hooked, rdv)
    template["data"]["context"] = "une note"  # null in the sandbox's RDV: make it a string to replace
    started = datetime.now(timezone.utc)
    outcomes = {}
    expected = hostile.replace("\u0000", "\ufffd")  # PostgreSQL cannot hold NUL (see load_json)
    for n, path in enumerate(string_leaves(template["data"])):
        event = replaced(template, ("data", *path), hostile)
        event["meta"]["timestamp"] = (started + timedelta(milliseconds=n + 1)).isoformat()
        began = time.monotonic()
        response = post(hooked, 100, event)
        assert response.status_code < 500, (path, response.text)
        assert time.monotonic() - began < 4, f"{path}: the request took as long as the pg_sleep it carried"
        status = response.json()["status"]
        outcomes[path] = status
        if status == "applied":  # the event is kept as sent, and free text reaches its column as sent
            [(body,)] = hooked.query("SELECT body FROM sync.webhook_inbox ORDER BY id DESC LIMIT 1")
            kept = body["data"]
            for step in path:
                kept = kept[step]
            assert kept == expected, path
            if path in FREE_TEXT_COLUMNS:
                stored = hooked.query(FREE_TEXT_COLUMNS[path], [parent_id(template["data"], path)])
                assert stored == [(expected,)], path
    assert {p for p, status in outcomes.items() if status == "applied"} >= set(FREE_TEXT_COLUMNS)
    assert hooked.query("SELECT count(*) FROM rdvsp.rdvs")[0][0] > 0  # the table is still there
    assert hooked.query(
        "SELECT count(*) FROM sync.webhook_inbox WHERE status NOT IN ('applied', 'ignored', 'failed', 'rejected')"
    ) == [(0,)]


@pytest.mark.parametrize("harness", [RdvspHarness, DoctolibHarness], ids=["rdvsp", "doctolib"])
def test_a_nul_character_in_a_polled_text_field_does_not_fail_the_sync(request, harness):
    """PostgreSQL text cannot hold NUL: without care, one user's address would fail every sync."""
    runner = harness.build(request)
    text = "avant\u0000après"
    if harness is RdvspHarness:
        change, stored = each_item(lambda rdv: rdv.__setitem__("context", text)), "rdvsp.rdvs WHERE context = %s"
    else:
        change = each_item(lambda appointment: appointment["patient"].__setitem__("first_name", text))
        stored = "doctolib.patients WHERE first_name = %s"
    fault = runner.add_fault(dict(kind="drift", transform=change, times=-1))
    runner.run()  # succeeds
    assert fault.hits >= 1
    assert runner.query(f"SELECT count(*) FROM {stored}", ["avant\ufffdaprès"])[0][0] > 0


# --- Forged floods --------------------------------------------------------------------------


def test_a_forged_request_costs_one_hmac_at_most_whatever_the_number_of_organisations(hooked, monkeypatch):
    """50 more organisations with endpoints: a forged body still meets one secret (the URL's), none
    for an organisation without an endpoint or a path without one, and never on the event loop."""
    from sync_assets.rdvsp import receiver

    hooked.execute(
        "INSERT INTO rdvsp.webhook_installations (organisation_id, status, secret_encrypted) "
        "SELECT g, 'installed', %s FROM generate_series(1000, 1049) g",
        [hooked.cipher.encrypt("other")],
    )
    checks: list[str] = []
    real = receiver.signature_of

    def counted(secret: str, raw: bytes) -> str:
        checks.append(threading.current_thread().name)
        return real(secret, raw)

    monkeypatch.setattr(receiver, "signature_of", counted)
    forged = b'{"data": {"id": 1}, "meta": {"model": "Rdv", "event": "updated"}}'
    headers = {"X-Lapin-Signature": "0" * 64}
    time.sleep(1.1)  # past the secret book's reload delay for a miss: the 50 new secrets are read
    assert httpx.post(f"{hooked.receiver.url}/webhooks/rdvsp/100", content=forged, headers=headers).status_code == 401
    assert httpx.post(f"{hooked.receiver.url}/webhooks/rdvsp/1020", content=forged, headers=headers).status_code == 401
    assert len(checks) == 2  # one secret each: 100's, then 1020's
    assert httpx.post(f"{hooked.receiver.url}/webhooks/rdvsp/5", content=forged, headers=headers).status_code == 401
    assert httpx.post(f"{hooked.receiver.url}/webhooks/rdvsp", content=forged, headers=headers).status_code == 404
    assert httpx.post(f"{hooked.receiver.url}/webhooks/rdvsp/100", content=forged).status_code == 401  # unsigned
    assert len(checks) == 2  # no secret tried for an organisation without one, nor without a path or signature
    assert hooked.receiver.thread.name not in checks  # the event loop's thread never computed one
    assert hooked.query("SELECT count(*) FROM sync.webhook_inbox") == [(0,)]


def test_refusals_are_logged_together_not_one_line_each(hooked, caplog):
    forged = b'{"data": {}, "meta": {}}'
    with caplog.at_level(logging.DEBUG, logger="sync_assets.rdvsp.receiver"):
        for n in range(30):
            httpx.post(
                f"{hooked.receiver.url}/webhooks/rdvsp/{100 + n % 2}",
                content=forged,
                headers={"X-Lapin-Signature": f"{n:064x}"},
            )
    warnings = [r for r in caplog.records if r.name == "sync_assets.rdvsp.receiver" and r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "webhook deliveries refused (further refusals are counted and logged once a minute)"
    ]
    assert sum(1 for r in caplog.records if r.getMessage() == "webhook refused") == 30  # DEBUG only


def test_the_refusal_count_is_logged_once_an_interval(caplog):
    from sync_assets.rdvsp.receiver import Refusals

    now = [0.0]
    refusals = Refusals(interval_s=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="sync_assets.rdvsp.receiver"):
        for second in range(0, 130, 2):  # 65 refusals over 130 s
            now[0] = float(second)
            refusals.note("wrong signature" if second % 4 else "missing signature", 100)
    logged = [r.refused for r in caplog.records]
    assert len(logged) == 3  # at 0 s, 60 s and 120 s
    assert sum(sum(counts.values()) for counts in logged) == 61  # the 4 after 120 s wait for the next line
    assert sum(refusals.total.values()) == 65
