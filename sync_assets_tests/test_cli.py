"""The `sync-assets` command: working paths, and clear errors without tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sync_assets.cli import main
from sync_assets.platform import migrations


def test_db_upgrade_applies_and_reports(empty_database_url, monkeypatch, capsys):
    monkeypatch.setenv("SYNC_DATABASE_URL", empty_database_url)
    assert main(["db", "upgrade"]) == 0
    out = capsys.readouterr().out
    latest = migrations.discover()[-1]
    assert f"applied {latest.path.name}" in out
    assert f"schema at version {latest.version:04d}" in out
    assert main(["db", "upgrade"]) == 0
    assert "(0 migration(s) applied now)" in capsys.readouterr().out


def test_db_upgrade_names_a_failing_file(empty_database_url, monkeypatch, capsys, tmp_path):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001_broken.sql").write_text("CREATE TABLE nowhere.t (id int);")
    monkeypatch.setenv("SYNC_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("SYNC_SQL_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "0001_broken.sql failed and was rolled back" in err and "Traceback" not in err


def test_db_url_prints_the_configured_url(monkeypatch, capsys):
    monkeypatch.setenv("SYNC_DATABASE_URL", "postgresql://analyst:secret@db.example:5432/warehouse")
    assert main(["db", "url"]) == 0
    assert capsys.readouterr().out.strip() == "postgresql+psycopg://analyst:secret@db.example:5432/warehouse"
    assert main(["db", "url", "--dagster"]) == 0
    assert capsys.readouterr().out.strip() == "postgresql+psycopg2://analyst:secret@db.example:5432/warehouse"


@pytest.mark.parametrize(
    "url, expected",
    [
        ("mysql://u@h/db", "must be PostgreSQL"),
        ("not a url", "not a valid database URL"),
        ("postgresql+asyncpg://u@h/db", "use postgresql+psycopg://"),
    ],
)
def test_a_bad_database_url_is_a_clear_error(monkeypatch, capsys, url, expected):
    monkeypatch.setenv("SYNC_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "SYNC_DATABASE_URL" in err and expected in err and "Traceback" not in err


def test_db_stop_with_an_external_warehouse_says_there_is_nothing_to_stop(monkeypatch, capsys):
    monkeypatch.setenv("SYNC_DATABASE_URL", "postgresql://u@h/db")
    assert main(["db", "stop"]) == 0
    assert "no embedded server" in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "commands" in capsys.readouterr().out


@pytest.mark.slow
def test_demo_on_a_fresh_embedded_warehouse(tmp_path):
    """`make run` as a new user runs it: nothing but a folder for local state."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SYNC_DATABASE_URL", "DAGSTER_HOME", "DAGSTER_POSTGRES_URL", "SYNC_SECRET_KEY")
    }
    env["SYNC_LOCAL_DIR"] = str(tmp_path / "local")
    command = [str(Path(sys.executable).with_name("sync-assets"))]
    try:
        result = subprocess.run([*command, "demo"], env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout
        assert "SUCCESS: sync/warehouse_schema" in out
        assert "first sync  run" in out and "FAILURE" not in out
        # The webhook path: six changes delivered and applied, then a nightly run without drift; one
        # delivery dropped is exactly the next nightly's drift, in its organisation, which the
        # fallback sensor would poll.
        assert "6 changes made in the sandbox" in out and "latency p50" in out
        first_nightly, second_nightly = [line for line in out.splitlines() if line.startswith("nightly")]
        assert "organisation 100: drift 0" in first_nightly and "organisation 101: drift 0" in first_nightly
        assert "organisation 100: drift 0" in second_nightly and "organisation 101: drift 1" in second_nightly
        assert "sensor would poll organisation(s) 101 of account 1 (reason: silent" in out
        assert "marked 'seen' at RDV Service Public through the outbox" in out
        tables = dict(
            line.rsplit(None, 1) for line in out.splitlines() if line.startswith(("rdvsp.", "sync.", "coop."))
        )
        assert int(tables["sync.webhook_inbox"]) == 7  # the six changes and the written-back status
        assert "rdvsp.rdvs" in tables and "sync.schema_migrations" in tables
        # A second demo reuses the server, the database and the Dagster instance.
        again = subprocess.run([*command, "demo"], env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and "(0 migration(s) applied now)" in again.stdout, again.stdout + again.stderr
    finally:
        subprocess.run([*command, "db", "stop"], env=env, capture_output=True, timeout=120)
    assert not (tmp_path / "local" / "pgdata" / "postmaster.pid").exists()
