"""Every table, view and column of the warehouse says what it holds, where analysts look: in the
catalog (`\\d+` in psql, BI tools) and in the column schema of Dagster's materializations.

A migration or view that adds a relation or a column without its `COMMENT ON` fails here, naming
what lacks one. Each test gets its own database (conftest), so tables that other tests create for
themselves never reach this one.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import psycopg
import pytest

from sync_assets.platform.migrations import sql_root
from sync_assets.platform.views import apply_view
from sync_assets.platform.warehouse import libpq_url

WAREHOUSE_SCHEMAS = ("rdvsp", "doctolib", "coop", "sync", "analytics")
# What a migration or a view can create that analysts read: tables, views, materialized views,
# partitioned and foreign tables. Indexes, sequences and types say nothing to them.
RELATION_KINDS = ["r", "v", "m", "p", "f"]
# Every schema but PostgreSQL's own: a new connector's schema (migrations add one per connector)
# is held to the same rule without being listed here.
UNDESCRIBED = """
SELECT n.nspname || '.' || c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = ANY(%(kinds)s) AND n.nspname = ANY(%(schemas)s)
  AND coalesce(btrim(obj_description(c.oid, 'pg_class')), '') = ''
UNION ALL
SELECT n.nspname || '.' || c.relname || '.' || a.attname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind = ANY(%(kinds)s) AND n.nspname = ANY(%(schemas)s)
  AND coalesce(btrim(col_description(c.oid, a.attnum)), '') = ''
UNION ALL
SELECT n.nspname FROM pg_namespace n
WHERE n.nspname = ANY(%(schemas)s) AND coalesce(btrim(obj_description(n.oid, 'pg_namespace')), '') = ''
ORDER BY 1
"""
OWN_SCHEMAS = """
SELECT nspname FROM pg_namespace
WHERE left(nspname, 3) <> 'pg_' AND nspname <> 'information_schema'
  AND (nspname <> 'public' OR EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = pg_namespace.oid))
"""
COUNTS = """
SELECT count(DISTINCT c.oid), count(*)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind = ANY(%(kinds)s) AND n.nspname = ANY(%(schemas)s)
"""
EXAMPLE_SCHEMA = Path(__file__).parent / "example_connector" / "schema.sql"


def view_names() -> list[str]:
    return sorted(path.stem for path in (sql_root() / "views").glob("*.sql"))


def undescribed(conn: psycopg.Connection) -> tuple[list[str], list[str]]:
    """(the schemas checked, what among them lacks a comment or has an empty one)."""
    schemas = [r[0] for r in conn.execute(OWN_SCHEMAS)]
    missing = [r[0] for r in conn.execute(UNDESCRIBED, {"kinds": RELATION_KINDS, "schemas": schemas})]
    return schemas, missing


@pytest.fixture
def warehouse(database_url) -> str:
    """Every migration (the template's), then every analyst view as its asset (re)creates it."""
    with psycopg.connect(libpq_url(database_url)) as conn:
        for name in view_names():
            apply_view(conn, name)
    return database_url


def test_every_table_view_and_column_of_the_warehouse_has_a_comment(warehouse):
    with psycopg.connect(libpq_url(warehouse)) as conn:
        schemas, missing = undescribed(conn)
        relations, columns = conn.execute(COUNTS, {"kinds": RELATION_KINDS, "schemas": schemas}).fetchone()
    assert set(WAREHOUSE_SCHEMAS) <= set(schemas)
    assert relations >= 40 and columns >= 400  # it read the warehouse, not an empty database
    assert not missing, (
        f"{len(missing)} relation(s), column(s) or schema(s) without a comment. Add a COMMENT ON in the migration "
        "that creates them (or, for a view of sql/views/, at the end of its file): " + ", ".join(missing)
    )


def test_a_view_keeps_its_comments_when_it_is_applied_again(warehouse):
    """A view asset runs its file at every materialization: a materialized view is dropped and
    made again, so its comments must come back with it."""
    with psycopg.connect(libpq_url(warehouse)) as conn:
        for name in view_names():
            apply_view(conn, name)
        _, missing = undescribed(conn)
    assert not missing


def test_an_empty_comment_counts_as_missing(warehouse):
    with psycopg.connect(libpq_url(warehouse)) as conn:
        conn.execute("COMMENT ON COLUMN rdvsp.rdvs.status IS '  '")
        conn.execute("COMMENT ON TABLE coop.activites IS NULL")
        _, missing = undescribed(conn)
    assert missing == ["coop.activites", "rdvsp.rdvs.status"]


def test_the_example_connector_comments_its_tables_as_a_connector_must(warehouse):
    """The example is what a new connector copies: its tables carry their comments too."""
    with psycopg.connect(libpq_url(warehouse)) as conn:
        conn.execute(EXAMPLE_SCHEMA.read_text(encoding="utf-8"))
        schemas, missing = undescribed(conn)
    assert "example" in schemas and not missing


def catalog_comments(url: str, relations: list[str]) -> dict[str, dict[str, str]]:
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute(
            "SELECT n.nspname || '.' || c.relname, a.attname, col_description(c.oid, a.attnum) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "WHERE n.nspname || '.' || c.relname = ANY(%s)",
            [relations],
        ).fetchall()
    comments: dict[str, dict[str, str]] = {}
    for relation, column, comment in rows:
        comments.setdefault(relation, {})[column] = comment
    return comments


def test_a_materialization_shows_each_column_with_its_comment(warehouse):
    """The UI's column list shows the catalog's words: coop's table and every analyst view here,
    the synced tables in their own connector's Dagster tests."""
    from sync_assets.coop.assets import beneficiaires
    from sync_assets.coop.views import view_assets
    from sync_assets.platform.resources import WarehouseResource

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [beneficiaires, *view_assets],
            instance=instance,
            resources={"warehouse": WarehouseResource(database_url=warehouse)},
        )
    assert result.success
    shown = {
        e.asset_key.to_user_string().replace("/", "."): {
            c.name: c.description
            for c in e.event_specific_data.materialization.metadata["dagster/column_schema"].value.columns
        }
        for e in result.get_asset_materialization_events()
    }
    assert sorted(shown) == sorted(["coop.beneficiaires", *(f"analytics.{name}" for name in view_names())])
    assert shown == catalog_comments(warehouse, list(shown))


def test_the_warehouse_schema_asset_lists_each_table_with_what_it_holds(empty_database_url):
    from sync_assets.platform.defs import warehouse_schema
    from sync_assets.platform.resources import WarehouseResource

    result = dg.materialize(
        [warehouse_schema], resources={"warehouse": WarehouseResource(database_url=empty_database_url)}
    )
    [materialization] = result.asset_materializations_for_node("sync__warehouse_schema")
    rows = [line.split(" | ") for line in materialization.metadata["tables"].value.splitlines()[2:]]
    assert len(rows) >= 40 and all(len(row) == 3 and row[2].strip(" |") for row in rows), rows
