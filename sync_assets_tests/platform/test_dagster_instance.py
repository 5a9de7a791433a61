"""The Dagster instance: its storage found without an exported URL, and the `.env` for Dagster's CLI."""

from __future__ import annotations

import click
import dagster as dg
import psycopg
import pytest
import yaml
from dagster._core.secrets.env_file import get_env_var_dict
from dagster_postgres import PostgresRunStorage

from sync_assets.platform.dagster_storage import DagsterStorageUnavailable, ProjectPostgresStorage
from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.instance import (
    DOTENV_BEGIN,
    DOTENV_END,
    PROJECT_DAGSTER_YAML,
    prepare_dagster_environment,
    write_dotenv,
)
from sync_assets.platform.warehouse import libpq_url


def test_the_dotenv_block_is_ours_alone_and_an_exported_variable_wins(tmp_path, monkeypatch):
    dotenv = tmp_path / ".env"
    dotenv.write_text("# the user's own\nAPI_TOKEN=kept\n")
    write_dotenv(dotenv, {"DAGSTER_HOME": "/old/home"})
    write_dotenv(dotenv, {"DAGSTER_HOME": "/projects/sync/.local/dagster", "SYNC_LOCAL_DIR": "/projects/sync/.local"})
    lines = dotenv.read_text().splitlines()
    assert lines[:2] == ["# the user's own", "API_TOKEN=kept"]
    assert lines.count(DOTENV_BEGIN) == 1 and lines[-1] == DOTENV_END and "/old/home" not in dotenv.read_text()

    # Read as Dagster reads it, before it builds its instance.
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("SYNC_LOCAL_DIR", raising=False)
    assert get_env_var_dict(str(tmp_path)) == {
        "API_TOKEN": "kept",
        "DAGSTER_HOME": "/projects/sync/.local/dagster",
        "SYNC_LOCAL_DIR": "/projects/sync/.local",
    }
    monkeypatch.setenv("DAGSTER_HOME", "/mine")
    assert get_env_var_dict(str(tmp_path))["DAGSTER_HOME"] == "/mine"


def test_a_value_a_dotenv_line_cannot_hold_is_left_out_and_said(tmp_path):
    dotenv = tmp_path / ".env"
    write_dotenv(dotenv, {"DAGSTER_HOME": "/a/${b}"})
    assert "DAGSTER_HOME=" not in dotenv.read_text() and "# DAGSTER_HOME not written" in dotenv.read_text()


def test_the_set_up_in_a_project_folder_links_dagster_yaml_and_writes_the_dotenv(tmp_path, monkeypatch):
    (tmp_path / "workspace.yaml").write_text("load_from: []\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", "")  # unset for the call, restored afterwards
    monkeypatch.delenv("SYNC_LOCAL_DIR", raising=False)
    home = prepare_dagster_environment()["DAGSTER_HOME"]
    assert home == str(tmp_path / ".local" / "dagster")
    assert (tmp_path / ".local" / "dagster" / "dagster.yaml").resolve() == PROJECT_DAGSTER_YAML
    assert f"DAGSTER_HOME=${{DAGSTER_HOME:-{home}}}" in (tmp_path / ".env").read_text().splitlines()


def test_a_local_folder_elsewhere_writes_no_dotenv(tmp_path, monkeypatch):
    (tmp_path / "workspace.yaml").write_text("load_from: []\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", "")
    monkeypatch.setenv("SYNC_LOCAL_DIR", str(tmp_path / "state"))
    assert prepare_dagster_environment()["DAGSTER_HOME"] == str(tmp_path / "state" / "dagster")
    assert not (tmp_path / ".env").exists()


def test_the_storage_without_dagster_home_says_what_to_run(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with pytest.raises(DagsterStorageUnavailable, match=r"DAGSTER_HOME is not set: run `make run`") as raised:
        ProjectPostgresStorage.from_config_value(None, {})
    # One line from Dagster's CLI (click prints it, no traceback), one line from the project's.
    assert isinstance(raised.value, click.ClickException) and isinstance(raised.value, ConfigurationError)


def test_an_unreachable_storage_server_is_said_once_without_its_password(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.delenv("DAGSTER_POSTGRES_URL", raising=False)
    monkeypatch.setenv("SYNC_DATABASE_URL", "postgresql://u:s3cret@127.0.0.1:1/warehouse")
    with pytest.raises(DagsterStorageUnavailable, match="from SYNC_DATABASE_URL.* cannot be reached") as raised:
        ProjectPostgresStorage.from_config_value(None, {})
    assert "s3cret" not in str(raised.value) and "\n" not in str(raised.value)


def test_the_projects_dagster_yaml_stores_runs_in_the_warehouse_database(tmp_path, monkeypatch, database_url):
    (tmp_path / "dagster.yaml").symlink_to(PROJECT_DAGSTER_YAML)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.delenv("DAGSTER_POSTGRES_URL", raising=False)
    monkeypatch.setenv("SYNC_DATABASE_URL", database_url)

    @dg.asset
    def probe() -> int:
        return 1

    instance = dg.DagsterInstance.get()
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        # What Dagster hands its subprocesses holds no URL (so no password): each one finds it again.
        assert yaml.safe_load(instance.get_ref().storage_data.config_yaml) in ({}, None)
        result = dg.materialize([probe], instance=instance)
        assert result.success and [run.run_id for run in instance.get_runs()] == [result.run_id]
    finally:
        instance.dispose()
    with psycopg.connect(libpq_url(database_url)) as conn:
        assert conn.execute("SELECT count(*) FROM public.runs").fetchone() == (1,)
