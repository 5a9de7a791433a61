"""RDV Service Public under its rate limit: the shared budget against a sandbox that throttles the
way the API does (scaled to windows of two seconds), and organisation listings read once for the
accounts that share them."""

from __future__ import annotations

import pytest

from sync_assets.platform.merge import Stager
from sync_assets.rdvsp.resources import RdvspApiResource
from sync_assets.sandbox.faults import Fault
from sync_assets.sandbox.server import start_in_thread

PERIOD_S = 2.0
BUDGET, RDV_LISTING_BUDGET = 20, 8  # per window of PERIOD_S: 600 and 240 a minute
ORGANISATION_LISTINGS = 5  # motifs, lieux, agents, users, webhook endpoints


@pytest.fixture
def sandbox():
    running = start_in_thread(
        seed=7, scale=400, budget=BUDGET, budget_period=PERIOD_S, rdv_listing_budget=RDV_LISTING_BUDGET
    )
    yield running
    running.stop()


def budgets(rdvsp, per_minute: float, rdv_listing_per_minute: float):
    resource = RdvspApiResource(requests_per_minute=per_minute, rdv_listing_requests_per_minute=rdv_listing_per_minute)
    return resource.budgets(rdvsp.engine)


def per_minute(budget: int) -> float:
    return budget * 60 / PERIOD_S


def stored_rdvs(rdvsp, account_id: int) -> set[int]:
    return {r[0] for r in rdvsp.query("SELECT rdv_id FROM rdvsp.account_rdvs WHERE account_id = %s", [account_id])}


def visible_rdvs(rdvsp, agent_id: int) -> set[int]:
    world = rdvsp.world
    return set(world.rdv_listing(world.agents[agent_id], starts_after=None))


def test_a_sync_that_keeps_to_the_published_budget_is_never_throttled(connected):
    connected.sandbox.throttle.reset()
    shared = budgets(connected, per_minute(BUDGET), per_minute(RDV_LISTING_BUDGET))
    outcome = connected.sync(budget=shared)
    assert connected.sandbox.throttle.throttled == 0
    assert outcome.api_requests > BUDGET  # more than one window's worth: the pace, not luck, kept it under
    assert stored_rdvs(connected, 1) == visible_rdvs(connected, 1)
    assert shared._conn is None  # its connection closed with the client


def test_a_budget_above_the_real_one_is_lowered_by_the_429s_and_the_run_still_completes(connected):
    """We believe in 600 a minute; the API allows 300 (10 per window): its 429s are waited out
    without spending a retry attempt, the shared pace comes down, and the run says so."""
    connected.sandbox.throttle.budget = BUDGET // 2
    shared = budgets(connected, per_minute(BUDGET), per_minute(RDV_LISTING_BUDGET))
    outcome = connected.sync(budget=shared)
    assert connected.sandbox.throttle.throttled >= 1
    assert stored_rdvs(connected, 1) == visible_rdvs(connected, 1)
    [(detail,)] = connected.query("SELECT detail FROM sync.runs WHERE id = %s", [outcome.run_log_id])
    assert detail["throttled_429"] >= 1
    assert detail["budget_lowered_to_per_minute"]["rdvsp"] < per_minute(BUDGET)
    [(rate,)] = connected.query("SELECT rate_per_minute FROM sync.request_budgets WHERE name = 'rdvsp'")
    assert rate < per_minute(BUDGET) * 0.95


def test_an_organisation_s_own_listings_are_read_once_for_the_accounts_that_share_it(connected):
    world = connected.world
    organisations = sorted(world.agents[1].roles)
    connected.sync()  # installs our webhooks
    first = connected.sync()  # every listing, nothing to install
    assert first.organisations_reused == []
    second_admin = world.add_agent({organisation: "admin" for organisation in organisations})
    connected.connect(agent_id=second_admin.id)
    second = connected.sync(account_id=second_admin.id)
    assert second.organisations_reused == organisations
    assert first.api_requests - second.api_requests == ORGANISATION_LISTINGS * len(organisations)
    assert stored_rdvs(connected, second_admin.id) == visible_rdvs(connected, second_admin.id)
    # The same account again soon after reads them itself: what changed in its organisations is seen.
    motif = next(iter(world.motifs.values()))
    world.motifs[motif.id].name = "Atelier renommé"
    again = connected.sync(account_id=second_admin.id)
    assert again.organisations_reused == []
    assert connected.query("SELECT name FROM rdvsp.motifs WHERE id = %s", [motif.id]) == [("Atelier renommé",)]


def test_no_transaction_is_held_open_while_the_api_is_read(connected, monkeypatch):
    """Paced by the budget, a sync waits on the API for minutes: whenever the API is answering its
    RDV listings, none of the warehouse's connections is inside a transaction."""
    import psycopg

    from sync_assets.platform.warehouse import libpq_url

    seen: list[tuple[str, int]] = []

    def look() -> None:
        with psycopg.connect(libpq_url(connected.database_url), autocommit=True) as conn:
            seen.extend(
                conn.execute(
                    "SELECT state, count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend' GROUP BY state"
                ).fetchall()
            )

    connected.sync()  # a first sync, so that the second has rows to stage and merge
    # Small batches: rows reach the warehouse's stages while pages are still being read.
    monkeypatch.setattr("sync_assets.rdvsp.sync.Stager", lambda conn: Stager(conn, flush_rows=10))
    connected.sandbox.faults.add(Fault(kind="change", path="/api/v1/rdvs", action=look, times=-1))
    connected.sync()
    states = {state for state, _ in seen}
    assert states and "idle" in states  # the run's connections were there, waiting
    assert not {state for state in states if state.startswith("idle in transaction")}, seen
