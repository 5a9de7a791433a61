"""Analyst views: `sql/views/<name>.sql`, each a `CREATE OR REPLACE VIEW analytics.<name>`."""

from __future__ import annotations

from pathlib import Path

from psycopg import sql

from sync_assets.platform.merge import driver_connection
from sync_assets.platform.migrations import sql_root


def view_path(name: str) -> Path:
    return sql_root() / "views" / f"{name}.sql"


def apply_view(conn, name: str) -> int:
    """(Re)create the view `analytics.<name>` from its file; return its row count."""
    pg = driver_connection(conn)
    pg.execute(view_path(name).read_text(encoding="utf-8"))
    return pg.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("analytics", name))).fetchone()[0]
