"""Where the warehouse is: URL rules, the embedded server's life cycle, Dagster's storage."""

from __future__ import annotations

import psycopg
import pytest

from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.warehouse import (
    EmbeddedPostgres,
    dagster_storage_url,
    database_url,
    libpq_url,
    normalize_database_url,
    redacted_url,
)


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://u:p@h:5432/db",
        "postgres://u:p@h:5432/db",
        "postgresql+psycopg://u:p@h:5432/db",
        "postgresql+psycopg2://u:p@h:5432/db",
    ],
)
def test_postgres_urls_are_normalised_to_psycopg3(given):
    assert normalize_database_url(given) == "postgresql+psycopg://u:p@h:5432/db"


def test_redacted_url_hides_the_password():
    assert redacted_url("postgresql+psycopg://u:hunter2@h/db") == "postgresql+psycopg://u:***@h/db"


def test_the_configured_url_wins(monkeypatch):
    monkeypatch.setenv("SYNC_DATABASE_URL", "postgresql://u@h/db")
    assert database_url() == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", "postgresql://d@h2/dagster")
    assert dagster_storage_url() == "postgresql+psycopg2://d@h2/dagster"


def test_a_bad_dagster_url_names_its_variable(monkeypatch):
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", "sqlite:///x.db")
    with pytest.raises(ConfigurationError, match="DAGSTER_POSTGRES_URL"):
        dagster_storage_url()


def test_the_embedded_server_starts_on_demand_is_reused_and_stops(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNC_DATABASE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_POSTGRES_URL", raising=False)
    monkeypatch.setenv("SYNC_LOCAL_DIR", str(tmp_path))
    server = EmbeddedPostgres(tmp_path / "pgdata")
    try:
        url = database_url()  # starts it
        assert server.is_running()
        with psycopg.connect(libpq_url(url)) as conn:
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            conn.execute("CREATE TABLE kept (id int)")
            conn.commit()
        assert database_url() == url  # reused, not restarted
        dagster_url = dagster_storage_url()
        assert "/dagster?" in dagster_url and dagster_url.startswith("postgresql+psycopg2://")
        assert pid
    finally:
        assert server.stop()
    assert not server.is_running()
    assert not server.stop()  # stopping twice is harmless
    with psycopg.connect(libpq_url(database_url())) as conn:  # started again, data kept
        assert conn.execute("SELECT to_regclass('public.kept')").fetchone()[0] == "kept"
    server.stop()
