"""The one run log on real PostgreSQL: a run recorded from its start, its success committed with
its rows, its failure kept when its rows roll back, a skipped run, and analytics.sync_history."""

from __future__ import annotations

import logging

import psycopg
import pytest

from sync_assets.platform.errors import SyncError
from sync_assets.platform.http import ApiClient
from sync_assets.platform.merge import MergeCounts
from sync_assets.platform.run import Run, record_skipped_run, runs_of_dagster_run
from sync_assets.platform.views import apply_view
from sync_assets.platform.warehouse import engine_for, libpq_url

log = logging.getLogger("sync_assets.test_run")


def query(url, statement, params=None):
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(statement, params).fetchall()


def a_run(url, partition_key="1", **kwargs) -> Run:
    return Run(
        engine_for(url),
        "example",
        partition_key,
        kind="polling",
        dagster_run_id="dagster-1",
        logger=log,
        emit=lambda _: None,
        label="example",
        **kwargs,
    )


def test_a_run_is_recorded_from_its_start_and_its_success_commits_with_its_rows(database_url):
    engine = engine_for(database_url)
    run = a_run(database_url, detail={"cursor": "2026-01-01"}, http=ApiClient("example", "http://127.0.0.1:9"))
    with run, engine.begin() as conn:
        assert query(database_url, "SELECT status FROM sync.runs") == [("running",)]  # seen by others at once
        conn.exec_driver_sql("CREATE TABLE sync.example_rows (n int)")
        for records in (10, 10, 3):
            run.progress.page(records)
        run.http.requests = 4
        run.finish(conn, {"rows": MergeCounts(count=5, created=2, noop=3)})
        assert query(database_url, "SELECT status FROM sync.runs") == [("running",)]  # not before the commit
    [record] = runs_of_dagster_run(engine, "dagster-1")
    assert (record.connector, record.partition_key, record.status, record.drift) == ("example", "1", "success", 2)
    assert record.detail == {"cursor": "2026-01-01"} and record.tables == [("rows", 5, 2, 0, 0, 3, 2)]
    assert query(database_url, "SELECT pages, api_requests FROM sync.runs") == [(3, 4)]


def test_a_failed_run_keeps_why_while_its_rows_roll_back(database_url, caplog):
    engine = engine_for(database_url)
    with pytest.raises(SyncError), a_run(database_url, ids={"practice_id": 1}) as run, engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE sync.example_rows (n int)")
        run.progress.page(10)
        run.progress.page(7)
        raise SyncError("example GET /v1/things failed after 5 attempts: HTTP 503")
    assert query(database_url, "SELECT status, error, pages FROM sync.runs") == [
        ("failed", "example GET /v1/things failed after 5 attempts: HTTP 503", 2)
    ]
    assert query(database_url, "SELECT to_regclass('sync.example_rows')") == [(None,)]
    [failure] = [r for r in caplog.records if r.getMessage() == "example sync failed"]
    assert failure.practice_id == 1 and failure.run_log_id == run.id


def test_a_run_that_could_not_happen_is_kept_with_its_reason(database_url):
    with engine_for(database_url).begin() as conn:
        record_skipped_run(conn, "example", "no key is set", kind="daily")
    assert query(database_url, "SELECT status, error, partition_key, ended_at IS NOT NULL FROM sync.runs") == [
        ("skipped", "no key is set", None, True)
    ]


def test_sync_history_lists_every_run_newest_first_with_its_figures(database_url):
    engine = engine_for(database_url)
    for key, created in (("1", 2), ("2", 5)):
        run = a_run(database_url, partition_key=key)
        with run, engine.begin() as conn:
            run.finish(
                conn,
                {
                    "rows": MergeCounts(count=9, created=created, noop=9 - created),
                    "links": MergeCounts(count=1, deleted=1),
                },
            )
    with engine.begin() as conn:
        record_skipped_run(conn, "other", "nothing to sync", kind="daily")
        apply_view(conn, "sync_history")
    rows = query(
        database_url,
        "SELECT connector, partition_key, status, drift, created, deleted, "
        "tables -> 'rows' ->> 'created' FROM analytics.sync_history ORDER BY started_at DESC",
    )
    assert rows == [
        ("other", None, "skipped", None, None, None, None),
        ("example", "2", "success", 6, 5, 1, "5"),
        ("example", "1", "success", 3, 2, 1, "2"),
    ]
