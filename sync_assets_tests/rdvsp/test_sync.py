"""The polling sync against the sandbox over HTTP, on a real PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg
import pytest

from sync_assets.platform.errors import ContractBreach
from sync_assets.platform.merge import MergeCounts
from sync_assets.rdvsp.sync import RdvspAccountSync, ScopeError
from sync_assets.sandbox.rdvsp_world import PARIS

from .conftest import SYNCED_TABLES


def diff(outcome) -> dict[str, tuple[int, int, int]]:
    """(created, updated, deleted) of the tables where something happened."""
    return {name: (c.created, c.updated, c.deleted) for name, c in outcome.tables.items() if c.drift}


def test_the_first_sync_copies_what_the_account_sees(connected):
    outcome = connected.sync()
    world = connected.world
    assert connected.query("SELECT id, status, organisation_id FROM rdvsp.rdvs ORDER BY id") == sorted(
        (r.id, r.status, r.organisation_id) for r in world.rdvs.values()
    )
    assert outcome.tables["rdvs"] == MergeCounts(count=len(world.rdvs), created=len(world.rdvs))
    participations = sum(len(r.participations) for r in world.rdvs.values())
    assert outcome.tables["participations"].created == participations
    assert outcome.tables["organisations"].created == len(world.organisations)
    assert outcome.tables["user_profiles"].created == sum(len(u.organisation_ids) for u in world.users.values())
    assert outcome.tables["users"].created == len(world.users)
    assert outcome.tables["motifs"].created == len(world.motifs)
    assert outcome.tables["lieux"].created == len(world.lieux)
    assert outcome.drift == sum(c.created for c in outcome.tables.values())
    one = next(iter(world.rdvs.values()))
    raw, starts_at = connected.query("SELECT raw, starts_at FROM rdvsp.rdvs WHERE id = %s", [one.id])[0]
    assert raw == world.rdv_json(one, connected.sandbox.base_url + "/") and starts_at == one.starts_at


def test_a_second_sync_without_change_changes_nothing(connected):
    connected.sync()
    before = connected.snapshot()
    outcome = connected.sync()
    assert diff(outcome) == {}
    assert all(c.noop == c.count for c in outcome.tables.values())
    assert connected.snapshot() == before


def test_changes_in_the_api_are_counted_exactly_per_table(connected):
    connected.sync()
    world = connected.world
    ids = sorted(world.rdvs)
    single = [i for i in ids if len(world.rdvs[i].participations) == 1]
    world.create_rdv(organisation_id=100)
    world.create_rdv(organisation_id=101)
    for rdv_id in single[:3]:
        new = "revoked" if world.rdvs[rdv_id].status != "revoked" else "seen"
        world.update_rdv(rdv_id, status=new)
    world.delete_rdv(single[3])
    user = world.create_user(organisation_id=100)
    world.update_user(next(iter(world.users)), first_name="Prénom-Changé")
    created_participations = sum(len(world.rdvs[i].participations) for i in world.rdvs if i > ids[-1])

    outcome = connected.sync()
    assert diff(outcome) == {
        "rdvs": (2, 3, 1),
        "account_rdvs": (2, 0, 1),
        "participations": (created_participations, 3, 1),
        "users": (1, 1, 0),
        "user_profiles": (1, 0, 0),
    }
    assert connected.query("SELECT first_name FROM rdvsp.users WHERE id = %s", [user.id]) == [(user.first_name,)]


def test_a_429_with_retry_after_mid_listing_is_waited_for(connected):
    fault = connected.sandbox.rdvsp.fail_requests("/api/v1/rdvs", 429, after=1, headers={"Retry-After": "1"})
    started = datetime.now()
    outcome = connected.sync()
    assert fault.times == 0  # it was served
    assert (datetime.now() - started).total_seconds() >= 1
    assert outcome.tables["rdvs"].created == len(connected.world.rdvs)


def test_rdvs_duplicated_across_pages_count_once(rdvsp):
    rdvsp.connect(agent_id=2)  # a basic agent: the listing repeats RDVs once per attached agent
    outcome = rdvsp.sync()
    visible = {r.id for r in rdvsp.world.rdvs.values() if 2 in r.agent_ids}
    assert outcome.rdvs_api_total_count > len(visible)  # the duplicates were there
    assert outcome.rdvs_listed == len(visible) == outcome.warehouse_rdvs
    assert outcome.tables["rdvs"] == MergeCounts(count=len(visible), created=len(visible))
    assert {r[0] for r in rdvsp.query("SELECT id FROM rdvsp.rdvs")} == visible


def test_a_scoped_sync_leaves_other_organisations_untouched(connected):
    connected.sync()
    world = connected.world
    in_100 = next(r.id for r in world.rdvs.values() if r.organisation_id == 100)
    in_101 = next(r.id for r in world.rdvs.values() if r.organisation_id == 101)
    world.delete_rdv(in_100)
    world.delete_rdv(in_101)
    outcome = connected.sync(organisation_ids=[100])
    assert outcome.organisation_ids == [100]
    assert diff(outcome)["rdvs"] == (0, 0, 1)
    remaining = {r[0] for r in connected.query("SELECT id FROM rdvsp.rdvs")}
    assert in_100 not in remaining and in_101 in remaining  # 101 was not listed, so nothing of it is deleted
    assert connected.query("SELECT organisation_ids, status FROM rdvsp.sync_logs ORDER BY started_at DESC LIMIT 1") == [
        ([100], "success")
    ]


def test_a_scope_outside_the_account_is_refused_and_nothing_changes(connected):
    connected.sync()
    before = connected.snapshot()
    with pytest.raises(ScopeError, match="999 are not among the organisations of account 1"):
        connected.sync(organisation_ids=[100, 999])
    assert connected.snapshot() == before
    assert connected.query("SELECT status FROM rdvsp.sync_logs ORDER BY started_at DESC LIMIT 1") == [("failed",)]


def test_rdvs_purged_by_the_api_are_removed(rdvsp):
    rdvsp.connect(sync_from=date.today() - timedelta(days=900))
    rdvsp.sync()
    purged = rdvsp.world.rgpd_purge(older_than_days=365)
    assert purged
    outcome = rdvsp.sync()
    assert outcome.tables["rdvs"].deleted == len(purged)
    assert not rdvsp.query("SELECT id FROM rdvsp.rdvs WHERE id = ANY(%s)", [purged])
    assert not rdvsp.query("SELECT id FROM rdvsp.participations WHERE rdv_id = ANY(%s)", [purged])


def test_rdvs_before_sync_from_are_not_synced(rdvsp):
    sync_from = date.today() - timedelta(days=30)
    rdvsp.connect(sync_from=sync_from)
    rdvsp.sync()
    limit = datetime.combine(sync_from, datetime.min.time(), PARIS)
    expected = {r.id for r in rdvsp.world.rdvs.values() if r.starts_at >= limit}
    assert {r[0] for r in rdvsp.query("SELECT id FROM rdvsp.rdvs")} == expected


def test_writes_during_the_listing_never_delete_what_still_exists(connected):
    connected.sync()
    world = connected.world
    calls = {"n": 0}

    def reshuffle(path):
        if path == "/api/v1/rdvs":
            calls["n"] += 1
            if calls["n"] % 2 == 0:
                world.update_rdv(next(iter(world.rdvs)), context=f"write {calls['n']}")  # reorders the listing

    connected.sandbox.rdvsp.before_request = reshuffle
    outcome = connected.sync()
    connected.sandbox.rdvsp.before_request = None
    assert outcome.tables["rdvs"].deleted == 0
    assert {r[0] for r in connected.query("SELECT id FROM rdvsp.rdvs")} == set(world.rdvs)
    assert outcome.rdvs_looked_up == outcome.rdvs_found_on_lookup  # every row that slipped was found again


def test_breaking_drift_fails_the_run_and_applies_nothing(connected, monkeypatch):
    connected.sync()
    world = connected.world
    broken_id = sorted(world.rdvs)[5]
    world.update_rdv(broken_id, context="changed")  # a real change, which must not be applied
    render = world.rdv_json

    def drifted(rdv, base_url="http://localhost"):
        payload = render(rdv, base_url)
        if rdv.id == broken_id:
            del payload["starts_at"]
        return payload

    monkeypatch.setattr(world, "rdv_json", drifted)
    before = connected.snapshot()
    with pytest.raises(ContractBreach, match="starts_at"):
        connected.sync()
    assert connected.snapshot() == before
    assert connected.query(
        "SELECT kind, field_path, error_type, row_count, sample_record_ids FROM sync.drift_events"
    ) == [("breaking", "starts_at", "missing", 1, [str(broken_id)])]
    status, error = connected.query("SELECT status, error FROM rdvsp.sync_logs ORDER BY started_at DESC LIMIT 1")[0]
    assert status == "failed" and "starts_at" in error


def test_additive_drift_is_recorded_and_the_rows_stored(connected, monkeypatch):
    world = connected.world
    render = world.rdv_json
    monkeypatch.setattr(
        world, "rdv_json", lambda rdv, base_url="x": {**render(rdv, base_url), "teleconsultation": True}
    )
    outcome = connected.sync()
    assert outcome.tables["rdvs"].created == len(world.rdvs)
    assert connected.query("SELECT kind, field_path, row_count FROM sync.drift_events") == [
        ("additive", "teleconsultation", len(world.rdvs))
    ]


def test_webhooks_are_installed_without_replay_with_a_secret_per_organisation(connected):
    connected.sync()
    endpoints = connected.world.webhook_endpoints
    assert sorted(e.organisation_id for e in endpoints.values()) == sorted(connected.world.organisations)
    assert all(
        e.target_url == f"https://sync.example.test/webhooks/rdvsp/{e.organisation_id}" for e in endpoints.values()
    )
    assert connected.sandbox.rdvsp.replays == []  # trigger: false
    rows = connected.query(
        "SELECT organisation_id, endpoint_id, secret_encrypted, status FROM rdvsp.webhook_installations"
    )
    for _organisation_id, endpoint_id, secret_encrypted, status in rows:
        assert status == "installed"
        assert connected.cipher.decrypt(secret_encrypted) == endpoints[endpoint_id].secret
    assert len({e.secret for e in endpoints.values()}) == len(endpoints)
    secrets_before = {e.id: e.secret for e in endpoints.values()}
    outcome = connected.sync()  # already installed: nothing is sent again
    assert {e.id: e.secret for e in endpoints.values()} == secrets_before
    assert outcome.webhooks == {"installed": len(endpoints)}
    assert diff(outcome) == {}


def test_failed_and_silent_webhook_installs_are_recorded_with_their_reason(rdvsp):
    rdvsp.world.silent_webhook_failure_organisations.add(101)
    rdvsp.connect(agent_id=1)
    rdvsp.world.agents[1].roles[100] = "basic"  # not an administrator of 100 any more
    outcome = rdvsp.sync()
    assert outcome.webhooks == {"failed": 1, "not_taken": 1}
    rows = dict(
        (r[0], r[1:]) for r in rdvsp.query("SELECT organisation_id, status, reason FROM rdvsp.webhook_installations")
    )
    assert rows[100][0] == "failed" and "not an administrator of organisation 100" in rows[100][1]
    assert rows[101][0] == "not_taken"


def test_without_a_webhook_url_organisations_are_marked_for_polling(rdvsp):
    rdvsp.settings = type(rdvsp.settings)(**{**rdvsp.settings.__dict__, "webhook_url": None})
    rdvsp.connect()
    rdvsp.sync()
    assert {r[0] for r in rdvsp.query("SELECT status FROM rdvsp.webhook_installations")} == {"not_configured"}
    assert rdvsp.world.webhook_endpoints == {}


def test_stale_account_organisation_links_are_removed(connected):
    connected.sync()
    connected.world.agents[1].roles.pop(101)
    outcome = connected.sync()
    assert connected.query("SELECT organisation_id FROM rdvsp.account_organisations") == [(100,)]
    assert outcome.tables["account_organisations"].deleted == 1


def test_an_rdv_seen_by_two_accounts_stays_until_neither_sees_it(rdvsp):
    rdvsp.connect(agent_id=1)
    rdvsp.connect(agent_id=2)
    rdvsp.sync(account_id=1)
    rdvsp.sync(account_id=2)
    shared = next(r for r in rdvsp.world.rdvs.values() if 2 in r.agent_ids)
    rdvsp.world.rdvs[shared.id].agent_ids.remove(2)  # agent 2 no longer sees it; agent 1 (admin) still does
    rdvsp.world.version += 1
    rdvsp.sync(account_id=2)
    assert rdvsp.query("SELECT count(*) FROM rdvsp.rdvs WHERE id = %s", [shared.id]) == [(1,)]
    assert rdvsp.query("SELECT account_id FROM rdvsp.account_rdvs WHERE rdv_id = %s", [shared.id]) == [(1,)]


def test_the_sync_log_holds_the_figures_of_every_table(connected):
    outcome = connected.sync()
    [(status, drift, pages, started, ended)] = connected.query(
        "SELECT status, drift, pages_fetched, started_at, ended_at FROM rdvsp.sync_logs"
    )
    assert status == "success" and drift == outcome.drift and pages == outcome.pages and ended >= started
    rows = connected.query(
        "SELECT table_name, count, created, updated, deleted, noop, drift FROM rdvsp.sync_log_tables"
    )
    assert sorted(r[0] for r in rows) == sorted(SYNCED_TABLES)
    for name, count, created, updated, deleted, noop, table_drift in rows:
        assert (count, created, updated, deleted, noop, table_drift) == (
            outcome.tables[name].count,
            outcome.tables[name].created,
            outcome.tables[name].updated,
            outcome.tables[name].deleted,
            outcome.tables[name].noop,
            outcome.tables[name].drift,
        )


def test_the_sync_sends_no_statement_per_row(connected, monkeypatch):
    """Count every statement sent on every connection, from libpq's protocol trace."""
    import tempfile

    trace = tempfile.TemporaryFile("w+")  # noqa: SIM115  (read after the patched calls)
    original = psycopg.Connection.connect.__func__

    def traced(cls, *args, **kwargs):
        conn = original(cls, *args, **kwargs)
        conn.pgconn.trace(trace.fileno())
        return conn

    connected.engine.dispose()  # new pool connections get traced
    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(traced))
    outcome = connected.sync()
    trace.seek(0)
    statements = sum(1 for line in trace if "\tF\t" in line and ("\tQuery\t" in line or "\tExecute\t" in line))
    rows = sum(c.count for c in outcome.tables.values())
    # Per page: one landing statement and a few COPYs; per table: one merge. Never per row.
    assert statements < outcome.pages * 3 + 100, (statements, outcome.pages, rows)
    assert statements < rows / 5


def test_pages_fetched_by_a_failed_run_are_applied_by_the_next_one(connected, monkeypatch):
    world = connected.world
    render = world.motif_json
    monkeypatch.setattr(world, "motif_json", lambda m: {**render(m), "location_type": "teleport"})
    with pytest.raises(ContractBreach):
        connected.sync()  # every RDV page was fetched, then the run failed on motifs
    monkeypatch.setattr(world, "motif_json", render)
    outcome = connected.sync()
    assert outcome.tables["rdvs"].created == len(world.rdvs)


def test_polling_skips_unchanged_pages_and_the_nightly_run_re_applies_them(connected):
    connected.sync()
    rdv_id = sorted(connected.world.rdvs)[0]
    connected.execute("UPDATE rdvsp.rdvs SET context = 'edited in the warehouse' WHERE id = %s", [rdv_id])
    polling = connected.sync()
    assert polling.tables["rdvs"].updated == 0  # its page did not change: not re-applied
    client = connected.client()
    nightly = RdvspAccountSync(
        connected.engine, client, 1, cipher=connected.cipher, webhook_url=connected.settings.webhook_url, kind="nightly"
    ).run()
    assert nightly.tables["rdvs"].updated == 1 and nightly.tables["rdvs"].count == len(connected.world.rdvs)
    assert connected.query("SELECT context FROM rdvsp.rdvs WHERE id = %s", [rdv_id]) == [(None,)]
