"""A real PostgreSQL for every test that touches SQL.

When `SYNC_DATABASE_URL` is set, the tests create their databases on that server (its role
needs CREATEDB). Otherwise an embedded PostgreSQL is started in a temporary folder for the
session and stopped at its end. Each test gets a fresh database, cloned from a template that
holds every migration.
"""

from __future__ import annotations

import itertools
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from sync_assets.platform import migrations
from sync_assets.platform.warehouse import EmbeddedPostgres, libpq_url, normalize_database_url

TEMPLATE_DATABASE = f"sync_assets_test_template_{os.getpid()}"


@pytest.fixture(scope="session", autouse=True)
def no_patient_data_in_logs():
    """Over the whole run: no sandbox person's name, email, phone, birth date or address in a
    project log record (sync_assets_tests/personal_data_guard.py)."""
    from sync_assets_tests.personal_data_guard import PersonalDataGuard

    guard = PersonalDataGuard()
    guard.install()
    yield guard
    guard.uninstall()
    leaks = guard.leaks()
    assert not leaks, f"{len(leaks)} personal value(s) of sandbox people reached the logs during the test run"


@pytest.fixture(scope="session", autouse=True)
def unthrottled_sandbox_budget():
    """The sandbox does not throttle unless a test asks it to: the API's real budget (50 requests a
    minute, shared) would only slow the suite down. Tests of the budget set their own."""
    names = ("RDVSP_REQUESTS_PER_MINUTE", "RDVSP_RDV_LISTING_REQUESTS_PER_MINUTE")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({name: "600000" for name in names})
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


_database_numbers = itertools.count(1)


def _database_url(admin_url: str, database: str) -> str:
    return normalize_database_url(make_url(admin_url).set(database=database).render_as_string(hide_password=False))


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory) -> Iterator[str]:
    """A libpq URL with the right to create databases."""
    configured = os.environ.get("SYNC_DATABASE_URL")
    if configured:
        yield libpq_url(normalize_database_url(configured))
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres") / "pgdata")
    server.start()
    try:
        yield libpq_url(server.url("postgres"))
    finally:
        server.stop()


@pytest.fixture(scope="session")
def template_database(postgres_admin_url) -> str:
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(TEMPLATE_DATABASE)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DATABASE)))
    migrations.upgrade(_database_url(postgres_admin_url, TEMPLATE_DATABASE))
    return TEMPLATE_DATABASE


@pytest.fixture
def empty_database_url(postgres_admin_url) -> Iterator[str]:
    """SQLAlchemy URL of a new, empty database (no migrations applied)."""
    with _new_database(postgres_admin_url, template="template0") as url:
        yield url


@pytest.fixture
def database_url(postgres_admin_url, template_database) -> Iterator[str]:
    """SQLAlchemy URL of a new database holding every migration."""
    with _new_database(postgres_admin_url, template=template_database) as url:
        yield url


@pytest.fixture
def warehouse_env(database_url, monkeypatch, tmp_path) -> str:
    """The process environment of a deployment whose warehouse is `database_url`."""
    monkeypatch.setenv("SYNC_DATABASE_URL", database_url)
    monkeypatch.setenv("SYNC_LOCAL_DIR", str(tmp_path / "local"))
    return database_url


@contextmanager
def _new_database(admin_url: str, template: str) -> Iterator[str]:
    name = f"sync_assets_test_{os.getpid()}_{next(_database_numbers)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    try:
        yield _database_url(admin_url, name)
    finally:
        from sync_assets.platform.warehouse import engine_for

        engine_for.cache_clear()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def sandbox():
    """The sandbox APIs over real HTTP on a free local port, with small deterministic data."""
    from sync_assets.sandbox.server import start_in_thread

    running = start_in_thread(seed=7, scale=400)
    yield running
    running.stop()


class StatementCounter:
    """Counts the statements a psycopg connection sends, from libpq's protocol trace."""

    _statement = re.compile(r"\tF\t\d+\t(Query|Execute)\t")

    def __init__(self, conn: psycopg.Connection):
        self._conn = conn
        self._file = tempfile.TemporaryFile("w+")  # noqa: SIM115  (open as long as the counter)
        self.count = 0

    def __enter__(self) -> StatementCounter:
        self._conn.pgconn.trace(self._file.fileno())
        return self

    def __exit__(self, *exc) -> None:
        self._conn.pgconn.untrace()
        self._file.seek(0)
        self.count = sum(1 for line in self._file if self._statement.search(line))
        self._file.close()


@pytest.fixture
def count_statements():
    return StatementCounter
