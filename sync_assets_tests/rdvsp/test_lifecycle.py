"""An account's life: its first sync at connection, its disconnection (tokens, webhooks, purge),
and reconnection, on the sandbox over HTTP and a real warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

from sync_assets.platform.resources import WarehouseResource
from sync_assets.rdvsp.disconnect import disconnect_account
from sync_assets.rdvsp.oauth import AccountError
from sync_assets.rdvsp.partitions import rdvsp_accounts
from sync_assets.rdvsp.resources import RdvspApiResource
from sync_assets.rdvsp.schedules import rdvsp_account_partitions, rdvsp_failed_webhook_organisations, rdvsp_nightly
from sync_assets.rdvsp.sync import RdvspAccountSync
from sync_assets.sandbox.faults import Fault

from .conftest import SECRET_KEY
from .test_webhooks import hooked, post, rdv_event  # noqa: F401  (fixture)


def api_resource(rdvsp) -> RdvspApiResource:
    s = rdvsp.settings
    return RdvspApiResource(
        base_url=s.base_url, client_id=s.client_id, client_secret=s.client_secret, webhook_url=s.webhook_url
    )


def partition_sensor(rdvsp, instance):
    with dg.build_sensor_context(
        instance=instance,
        resources={"warehouse": WarehouseResource(database_url=rdvsp.database_url), "rdvsp": api_resource(rdvsp)},
    ) as context:
        return rdvsp_account_partitions(context)


def disconnect(rdvsp, account_id: int = 1, purge: bool = False):
    return disconnect_account(
        rdvsp.engine,
        rdvsp.settings,
        rdvsp.cipher,
        account_id,
        purge=purge,
        client_factory=lambda: rdvsp.client(account_id),
    )


# --- the first sync -------------------------------------------------------------------------


def test_a_new_account_gets_its_partition_and_its_first_sync_in_one_evaluation(connected):
    with dg.instance_for_test() as instance:
        result = partition_sensor(connected, instance)
        assert [r.partition_keys for r in result.dynamic_partitions_requests] == [["1"]]
        [request] = result.run_requests
        assert request.partition_key == "1" and request.tags["sync_assets/kind"] == "initial"
        assert request.run_key.startswith("rdvsp-initial-1-")
        # A tick before the run starts asks for the same run (Dagster launches a run key once).
        instance.add_dynamic_partitions(rdvsp_accounts.name, ["1"])
        assert partition_sensor(connected, instance).run_requests[0].run_key == request.run_key
        connected.sync()  # the first sync ran: nothing more to ask
        assert isinstance(partition_sensor(connected, instance), dg.SkipReason)


def test_a_reconnection_gets_a_first_sync_again_and_only_one(connected):
    connected.sync()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(rdvsp_accounts.name, ["1"])
        assert isinstance(partition_sensor(connected, instance), dg.SkipReason)
        first_key = "rdvsp-initial-1-" + str(
            connected.query("SELECT (extract(epoch FROM connected_at) * 1000000)::bigint FROM rdvsp.accounts")[0][0]
        )
        connected.execute("UPDATE rdvsp.accounts SET status = 'error', error = 'refresh token refused'")
        assert isinstance(partition_sensor(connected, instance), dg.SkipReason)  # in error: no sync
        connected.connect()  # reconnected after the error
        [request] = partition_sensor(connected, instance).run_requests
        assert request.run_key != first_key and request.tags["sync_assets/kind"] == "initial"
        connected.sync()
        assert isinstance(partition_sensor(connected, instance), dg.SkipReason)
    assert connected.query("SELECT count(*) FROM rdvsp.sync_logs WHERE status = 'success'") == [(2,)]


def test_without_the_api_configured_partitions_are_added_but_no_sync_is_asked(connected, monkeypatch):
    for name in ("RDVSP_BASE_URL", "RDVSP_CLIENT_ID", "RDVSP_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(
            instance=instance,
            resources={
                "warehouse": WarehouseResource(database_url=connected.database_url),
                "rdvsp": RdvspApiResource(),
            },
        ) as context,
    ):
        result = rdvsp_account_partitions(context)
    assert [r.partition_keys for r in result.dynamic_partitions_requests] == [["1"]]
    assert result.run_requests == [] and "RDVSP_BASE_URL is not set" in result.skip_reason.skip_message


# --- disconnection --------------------------------------------------------------------------


def test_disconnecting_revokes_the_tokens_stops_the_webhooks_and_keeps_the_rows(hooked):
    oauth = hooked.sandbox.rdvsp.oauth
    [(access, refresh)] = [
        (entry["access_token"], token) for token, entry in oauth.refresh_tokens.items() if not entry["revoked"]
    ]
    rdvs_before = hooked.query("SELECT count(*) FROM rdvsp.rdvs")

    outcome = disconnect(hooked)

    assert outcome.tokens_revoked is True and outcome.unsubscribed == [100, 101]
    assert oauth.refresh_tokens[refresh]["revoked"] and access not in oauth.access_tokens
    assert [e.subscriptions for e in hooked.world.webhook_endpoints.values()] == [[], []]
    [(status, access_enc, refresh_enc, disconnected_at, revoked, error)] = hooked.query(
        "SELECT status, access_token_encrypted, refresh_token_encrypted, disconnected_at, tokens_revoked, error "
        "FROM rdvsp.accounts"
    )
    assert (status, access_enc, refresh_enc, revoked, error) == ("disconnected", None, None, True, None)
    assert disconnected_at is not None
    assert hooked.query("SELECT DISTINCT status FROM rdvsp.webhook_installations") == [("disconnected",)]
    assert hooked.query("SELECT count(*) FROM rdvsp.rdvs") == rdvs_before  # without --purge, rows stay
    assert "its tokens were revoked" in outcome.lines()[0]

    # What still arrives for those organisations is acknowledged and ignored, with the reason.
    rdv = hooked.world.update_rdv(sorted(hooked.world.rdvs)[0], context="après la déconnexion")
    answer = post(hooked, 100, rdv_event(hooked, rdv))
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    [(status, reason)] = hooked.query(
        "SELECT status, status_reason FROM sync.webhook_inbox WHERE id = %s", [answer.json()["inbox_id"]]
    )
    assert status == "ignored" and "organisation 100 has no connected account" in reason
    assert hooked.query("SELECT context FROM rdvsp.rdvs WHERE id = %s", [rdv.id]) != [("après la déconnexion",)]

    # Schedules and sensors skip it; its partition stays.
    resources = {"warehouse": WarehouseResource(database_url=hooked.database_url), "rdvsp": api_resource(hooked)}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(rdvsp_accounts.name, ["1"])
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 3, 1, 3), resources=resources
        ) as context:
            assert isinstance(rdvsp_nightly(context), dg.SkipReason)
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            assert isinstance(rdvsp_failed_webhook_organisations(context), dg.SkipReason)
            assert isinstance(rdvsp_account_partitions(context), dg.SkipReason)
        assert instance.get_dynamic_partitions(rdvsp_accounts.name) == ["1"]
    with pytest.raises(AccountError, match="disconnected"):
        hooked.sync()


def test_a_failed_revocation_still_disconnects_and_reconnecting_works(connected):
    connected.sync()
    connected.sandbox.faults.add(Fault("status", "/oauth/revoke", times=-1, status=503))  # the API is down
    outcome = disconnect(connected)
    assert outcome.tokens_revoked is False and "did not answer" in outcome.revocation_problem
    assert outcome.lines()[0].startswith("account 1 disconnected here, but its tokens could not be revoked")
    [(status, tokens, revoked, error)] = connected.query(
        "SELECT status, refresh_token_encrypted, tokens_revoked, error FROM rdvsp.accounts"
    )
    assert (status, tokens, revoked) == ("disconnected", None, False)
    assert "could not be revoked" in error and "/oauth/authorized_applications" in error

    connected.sandbox.faults.clear()
    connected.connect()
    assert connected.query("SELECT status, disconnected_at, error FROM rdvsp.accounts") == [("active", None, None)]
    assert connected.sync().tables["rdvs"].count == len(connected.world.rdvs)


def test_a_server_without_revocation_is_named(connected):
    connected.sandbox.faults.add(Fault("status", "/oauth/revoke", times=-1, status=404, body={"errors": ["Not Found"]}))
    outcome = disconnect(connected)
    assert outcome.tokens_revoked is False and "offers no token revocation" in outcome.revocation_problem


def test_purge_removes_only_what_no_other_connected_account_sees_and_never_coop_rows(hooked):
    """Account 1 is admin of organisations 100 and 101; account 2 a basic agent of 100 who sees the
    RDVs it is attached to. Purging account 1 keeps those, and every coop.* row."""
    world = hooked.world
    hooked.connect(agent_id=2)
    hooked.sync(account_id=2)
    seen_by_2 = {r for (r,) in hooked.query("SELECT rdv_id FROM rdvsp.account_rdvs WHERE account_id = 2")}
    assert seen_by_2
    hooked.execute("""
        INSERT INTO coop.beneficiaires (account_id, rdv_user_id, first_name) SELECT 1, id, 'B' FROM rdvsp.users LIMIT 5;
        INSERT INTO coop.activites (account_id, date, type, duration_min, rdv_id)
            SELECT 1, starts_at, 'individuel', 30, id FROM rdvsp.rdvs ORDER BY id LIMIT 3;""")
    coop_before = hooked.query(
        "SELECT (SELECT count(*) FROM coop.beneficiaires), (SELECT count(*) FROM coop.activites),"
        " (SELECT count(*) FROM coop.account_settings)"
    )

    outcome = disconnect(hooked, purge=True)

    assert {r for (r,) in hooked.query("SELECT id FROM rdvsp.rdvs")} == seen_by_2
    assert {r for (r,) in hooked.query("SELECT DISTINCT rdv_id FROM rdvsp.participations")} == seen_by_2
    assert hooked.query("SELECT count(*) FROM rdvsp.account_rdvs WHERE account_id = 1") == [(0,)]
    assert hooked.query("SELECT count(*) FROM rdvsp.account_organisations WHERE account_id = 1") == [(0,)]
    participants = {p.user_id for r in world.rdvs.values() if r.id in seen_by_2 for p in r.participations}
    in_100 = {u.id for u in world.users.values() if 100 in u.organisation_ids}
    assert {u for (u,) in hooked.query("SELECT id FROM rdvsp.users")} == participants | in_100
    assert (
        hooked.query(
            "SELECT (SELECT count(*) FROM coop.beneficiaires), (SELECT count(*) FROM coop.activites),"
            " (SELECT count(*) FROM coop.account_settings)"
        )
        == coop_before
    )
    assert outcome.purged["rdvs"] == len(world.rdvs) - len(seen_by_2)
    # Organisation 100's webhook stays, for account 2; 101's is released.
    assert outcome.handed_over == {100: 2} and outcome.unsubscribed == [101]
    assert hooked.query("SELECT organisation_id, account_id, status FROM rdvsp.webhook_installations ORDER BY 1") == [
        (100, 2, "installed"),
        (101, 1, "disconnected"),
    ]
    # Account 2 syncs on, untouched.
    assert hooked.sync(account_id=2).tables["rdvs"].deleted == 0


def test_a_sync_that_was_fetching_when_its_account_was_disconnected_applies_nothing(connected, monkeypatch):
    merge = RdvspAccountSync._merge

    def disconnected_before_the_merge(self, *args, **kwargs):
        disconnect(connected)  # on another connection, while this run holds its fetched pages
        return merge(self, *args, **kwargs)

    monkeypatch.setattr(RdvspAccountSync, "_merge", disconnected_before_the_merge)
    with pytest.raises(AccountError, match="disconnected during this sync"):
        connected.sync(organisation_ids=[100])
    assert connected.query("SELECT count(*) FROM rdvsp.rdvs") == [(0,)]
    assert connected.query("SELECT count(*) FROM rdvsp.account_rdvs") == [(0,)]
    assert connected.query("SELECT status FROM rdvsp.sync_logs") == [("failed",)]


@pytest.mark.slow
def test_the_account_commands_as_an_operator_runs_them(rdvsp, tmp_path):
    """`rdvsp connect --sync-now`, `set-status`, `plan` and `disconnect`, each in its own process on
    the persistent instance: what they print, and one line without a traceback when they fail."""
    s = rdvsp.settings
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DAGSTER_POSTGRES_URL")}
    env.update(
        {
            "SYNC_DATABASE_URL": rdvsp.database_url,
            "SYNC_LOCAL_DIR": str(tmp_path),
            "SYNC_SECRET_KEY": SECRET_KEY,
            "RDVSP_BASE_URL": s.base_url,
            "RDVSP_CLIENT_ID": s.client_id,
            "RDVSP_CLIENT_SECRET": s.client_secret,
            "RDVSP_REDIRECT_URI": s.redirect_uri,
        }
    )

    def run(*args):
        return subprocess.run(
            [str(Path(sys.executable).with_name("sync-assets")), "rdvsp", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    connected = run("connect", "--unattended", "--sync-now")
    assert connected.returncode == 0, connected.stderr
    assert "connected RDV Service Public account 1" in connected.stdout and "account 1: success" in connected.stdout
    assert rdvsp.query("SELECT kind, status FROM rdvsp.sync_logs") == [("initial", "success")]

    rdv = next(r for r in rdvsp.world.rdvs.values() if r.status == "unknown")
    marked = run("set-status", "--account", "1", "--rdv", str(rdv.id), "--status", "excused")
    assert marked.returncode == 0 and f"RDV {rdv.id} is now 'excused'" in marked.stdout, marked.stderr
    user = next(iter(rdvsp.world.users.values()))
    planned = run("plan", "--account", "1", "--user", str(user.id), "--return-url", "https://coop.example/b/1")
    assert planned.returncode == 0 and "/agents/rdv_plans/1" in planned.stdout, planned.stderr

    rdvsp.sandbox.faults.add(Fault("status", "/oauth/revoke", times=-1, status=503))
    gone = run("disconnect", "--account", "1")
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.splitlines()[0].startswith("account 1 disconnected here, but its tokens could not be revoked")
    late = run("set-status", "--account", "1", "--rdv", str(rdv.id), "--status", "seen")
    assert late.returncode == 1 and "is disconnected" in late.stderr
    for result in (gone, late):
        assert "Traceback" not in result.stderr
