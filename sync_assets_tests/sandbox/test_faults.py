"""The sandbox's fault injection, steered over HTTP (as from another process)."""

from __future__ import annotations

import httpx


def test_faults_are_added_listed_applied_and_cleared_over_http(sandbox):
    url = sandbox.base_url
    key = {"Authorization": "Bearer practice-1-key"}
    added = httpx.post(
        f"{url}/sandbox/faults",
        json={"kind": "status", "path": "/v1/practices", "status": 429, "retry_after": 2, "times": 1},
    )
    assert added.status_code == 201 and added.json()["hits"] == 0
    throttled = httpx.get(f"{url}/v1/practices", headers=key)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert httpx.get(f"{url}/v1/practices", headers=key).status_code == 200  # once only
    httpx.post(
        f"{url}/sandbox/faults", json={"kind": "drift", "path": "/v1/practices", "set_field": ["city", 75], "times": -1}
    )
    assert {p["city"] for p in httpx.get(f"{url}/v1/practices", headers=key).json()["data"]} == {75}
    assert [f["hits"] for f in httpx.get(f"{url}/sandbox/faults").json()["faults"]] == [1, 1]
    assert httpx.delete(f"{url}/sandbox/faults").json() == {"faults": []}
    assert all(isinstance(p["city"], str) for p in httpx.get(f"{url}/v1/practices", headers=key).json()["data"])


def test_a_malformed_fault_is_refused_with_the_reason(sandbox):
    for spec, reason in [
        ({"kind": "explode", "path": "/v1"}, "kind must be"),
        ({"kind": "status", "path": "v1"}, "path must be"),
        ({"kind": "status", "path": "/v1", "colour": "red"}, "unknown fault fields: colour"),
        ([1, 2], "a fault is a JSON object"),
    ]:
        response = httpx.post(f"{sandbox.base_url}/sandbox/faults", json=spec)
        assert response.status_code == 422 and reason in response.json()["error"]
    assert sandbox.faults.faults == []
