"""RDV Service Public under its published rate limit: several accounts sharing organisations, one
`rdvsp sync` of them all, against a sandbox that throttles as the API does, scaled faster.

The sandbox (in this process) answers 429 past `--budget` requests per window of 60/`--speedup`
seconds per client IP on /api/v1/, and past `--rdv-listing-budget` RDV listings per window and
organisation. The accounts: agent 1 (administrator of every organisation), agent 2 (basic, one
organisation), then agents added with mixed access levels. Each account is synced in turn, as
`sync-assets rdvsp sync` does, through the resource's shared budget set to the published figures
scaled the same way.

Reports the requests spent against the deduplicated floor (a request that does not depend on the
account counted once; RDV listings, `agents/me` and the account's organisations once per account),
the 429s provoked, the wall time against the budget's floor (the floor's requests at the budget's
pace, and no organisation's RDV listings faster than their own budget), the oldest open
transaction seen on the warehouse (sampled from pg_stat_activity every 50 ms), and whether every
account's RDVs are all stored. Then a second pass over the same accounts (the next sweep, with no
change in between): accounts seen to list the same RDVs as another (peers) take its read after one
page; its requests, RDV listings taken and completeness are reported under `second_pass`.

Usage: python bench/rdvsp_budget.py [--scale 10000] [--accounts 5] [--speedup 5]
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from urllib.parse import parse_qsl

import httpx
import psycopg
from _common import drop_database, scratch_database  # noqa: E402  (bench/ is on the path)

from sync_assets.platform.secrets import TokenCipher
from sync_assets.platform.warehouse import engine_for, libpq_url
from sync_assets.rdvsp.oauth import RdvspSettings, connect
from sync_assets.rdvsp.resources import RdvspApiResource
from sync_assets.rdvsp.sync import RdvspAccountSync
from sync_assets.sandbox.rdvsp_world import PARIS
from sync_assets.sandbox.server import start_in_thread

SCRATCH = "sync_assets_bench_rdvsp_budget"
SECRET = "bench-secret-key-0123456789abcdef"
PUBLISHED, RDV_LISTING_PUBLISHED = 50, 20  # requests per 60 s (API-NOTES §1.6)
SYNC_FROM = date.today() - timedelta(days=730)
ACCOUNT_DEPENDENT = ("/api/v1/rdvs", "/api/v1/agents/me", "/api/v1/organisations")


def record_requests() -> list[tuple[str, str, str]]:
    """Every request this process sends: (method, path, query)."""
    sent: list[tuple[str, str, str]] = []
    send = httpx.Client.send

    def recording(client, request, **kwargs):
        sent.append((request.method, request.url.path, request.url.query.decode()))
        return send(client, request, **kwargs)

    httpx.Client.send = recording  # type: ignore[method-assign]
    return sent


def mixed_agents(world, count: int) -> list[int]:
    """Agents 1 and 2, then agents whose access levels mix: administrators of some organisations,
    basic agents of others."""
    organisations = sorted(world.organisations)
    agents = [1, 2][:count]
    for n in range(count - len(agents)):
        roles = {org: ("admin" if (i + n) % 3 else "basic") for i, org in enumerate(organisations) if (i + n) % 4}
        agents.append(world.add_agent(roles).id)
    return agents


def oldest_transaction_sampler(url: str, stop: threading.Event, seen: list[float]) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        while not stop.is_set():
            [(age,)] = conn.execute(
                "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
            ).fetchall()
            seen.append(float(age))
            time.sleep(0.05)


def floor_of(sent: list[tuple[str, str, str]]) -> tuple[int, dict[str, int]]:
    """The deduplicated floor, and its RDV listings per organisation."""
    api = [r for r in sent if r[1].startswith("/api/v1/")]
    per_account = [r for r in api if r[1] in ACCOUNT_DEPENDENT]
    shared = {r for r in api if r[1] not in ACCOUNT_DEPENDENT and r[0] == "GET"}
    writes = [r for r in api if r[0] != "GET"]
    rdv_listings = Counter(
        dict(parse_qsl(q)).get("organisation_id", "none") for m, p, q in per_account if p == "/api/v1/rdvs"
    )
    return len(per_account) + len(shared) + len(writes), dict(rdv_listings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=10_000, help="RDVs (10,000: six organisations)")
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--speedup", type=float, default=5.0, help="windows of 60/speedup seconds")
    args = parser.parse_args()
    period = 60 / args.speedup
    sandbox = start_in_thread(
        seed=1, scale=args.scale, budget=PUBLISHED, budget_period=period, rdv_listing_budget=RDV_LISTING_PUBLISHED
    )
    url = scratch_database(SCRATCH)
    engine, cipher = engine_for(url), TokenCipher(SECRET)
    oauth = sandbox.rdvsp.oauth
    settings = RdvspSettings(sandbox.base_url, oauth.client_id, oauth.client_secret, webhook_url=None)
    agents = mixed_agents(sandbox.rdvsp.world, args.accounts)
    for agent_id in agents:
        sandbox.rdvsp.sandbox_agent_id = agent_id
        connect(engine, settings, cipher, sync_from=SYNC_FROM, unattended=True, show=lambda _: None)
    resource = RdvspApiResource(
        base_url=sandbox.base_url,
        client_id=oauth.client_id,
        client_secret=oauth.client_secret,
        requests_per_minute=PUBLISHED * args.speedup,
        rdv_listing_requests_per_minute=RDV_LISTING_PUBLISHED * args.speedup,
    )
    sandbox.throttle.reset()
    sent = record_requests()
    stop, ages = threading.Event(), []
    sampler = threading.Thread(target=oldest_transaction_sampler, args=(url, stop, ages), daemon=True)
    sampler.start()
    started = time.monotonic()
    reused, _ = sync_all(engine, resource, cipher, agents)
    wall = time.monotonic() - started
    stop.set()
    sampler.join()

    world = sandbox.rdvsp.world
    complete = every_account_complete(url, world, agents)
    spent = len([r for r in sent if r[1].startswith("/api/v1/")])
    floor, rdv_listings = floor_of(sent)
    second_started, first_sent = time.monotonic(), len(sent)
    _, shared = sync_all(engine, resource, cipher, agents)
    second = {
        "requests": len([r for r in sent[first_sent:] if r[1].startswith("/api/v1/")]),
        "rdv_listings_shared": shared,
        "wall_s": round(time.monotonic() - second_started, 1),
        "every_account_complete": every_account_complete(url, world, agents),
    }
    floor_s = max(
        floor / (PUBLISHED / period), max(rdv_listings.values(), default=0) / (RDV_LISTING_PUBLISHED / period)
    )
    sandbox.stop()
    drop_database(SCRATCH)
    print(
        json.dumps(
            {
                "benchmark": "rdvsp_budget",
                "scale": args.scale,
                "accounts": len(agents),
                "organisations": len(world.organisations),
                "budget_per_ip": f"{PUBLISHED} per {period:g} s",
                "rdv_listing_budget_per_organisation": f"{RDV_LISTING_PUBLISHED} per {period:g} s",
                "requests": spent,
                "requests_floor": floor,
                "requests_vs_floor": round(spent / floor, 2),
                "organisation_listings_reused": reused,
                "throttled_429": sandbox.throttle.throttled,
                "wall_s": round(wall, 1),
                "budget_floor_s": round(floor_s, 1),
                "wall_vs_floor": round(wall / floor_s, 2),
                "oldest_transaction_s": round(max(ages, default=0), 1),
                "every_account_complete": complete,
                "second_pass": second,
            }
        )
    )


def sync_all(engine, resource: RdvspApiResource, cipher: TokenCipher, agents: list[int]) -> tuple[int, int]:
    """Every account synced in turn; the organisation listings reused, the RDV listings taken from a peer."""
    reused = shared = 0
    for agent_id in agents:
        client = resource.client_for(engine, agent_id, cipher)
        try:
            outcome = RdvspAccountSync(
                engine, client, agent_id, cipher=cipher, webhook_url=None, emit=lambda _: None
            ).run()
            reused += len(outcome.organisations_reused)
            shared += len(outcome.rdv_listings_shared)
        finally:
            client.close()
    return reused, shared


def every_account_complete(url: str, world, agents: list[int]) -> bool:
    since = datetime.combine(SYNC_FROM, dt_time(0), PARIS)
    return all(
        {r[0] for r in query(url, "SELECT rdv_id FROM rdvsp.account_rdvs WHERE account_id = %s", [agent_id])}
        == set(world.rdv_listing(world.agents[agent_id], starts_after=since))
        for agent_id in agents
    )


def query(url: str, statement: str, params) -> list[tuple]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(statement, params).fetchall()


if __name__ == "__main__":
    main()
