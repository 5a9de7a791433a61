"""`sync-assets demo` (`make run`): everything once, on the embedded warehouse and the sandbox.

1. the embedded PostgreSQL, migrated;
2. the sandbox APIs, in this process;
3. one RDV Service Public account connected (unattended OAuth against the sandbox);
4. every asset materialized through Dagster, recorded in the persistent instance (so `make dev`
   shows the runs afterwards);
5. the webhook path: the receiver started, endpoints installed by the first sync, a few changes
   made in the sandbox that arrive as signed deliveries (their latency printed), a nightly run
   that finds no drift, then one delivery dropped on purpose, which the next nightly finds in its
   organisation, and what the fallback sensor would poll;
5b. a status written back through the outbox (rdvsp.write_requests);
6. the Doctolib practices discovered from the sandbox's accounts and each synced in full (a
   partition each), then one appointment cancelled and one added, and that practice synced again
   incrementally, whose figures show exactly them;
7. the account's attended RDVs turned into activities (with their beneficiaries, merged from the
   RDV users), the account's RDVs listed among its activities (its setting turned on), the views
   of the analytics schema created, and the account's dashboard printed.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg
from psycopg import sql

from sync_assets.coop.account_settings import list_rdvs_in_activity_listing
from sync_assets.platform import migrations
from sync_assets.platform.errors import ConfigurationError, SyncError
from sync_assets.platform.merge import driver_connection
from sync_assets.platform.sql_files import package_sql
from sync_assets.platform.warehouse import database_url, engine_for, libpq_url, redacted_url, uses_embedded_server

DEMO_SCALE = 2000
UNTHROTTLED_PER_MINUTE = 60_000  # the request budget of the demo against its unthrottled sandbox


def run_demo() -> int:
    if not uses_embedded_server():
        raise ConfigurationError(
            "The demo fills the warehouse with sandbox data, so it runs on the embedded PostgreSQL only: "
            "unset SYNC_DATABASE_URL to run it."
        )
    url = database_url()
    print(f"warehouse   {redacted_url(url)} (embedded, under .local/)")
    applied = migrations.upgrade(url)
    print(f"schema      version {migrations.applied(url)[-1][0]:04d} ({len(applied)} migration(s) applied now)")

    from sync_assets.sandbox.server import start_in_thread

    sandbox = start_in_thread(seed=1, scale=DEMO_SCALE)
    try:
        return _with_sandbox(url, sandbox)
    finally:
        sandbox.stop()


def _with_sandbox(url: str, sandbox) -> int:
    from sync_assets.platform.secrets import TokenCipher
    from sync_assets.rdvsp.oauth import RdvspSettings, connect
    from sync_assets.runs import instance, run_job, sync_partition

    oauth = sandbox.rdvsp.oauth
    receiver = start_receiver(url)
    os.environ.update(
        {
            "RDVSP_BASE_URL": sandbox.base_url,
            "RDVSP_CLIENT_ID": oauth.client_id,
            "RDVSP_CLIENT_SECRET": oauth.client_secret,
            "RDVSP_WEBHOOK_URL": receiver.webhook_url,
        }
    )
    # The local sandbox does not throttle: the real API's budget (50 a minute) would only slow the demo.
    for budget in ("RDVSP_REQUESTS_PER_MINUTE", "RDVSP_RDV_LISTING_REQUESTS_PER_MINUTE"):
        os.environ.setdefault(budget, str(UNTHROTTLED_PER_MINUTE))
    print(f"sandbox     {sandbox.base_url} ({DEMO_SCALE} RDVs, seed 1)")
    print(f"receiver    {receiver.webhook_url}/<organisation id> (RDV Service Public's webhooks)")
    try:
        account = connect(
            engine_for(url),
            RdvspSettings.from_environment(),
            TokenCipher.from_environment(),
            sync_from=date.today() - timedelta(days=730),
            unattended=True,
            show=lambda _: None,
        )
        print(f"rdvsp       account {account.account_id} connected (RDVs from {account.sync_from} on)")
        dagster = instance()
        schema_run = run_job(dagster, "sync_warehouse_schema")
        print(
            f"dagster     run {schema_run.run_id[:8]} {'SUCCESS' if schema_run.success else 'FAILURE'}: "
            f"sync/warehouse_schema (DAGSTER_HOME={os.environ['DAGSTER_HOME']})"
        )
        first = sync_partition(dagster, url, "rdvsp", account.account_id, kind="initial")
        _report("first sync", first)
        rdvsp_ok = first.success and _webhook_path(url, sandbox, dagster, account.account_id)
        write_back_ok = _write_back(url, sandbox, dagster, account.account_id)
    finally:
        receiver.stop()

    doctolib_ok = _doctolib(url, sandbox, dagster)
    activities_run = run_job(
        dagster,
        "coop_activities_from_rdvs",
        {"create_activities_from_rdvs": {"config": {"account_id": account.account_id}}},
    )
    with engine_for(url).begin() as conn:  # this mediator lists its RDVs among its activities
        list_rdvs_in_activity_listing(conn, account.account_id)
    views_run = run_job(dagster, "analyst_layer")
    print(
        f"analytics   run {views_run.run_id[:8]} {'SUCCESS' if views_run.success else 'FAILURE'}: coop.beneficiaires "
        "merged, analytics views created"
    )
    views_ok = views_run.success and activities_run.success
    if views_ok:
        _report_dashboard(url, account.account_id)

    print()
    print(f"{'table':<40}{'rows':>10}")
    for table, rows in table_row_counts(url):
        print(f"{table:<40}{rows:>10}")
    print()
    print("Next: `make dev` opens the Dagster UI on this data; `sync-assets db url` prints the URL for psql.")
    if not (schema_run.success and rdvsp_ok and write_back_ok and doctolib_ok and views_ok):
        raise SyncError("the demo failed: see the messages above and the Dagster UI (make dev)")
    return 0


# --- the webhook path -----------------------------------------------------------------------

HOOKED, SILENT = 100, 101  # the changes go to the first organisation; one is dropped in the second


def _webhook_path(url: str, sandbox, dagster, account_id: int) -> bool:
    """Changes made in the sandbox arrive as signed deliveries; a nightly run finds no drift; one
    delivery dropped on purpose is exactly the drift of the next nightly, and the fallback sensor
    would poll its organisation."""
    from sync_assets.runs import sync_partition

    installed = [e.organisation_id for e in sandbox.world.webhook_endpoints.values()]
    print(f"webhooks    endpoints installed for organisations {_ids(installed)} (trigger: false: nothing replayed)")
    latencies = _deliveries(url, sandbox)
    print(
        f"webhooks    {len(latencies)} changes made in the sandbox (3 RDVs created, 1 cancelled, 1 deleted, 1 user "
        f"renamed), each delivered signed and applied: latency p50 {statistics.median(latencies):.0f} ms, max "
        f"{max(latencies):.0f} ms (sandbox change to committed row)"
    )
    calm = sync_partition(dagster, url, "rdvsp", account_id, kind="nightly")
    _report_drift("nightly", url, calm)
    world = sandbox.world
    rescheduled = next(r for r in world.rdvs.values() if r.organisation_id == SILENT and r.status == "unknown")
    sandbox.deliverer.drop_rate = 1.0  # RDV Service Public's delivery is lost
    world.update_rdv(rescheduled.id, starts_at=rescheduled.starts_at + timedelta(days=1))
    sandbox.deliverer.drop_rate = 0.0
    print(f"webhooks    1 delivery dropped on purpose: RDV {rescheduled.id} of organisation {SILENT} rescheduled")
    found = sync_partition(dagster, url, "rdvsp", account_id, kind="nightly")
    _report_drift("nightly", url, found)
    _report_fallback(url, dagster)
    return calm.success and found.success


def _deliveries(url: str, sandbox) -> list[float]:
    """Make six changes one after the other; for each, the milliseconds until the warehouse shows it."""
    world = sandbox.world
    rdv_ids = sorted(r.id for r in world.rdvs.values() if r.organisation_id == HOOKED)
    cancelled = next(i for i in rdv_ids if world.rdvs[i].status == "unknown")
    deleted = next(i for i in rdv_ids if i != cancelled)
    user = next(u for u in world.users.values() if u.organisation_ids == [HOOKED])  # delivered to HOOKED only
    created = (lambda: world.create_rdv(HOOKED).id, "SELECT count(*) = 1 FROM rdvsp.rdvs WHERE id = %(id)s")
    changes = [
        created,
        created,
        created,
        (lambda: world.cancel_rdv(cancelled).id, "SELECT status = 'revoked' FROM rdvsp.rdvs WHERE id = %(id)s"),
        (lambda: world.delete_rdv(deleted) or deleted, "SELECT count(*) = 0 FROM rdvsp.rdvs WHERE id = %(id)s"),
        (
            lambda: world.update_user(user.id, first_name=f"{user.first_name}-Demo").id,
            "SELECT first_name LIKE '%%-Demo' FROM rdvsp.users WHERE id = %(id)s",
        ),
    ]
    latencies = []
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        for change, visible in changes:
            started = time.perf_counter()
            record_id = change()
            while not (conn.execute(visible, {"id": record_id}).fetchone() or (False,))[0]:
                if time.perf_counter() - started > 30:
                    raise SyncError(f"a webhook did not reach the warehouse within 30 s (record {record_id})")
                time.sleep(0.002)
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def _report_drift(title: str, url: str, run) -> None:
    from sync_assets.rdvsp.run_organisations import organisation_drift

    if not (run.success and run.record):
        _report(title, run)
        return
    figures = organisation_drift(engine_for(url), run.record.id)
    print(
        f"{title:<12}run {run.run_id[:8]} SUCCESS: "
        + "; ".join(f"organisation {o.organisation_id}: drift {o.drift} (webhook {o.webhook_status})" for o in figures)
    )


def _report_fallback(url: str, dagster) -> None:
    """What the fallback sensor decides on this data (evaluated, not launched)."""
    import dagster as dg

    from sync_assets.platform.resources import WarehouseResource
    from sync_assets.rdvsp.resources import RdvspApiResource
    from sync_assets.rdvsp.schedules import rdvsp_failed_webhook_organisations

    resources = {"warehouse": WarehouseResource(database_url=url), "rdvsp": RdvspApiResource()}
    with dg.build_sensor_context(instance=dagster, resources=resources) as context:
        decision = rdvsp_failed_webhook_organisations(context)
    if isinstance(decision, dg.SkipReason):
        print(f"fallback    the rdvsp_failed_webhook_organisations sensor would poll nothing: {decision.skip_message}")
        return
    for request in decision:
        print(
            f"fallback    the rdvsp_failed_webhook_organisations sensor would poll organisation(s) "
            f"{request.tags['sync_assets/organisations']} of account {request.partition_key} "
            f"(reason: {request.tags['sync_assets/reasons']}; silent = no delivery for a day while the nightly "
            "found drift)"
        )


def _write_back(url: str, sandbox, dagster, account_id: int) -> bool:
    """A host application's request through the outbox: an attended RDV's status."""
    from sync_assets.rdvsp.write_back import queue_write_request, write_request
    from sync_assets.runs import run_job

    engine = engine_for(url)
    rdv = next(
        r
        for r in sandbox.world.rdvs.values()
        if r.organisation_id == HOOKED and r.status == "unknown" and r.starts_at.date() < date.today()
    )
    request_id = queue_write_request(engine, account_id, "rdv_status", {"rdv_id": rdv.id, "status": "seen"})
    run = run_job(dagster, "rdvsp_write_back", {"deliver_write_requests": {"config": {"request_ids": [request_id]}}})
    request = write_request(engine, request_id)
    print(
        f"write-back  run {run.run_id[:8]} {'SUCCESS' if run.success else 'FAILURE'}: RDV {rdv.id} marked 'seen' at "
        f"RDV Service Public through the outbox (rdvsp.write_requests {request_id}: {request.status})"
    )
    return run.success and request.status == "done"


def _ids(ids) -> str:
    return ", ".join(map(str, sorted(set(ids))))


def _doctolib(url: str, sandbox, dagster) -> bool:
    """Discover the sandbox's practices, sync each, change two appointments, sync again."""
    from datetime import datetime, timezone

    from sync_assets.doctolib.client import api_keys, client_factory
    from sync_assets.doctolib.practices import discover_practices
    from sync_assets.runs import sync_partition

    os.environ.update(sandbox.doctolib.environment(sandbox.base_url))
    found = discover_practices(engine_for(url), client_factory(sandbox.base_url), api_keys(), emit=lambda _: None)
    print(
        f"doctolib    {len(found.accounts)} accounts, {len(found.practices)} practices: "
        + ", ".join(f"{p} via {a}" for p, a in sorted(found.sync_accounts.items()))
    )
    # In full, so that a warehouse left by an earlier demo matches this sandbox exactly.
    runs = [sync_partition(dagster, url, "doctolib", practice_id, full_refresh=True) for practice_id in found.practices]
    for run in runs:
        _report_practice(f"practice {run.partition_key}", run)
    world = sandbox.doctolib.world
    practice_id = found.practices[0]
    changed = next(a for a in world.appointments_of(practice_id, None) if a.status == "confirmed")
    world.cancel(changed.id)
    world.add_appointment(practice_id, datetime.now(timezone.utc).replace(microsecond=0, second=0, minute=0))
    print(f"sandbox     practice {practice_id}: 1 appointment cancelled, 1 added")
    again = sync_partition(dagster, url, "doctolib", practice_id)
    _report_practice("incremental", again)
    return all(r.success for r in runs) and again.success


def _report_practice(title: str, run) -> None:
    detail = run.record.detail if run.record else {}
    since = (
        f", updated since {detail['since'][:16].replace('T', ' ')}"
        if detail.get("since")
        else ", everything"
        if run.record
        else ""
    )
    print(
        f"{title:<12}run {run.run_id[:8]} {'SUCCESS' if run.success else 'FAILURE'}"
        + (f" via {detail['account_name']}{since}" if detail.get("account_name") else "")
    )
    if run.record and run.success:
        print("\n".join(run.record.table_lines()))
    elif run.reason:
        print(f"  {run.reason}")


def _report_dashboard(url: str, account_id: int) -> None:
    from sync_assets.platform.views import analyst_query

    with engine_for(url).connect() as conn:
        future, next_at, past, to_convert, activities = (
            driver_connection(conn)
            .execute(analyst_query("05_account_dashboard"), {"account_id": account_id})
            .fetchone()
        )
    following = f" (next {next_at:%Y-%m-%d %H:%M})" if next_at else ""
    print(
        f"coop        account {account_id}: {activities} activities made from its attended RDVs; dashboard: "
        f"{future} RDVs to come{following}, {past} past, {to_convert} to convert"
    )


def _report(title: str, run) -> None:
    print(
        f"{title:<12}run {run.run_id[:8]} {'SUCCESS' if run.success else 'FAILURE'}"
        + (f", drift {run.record.drift}" if run.record and run.record.drift is not None else "")
    )
    if run.record and run.success:
        print("\n".join(run.record.table_lines()))
    elif run.reason:
        print(f"  {run.reason}")


def table_row_counts(url: str) -> list[tuple[str, int]]:
    """Exact row counts of every table in the warehouse's schemas, in one statement."""
    with engine_for(url).connect() as conn:
        pg = driver_connection(conn)
        tables = [
            (schema, table) for schema, table, *_ in pg.execute(package_sql(migrations.__file__, "warehouse_tables"))
        ]
        if not tables:
            return []
        counts = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {name}, count(*) FROM {table}").format(
                name=sql.Literal(f"{schema}.{table}"), table=sql.Identifier(schema, table)
            )
            for schema, table in tables
        )
        return sorted((name, count) for name, count in pg.execute(counts))


@dataclass
class RunningReceiver:
    webhook_url: str
    server: object
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_receiver(url: str) -> RunningReceiver:
    """The webhook receiver (what `sync-assets webhooks serve` runs), in a thread of this process."""
    import uvicorn

    from sync_assets.platform.secrets import TokenCipher
    from sync_assets.rdvsp.receiver import build_receiver
    from sync_assets.sandbox.server import free_port

    port = free_port()
    app = build_receiver(engine_for(url, low_latency=True), TokenCipher.from_environment())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="webhook-receiver", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise SyncError("the webhook receiver did not start")
        time.sleep(0.01)
    return RunningReceiver(f"http://127.0.0.1:{port}/webhooks/rdvsp", server, thread)
