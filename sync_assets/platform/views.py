"""Analyst views: `sql/views/<name>.sql`, each a `CREATE OR REPLACE VIEW analytics.<name>`."""

from __future__ import annotations

import re
from pathlib import Path

from psycopg import sql

from sync_assets.platform.merge import AnyConnection, driver_connection, one_row
from sync_assets.platform.migrations import sql_root


def view_path(name: str) -> Path:
    return sql_root() / "views" / f"{name}.sql"


def apply_view(conn: AnyConnection, name: str) -> int:
    """(Re)create the view `analytics.<name>` from its file; return its row count."""
    pg = driver_connection(conn)
    pg.execute(view_path(name).read_text(encoding="utf-8"))
    rows: int = one_row(pg.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("analytics", name))))[0]
    return rows


def analyst_query(name: str) -> str:
    """`sql/queries/<name>.sql` with its psql variables (`:name`, `:'name'`) as psycopg parameters,
    so that tests and benchmarks run exactly the documented queries."""
    text = (sql_root() / "queries" / f"{name}.sql").read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    text = re.sub(r":'(\w+)'", r"%(\1)s", text)
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", text)
