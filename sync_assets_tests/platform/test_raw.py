"""Raw response landing on real PostgreSQL."""

from __future__ import annotations

import json

import psycopg
import pytest

from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.http import Page
from sync_assets.platform.raw import land_page, prune_raw_responses, retention_days
from sync_assets.platform.warehouse import libpq_url


def page(data, params=None, endpoint="/api/v1/rdvs"):
    body = json.dumps(data).encode()
    return Page(endpoint, params or {"page": 1}, 200, body, data)


@pytest.fixture
def conn(database_url):
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        yield conn


def rows(conn):
    return conn.execute(
        "SELECT endpoint, params, body_sha256, body, fetch_count FROM sync.raw_responses ORDER BY id"
    ).fetchall()


def test_a_page_is_kept_with_the_hash_of_its_body(conn):
    p = page({"rdvs": [{"id": 1}], "meta": {"next_page": None}})
    landed = land_page(conn, "rdvsp", p)
    assert not landed.unchanged
    [(endpoint, params, sha, body, fetches)] = rows(conn)
    assert (endpoint, params, sha, body, fetches) == ("/api/v1/rdvs", {"page": 1}, p.sha256, p.data, 1)


def test_an_unchanged_page_is_recognised_and_not_stored_twice(conn):
    p = page({"rdvs": [{"id": 1}]})
    first = land_page(conn, "rdvsp", p)
    again = land_page(conn, "rdvsp", p)
    assert again.unchanged and again.id == first.id
    assert [r[4] for r in rows(conn)] == [2]


def test_a_changed_page_is_stored_and_flagged_changed(conn):
    land_page(conn, "rdvsp", page({"rdvs": [{"id": 1}]}))
    changed = land_page(conn, "rdvsp", page({"rdvs": [{"id": 1, "status": "seen"}]}))
    assert not changed.unchanged
    assert len(rows(conn)) == 2


def test_the_comparison_is_with_the_last_fetch_of_the_same_parameters(conn):
    a, b = page({"rdvs": [1]}), page({"rdvs": [2]})
    land_page(conn, "rdvsp", a)
    land_page(conn, "rdvsp", b)
    assert not land_page(conn, "rdvsp", a).unchanged  # a came back after b: a change
    other_params = page({"rdvs": [1]}, params={"page": 2})
    assert not land_page(conn, "rdvsp", other_params).unchanged
    assert land_page(conn, "rdvsp", other_params).unchanged


def test_a_body_that_is_not_json_is_kept_as_text(conn):
    truncated = Page("/api/v1/rdvs", {}, 502, b"<html>Bad gateway", None)
    land_page(conn, "rdvsp", truncated)
    assert rows(conn)[0][3] == "<html>Bad gateway"


def test_prune_removes_responses_older_than_the_retention(conn):
    land_page(conn, "rdvsp", page({"old": True}, params={"page": 1}))
    land_page(conn, "rdvsp", page({"new": True}, params={"page": 2}))
    conn.execute(
        "UPDATE sync.raw_responses SET last_fetched_at = now() - interval '31 days' WHERE params->>'page' = '1'"
    )
    assert prune_raw_responses(conn, days=30) == 1
    assert [r[3] for r in rows(conn)] == [{"new": True}]


def test_retention_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("SYNC_RAW_RETENTION_DAYS", raising=False)
    assert retention_days() == 30
    monkeypatch.setenv("SYNC_RAW_RETENTION_DAYS", "7")
    assert retention_days() == 7
    for bad in ("0", "-1", "a week"):
        monkeypatch.setenv("SYNC_RAW_RETENTION_DAYS", bad)
        with pytest.raises(ConfigurationError, match="SYNC_RAW_RETENTION_DAYS"):
            retention_days()
