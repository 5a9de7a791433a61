"""Polls racing webhooks, interleaving by interleaving, on a real PostgreSQL: a sync is paused
between its listing and its merge (or between two of its merges) while deliveries are applied.

Each of these failed before deletions were versions (tombstones), before polls deleted only what
they could have seen, and before a poll's merge and a webhook's apply of one organisation were
serialised."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from sync_assets.platform.merge import Stager
from sync_assets.rdvsp import tables
from sync_assets.rdvsp.sync import RdvspAccountSync

from .test_webhooks import hooked, post, rdv_event  # noqa: F401  (fixture)


def pause_before_the_merge(monkeypatch, during) -> None:
    """Run `during()` once the sync has listed everything, before it merges anything."""
    merge = RdvspAccountSync._merge

    def paused(self, *args, **kwargs):
        during()
        return merge(self, *args, **kwargs)

    monkeypatch.setattr(RdvspAccountSync, "_merge", paused)


def delivered(rdvsp) -> None:
    assert rdvsp.sandbox.deliverer.wait_idle(30)
    assert rdvsp.sandbox.deliverer.stats.abandoned == 0


def rdv_in(rdvsp, organisation_id: int = 100, status: str = "unknown"):
    return next(r for r in rdvsp.world.rdvs.values() if r.organisation_id == organisation_id and r.status == status)


def poll(rdvsp, kind: str = "polling"):
    """A sync of the account: `polling` skips the RDV pages it applied before, `nightly` re-applies all."""
    client = rdvsp.client()
    try:
        return RdvspAccountSync(
            rdvsp.engine,
            client,
            rdvsp.account_id,
            cipher=rdvsp.cipher,
            webhook_url=rdvsp.settings.webhook_url,
            emit=lambda _: None,
            kind=kind,
        ).run()
    finally:
        client.close()


@pytest.mark.parametrize("kind, refused_in", [("polling", "account_rdvs"), ("nightly", "rdvs")])
def test_an_rdv_destroyed_during_a_poll_stays_destroyed(hooked, monkeypatch, kind, refused_in):
    doomed = rdv_in(hooked)

    def destroy():
        hooked.world.delete_rdv(doomed.id)  # after the poll listed it
        delivered(hooked)
        assert hooked.query("SELECT count(*) FROM rdvsp.rdvs WHERE id = %s", [doomed.id]) == [(0,)]

    pause_before_the_merge(monkeypatch, destroy)
    outcome = poll(hooked, kind)
    assert hooked.query("SELECT count(*) FROM rdvsp.rdvs WHERE id = %s", [doomed.id]) == [(0,)]
    assert hooked.query("SELECT count(*) FROM rdvsp.participations WHERE rdv_id = %s", [doomed.id]) == [(0,)]
    assert hooked.query("SELECT count(*) FROM rdvsp.account_rdvs WHERE rdv_id = %s", [doomed.id]) == [(0,)]
    # Refused as older than its deletion: a noop, said in the figures, neither created nor updated.
    refused = outcome.tables[refused_in]
    assert refused.stale == 1 and refused.created == refused.updated == 0
    [(version,)] = hooked.query(
        "SELECT deleted_version FROM sync.tombstones WHERE table_name = 'rdvsp.rdvs' AND record_key = %s",
        [str(doomed.id)],
    )
    assert version > datetime.now(timezone.utc) - timedelta(minutes=1)


def test_an_rdv_created_during_a_poll_is_not_deleted_as_unseen(hooked, monkeypatch):
    created = []

    def create():
        created.append(hooked.world.create_rdv(organisation_id=100))  # after the poll listed
        delivered(hooked)

    pause_before_the_merge(monkeypatch, create)
    outcome = hooked.sync()
    [rdv] = created
    assert hooked.query("SELECT count(*) FROM rdvsp.rdvs WHERE id = %s", [rdv.id]) == [(1,)]
    assert hooked.query("SELECT count(*) FROM rdvsp.participations WHERE rdv_id = %s", [rdv.id]) == [
        (len(rdv.participations),)
    ]
    assert outcome.tables["rdvs"].deleted == 0
    # The nightly finds no RDV drift: none blamed on webhooks that delivered everything.
    assert {o: c.drift for o, c in poll(hooked, "nightly").organisation_drift.items()} == {100: 0, 101: 0}


def test_an_rdv_updated_during_a_poll_keeps_its_new_participants(hooked, monkeypatch):
    changed = rdv_in(hooked)

    def update():
        hooked.world.update_rdv(changed.id, status="revoked")  # the RDV and its participations
        delivered(hooked)

    pause_before_the_merge(monkeypatch, update)
    poll(hooked, "nightly")  # it stages every RDV, this one as it was listed
    assert hooked.query("SELECT status FROM rdvsp.rdvs WHERE id = %s", [changed.id]) == [("revoked",)]
    assert {s for (s,) in hooked.query("SELECT status FROM rdvsp.participations WHERE rdv_id = %s", [changed.id])} == {
        "revoked"
    }
    assert {o: c.drift for o, c in poll(hooked, "nightly").organisation_drift.items()} == {100: 0, 101: 0}


def test_an_rdv_destroyed_between_the_merge_of_rdvs_and_of_participations_fails_nothing(hooked, monkeypatch):
    """The poll will rewrite the RDV's participations; meanwhile a webhook destroys the RDV. The
    webhook waits for the poll's merge, then applies: no foreign-key failure, the RDV gone."""
    doomed = rdv_in(hooked)
    hooked.execute(
        "UPDATE rdvsp.participations SET send_reminder_notification = NOT send_reminder_notification WHERE rdv_id = %s",
        [doomed.id],
    )  # so that the poll writes them
    merge = Stager.merge
    started = []

    def between(self, spec, *args, **kwargs):
        if spec is tables.PARTICIPATIONS and not started:
            started.append(threading.Thread(target=hooked.world.delete_rdv, args=[doomed.id]))
            started[0].start()
            time.sleep(0.5)  # the delivery reaches the receiver, which waits for this merge
        return merge(self, spec, *args, **kwargs)

    monkeypatch.setattr(Stager, "merge", between)
    outcome = poll(hooked, "nightly")  # it stages every RDV and participation
    started[0].join()
    delivered(hooked)
    assert outcome.tables["participations"].updated >= 1
    assert hooked.query("SELECT count(*) FROM rdvsp.rdvs WHERE id = %s", [doomed.id]) == [(0,)]
    assert hooked.query("SELECT count(*) FROM rdvsp.participations WHERE rdv_id = %s", [doomed.id]) == [(0,)]
    assert hooked.query("SELECT status FROM sync.webhook_inbox WHERE record_id = %s", [str(doomed.id)]) == [
        ("applied",)
    ]


def test_a_late_older_delivery_never_brings_a_destroyed_rdv_back(hooked):
    rdv = rdv_in(hooked)
    now = datetime.now(timezone.utc)
    older = rdv_event(hooked, rdv, "updated", at=now - timedelta(seconds=30))
    assert post(hooked, 100, rdv_event(hooked, rdv, "destroyed", at=now)).json()["status"] == "applied"
    late = post(hooked, 100, older)  # RDV Service Public's queue can deliver it last
    assert late.json()["status"] == "ignored"
    assert hooked.query("SELECT count(*) FROM rdvsp.rdvs WHERE id = %s", [rdv.id]) == [(0,)]
    # A newer state does bring it back (the record was re-created at the source).
    newer = post(hooked, 100, rdv_event(hooked, rdv, "created", at=now + timedelta(seconds=1)))
    assert newer.json()["status"] == "applied"
    assert hooked.query("SELECT count(*) FROM rdvsp.rdvs WHERE id = %s", [rdv.id]) == [(1,)]


def test_a_user_profile_destroyed_during_a_poll_stays_destroyed(hooked, monkeypatch):
    user = next(u for u in hooked.world.users.values() if u.organisation_ids == [100])
    at = datetime.now(timezone.utc) + timedelta(seconds=1)  # after the poll's listing begins
    profile = {
        "data": {
            "organisation": hooked.world.organisation_json(hooked.world.organisations[100]),
            "user": hooked.world.user_json(user),
        },
        "meta": {"model": "UserProfile", "event": "destroyed", "timestamp": at.isoformat()},
    }
    pause_before_the_merge(monkeypatch, lambda: post(hooked, 100, profile).raise_for_status())
    hooked.sync()
    assert hooked.query(
        "SELECT count(*) FROM rdvsp.user_profiles WHERE organisation_id = 100 AND user_id = %s", [user.id]
    ) == [(0,)]


@pytest.mark.slow
def test_a_stream_of_changes_during_two_polls_ends_with_the_api_state(hooked):
    """Seeded: about 40 changes in 8 s (RDVs created, updated, destroyed; users renamed),
    delivered out of order and some twice, while two full polls of the account run. Afterwards,
    before any other poll, the warehouse holds exactly the API's state, and the next poll finds
    no drift in the hooked organisations."""
    import random

    world, deliverer = hooked.world, hooked.sandbox.deliverer
    deliverer.duplicate_rate = 0.2
    rng, stop, created = random.Random(15), threading.Event(), set()

    def changes() -> None:
        while not stop.is_set():
            action = rng.random()
            rdvs = [r for r in world.rdvs.values() if r.organisation_id in (100, 101)]
            if action < 0.3:
                created.add(world.create_rdv(organisation_id=rng.choice((100, 101))).id)
            elif action < 0.6:
                world.update_rdv(rng.choice(rdvs).id, status=rng.choice(("seen", "noshow", "revoked", "excused")))
            elif action < 0.85:
                world.delete_rdv(rng.choice(rdvs).id)
            else:
                user = rng.choice(list(world.users.values()))
                world.update_user(user.id, first_name=f"Prénom{rng.randrange(1000)}")
            time.sleep(rng.uniform(0.1, 0.3))

    changer = threading.Thread(target=changes)
    changer.start()
    time.sleep(1)
    polls = [threading.Thread(target=lambda kind=kind: poll(hooked, kind)) for kind in ("polling", "nightly")]
    for started in polls:
        started.start()
        time.sleep(0.5)
    for started in polls:
        started.join(timeout=120)
    time.sleep(6)
    stop.set()
    changer.join()
    delivered(hooked)

    api = {r.id: (r.status, r.starts_at) for r in world.rdvs.values()}
    assert dict((i, (s, t)) for i, s, t in hooked.query("SELECT id, status, starts_at FROM rdvsp.rdvs")) == api
    participants = {(p.id, r.id, p.status) for r in world.rdvs.values() for p in r.participations}
    assert set(hooked.query("SELECT id, rdv_id, status FROM rdvsp.participations")) == participants
    names = {u.id: u.first_name for u in world.users.values()}
    assert all(names[i] == n for i, n in hooked.query("SELECT id, first_name FROM rdvsp.users"))
    # Account links point to existing RDVs; only RDVs created meanwhile may wait for the next poll
    # to be linked to the admin account (a webhook links the accounts among an RDV's agents).
    linked = {i for (i,) in hooked.query("SELECT rdv_id FROM rdvsp.account_rdvs")}
    assert linked <= set(api) and set(api) - linked <= created
    nightly = poll(hooked, "nightly")
    assert {o: c.drift for o, c in nightly.organisation_drift.items()} == {100: 0, 101: 0}
