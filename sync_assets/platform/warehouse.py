"""Where the warehouse lives: `SYNC_DATABASE_URL`, or an embedded PostgreSQL under `.local/`.

The embedded server (pgserver) is started on demand, left running so that the command line,
`dagster dev` and the tests reuse it, and stopped by `sync-assets db stop`. It also hosts
Dagster's own storage, in a database of its own (`dagster`), so the UI and the command line
see the same run history.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from pathlib import Path
from types import ModuleType

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from sync_assets.platform.errors import ConfigurationError

WAREHOUSE_DATABASE = "sync_assets"
DAGSTER_DATABASE = "dagster"


def local_dir() -> Path:
    """The folder for local state (embedded database, Dagster home): `SYNC_LOCAL_DIR` or `./.local`."""
    return Path(os.environ.get("SYNC_LOCAL_DIR") or ".local").resolve()


def normalize_database_url(url: str, variable: str = "SYNC_DATABASE_URL") -> str:
    """A PostgreSQL URL for SQLAlchemy with the psycopg 3 driver, or a clear error."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            f"{variable} is not a valid database URL. Expected the form "
            "postgresql+psycopg://user:password@host:5432/database."
        ) from None
    backend = parsed.drivername.split("+")[0]
    if backend not in ("postgresql", "postgres"):
        raise ConfigurationError(
            f"{variable} points to a {backend!r} database; the warehouse must be PostgreSQL (postgresql+psycopg://…)."
        )
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername != "postgresql+psycopg":
        raise ConfigurationError(
            f"{variable} uses the driver {parsed.drivername!r}; use postgresql+psycopg:// (psycopg 3)."
        )
    return parsed.render_as_string(hide_password=False)


def libpq_url(sqlalchemy_url: str) -> str:
    """The same URL without the SQLAlchemy driver suffix, for libpq clients (psycopg, psql)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def redacted_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


class EmbeddedPostgres:
    """A PostgreSQL server in a folder, listening on a Unix socket only."""

    def __init__(self, pgdata: Path):
        self.pgdata = pgdata

    def start(self) -> None:
        """Start the server if it is not running (initialising the folder the first time)."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        pgserver = _import_pgserver()
        # cleanup_mode=None: the server outlives this process, so later commands reuse it.
        self._server = pgserver.get_server(self.pgdata, cleanup_mode=None)
        if not self.is_running():
            # pgserver keeps one handle per folder and process; a server stopped since
            # (`sync-assets db stop`, a reboot) must be started again through that handle.
            with self._server._lock:
                self._server.ensure_postgres_running()

    def url(self, database: str) -> str:
        """SQLAlchemy URL of a database on this server, created if missing."""
        self.start()
        admin = self._server.get_uri("postgres")
        _create_database_if_missing(admin, database)
        return normalize_database_url(self._server.get_uri(database))

    def is_running(self) -> bool:
        pgserver = _import_pgserver()
        info = pgserver.utils.PostmasterInfo.read_from_pgdata(self.pgdata)
        return info is not None and info.is_running()

    def stop(self) -> bool:
        """Stop the server cleanly (fast shutdown). Returns False when it was not running."""
        if not (self.pgdata / "PG_VERSION").exists() or not self.is_running():
            return False
        pgserver = _import_pgserver()
        user = "pgserver" if os.geteuid() == 0 else None
        pgserver._commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user)
        return True


def _import_pgserver() -> ModuleType:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset, which is normal on servers.
            warnings.simplefilter("ignore")
            import pgserver
            import pgserver._commands
            import pgserver.utils
    except ImportError:
        raise ConfigurationError(
            "The embedded PostgreSQL (pgserver) is not installed. Run `make run` or `make test`, "
            "which install it, or set SYNC_DATABASE_URL to an existing PostgreSQL server."
        ) from None
    return pgserver


def _create_database_if_missing(admin_libpq_url: str, database: str) -> None:
    with psycopg.connect(admin_libpq_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if exists:
            return
        with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # created meanwhile by another process
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(database)))


def embedded_server() -> EmbeddedPostgres:
    return EmbeddedPostgres(local_dir() / "pgdata")


def uses_embedded_server() -> bool:
    return not os.environ.get("SYNC_DATABASE_URL")


def database_url() -> str:
    """The warehouse URL: `SYNC_DATABASE_URL`, or the embedded server (started on demand)."""
    configured = os.environ.get("SYNC_DATABASE_URL")
    if configured:
        return normalize_database_url(configured)
    return embedded_server().url(WAREHOUSE_DATABASE)


def dagster_storage_url() -> str:
    """The URL Dagster stores runs, events and schedules in.

    `DAGSTER_POSTGRES_URL` when set; otherwise the warehouse database itself when
    `SYNC_DATABASE_URL` is set (Dagster's tables go to its `public` schema); otherwise a
    `dagster` database on the embedded server.
    """
    configured = os.environ.get("DAGSTER_POSTGRES_URL")
    if configured:
        url = normalize_database_url(configured, "DAGSTER_POSTGRES_URL")
    elif not uses_embedded_server():
        url = database_url()
    else:
        url = embedded_server().url(DAGSTER_DATABASE)
    # dagster-postgres writes psycopg2-style SQL, and SQLAlchemy 2.1 maps a bare
    # postgresql:// to psycopg 3: name the psycopg2 driver explicitly.
    return make_url(url).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


@functools.lru_cache(maxsize=8)
def engine_for(url: str, low_latency: bool = False) -> Engine:
    """One pooled engine per URL, profile and process.

    The default engine tests each connection as it leaves the pool (one round trip).
    `low_latency` suits a process running the same few small statements all day, like the
    webhook receiver: no pre-ping (it retries on a closed connection itself), and statements
    prepared on first use and planned once (generic plans: every lookup is by key), where the
    defaults would plan each statement anew for its first five runs on each connection.
    """
    if not low_latency:
        return create_engine(url, pool_pre_ping=True, future=True)
    return create_engine(
        url,
        pool_pre_ping=False,
        future=True,
        connect_args={"prepare_threshold": 0, "options": "-c plan_cache_mode=force_generic_plan"},
    )
