"""RDV Service Public polling sync benchmark, against the sandbox served by another process.

Measured in one run, at --scale RDVs (and the full sync again at --memory-scale, for memory):
- fetch_only_s: fetch (and parse) every page the sync fetches, then discard it;
- copy_only_s: COPY the rows the sync would write into empty tables (only the COPYs are timed;
  the pages are fetched and mapped to rows beforehand, untimed);
- full_sync_s: the real sync into empty tables;
- noop_sync_s: the real sync again, nothing having changed;
- peak_rss_mb: peak memory of the full sync's process (each phase runs in its own process).
The client runs without a rate limit in every phase, so that the API's speed is the same.

Usage: python bench/rdvsp_full_sync.py [--scale 100000] [--memory-scale 10000]
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
from _common import scratch_database, start_command  # noqa: E402  (bench/ is on the path)
from psycopg import sql

from sync_assets.platform.http import RefreshingBearer, RetryPolicy, dig
from sync_assets.platform.listing import ListingReader
from sync_assets.platform.secrets import TokenCipher
from sync_assets.platform.warehouse import engine_for, libpq_url
from sync_assets.rdvsp import listings, tables
from sync_assets.rdvsp.client import RdvspClient
from sync_assets.rdvsp.oauth import AccountTokens, RdvspSettings, connect
from sync_assets.rdvsp.sync import RdvspAccountSync

SECRET = "bench-secret-key-0123456789abcdef"
NOW = datetime.now(timezone.utc)
CLIENT_ID, CLIENT_SECRET = "sandbox-client", "sandbox-secret"
ACCOUNT = 1


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def settings(base_url: str) -> RdvspSettings:
    return RdvspSettings(base_url, CLIENT_ID, CLIENT_SECRET, redirect_uri="http://127.0.0.1:9/cb", webhook_url=None)


def client(url: str, base_url: str) -> RdvspClient:
    cipher = TokenCipher(SECRET)
    tokens = AccountTokens(engine_for(url), ACCOUNT, settings(base_url), cipher)
    return RdvspClient(settings(base_url), RefreshingBearer(tokens), retry=RetryPolicy(attempts=3))


def all_pages(c: RdvspClient):
    """Every page the sync fetches, in its order (one after the other, as the API gives them), with
    its listing and scope."""
    reader = ListingReader(c.http, {}, prefetch=False)
    scope = {"account_id": ACCOUNT, "polled_at": NOW, "sync_from": date.today() - timedelta(days=730)}
    organisation_ids = []
    for page in reader.pages(listings.ORGANISATIONS, scope):
        organisation_ids += [o["id"] for o in page.data["organisations"]]
        yield listings.ORGANISATIONS, scope, page
    for org in organisation_ids:
        org_scope = {**scope, "organisation_id": org}
        for listing in (
            listings.MOTIFS,
            listings.LIEUX,
            listings.AGENTS,
            listings.USERS,
            listings.WEBHOOK_ENDPOINTS,
            listings.RDVS,
        ):
            for page in reader.pages(listing, org_scope):
                yield listing, org_scope, page


# --- phases (each in its own process) -----------------------------------------------------


def phase_fetch(url: str, base_url: str) -> dict:
    c = client(url, base_url)
    started = time.perf_counter()
    pages = size = 0
    for _, _, page in all_pages(c):
        pages += 1
        size += len(page.body)
    return {"seconds": time.perf_counter() - started, "pages": pages, "mb": round(size / 2**20, 1)}


def phase_copy(url: str, base_url: str) -> dict:
    """COPY the mapped rows into empty tables; only the COPY statements are timed."""
    c = client(url, base_url)
    specs = {s.table: s for s in tables.MERGE_ORDER}
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bench_copy CASCADE; CREATE SCHEMA bench_copy")
        for spec in specs.values():
            name = spec.name
            conn.execute(f"CREATE TABLE bench_copy.{name} (LIKE {spec.table})")
            conn.execute(f"ALTER TABLE bench_copy.{name} ALTER COLUMN synced_at DROP NOT NULL")
        types = {
            table: [
                r[0]
                for r in conn.execute(
                    "SELECT a.atttypid FROM pg_attribute a JOIN unnest(%s::text[]) WITH ORDINALITY AS c(name, n) "
                    "ON a.attname = c.name WHERE a.attrelid = %s::regclass ORDER BY c.n",
                    [list(s.columns), s.table],
                )
            ]
            for table, s in specs.items()
        }
        timed = 0.0
        buffers: dict[str, list[tuple]] = {t: [] for t in specs}

        def flush(table: str) -> None:
            nonlocal timed
            rows = buffers[table]
            if not rows:
                return
            spec = specs[table]
            started = time.perf_counter()
            with conn.cursor().copy(
                sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier("bench_copy", spec.name), sql.SQL(", ").join(map(sql.Identifier, spec.columns))
                )
            ) as copy:
                copy.set_types(types[table])
                for row in rows:
                    copy.write_row(row)
            timed += time.perf_counter() - started
            rows.clear()

        def add(spec, row) -> None:
            buffers[spec.table].append(row)
            if len(buffers[spec.table]) >= 2000:
                flush(spec.table)

        for listing, scope, page in all_pages(c):  # mapped by the listings' own row mappers
            for item in dig(page.data, listing.records):
                for spec, row in listing.rows(listing.model.model_validate(item), scope, item):
                    add(spec, row)
        for table in specs:
            flush(table)
        conn.execute("DROP SCHEMA bench_copy CASCADE")
    return {"seconds": timed}


def phase_sync(url: str, base_url: str) -> dict:
    c = client(url, base_url)
    started = time.perf_counter()
    outcome = RdvspAccountSync(
        engine_for(url),
        c,
        ACCOUNT,
        cipher=TokenCipher(SECRET),
        webhook_url=None,
        emit=lambda m: print(m, file=sys.stderr),
    ).run()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": sum(t.count for t in outcome.tables.values()),
        "rdvs": outcome.tables["rdvs"].count,
        "drift": outcome.drift,
        "pages": outcome.pages,
    }


PHASES = {"fetch": phase_fetch, "copy": phase_copy, "sync": phase_sync}


def run_phase(name: str, url: str, base_url: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--db", url, "--base-url", base_url],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if result.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- orchestration ------------------------------------------------------------------------


def start_sandbox(scale: int, port: int) -> subprocess.Popen:
    return start_command(
        ["sandbox", "--scale", str(scale), "--port", str(port)],
        f"http://127.0.0.1:{port}/sandbox/state",
        what="the sandbox",
    )


def run_dlt(dlt_python: str, base_url: str, url: str) -> dict:
    """dlt's rest_api source over the same sandbox, into a scratch database: a full load, then an
    unchanged re-run, each in its own process (which reports its own peak memory)."""
    token = AccountTokens(engine_for(url), ACCOUNT, settings(base_url), TokenCipher(SECRET)).access_token()
    target = libpq_url(scratch_database("sync_assets_bench_dlt"))
    results = {}
    with tempfile.TemporaryDirectory() as pipelines:
        environment = {
            **os.environ,
            "RDVSP_BASE_URL": base_url,
            "RDVSP_TOKEN": token,
            "DLT_DSN": target,
            "SYNC_FROM": (date.today() - timedelta(days=730)).isoformat(),
            "DLT_PIPELINES_DIR": pipelines,
            "RUNTIME__LOG_LEVEL": "WARNING",
        }
        for name in ("dlt_full", "dlt_rerun"):
            process = subprocess.Popen(
                [dlt_python, str(Path(__file__).with_name("_dlt_rest_api.py"))],
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            out, err = process.communicate(timeout=3600)
            if process.returncode != 0:
                raise SystemExit(f"dlt failed:\n{err[-3000:]}")
            results[name] = json.loads(out.strip().splitlines()[-1])
            print(f"  {name}: {results[name]}", file=sys.stderr)
    return results


def measure(scale: int, port: int, phases: list[str], dlt_python: str | None = None) -> dict:
    sandbox = start_sandbox(scale, port)
    base_url = f"http://127.0.0.1:{port}"
    try:
        url = scratch_database(f"sync_assets_bench_rdvsp_{scale}")
        connect(
            engine_for(url),
            settings(base_url),
            TokenCipher(SECRET),
            sync_from=date.today() - timedelta(days=730),
            unattended=True,
            show=lambda _: None,
        )
        results = {}
        for phase in phases:
            name = {"fetch": "fetch_only", "copy": "copy_only", "sync": "full_sync", "noop": "noop_sync"}[phase]
            results[name] = run_phase("sync" if phase == "noop" else phase, url, base_url)
            print(f"  scale {scale} {name}: {results[name]}", file=sys.stderr)
        if dlt_python:
            results.update(run_dlt(dlt_python, base_url, url))
        engine_for(url).dispose()
        return results
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--memory-scale", type=int, default=10_000)
    parser.add_argument("--port", type=int, default=8911)
    parser.add_argument("--phase", choices=PHASES)
    parser.add_argument("--db")
    parser.add_argument("--base-url")
    parser.add_argument("--dlt-python", help="a python with dlt[postgres]: also time dlt's rest_api source")
    args = parser.parse_args()
    if args.phase:
        os.environ["SYNC_SECRET_KEY"] = SECRET
        result = PHASES[args.phase](args.db, args.base_url)
        print(json.dumps({**result, "peak_rss_mb": peak_rss_mb()}))
        return

    big = measure(args.scale, args.port, ["fetch", "copy", "sync", "noop"], args.dlt_python)
    small = measure(args.memory_scale, args.port + 1, ["sync"])
    fetch, copy, full, noop = (big[k]["seconds"] for k in ("fetch_only", "copy_only", "full_sync", "noop_sync"))
    report = {
        "benchmark": "rdvsp_full_sync",
        "scale": args.scale,
        "rows": big["full_sync"]["rows"],
        "pages": big["full_sync"]["pages"],
        "full_sync_s": round(full, 2),
        "fetch_only_s": round(fetch, 2),
        "copy_only_s": round(copy, 2),
        "noop_sync_s": round(noop, 2),
        "rows_per_s": round(big["full_sync"]["rows"] / full),
        "full_vs_fetch_plus_copy": round(full / (fetch + copy), 2),
        "noop_vs_fetch": round(noop / fetch, 2),
        "peak_rss_mb": big["full_sync"]["peak_rss_mb"],
        "noop_peak_rss_mb": big["noop_sync"]["peak_rss_mb"],
        "memory_scale": args.memory_scale,
        "memory_scale_peak_rss_mb": small["full_sync"]["peak_rss_mb"],
        "noop_drift": big["noop_sync"]["drift"],
    }
    if args.dlt_python:
        dlt_full, dlt_rerun = big["dlt_full"], big["dlt_rerun"]
        report |= {
            "dlt_full_s": dlt_full["seconds"],
            "dlt_rerun_s": dlt_rerun["seconds"],
            "dlt_peak_rss_mb": max(dlt_full["peak_rss_mb"], dlt_rerun["peak_rss_mb"]),
            "full_vs_dlt": round(full / dlt_full["seconds"], 2),
            "noop_vs_dlt_rerun": round(noop / dlt_rerun["seconds"], 2),
            "peak_rss_vs_dlt": round(
                big["full_sync"]["peak_rss_mb"] / max(dlt_full["peak_rss_mb"], dlt_rerun["peak_rss_mb"]), 2
            ),
        }
    for key, value in report.items():
        print(f"{key:>26}: {value}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
