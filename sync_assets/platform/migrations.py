"""Numbered SQL migrations: `sql/migrations/NNNN_name.sql`, applied in order, each once.

Each file runs in its own transaction together with its row in `sync.schema_migrations`, so a
failing file leaves the database exactly as the previous file left it. An advisory lock keeps
two processes (say `dagster dev` and the command line) from migrating at the same time.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from sync_assets.platform.errors import ConfigurationError, MigrationError
from sync_assets.platform.merge import one_row
from sync_assets.platform.warehouse import libpq_url

MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same for every process migrating this database.
ADVISORY_LOCK_KEY = 0x5359_4E43  # "SYNC"


def sql_root() -> Path:
    """The project's `sql/` folder (or `SYNC_SQL_DIR`)."""
    configured = os.environ.get("SYNC_SQL_DIR")
    root = Path(configured) if configured else Path(__file__).resolve().parents[2] / "sql"
    if not (root / "migrations").is_dir():
        raise ConfigurationError(
            f"No migrations folder at {root / 'migrations'}. Install the project from its checkout "
            "(`make run` does: pip install -e .) or set SYNC_SQL_DIR to the project's sql/ folder."
        )
    return root


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path | None = None) -> list[Migration]:
    directory = directory or sql_root() / "migrations"
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_FILE.match(path.name)
        if not match:
            raise MigrationError(
                f"{path.name}: migration files are named NNNN_lowercase_name.sql (for example 0003_add_rdvs.sql)."
            )
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(f"{path.name} and {migrations[version].path.name} share the number {version:04d}.")
        migrations[version] = Migration(version, match.group(2), path)
    return [migrations[v] for v in sorted(migrations)]


_BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS sync;
CREATE TABLE IF NOT EXISTS sync.schema_migrations (
    version    integer PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


def upgrade(database_url: str, directory: Path | None = None) -> list[Migration]:
    """Apply every pending migration in order; return those applied by this call."""
    migrations = discover(directory)
    applied_now: list[Migration] = []
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        try:
            conn.execute(_BOOTSTRAP)
            recorded: dict[int, str] = dict(
                conn.execute("SELECT version, checksum FROM sync.schema_migrations").fetchall()
            )
            _check_history(migrations, recorded)
            for migration in migrations:
                if migration.version in recorded:
                    continue
                _apply(conn, migration)
                applied_now.append(migration)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
    return applied_now


def applied(database_url: str) -> list[tuple[int, str]]:
    """(version, name) of every migration recorded in the database, in order."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        (exists,) = one_row(conn.execute("SELECT to_regclass('sync.schema_migrations')"))
        if exists is None:
            return []
        return conn.execute("SELECT version, name FROM sync.schema_migrations ORDER BY version").fetchall()


def _check_history(migrations: list[Migration], recorded: dict[int, str]) -> None:
    known = {m.version: m for m in migrations}
    unknown = sorted(set(recorded) - set(known))
    if unknown:
        raise MigrationError(
            f"The database has migration(s) {', '.join(f'{v:04d}' for v in unknown)} that this code does not "
            "know: it was migrated by a newer version. Update the code before running it against this database."
        )
    for version, checksum in recorded.items():
        if known[version].checksum != checksum:
            raise MigrationError(
                f"{known[version].path.name} was changed after it was applied. Applied migrations are never "
                "edited: restore the file and add a new migration for the change."
            )


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    try:
        with conn.transaction():
            # No parameters: psycopg sends the file with the simple query protocol, so it may
            # hold several statements.
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO sync.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                [migration.version, migration.name, migration.checksum],
            )
    except psycopg.Error as error:
        detail = error.diag.message_primary or type(error).__name__
        raise MigrationError(
            f"{migration.path.name} failed and was rolled back: {detail}. The database is as the previous "
            "migration left it; fix the file and run `sync-assets db upgrade` again."
        ) from None
