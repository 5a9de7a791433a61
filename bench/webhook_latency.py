"""Webhook latency: from POST to committed row, at concurrency 1, 8 and 32.

The receiver (`sync-assets webhooks serve --workers N`) runs in its own processes on a scratch
database, with one installed endpoint. Each event is an RDV (as the sandbox builds them, with its participants)
signed with the endpoint's secret. The receiver answers 2xx only once the event is committed, so
the POST's round trip is the time to a committed row. Afterwards every event's RDV is looked up
in the warehouse: `lost` counts those missing.

Usage: python bench/webhook_latency.py [--events 1000] [--workers 2]
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import threading
import time
from datetime import datetime, timezone

import psycopg
from _common import drop_database, scratch_database, start_command  # noqa: E402  (bench/ is on the path)

from sync_assets.platform.secrets import TokenCipher
from sync_assets.platform.warehouse import libpq_url
from sync_assets.rdvsp.receiver import signature_of
from sync_assets.sandbox.rdvsp_world import PARIS, RdvspWorld
from sync_assets.sandbox.server import free_port

SECRET_KEY = "bench-secret-key-0123456789abcdef"
ENDPOINT_SECRET = "bench-endpoint-secret"
ORGANISATION = 100


SCRATCH = "sync_assets_bench_webhooks"


def prepared_database() -> str:
    url = scratch_database(SCRATCH)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO rdvsp.webhook_installations (organisation_id, status, secret_encrypted) "
            "VALUES (%s, 'installed', %s)",
            [ORGANISATION, TokenCipher(SECRET_KEY).encrypt(ENDPOINT_SECRET)],
        )
    return url


def start_receiver(url: str, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "SYNC_DATABASE_URL": url, "SYNC_SECRET_KEY": SECRET_KEY, "SYNC_LOG_LEVEL": "WARNING"}
    return start_command(
        ["webhooks", "serve", "--port", str(port), "--workers", str(workers)],
        f"http://127.0.0.1:{port}/health",
        env=env,
        timeout_s=60,
        what="the receiver",
    )


def events(world: RdvspWorld, first_id: int, count: int) -> list[tuple[int, bytes, str]]:
    """`count` signed Rdv events for new RDV ids (each event creates its RDV)."""
    templates = [r for r in world.rdvs.values() if r.organisation_id == ORGANISATION]
    out = []
    for n in range(count):
        payload = world.rdv_json(templates[n % len(templates)])
        rdv_id = first_id + n
        payload["id"] = rdv_id
        for k, participation in enumerate(payload["participations"]):
            participation["id"] = rdv_id * 10 + k
        body = json.dumps(
            {
                "data": payload,
                "meta": {
                    "model": "Rdv",
                    "event": "created",
                    "webhook_reason": None,
                    "timestamp": datetime.now(timezone.utc).astimezone(PARIS).isoformat(timespec="milliseconds"),
                },
            }
        ).encode()
        out.append((rdv_id, body, signature_of(ENDPOINT_SECRET, body)))
    return out


def run(url: str, port: int, world: RdvspWorld, concurrency: int, count: int, first_id: int) -> dict:
    batch = events(world, first_id, count)
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    position = iter(range(count))

    def worker() -> None:
        # The standard library's client: the load generator shares the machine's two cores with
        # the receiver and Postgres, and costs about a quarter of what httpx does per request.
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            while True:
                with lock:
                    n = next(position, None)
                if n is None:
                    return
                _, body, signature = batch[n]
                started = time.perf_counter()
                client.request(
                    "POST",
                    f"/webhooks/rdvsp/{ORGANISATION}",
                    body=body,
                    headers={"Content-Type": "application/json; charset=utf-8", "X-Lapin-Signature": signature},
                )
                response = client.getresponse()
                response.read()
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    (latencies if response.status == 200 else failures).append(
                        elapsed if response.status == 200 else response.status
                    )
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    with psycopg.connect(libpq_url(url)) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM rdvsp.rdvs WHERE id >= %s AND id < %s", [first_id, first_id + count]
        ).fetchone()[0]
    ordered = sorted(latencies)
    return {
        "concurrency": concurrency,
        "events": count,
        "lost": count - stored,
        "errors": len(failures),
        "p50_ms": round(statistics.median(ordered), 2) if ordered else None,
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2) if ordered else None,
        "events_per_s": round(count / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000, help="per concurrency (p99 is the 10th slowest of 1000)")
    parser.add_argument("--workers", type=int, default=2, help="receiver processes (default 2, as the command's)")
    args = parser.parse_args()
    url = prepared_database()
    port = free_port()
    world = RdvspWorld(seed=3, scale=600)
    receiver = start_receiver(url, port, args.workers)
    try:
        # Warm-up, as a receiver that has been running a while: every worker's connections opened
        # and its statements prepared.
        run(url, port, world, 32, 400, first_id=9_000_000)
        results = [
            run(url, port, world, c, args.events, first_id=10_000_000 * (i + 1)) for i, c in enumerate((1, 8, 32))
        ]
    finally:
        receiver.terminate()
        receiver.wait(timeout=30)
    drop_database(SCRATCH)
    for result in results:
        print(
            f"  concurrency {result['concurrency']:>2}: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
            f"{result['events_per_s']} events/s, lost {result['lost']}, errors {result['errors']}"
        )
    print(json.dumps({"benchmark": "webhook_latency", "receiver_workers": args.workers, "runs": results}))


if __name__ == "__main__":
    main()
