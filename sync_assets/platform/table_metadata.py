"""Dagster's table metadata for warehouse relations: the column schema and the row count, so
that the UI shows each table's shape and size at every materialization, and a schema change
(a migration) is visible between two of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from psycopg import sql

from sync_assets.platform.merge import AnyConnection, driver_connection
from sync_assets.platform.sql_files import package_sql

COUNTED_KINDS = ("r", "m")  # tables and materialized views; a plain view is counted by running it


def table_metadata(
    conn: AnyConnection, relations: Sequence[str], count_rows: bool = True
) -> dict[str, dict[str, dg.MetadataValue]]:
    """For each relation (schema.name): `dagster/table_name`, `dagster/column_schema` and, for
    tables and materialized views when `count_rows`, `dagster/row_count` (exact). Two statements
    in all."""
    pg = driver_connection(conn)
    columns: dict[str, list[dg.TableColumn]] = {}
    kinds: dict[str, str] = {}
    for relation, name, type_, _type_oid, nullable, unique, comment, kind in pg.execute(
        package_sql(__file__, "table_columns"), {"relations": list(relations)}
    ):
        kinds[relation] = kind
        columns.setdefault(relation, []).append(
            dg.TableColumn(
                name,
                type_,
                description=comment,
                constraints=dg.TableColumnConstraints(nullable=nullable, unique=unique),
            )
        )
    missing = sorted(set(relations) - set(columns))
    if missing:
        raise ValueError(f"no such relation in the warehouse: {', '.join(missing)}")
    counted = [r for r in relations if kinds[r] in COUNTED_KINDS] if count_rows else []
    counts: dict[str, int] = {}
    if counted:
        statement = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {name}, count(*) FROM {relation}").format(
                name=sql.Literal(r), relation=sql.Identifier(*r.split("."))
            )
            for r in counted
        )
        counts = dict(pg.execute(statement).fetchall())
    metadata: dict[str, dict[str, dg.MetadataValue]] = {}
    for relation in relations:
        entry: dict[str, dg.MetadataValue] = {
            "dagster/table_name": dg.MetadataValue.text(relation),
            "dagster/column_schema": dg.MetadataValue.table_schema(dg.TableSchema(columns=columns[relation])),
        }
        if relation in counts:
            entry["dagster/row_count"] = dg.MetadataValue.int(counts[relation])
        metadata[relation] = entry
    return metadata
