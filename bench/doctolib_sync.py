"""Doctolib sync benchmark: full and incremental runs of every practice, against the sandbox
served by another process.

Measured in one run, over --practices practices of --appointments appointments each:
- full_sync_s: the first run of every practice (no cursor yet: everything is read);
- incremental_noop_s: every practice again, nothing having changed (the default one-hour
  lookback re-reads the few rows near each cursor);
- incremental_changed_s: every practice again after --changed appointments changed, spread
  over every practice;
- noop_ratio: incremental_noop_s / full_sync_s (target: at most 0.1).
Practices run one after the other, in this process, through `PracticeSync` (what a partition
run does, without Dagster's own overhead).

Usage: python bench/doctolib_sync.py [--practices 100] [--appointments 2000] [--changed 2000]
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import httpx
from _common import drop_database, scratch_database, start_command  # noqa: E402  (bench/ is on the path)

from sync_assets.doctolib.client import client_factory
from sync_assets.doctolib.practices import discover_practices
from sync_assets.doctolib.sync import PracticeSync
from sync_assets.platform.warehouse import engine_for

DATABASE = "sync_assets_bench_doctolib"


def sync_every_practice(url: str, practices: list[int], clients, keys: dict[str, str]) -> dict:
    started = time.perf_counter()
    totals = {"count": 0, "created": 0, "updated": 0, "deleted": 0, "noop": 0, "pages": 0, "requests": 0}
    for practice_id in practices:
        outcome = PracticeSync(engine_for(url), practice_id, clients=clients, api_keys=keys, emit=lambda _: None).run()
        counts = outcome.tables["appointments"]
        for name in ("count", "created", "updated", "deleted", "noop"):
            totals[name] += getattr(counts, name)
        totals["pages"] += outcome.pages
        totals["requests"] += outcome.api_requests
    return {"seconds": round(time.perf_counter() - started, 2), **totals}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--practices", type=int, default=100)
    parser.add_argument("--appointments", type=int, default=2000)
    parser.add_argument("--changed", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8913)
    args = parser.parse_args()

    base_url = f"http://127.0.0.1:{args.port}"
    sandbox = start_command(
        [
            "sandbox",
            "--scale",
            "10",
            "--port",
            str(args.port),
            "--doctolib-practices",
            str(args.practices),
            "--doctolib-appointments",
            str(args.appointments),
            "--doctolib-rate",
            "1000",
        ],
        f"{base_url}/sandbox/doctolib/environment",
        what="the sandbox",
        timeout_s=600,
    )
    try:
        environment = httpx.get(f"{base_url}/sandbox/doctolib/environment").json()
        keys = {
            name.removeprefix("DOCTOLIB_API_KEY_").lower(): value
            for name, value in environment.items()
            if name.startswith("DOCTOLIB_API_KEY_")
        }
        url = scratch_database(DATABASE)
        clients = client_factory(base_url, requests_per_second=100)
        found = discover_practices(engine_for(url), clients, keys, emit=lambda _: None)
        print(f"{len(found.practices)} practices through {len(found.accounts)} accounts", file=sys.stderr)

        full = sync_every_practice(url, found.practices, clients, keys)
        print(f"  full: {full}", file=sys.stderr)
        noop = sync_every_practice(url, found.practices, clients, keys)
        print(f"  incremental, no change: {noop}", file=sys.stderr)
        changed_ids = httpx.post(f"{base_url}/sandbox/doctolib/changes", json={"count": args.changed}).json()["changed"]
        changed = sync_every_practice(url, found.practices, clients, keys)
        print(f"  incremental, {len(changed_ids)} changed: {changed}", file=sys.stderr)
        if full["created"] != args.practices * args.appointments or changed["updated"] != len(changed_ids):
            raise SystemExit(f"unexpected figures: full {full}, changed {changed}")
        engine_for(url).dispose()
        drop_database(DATABASE)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)

    print(
        json.dumps(
            {
                "practices": len(found.practices),
                "appointments": full["created"],
                "full_sync_s": full["seconds"],
                "full_rows_per_s": round(full["created"] / full["seconds"]),
                "incremental_noop_s": noop["seconds"],
                "incremental_noop_rows_reread": noop["count"],
                "incremental_changed_s": changed["seconds"],
                "changed": changed["updated"],
                "noop_ratio": round(noop["seconds"] / full["seconds"], 3),
                "changed_ratio": round(changed["seconds"] / full["seconds"], 3),
                "api_requests_full": full["requests"],
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
