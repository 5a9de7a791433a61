"""The Doctolib sandbox keeps the contract of docs/doctolib-api.md: auth per key, cursor pages,
updated_since, rate limit per key, and changes at runtime."""

from __future__ import annotations

import httpx
import pytest

from sync_assets.sandbox.server import start_in_thread


@pytest.fixture(scope="module")
def doctolib():
    running = start_in_thread(seed=5, scale=50, doctolib_practices=3, doctolib_appointments=120)
    yield running
    running.stop()


def client(sandbox, key: str) -> httpx.Client:
    return httpx.Client(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {key}"})


def all_pages(http: httpx.Client, path: str, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        body = http.get(path, params={**params, **({"cursor": cursor} if cursor else {})}).json()
        items.extend(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_accounts_reach_their_practices_and_a_practice_is_reached_by_several(doctolib):
    with client(doctolib, "practice-2-key") as own, client(doctolib, "dentist-1-key") as dentist:
        assert own.get("/v1/account").json()["kind"] == "practice"
        assert [p["id"] for p in own.get("/v1/practices").json()["data"]] == [2]
        assert dentist.get("/v1/account").json()["kind"] == "dentist"
        assert [p["id"] for p in dentist.get("/v1/practices").json()["data"]] == [1, 2]
        assert own.get("/v1/practices/1/appointments").status_code == 404  # not this account's


def test_cursor_pages_list_every_appointment_once_and_updated_since_filters(doctolib):
    world = doctolib.doctolib.world
    expected = {a.id for a in world.appointments.values() if a.practice_id == 2}
    with client(doctolib, "practice-2-key") as http:
        listed = all_pages(http, "/v1/practices/2/appointments", limit=25)
        in_order = sorted(
            (a for a in world.appointments.values() if a.practice_id == 2), key=lambda a: (a.updated_at, a.id)
        )
        assert [a["id"] for a in listed] == [a.id for a in in_order]
        assert len(listed) == len(expected) and {a["id"] for a in listed} == expected
        changed = world.cancel(sorted(expected)[0])
        since = changed.updated_at.isoformat()
        recent = all_pages(http, "/v1/practices/2/appointments", updated_since=since)
        assert [a["id"] for a in recent] == [changed.id]
        assert recent[0]["status"] == "cancelled" and set(recent[0]["patient"]) == {
            "id",
            "first_name",
            "last_name",
            "birth_date",
            "phone",
            "email",
        }


def test_unknown_key_gets_401_and_a_busy_key_gets_429_with_retry_after(doctolib):
    assert httpx.get(f"{doctolib.base_url}/v1/practices", headers={"Authorization": "Bearer nope"}).status_code == 401
    limit = doctolib.doctolib.rate_limit
    limit.rate, limit.burst = 1.0, 2
    try:
        with client(doctolib, "practice-3-key") as http:
            statuses = [http.get("/v1/practices") for _ in range(4)]
        assert [r.status_code for r in statuses][:2] == [200, 200]
        refused = [r for r in statuses if r.status_code == 429]
        assert refused and int(refused[0].headers["Retry-After"]) >= 1
        with client(doctolib, "practice-1-key") as other:  # the limit is per key
            assert other.get("/v1/practices").status_code == 200
    finally:
        limit.rate, limit.burst = 200.0, 50


def test_changes_at_runtime_show_in_the_listing(doctolib):
    world = doctolib.doctolib.world
    with client(doctolib, "practice-3-key") as http:
        ids = [a["id"] for a in all_pages(http, "/v1/practices/3/appointments")]
        soft, hard, patched = ids[:3]
        assert http.patch(f"/sandbox/doctolib/appointments/{patched}", json={"status": "no_show"}).status_code == 200
        assert http.delete(f"/sandbox/doctolib/appointments/{soft}", params={"soft": 1}).status_code == 204
        assert http.delete(f"/sandbox/doctolib/appointments/{hard}").status_code == 204
        after = {a["id"]: a for a in all_pages(http, "/v1/practices/3/appointments")}
    assert hard not in after and hard not in world.appointments
    assert after[soft]["deleted_at"] is not None
    assert after[patched]["status"] == "no_show"
