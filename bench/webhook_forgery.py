"""Forged webhook floods: what they cost the receiver, and the signed deliveries beside them.

The receiver (`sync-assets webhooks serve --workers 2`) runs in its own processes on a scratch
database holding --endpoints installed endpoints, each with its own secret. One client posts
signed RDV events to organisation 100's endpoint, one after the other, and times each from POST to
committed row: first alone, then while --streams clients post forged 1 MiB bodies (a random
signature, no secret needed) without pause, to the path without an organisation
(`/webhooks/rdvsp`), then to random organisations' endpoints. A signed delivery not answered within
10 s, RDV Service Public's timeout, counts as timed out (and as infinite in the percentiles).

Usage: python bench/webhook_forgery.py [--endpoints 1000] [--streams 4] [--seconds 10]
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import threading
import time

import psycopg
from _common import drop_database, scratch_database  # noqa: E402  (bench/ is on the path)
from webhook_latency import ENDPOINT_SECRET, ORGANISATION, SECRET_KEY, events, start_receiver  # noqa: E402

from sync_assets.platform.secrets import TokenCipher
from sync_assets.platform.warehouse import libpq_url
from sync_assets.sandbox.rdvsp_world import RdvspWorld
from sync_assets.sandbox.server import free_port

SCRATCH = "sync_assets_bench_webhook_forgery"
FORGED_BYTES = 1024 * 1024


def prepared_database(endpoints: int) -> str:
    url = scratch_database(SCRATCH)
    cipher = TokenCipher(SECRET_KEY)
    rows = [(ORGANISATION + n, cipher.encrypt(ENDPOINT_SECRET if n == 0 else f"secret-{n}")) for n in range(endpoints)]
    with (
        psycopg.connect(libpq_url(url), autocommit=True) as conn,
        conn.cursor().copy(
            "COPY rdvsp.webhook_installations (organisation_id, secret_encrypted, status) FROM STDIN"
        ) as copy,
    ):
        for organisation, secret in rows:
            copy.write_row((organisation, secret, "installed"))
    return url


DELIVERY_TIMEOUT_S = 10  # RDV Service Public gives up on a delivery after 10 s (and sends it again later)


def signed_latencies(port: int, batch: list, stop: threading.Event | None = None) -> list[float]:
    """Each signed delivery's time to its answer, in ms; one that takes longer than RDV Service
    Public waits counts as that timeout (inf)."""
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=DELIVERY_TIMEOUT_S)
    latencies = []
    try:
        for _, body, signature in batch:
            started = time.perf_counter()
            try:
                client.request(
                    "POST",
                    f"/webhooks/rdvsp/{ORGANISATION}",
                    body=body,
                    headers={"Content-Type": "application/json; charset=utf-8", "X-Lapin-Signature": signature},
                )
                response = client.getresponse()
                response.read()
            except TimeoutError:
                latencies.append(float("inf"))
                client.close()
                client = http.client.HTTPConnection("127.0.0.1", port, timeout=DELIVERY_TIMEOUT_S)
            else:
                if response.status != 200:
                    raise SystemExit(f"a signed delivery was answered {response.status}")
                latencies.append((time.perf_counter() - started) * 1000)
            if stop is not None and stop.is_set():
                break
    finally:
        client.close()
    return latencies


def forged_stream(port: int, path_of, stop: threading.Event, seconds: list[float], seed: int) -> None:
    rng = random.Random(seed)
    body = b'{"data": {"id": 1, "x": "' + b"a" * (FORGED_BYTES - 30) + b'"}, "meta": {}}'
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                client.request(
                    "POST",
                    path_of(rng),
                    body=body,
                    headers={"Content-Type": "application/json", "X-Lapin-Signature": f"{rng.getrandbits(256):064x}"},
                )
                response = client.getresponse()
                response.read()
                reconnect = response.will_close
            except (TimeoutError, ConnectionError):
                reconnect = True
            if reconnect:
                client.close()
                client = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            seconds.append((time.perf_counter() - started) * 1000)
    finally:
        client.close()


def under_flood(port: int, batch: list, streams: int, seconds: float, path_of) -> dict:
    stop, forged = threading.Event(), []
    threads = [threading.Thread(target=forged_stream, args=(port, path_of, stop, forged, n)) for n in range(streams)]
    for thread in threads:
        thread.start()
    time.sleep(1)  # the flood under way
    deadline = threading.Timer(seconds, stop.set)
    deadline.start()
    signed = signed_latencies(port, batch, stop)
    stop.set()
    for thread in threads:
        thread.join()
    return {
        **summary(signed),
        "forged_requests": len(forged),
        "forged_p50_ms": round(statistics.median(forged), 1) if forged else None,
    }


def summary(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    answered = [x for x in ordered if x != float("inf")]
    return {
        "signed": len(ordered),
        "timed_out": len(ordered) - len(answered),
        "p50_ms": round(statistics.median(ordered), 2) if answered else None,
        "p95_ms": round(ordered[int(len(ordered) * 0.95)], 2),
        "max_ms": round(ordered[-1], 2),
    }


def stop(receiver: subprocess.Popen) -> None:
    receiver.terminate()
    try:
        receiver.wait(timeout=30)
    except subprocess.TimeoutExpired:  # still working off a flood
        receiver.kill()
        receiver.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0, help="of flood per scenario")
    args = parser.parse_args()
    url = prepared_database(args.endpoints)
    world = RdvspWorld(seed=3, scale=600)
    scenarios = {
        "alone": None,
        "forged_to_the_path_without_organisation": lambda rng: "/webhooks/rdvsp",
        "forged_to_organisations_endpoints": lambda rng: (
            f"/webhooks/rdvsp/{ORGANISATION + rng.randrange(args.endpoints)}"
        ),
    }
    measured = {}
    for n, (name, path_of) in enumerate(scenarios.items()):
        # A receiver of its own for each: a flood's backlog never spills into the next scenario.
        port = free_port()
        receiver = start_receiver(url, port, 2)
        try:
            signed_latencies(port, events(world, 8_000_000 + n * 10_000, 100))  # warm-up
            batch = events(world, 10_000_000 * (n + 1), 2000 if path_of else 200)
            measured[name] = (
                summary(signed_latencies(port, batch))
                if path_of is None
                else under_flood(port, batch, args.streams, args.seconds, path_of)
            )
        finally:
            stop(receiver)
    drop_database(SCRATCH)
    result = {"benchmark": "webhook_forgery", "endpoints": args.endpoints, "streams": args.streams, **measured}
    for name in ("alone", "forged_to_the_path_without_organisation", "forged_to_organisations_endpoints"):
        print(f"  {name}: {result[name]}")
    print(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("SYNC_LOG_LEVEL", "WARNING")
    main()
