"""RDV Service Public's throttling in the sandbox (sandbox/throttle.py), over real HTTP, with a
fake clock; the `sandbox` command's throttle options; extra agents (`RdvspWorld.add_agent`)."""

from __future__ import annotations

import httpx
import pytest
import uvicorn

from sync_assets.cli import main
from sync_assets.sandbox import server
from sync_assets.sandbox.rdvsp_world import RdvspWorld
from sync_assets.sandbox.server import start_in_thread

ERROR_BODY = b'{"errors":["Limite d\'appels API atteinte. Merci de patienter."]}'


class FakeClock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _started(**throttle):
    running = start_in_thread(seed=3, scale=120, doctolib_practices=1, doctolib_appointments=10, **throttle)
    token = running.rdvsp.oauth.issue(1)["access_token"]  # agent 1: admin of every organisation
    client = httpx.Client(base_url=running.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return running, client


@pytest.fixture
def throttled():
    """A sandbox allowing 3 requests a minute on /api/v1/ and 2 RDV listings per organisation."""
    running, client = _started(budget=3, budget_period=60, rdv_listing_budget=2)
    clock = running.throttle.clock = FakeClock(60 * 1000 + 15.5)  # 15.5 s into a window
    yield running, client, clock
    client.close()
    running.stop()


def assert_throttled(response: httpx.Response, limit: int, retry_after: int) -> None:
    assert response.status_code == 429
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["RateLimit-Limit"] == str(limit)
    assert response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["Retry-After"] == str(retry_after)
    assert response.content == ERROR_BODY


def test_the_request_over_the_budget_gets_429_until_the_next_window(throttled):
    sandbox, client, clock = throttled
    for _ in range(3):
        answer = client.get("/api/v1/agents/me")
        assert answer.status_code == 200
        assert not [h for h in answer.headers if h.lower().startswith("ratelimit")]
    assert_throttled(client.get("/api/v1/agents/me"), limit=3, retry_after=45)  # ceil(60 - 15.5)
    clock.now += 30
    assert_throttled(client.get("/api/v1/organisations"), limit=3, retry_after=15)  # every path of /api/v1/
    clock.now = 60 * 1001  # the next window
    assert [client.get("/api/v1/agents/me").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert sandbox.throttle.stats() == {"requests": 9, "throttled": 3, "throttled_by": {"api": 3, "rdv_listing": 0}}
    sandbox.throttle.reset()
    assert client.get("/api/v1/agents/me").status_code == 200
    assert sandbox.throttle.stats() == {"requests": 1, "throttled": 0, "throttled_by": {"api": 0, "rdv_listing": 0}}


def test_unauthenticated_requests_count_too(throttled):
    sandbox, client, _ = throttled
    assert [httpx.get(f"{sandbox.base_url}/api/v1/agents/me").status_code for _ in range(3)] == [401] * 3
    assert client.get("/api/v1/agents/me").status_code == 429


def test_rdv_listings_are_limited_per_organisation(throttled):
    sandbox, client, _ = throttled
    sandbox.throttle.budget = 100  # only the listing throttle matters here
    first, second = sorted(sandbox.world.organisations)[:2]
    assert [client.get("/api/v1/rdvs", params={"organisation_id": first}).status_code for _ in range(2)] == [200] * 2
    assert_throttled(client.get("/api/v1/rdvs", params={"organisation_id": first}), limit=2, retry_after=45)
    # Another organisation has its own count; the organisation's RDVs path is not `api/v1/rdvs`.
    assert [client.get("/api/v1/rdvs", params={"organisation_id": second}).status_code for _ in range(2)] == [200] * 2
    assert client.get("/api/v1/rdvs", params={"organisation_id": second}).status_code == 429
    assert client.get(f"/api/v1/organisations/{first}/rdvs").status_code == 200
    assert client.get("/api/v1/agents/me").status_code == 200
    assert sandbox.throttle.throttled_by == {"api": 0, "rdv_listing": 2}


def test_fractional_periods_and_the_least_retry_after():
    running, client = _started(budget=2, budget_period=0.25)
    try:
        running.throttle.clock = FakeClock(100.2)  # 0.05 s before the window's end
        assert [client.get("/api/v1/agents/me").status_code for _ in range(2)] == [200, 200]
        assert_throttled(client.get("/api/v1/agents/me"), limit=2, retry_after=1)
        running.throttle.clock.now = 100.25
        assert client.get("/api/v1/agents/me").status_code == 200
    finally:
        client.close()
        running.stop()


def test_doctolib_oauth_and_controls_are_never_throttled(throttled):
    sandbox, client, _ = throttled
    doctolib_key = next(iter(sandbox.doctolib.world.accounts))
    for _ in range(5):
        assert httpx.get(
            f"{sandbox.base_url}/v1/practices", headers={"Authorization": f"Bearer {doctolib_key}"}
        ).is_success
        assert httpx.get(f"{sandbox.base_url}/sandbox/state").is_success
        assert httpx.get(f"{sandbox.base_url}/sandbox/faults").is_success
        token = httpx.post(f"{sandbox.base_url}/oauth/token", data={"grant_type": "refresh_token"})
        assert token.status_code != 429
    assert [client.get("/api/v1/agents/me").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_without_a_budget_nothing_is_throttled(sandbox):
    assert sandbox.throttle is None
    token = sandbox.rdvsp.oauth.issue(1)["access_token"]
    with httpx.Client(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {token}"}) as client:
        organisation = min(sandbox.world.organisations)
        for _ in range(30):
            assert client.get("/api/v1/rdvs", params={"organisation_id": organisation}).status_code == 200


# --- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, message",
    [
        (["--rdv-listing-budget", "20"], "--rdv-listing-budget needs --budget"),
        (["--budget-period", "12"], "--budget-period needs --budget"),
        (["--budget", "0"], "expected a positive whole number, got '0'"),
        (["--budget", "ten"], "expected a positive whole number"),
        (["--budget", "5", "--rdv-listing-budget", "-1"], "expected a positive whole number, got '-1'"),
        (["--budget", "5", "--budget-period", "0"], "expected a positive number of seconds, got '0'"),
        (["--budget", "5", "--budget-period", "soon"], "expected a positive number of seconds"),
        (["--budget", "5", "--budget-period", "nan"], "expected a positive number of seconds"),
    ],
)
def test_the_sandbox_command_refuses_bad_throttle_options(capsys, options, message):
    with pytest.raises(SystemExit) as exit:
        main(["sandbox", *options])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_sandbox_command_passes_the_throttle_on_and_says_it(monkeypatch, capsys):
    built = []

    def build(**kwargs):
        sandbox = build_sandbox(**kwargs)
        built.append(sandbox)
        return sandbox

    build_sandbox = server.build_sandbox
    monkeypatch.setattr(server, "build_sandbox", build)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: None)
    small = ["--port", "0", "--scale", "20", "--doctolib-practices", "1", "--doctolib-appointments", "5"]
    try:
        options = ["--budget", "50", "--budget-period", "60", "--rdv-listing-budget", "20"]
        assert main(["sandbox", *small, *options]) == 0
        throttle = built[-1].throttle
        assert (throttle.budget, throttle.period, throttle.rdv_listing_budget) == (50, 60.0, 20)
        out = capsys.readouterr().out
        assert (
            "throttling /api/v1/: 50 requests per 60 s per client IP; "
            "RDV listings: 20 per 60 s per IP and organisation" in out
        )
        assert main(["sandbox", *small, "--budget", "10", "--budget-period", "12.5"]) == 0
        throttle = built[-1].throttle
        assert (throttle.budget, throttle.period, throttle.rdv_listing_budget) == (10, 12.5, None)
        assert "throttling /api/v1/: 10 requests per 12.5 s per client IP\n" in capsys.readouterr().out
        assert main(["sandbox", *small]) == 0
        assert built[-1].throttle is None and "not throttled" in capsys.readouterr().out
    finally:
        for sandbox in built:
            sandbox.stop()


# --- extra agents ---------------------------------------------------------------------------------


def test_added_agents_share_organisations_with_their_access_levels():
    world = RdvspWorld(seed=4, scale=300)
    first, second = sorted(world.organisations)
    before = {a.id: world.rdv_listing(a) for a in world.agents.values()}
    seeded = {r.id: (r.organisation_id, r.starts_at, r.status) for r in world.rdvs.values()}

    basic = world.add_agent({first: "basic", second: "admin"})
    other = world.add_agent({first: "basic"})
    admin = world.add_agent({first: "admin"})
    assert (basic.id, other.id, admin.id) == (max(before) + 1, max(before) + 2, max(before) + 3)
    assert basic.roles == {first: "basic", second: "admin"} and basic.email != other.email

    of_first = sorted(r.id for r in world.rdvs.values() if r.organisation_id == first)
    mine = [r for r in of_first if basic.id in world.rdvs[r].agent_ids]
    assert mine == of_first[basic.id % 3 :: 3]  # every third RDV of the organisation where it is basic
    assert not set(mine) & {r for r in of_first if other.id in world.rdvs[r].agent_ids}
    listed = world.rdv_listing(basic)
    of_second = {r.id for r in world.rdvs.values() if r.organisation_id == second}
    assert set(listed) == set(mine) | of_second  # its own RDVs where basic, all of them where admin
    assert set(world.rdv_listing(basic, organisation_id=first)) == set(mine)
    assert set(world.rdv_listing(admin)) == set(of_first)
    assert world.rdv_listing(admin) == world.rdv_listing(world.agents[1], organisation_id=first)

    # What was there before sees the same RDVs, and the seed's data is untouched.
    for agent_id, rows in before.items():
        assert set(world.rdv_listing(world.agents[agent_id])) == set(rows)
    assert before[1] == world.rdv_listing(world.agents[1])
    assert {r.id: (r.organisation_id, r.starts_at, r.status) for r in world.rdvs.values()} == seeded
    fresh = RdvspWorld(seed=4, scale=300, anchor=world.anchor)
    assert {a.id: (a.email, a.roles) for a in fresh.agents.values()} == {
        a.id: (a.email, a.roles) for a in world.agents.values() if a.id in before
    }
    with pytest.raises(ValueError, match="admin"):
        world.add_agent({first: "owner"})
    with pytest.raises(ValueError, match="no organisation 9"):
        world.add_agent({9: "basic"})


def test_an_added_basic_agent_sees_only_its_rdvs_over_http(sandbox):
    organisation = min(sandbox.world.organisations)
    basic = sandbox.world.add_agent({organisation: "basic"})
    admin = sandbox.world.add_agent({organisation: "admin"})

    def listed(agent) -> set[int]:
        token = sandbox.rdvsp.oauth.issue(agent.id)["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        ids, page = set(), 1
        while page:
            body = httpx.get(
                f"{sandbox.base_url}/api/v1/rdvs",
                params={"organisation_id": organisation, "page": page},
                headers=headers,
            ).json()
            ids |= {r["id"] for r in body["rdvs"]}
            page = body["meta"]["next_page"]
        return ids

    of_organisation = {r.id for r in sandbox.world.rdvs.values() if r.organisation_id == organisation}
    theirs = {r.id for r in sandbox.world.rdvs.values() if basic.id in r.agent_ids}
    assert theirs and theirs < of_organisation
    assert listed(basic) == theirs
    assert listed(admin) == of_organisation
