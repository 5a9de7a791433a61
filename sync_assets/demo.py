"""`sync-assets demo` (`make run`): everything once, on the embedded warehouse and the sandbox.

1. the embedded PostgreSQL, migrated;
2. the sandbox APIs, in this process;
3. one RDV Service Public account connected (unattended OAuth against the sandbox);
4. every asset materialized through Dagster, recorded in the persistent instance (so `make dev`
   shows the runs afterwards);
5. a few changes made in the sandbox and a second sync, whose figures show exactly them;
6. the Doctolib practices discovered from the sandbox's accounts and each synced in full (a
   partition each), then one appointment cancelled and one added, and that practice synced again
   incrementally, whose figures show exactly them;
7. the account's attended RDVs turned into activities (with their beneficiaries, merged from the
   RDV users), the views of the analytics schema created, and the account's dashboard printed.
"""

from __future__ import annotations

import os
from datetime import date, timedelta

from psycopg import sql

from sync_assets.platform import migrations
from sync_assets.platform.errors import ConfigurationError, SyncError
from sync_assets.platform.merge import driver_connection
from sync_assets.platform.sql_files import package_sql
from sync_assets.platform.warehouse import database_url, engine_for, redacted_url, uses_embedded_server

DEMO_SCALE = 2000


def run_demo() -> int:
    if not uses_embedded_server():
        raise ConfigurationError(
            "The demo fills the warehouse with sandbox data, so it runs on the embedded PostgreSQL only: "
            "unset SYNC_DATABASE_URL to run it.")
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
    from sync_assets.runs import instance, run_job, run_rdvsp_sync

    oauth = sandbox.rdvsp.oauth
    os.environ.update({"RDVSP_BASE_URL": sandbox.base_url, "RDVSP_CLIENT_ID": oauth.client_id,
                       "RDVSP_CLIENT_SECRET": oauth.client_secret})
    print(f"sandbox     {sandbox.base_url} ({DEMO_SCALE} RDVs, seed 1)")
    account = connect(engine_for(url), RdvspSettings.from_environment(), TokenCipher.from_environment(),
                      sync_from=date.today() - timedelta(days=730), unattended=True, show=lambda _: None)
    print(f"rdvsp       account {account.account_id} connected (RDVs from {account.sync_from} on)")

    dagster = instance()
    schema_run = run_job(dagster, "sync_warehouse_schema")
    print(f"dagster     run {schema_run.run_id[:8]} {'SUCCESS' if schema_run.success else 'FAILURE'}: sync/warehouse_schema "
          f"(DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
    first = run_rdvsp_sync(dagster, url, account.account_id, kind="polling")
    _report("first sync", first)

    world = sandbox.world
    rdv_ids = sorted(world.rdvs)
    for _ in range(3):
        world.create_rdv()
    world.cancel_rdv(next(i for i in rdv_ids if world.rdvs[i].status == "unknown"))
    world.delete_rdv(rdv_ids[0])
    print("sandbox     3 RDVs created, 1 cancelled, 1 deleted")
    second = run_rdvsp_sync(dagster, url, account.account_id, kind="polling")
    _report("second sync", second)

    doctolib_ok = _doctolib(url, sandbox, dagster)
    activities_run = run_job(dagster, "coop_activities_from_rdvs",
                             {"create_activities_from_rdvs": {"config": {"account_id": account.account_id}}})
    views_run = run_job(dagster, "analyst_layer")
    print(f"analytics   run {views_run.run_id[:8]} {'SUCCESS' if views_run.success else 'FAILURE'}: coop.beneficiaires "
          "merged, analytics views created")
    views_ok = views_run.success and activities_run.success
    if views_ok:
        _report_dashboard(url, account.account_id)

    print()
    print(f"{'table':<40}{'rows':>10}")
    for table, rows in table_row_counts(url):
        print(f"{table:<40}{rows:>10}")
    print()
    print("Next: `make dev` opens the Dagster UI on this data; `sync-assets db url` prints the URL for psql.")
    if not (schema_run.success and first.success and second.success and doctolib_ok and views_ok):
        raise SyncError("the demo failed: see the messages above and the Dagster UI (make dev)")
    return 0


def _doctolib(url: str, sandbox, dagster) -> bool:
    """Discover the sandbox's practices, sync each, change two appointments, sync again."""
    from datetime import datetime, timezone

    from sync_assets.doctolib.client import api_keys, client_factory
    from sync_assets.doctolib.practices import discover_practices
    from sync_assets.runs import run_doctolib_sync

    os.environ.update(sandbox.doctolib.environment(sandbox.base_url))
    found = discover_practices(engine_for(url), client_factory(sandbox.base_url), api_keys(), emit=lambda _: None)
    print(f"doctolib    {len(found.accounts)} accounts, {len(found.practices)} practices: "
          + ", ".join(f"{p} via {a}" for p, a in sorted(found.sync_accounts.items())))
    # In full, so that a warehouse left by an earlier demo matches this sandbox exactly.
    runs = [run_doctolib_sync(dagster, url, practice_id, full_refresh=True) for practice_id in found.practices]
    for run in runs:
        _report_practice(f"practice {run.practice_id}", run)
    world = sandbox.doctolib.world
    practice_id = found.practices[0]
    changed = next(a for a in world.appointments_of(practice_id, None) if a.status == "confirmed")
    world.cancel(changed.id)
    world.add_appointment(practice_id, datetime.now(timezone.utc).replace(microsecond=0, second=0, minute=0))
    print(f"sandbox     practice {practice_id}: 1 appointment cancelled, 1 added")
    again = run_doctolib_sync(dagster, url, practice_id)
    _report_practice("incremental", again)
    return all(r.success for r in runs) and again.success


def _report_practice(title: str, run) -> None:
    sync_run = run.sync_run
    since = (f", updated since {sync_run.updated_since:%Y-%m-%d %H:%M}" if sync_run and sync_run.updated_since
             else ", everything" if sync_run else "")
    print(f"{title:<12}run {run.run_id[:8]} {'SUCCESS' if run.success else 'FAILURE'}"
          + (f" via {sync_run.account}{since}" if sync_run and sync_run.account else ""))
    if sync_run and run.success:
        print("\n".join(sync_run.table_lines()))
    elif (sync_run and sync_run.reason) or run.failure:
        print(f"  {sync_run.reason if sync_run and sync_run.reason else run.failure}")


def _report_dashboard(url: str, account_id: int) -> None:
    from sync_assets.platform.views import analyst_query

    with engine_for(url).connect() as conn:
        future, next_at, past, to_convert, activities = driver_connection(conn).execute(
            analyst_query("05_account_dashboard"), {"account_id": account_id}).fetchone()
    following = f" (next {next_at:%Y-%m-%d %H:%M})" if next_at else ""
    print(f"coop        account {account_id}: {activities} activities made from its attended RDVs; dashboard: "
          f"{future} RDVs to come{following}, {past} past, {to_convert} to convert")


def _report(title: str, run) -> None:
    print(f"{title:<12}run {run.run_id[:8]} {'SUCCESS' if run.success else 'FAILURE'}"
          + (f", drift {run.log.drift}" if run.log and run.log.drift is not None else ""))
    if run.log and run.success:
        print("\n".join(run.log.table_lines()))
    elif run.log and run.log.error or run.failure:
        print(f"  {run.log.error if run.log and run.log.error else run.failure}")


def table_row_counts(url: str) -> list[tuple[str, int]]:
    """Exact row counts of every table in the warehouse's schemas, in one statement."""
    with engine_for(url).connect() as conn:
        pg = driver_connection(conn)
        tables = [(schema, table) for schema, table, _ in pg.execute(package_sql(migrations.__file__, "warehouse_tables"))]
        if not tables:
            return []
        counts = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {name}, count(*) FROM {table}").format(
                name=sql.Literal(f"{schema}.{table}"), table=sql.Identifier(schema, table))
            for schema, table in tables
        )
        return sorted((name, count) for name, count in pg.execute(counts))
