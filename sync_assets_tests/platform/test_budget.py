"""Request budgets shared by every process (platform/budget.py), on a real PostgreSQL; and the
client waiting out a 429 without spending its retry attempts."""

from __future__ import annotations

import logging

import httpx
import pytest

from sync_assets.platform.budget import BURST, PACE, Budget, SharedBudgets
from sync_assets.platform.warehouse import libpq_url
from sync_assets.rdvsp.budget import budget_rule, configured_per_minute

from .test_http import Script, client_for, ok


def one_budget(per_minute: float):
    return lambda method, endpoint, params: [Budget("test", per_minute)]


def budgets(database_url: str, rule, waits: list[float]) -> SharedBudgets:
    """A process's view of the shared budgets; its waits are recorded, not slept."""
    return SharedBudgets(libpq_url(database_url), rule, sleep=waits.append)


def test_two_processes_share_one_pace(database_url):
    first_waits, second_waits = [], []
    first = budgets(database_url, one_budget(60), first_waits)
    second = budgets(database_url, one_budget(60), second_waits)
    for _ in range(10):
        first.take("GET", "/x", {})
        second.take("GET", "/x", {})
    burst = BURST
    assert burst == 1
    # 20 requests: the burst leaves at once, the others are promised one slot each at the pace.
    promised = sorted(first_waits + second_waits)
    assert len(promised) == 20 - burst
    assert promised[-1] == pytest.approx((20 - burst) * 60 / (60 * PACE), abs=0.5)
    assert max(first_waits) > 10 and max(second_waits) > 10  # neither process ran ahead alone


def test_a_429_lowers_the_shared_pace_and_holds_every_process_until_retry_after(database_url, caplog):
    waits: list[float] = []
    first, second = budgets(database_url, one_budget(60), waits), budgets(database_url, one_budget(60), waits)
    first.take("GET", "/x", {})
    first.throttled("GET", "/x", {}, retry_after_s=30)
    assert first.lowest_per_minute == {"test": pytest.approx(60 * PACE * 0.8)}
    assert "shared pace lowered" in caplog.text
    second.take("GET", "/x", {})  # another process
    assert waits[-1] >= 30
    [(rate, per_minute)] = query(database_url, "SELECT rate_per_minute, per_minute FROM sync.request_budgets")
    assert rate == pytest.approx(60 * PACE * 0.8) and per_minute == 60


def test_a_changed_budget_takes_effect_at_once(database_url):
    waits: list[float] = []
    budgets(database_url, one_budget(60), waits).throttled("GET", "/x", {}, retry_after_s=1)
    budgets(database_url, one_budget(120), waits).take("GET", "/x", {})
    assert query(database_url, "SELECT rate_per_minute FROM sync.request_budgets") == [(120 * PACE,)]


def test_without_the_warehouse_a_process_paces_itself_and_says_so_once(caplog):
    caplog.set_level(logging.WARNING)
    waits: list[float] = []
    alone = SharedBudgets("postgresql://nobody@127.0.0.1:9/none", one_budget(3000), sleep=waits.append)
    for _ in range(3):
        alone.take("GET", "/x", {})
    assert caplog.text.count("cannot be reached") == 1


def test_a_lifted_budget_is_paced_in_process_without_a_statement_per_request(caplog):
    caplog.set_level(logging.WARNING)
    lifted = SharedBudgets("postgresql://nobody@127.0.0.1:9/none", one_budget(600_000), sleep=[].append)
    for _ in range(3):
        lifted.take("GET", "/x", {})
    assert "cannot be reached" not in caplog.text  # the warehouse was never asked


def test_a_429_that_names_its_wait_is_waited_out_without_spending_an_attempt():
    script = Script(*[httpx.Response(429, headers={"Retry-After": "2"})] * 3, ok())
    client, sleeps = client_for(script, attempts=1)
    response, _ = client.request("GET", "/x")
    assert response.status_code == 200
    assert client.throttled == 3 and sleeps == [2, 2, 2]


def test_rdvsp_budgets_follow_the_published_throttles():
    rule = budget_rule(50, 20)
    assert [b.name for b in rule("GET", "/api/v1/motifs", {})] == ["rdvsp"]
    assert [b.name for b in rule("GET", "/api/v1/rdvs", {"organisation_id": 7})] == [
        "rdvsp",
        "rdvsp:rdvs:organisation:7",
    ]
    assert rule("POST", "/oauth/token", {}) == ()


@pytest.mark.parametrize("value", ["0", "-5", "fifty"])
def test_a_budget_that_is_not_a_positive_number_is_refused_with_its_variable(monkeypatch, value):
    from sync_assets.platform.errors import ConfigurationError

    monkeypatch.setenv("RDVSP_REQUESTS_PER_MINUTE", value)
    with pytest.raises(ConfigurationError, match="RDVSP_REQUESTS_PER_MINUTE"):
        configured_per_minute("RDVSP_REQUESTS_PER_MINUTE", 50)


def query(database_url: str, statement: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(libpq_url(database_url)) as conn:
        return conn.execute(statement).fetchall()
