"""RDV listings shared between accounts that see the same RDVs of an organisation: after both have
listed them in full once, the second account of a round takes the first one's read once one page
confirms the count; an account that sees other RDVs (a basic agent) always lists its own."""

from __future__ import annotations

import json

import pytest

from sync_assets.rdvsp.inbox import receive
from sync_assets.sandbox.faults import Fault
from sync_assets.sandbox.server import start_in_thread


@pytest.fixture
def sandbox():
    running = start_in_thread(seed=7, scale=1500)  # several pages of RDVs per organisation
    yield running
    running.stop()


class RdvListingRequests:
    """Counts the requests of RDV listings the sandbox answers."""

    def __init__(self, sandbox) -> None:
        self.count = 0
        sandbox.faults.add(Fault(kind="change", path="/api/v1/rdvs", action=self.seen, times=-1))

    def seen(self) -> None:
        self.count += 1

    def during(self, sync) -> tuple[int, object]:
        before = self.count
        outcome = sync()
        return self.count - before, outcome


def account_rdvs(rdvsp, account_id: int) -> set[int]:
    return {r[0] for r in rdvsp.query("SELECT rdv_id FROM rdvsp.account_rdvs WHERE account_id = %s", [account_id])}


def visible_rdvs(rdvsp, agent_id: int) -> set[int]:
    world = rdvsp.world
    return set(world.rdv_listing(world.agents[agent_id], starts_after=None))


def peers(rdvsp, organisation_id: int) -> dict[int, list[int]]:
    rows = rdvsp.query(
        "SELECT account_id, peers FROM rdvsp.rdv_listing_reads WHERE organisation_id = %s", [organisation_id]
    )
    return {account: sorted(of) for account, of in rows}


@pytest.fixture
def three_accounts(connected):
    """Account 1 (admin of every organisation), a second admin of them all, and a basic agent of the
    first organisation; each has listed its RDVs in full once."""
    world = connected.world
    organisations = sorted(world.agents[1].roles)
    admin = world.add_agent({organisation: "admin" for organisation in organisations})
    basic = world.add_agent({organisations[0]: "basic"})
    for agent in (admin, basic):
        connected.connect(agent_id=agent.id)
    for account in (1, admin.id, basic.id):
        connected.sync(account_id=account)
    return connected, organisations, admin.id, basic.id


def test_accounts_are_peers_where_they_listed_the_same_rdvs(three_accounts):
    rdvsp, organisations, admin, basic = three_accounts
    first = organisations[0]
    assert peers(rdvsp, first) == {1: [admin], admin: [1], basic: []}
    for organisation in organisations[1:]:
        assert peers(rdvsp, organisation) == {1: [admin], admin: [1]}


def test_a_peer_s_read_is_taken_after_one_page_and_gives_the_same_rows(three_accounts):
    rdvsp, organisations, admin, basic = three_accounts
    requests = RdvListingRequests(rdvsp.sandbox)
    # The admin ran after account 1: account 1's read is older than the admin's last run, not taken.
    in_full, listed = requests.during(lambda: rdvsp.sync(account_id=admin))
    assert listed.rdv_listings_shared == {}
    taken, outcome = requests.during(lambda: rdvsp.sync(account_id=1))
    assert outcome.rdv_listings_shared == {organisation: admin for organisation in organisations}
    assert taken == len(organisations) < in_full  # one page per organisation, where listing took more
    assert account_rdvs(rdvsp, 1) == visible_rdvs(rdvsp, 1) == account_rdvs(rdvsp, admin)
    assert outcome.rdvs_listed == outcome.warehouse_rdvs == len(visible_rdvs(rdvsp, 1))
    [(detail,)] = rdvsp.query("SELECT detail FROM sync.runs WHERE id = %s", [outcome.run_log_id])
    assert detail["rdv_listings_shared"] == {str(organisation): admin for organisation in organisations}
    # The basic agent sees other RDVs: it lists its own, in full.
    own = rdvsp.sync(account_id=basic)
    assert own.rdv_listings_shared == {}
    assert account_rdvs(rdvsp, basic) == visible_rdvs(rdvsp, basic)
    # Run again at once, account 1 reads for itself (a read is taken once per account).
    assert rdvsp.sync(account_id=1).rdv_listings_shared == {}


def test_an_rdv_created_between_the_two_reads_makes_the_second_list_in_full(three_accounts):
    rdvsp, organisations, admin, _ = three_accounts
    rdvsp.sync(account_id=admin)
    rdvsp.world.create_rdv(organisations[0])  # no webhook reaches this warehouse: only the count tells
    outcome = rdvsp.sync(account_id=1)
    assert outcome.rdv_listings_shared == {organisation: admin for organisation in organisations[1:]}
    assert account_rdvs(rdvsp, 1) == visible_rdvs(rdvsp, 1)


def test_an_agent_role_that_changes_ends_the_sharing_in_its_organisation(three_accounts):
    rdvsp, organisations, admin, _ = three_accounts
    world, first = rdvsp.world, organisations[0]
    role = {
        "organisation": world.organisation_json(world.organisations[first]),
        "agent": world.agent_json(world.agents[admin]),
        "access_level": "basic",
    }
    body = {"data": role, "meta": {"model": "AgentRole", "event": "updated", "timestamp": "2030-01-01T10:00:00+01:00"}}
    assert receive(rdvsp.engine, json.dumps(body).encode(), first).status == "applied"
    assert peers(rdvsp, first)[1] == [] and peers(rdvsp, first)[admin] == []
    # The admin listed after account 1's last run: its read could be taken, except where its role changed.
    outcome = rdvsp.sync(account_id=1)
    assert outcome.rdv_listings_shared == {organisation: admin for organisation in organisations[1:]}
    assert account_rdvs(rdvsp, 1) == visible_rdvs(rdvsp, 1)
    # Listed in full again, account 1 is seen to list the same RDVs there as the admin: peers once more.
    assert peers(rdvsp, first)[admin] == [1]
