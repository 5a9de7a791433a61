"""Analyst queries benchmark: the documented queries of sql/queries/ on a large warehouse.

Loads --rdvs RDVs and --activities activities (generated in SQL: bench/sql/analyst_data.sql)
for --accounts mediators into a scratch database, creates the analytics views, then runs each
query --runs times for mediators picked at random and reports p50/p95 and the plan: its top node
and the scans under it (a "Seq Scan" on a large table would mean the query is not index-driven).
The filtered listing (04) is timed as written (its beneficiary filter) and with each of its other
filters in place of that one: a place, a type, a theme, an RDV status (values found among the
mediator's rows when its RDVs are listed) and a place no row holds (`listing_filtered_no_match`:
every row of the mediator is read).
Every mediator lists its RDVs among its activities; the listing queries are then timed again
(`*_without_rdvs`) with that setting off for all of them, as it is by default.

Usage: python bench/analyst_queries.py [--rdvs 1000000] [--activities 1000000] [--accounts 1000]
The last line printed is one JSON object: {"queries": {name: {"p50_ms", "p95_ms", "rows", "plan"}}, ...}.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import psycopg
from _common import drop_database, scratch_database  # noqa: E402  (bench/ is on the path)

from sync_assets.platform.views import analyst_query, apply_view
from sync_assets.platform.warehouse import libpq_url

DATABASE = "sync_assets_bench_analyst"
VIEWS = ("activity_listing", "account_dashboard", "rdv_statistics")
LARGE_TABLES = {"rdvs", "account_rdvs", "participations", "activites", "activite_beneficiaires", "beneficiaires"}


def dashboard(column: str) -> str:
    return f"SELECT {column} FROM analytics.account_dashboard WHERE account_id = %(account_id)s"


# The filters of sql/queries/04 other than the beneficiary's, each timed alone (after the date range).
FILTERS = {
    "place": "place = %(place)s",
    "type": "type = 'collectif'",
    "theme": "themes @> ARRAY['administratif']",
    "rdv_status": "rdv_status = 'noshow'",
    "no_match": "place = 'Nowhere'",
}


def filtered_listing(condition: str) -> str:
    """sql/queries/04 with `condition` in place of its beneficiary filter, its date range kept."""
    statement = analyst_query("04_activity_listing_filtered")
    where, order_by = statement.split("\nORDER BY")
    date_range = "AND date < %(to)s"
    return where[: where.index(date_range) + len(date_range)] + f"\n  AND {condition}\nORDER BY" + order_by


def queries() -> dict[str, str]:
    return {
        "listing_first_page": analyst_query("01_activity_listing_first_page"),
        "listing_next_page": analyst_query("02_activity_listing_next_page"),
        "listing_keyset_page_26": analyst_query("02_activity_listing_next_page"),
        "listing_offset_page_26": analyst_query("03_activity_listing_offset_page"),
        "listing_filtered": analyst_query("04_activity_listing_filtered"),
        **{f"listing_filtered_{name}": filtered_listing(condition) for name, condition in FILTERS.items()},
        "dashboard": analyst_query("05_account_dashboard"),
        "dashboard_future_rdvs": dashboard("future_rdvs"),
        "dashboard_next_rdv": dashboard("next_rdv_at"),
        "dashboard_past_rdvs": dashboard("past_rdvs"),
        "dashboard_rdvs_to_convert": dashboard("rdvs_to_convert"),
        "dashboard_activities": dashboard("activities"),
        "statistics_by_month": analyst_query("06_rdv_statistics_by_month"),
    }


def parameters(conn: psycopg.Connection, account_id: int) -> dict[str, dict]:
    """Each query's parameters for one mediator (a page's key is read from the listing)."""
    listing = conn.execute(
        analyst_query("01_activity_listing_first_page").replace("LIMIT 20", "LIMIT 520"), {"account_id": account_id}
    ).fetchall()
    first, deep = listing[19], listing[499]
    beneficiary = conn.execute(
        "SELECT id FROM coop.beneficiaires WHERE account_id = %s LIMIT 1", [account_id]
    ).fetchone()[0]
    # The place of the mediator's newest activity not made from an RDV.
    place = conn.execute(
        "SELECT place FROM analytics.activity_listing WHERE account_id = %s AND kind = 'activite' "
        "AND rdv_id IS NULL ORDER BY date DESC LIMIT 1",
        [account_id],
    ).fetchone()[0]
    base = {"account_id": account_id}
    dates = base | {"from": "2000-01-01", "to": "2100-01-01"}
    return {
        "listing_next_page": base | {"last_date": first[0], "last_kind": first[1], "last_item_id": first[2]},
        "listing_keyset_page_26": base | {"last_date": deep[0], "last_kind": deep[1], "last_item_id": deep[2]},
        "listing_offset_page_26": base | {"offset": 500},
        "listing_filtered": dates | {"beneficiaire_id": beneficiary},
        **{f"listing_filtered_{name}": dates for name in FILTERS},
        "listing_filtered_place": dates | {"place": place},
    }


def plan_summary(conn: psycopg.Connection, statement: str, params: dict) -> tuple[str, list[str]]:
    plan = conn.execute("EXPLAIN (FORMAT JSON) " + statement, params).fetchone()[0][0]["Plan"]
    scans: list[str] = []

    def walk(node: dict) -> None:
        if "Scan" in node["Node Type"]:
            target = node.get("Index Name") or node.get("Relation Name") or ""
            scans.append(f"{node['Node Type']} {target}".strip())
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    return plan["Node Type"], scans


def measure(conn: psycopg.Connection, statement: str, accounts: list[int], params_for) -> dict:
    """p50/p95 of `statement` over the accounts (after a warm-up), the median number of rows it
    returns (a filter that finds none reads every row of the mediator), and its plan."""
    for account in accounts[:5]:  # warm-up: caches, and psycopg prepares the statement
        conn.execute(statement, params_for(account)).fetchall()
    timings, rows = [], []
    for account in accounts:
        started = time.perf_counter()
        rows.append(len(conn.execute(statement, params_for(account)).fetchall()))
        timings.append((time.perf_counter() - started) * 1000)
    top, scans = plan_summary(conn, statement, params_for(accounts[0]))
    sequential = [s for s in scans if s.startswith("Seq Scan") and s.split()[-1] in LARGE_TABLES]
    return {
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(statistics.quantiles(timings, n=20)[18], 2),
        "rows": statistics.median(rows),
        "plan": f"{top}: {', '.join(dict.fromkeys(scans))}",
        "index_driven": not sequential,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rdvs", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards, to look at plans")
    args = parser.parse_args()
    users = args.accounts * max(1, args.rdvs // args.accounts // 5)  # about 5 RDVs per user

    url = scratch_database(DATABASE)
    started = time.perf_counter()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        data = (Path(__file__).parent / "sql" / "analyst_data.sql").read_text(encoding="utf-8")
        # Whole numbers only, substituted here: a script of several statements takes no parameters.
        conn.execute(
            data
            % {
                "accounts": int(args.accounts),
                "rdvs": int(args.rdvs),
                "activities": int(args.activities),
                "users": int(users),
            }
        )
        load_s = time.perf_counter() - started
        conn.execute("VACUUM ANALYZE")  # what autovacuum does to a live warehouse: visibility map, statistics
        view_started = time.perf_counter()
        for name in VIEWS:
            apply_view(conn, name)
        views_s = time.perf_counter() - view_started
        print(f"loaded in {load_s:.1f} s, views in {views_s:.1f} s", file=sys.stderr)

        rng = random.Random(7)
        accounts = [rng.randint(1, args.accounts) for _ in range(args.runs)]
        params = {a: parameters(conn, a) for a in set(accounts)}
        results = {}
        statements = queries()
        for name, statement in statements.items():
            results[name] = measure(
                conn, statement, accounts, lambda a, name=name: params[a].get(name, {"account_id": a})
            )
            print(f"  {name}: {results[name]}", file=sys.stderr)
        # Mediators who did not choose to list their RDVs among their activities (the default).
        conn.execute("UPDATE coop.account_settings SET include_rdvs_in_activity_listing = false")
        for name in [n for n in statements if n.startswith("listing_")]:
            hidden = f"{name}_without_rdvs"
            results[hidden] = measure(
                conn, statements[name], accounts, lambda a, name=name: params[a].get(name, {"account_id": a})
            )
            print(f"  {hidden}: {results[hidden]}", file=sys.stderr)
    if args.keep:
        print(f"kept: {url}", file=sys.stderr)
    else:
        drop_database(DATABASE)
    print(
        json.dumps(
            {
                "queries": results,
                "rdvs": args.rdvs,
                "activities": args.activities,
                "accounts": args.accounts,
                "load_s": round(load_s, 1),
                "views_s": round(views_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
