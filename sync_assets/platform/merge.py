"""Set-based bulk merge with exact diff counts.

A sync stages its rows with COPY into a temporary table (page by page, so memory stays
bounded), then merges them into the target with one statement:

    INSERT … ON CONFLICT (key) DO UPDATE … WHERE target IS DISTINCT FROM staged

and, when asked, deletes the rows of a scope that were not staged. Counts come back from the
same statements, so they are exact: a row already present is never counted as created, and an
identical row is not rewritten (its `synced_at` keeps the time of its last change).

Rows staged twice (APIs that repeat a record across pages) count once; the last one wins.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, fields

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

_stage_numbers = itertools.count(1)
# Up to this many rows, a table merges from parameters rather than through a staged COPY
# (statements are cached per row count, so this also bounds that cache).
SMALL_BATCH_ROWS = 50


@dataclass(frozen=True)
class MergeCounts:
    """What a merge did to one table. drift = created + updated + deleted."""

    count: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    noop: int = 0

    @property
    def drift(self) -> int:
        return self.created + self.updated + self.deleted

    def __add__(self, other: MergeCounts) -> MergeCounts:
        return MergeCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"drift": self.drift}


@dataclass(frozen=True)
class TableSpec:
    """A synced table: its name, key and the columns a sync writes (key included).

    `synced_at` is not listed: the merge sets it on the rows it creates or changes.
    """

    table: str  # schema-qualified, e.g. "rdvsp.rdvs"
    key: tuple[str, ...]
    columns: tuple[str, ...]
    # Columns rewritten along with a change but that are not a change by themselves (a raw
    # payload that embeds other records, whose own changes are counted in their own table).
    untracked: tuple[str, ...] = ()
    # A column (among `untracked`) holding the version of the row's state: a staged row whose
    # version is older than the stored one never overwrites it.
    version_column: str | None = None

    def __post_init__(self) -> None:
        if self.version_column and self.version_column not in self.untracked:
            raise ValueError(f"{self.table}: the version column must be untracked")
        missing = [k for k in (*self.key, *self.untracked) if k not in self.columns]
        if missing:
            raise ValueError(f"{self.table}: column(s) {missing} must be among the columns")

    @property
    def value_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.key)

    @property
    def compared_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.value_columns if c not in self.untracked)

    def identifier(self) -> sql.Identifier:
        return sql.Identifier(*self.table.split("."))


class WholeTable:
    """Delete scope meaning every row of the table (a full listing of everything it holds)."""


WHOLE_TABLE = WholeTable()


@dataclass(frozen=True)
class DeleteWhere:
    """Delete scope given as a condition on the target's rows, aliased `t`, e.g.
    `t.organisation_id = ANY(%s) AND t.starts_at >= %s`, with its parameters."""

    condition: sql.Composable
    params: Sequence[object] = ()


# A scope: column -> the values that were listed in full, e.g. {"organisation_id": [1, 2]};
# or WHOLE_TABLE; or a DeleteWhere. Rows of the target in the scope that were not staged are deleted.
DeleteScope = Mapping[str, Sequence[object]] | WholeTable | DeleteWhere


def driver_connection(conn) -> psycopg.Connection:
    """The psycopg connection behind a SQLAlchemy Connection (or the psycopg one itself)."""
    if isinstance(conn, psycopg.Connection):
        return conn
    return conn.connection.driver_connection


@dataclass
class StagedMerge:
    """Rows staged for one table within the caller's transaction."""

    conn: psycopg.Connection
    spec: TableSpec
    stage: sql.Identifier
    column_types: list[int]  # type oids, for COPY
    # Filled by merge(group_by=…): the created/updated/deleted of each value of that column.
    groups: dict[object, MergeCounts] = field(default_factory=dict)

    def add(self, rows: Iterable[Sequence[object]]) -> int:
        """COPY rows (tuples in the order of `spec.columns`) into the stage; returns how many."""
        copy_statement = sql.SQL("COPY {} ({}) FROM STDIN").format(self.stage, _column_list(self.spec.columns))
        added = 0
        with self.conn.cursor() as cur, cur.copy(copy_statement) as copy:
            copy.set_types(self.column_types)
            for row in rows:
                copy.write_row(row)
                added += 1
        return added

    def merge(self, delete_scope: DeleteScope | None = None, group_by: str | None = None) -> MergeCounts:
        """Merge the staged rows into the target; delete unstaged rows of `delete_scope`.

        group_by: also count created/updated/deleted per value of that column (in `groups`).
        """
        with self.conn.cursor() as cur:
            # Temporary tables are never auto-analysed; without statistics the planner may pick
            # a nested loop for the anti-join below.
            cur.execute(sql.SQL("ANALYZE {}").format(self.stage))
            rows = cur.execute(self._upsert_statement(group_by)).fetchall()
            count = rows[0][1] if rows else 0
            created = sum(r[2] for r in rows)
            updated = sum(r[3] for r in rows)
            if group_by:
                self.groups = {r[0]: MergeCounts(created=r[2], updated=r[3]) for r in rows if r[0] is not None}
            deleted = 0
            if delete_scope is not None:
                statement, params = self._delete_statement(delete_scope, group_by)
                if statement is not None:
                    for value, gone in cur.execute(statement, params).fetchall():
                        deleted += gone
                        if group_by:
                            before = self.groups.get(value, MergeCounts())
                            self.groups[value] = MergeCounts(created=before.created, updated=before.updated,
                                                             deleted=before.deleted + gone)
        return MergeCounts(count=count, created=created, updated=updated, deleted=deleted,
                           noop=count - created - updated)

    def _upsert_statement(self, group_by: str | None = None) -> sql.Composed:
        spec = self.spec
        columns = _column_list(spec.columns)
        key = _column_list(spec.key)
        on_conflict = _on_conflict(spec)
        group = sql.SQL("t.{}").format(sql.Identifier(group_by)) if group_by else sql.SQL("NULL::text")
        return sql.SQL(
            "WITH staged AS ("
            "  SELECT DISTINCT ON ({key}) {columns} FROM {stage} ORDER BY {key}, _staged_order DESC"
            "), written AS ("
            "  INSERT INTO {target} AS t ({columns}, synced_at)"
            "  SELECT {columns}, now() FROM ({changed}) changed"
            "  ON CONFLICT ({key}) {on_conflict}"
            # xmax is 0 on a freshly inserted row version and set on an updated one.
            "  RETURNING (t.xmax = 0) AS created, {group} AS grp"
            # One row per group (a single row without group_by); the first column of the
            # staged count is repeated on each.
            ") SELECT grp, (SELECT count(*) FROM staged),"
            "  count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created)"
            "  FROM (SELECT * FROM written UNION ALL SELECT NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM written)) w"
            "  GROUP BY grp"
        ).format(key=key, columns=columns, stage=self.stage, target=spec.identifier(), on_conflict=on_conflict,
                 group=group, changed=_changed_rows(spec, sql.SQL("staged")))

    def _delete_statement(self, scope: DeleteScope,
                          group_by: str | None = None) -> tuple[sql.Composed | None, list[object]]:
        condition, params = _scope_condition(scope)
        if condition is None:
            return None, []  # nothing was listed in full, so nothing may be deleted
        group = sql.SQL("t.{}").format(sql.Identifier(group_by)) if group_by else sql.SQL("NULL::text")
        statement = sql.SQL(
            "WITH gone AS (DELETE FROM {target} t WHERE {condition} AND NOT EXISTS "
            "(SELECT 1 FROM {stage} s WHERE {match}) RETURNING {group} AS grp) SELECT grp, count(*) FROM gone GROUP BY grp"
        ).format(target=self.spec.identifier(), condition=condition, stage=self.stage, group=group,
                 match=sql.SQL(" AND ").join(sql.SQL("s.{c} = t.{c}").format(c=sql.Identifier(c)) for c in self.spec.key))
        return statement, params


@contextmanager
def staged_merge(conn, spec: TableSpec) -> Iterator[StagedMerge]:
    """Open a stage for `spec` inside the caller's transaction (it is dropped at commit)."""
    pg = driver_connection(conn)
    if pg.autocommit:
        raise ValueError("staged_merge needs a transaction: use a connection from engine.begin()")
    stage = sql.Identifier(f"stage_{spec.table.replace('.', '_')}_{next(_stage_numbers)}")
    with pg.cursor() as cur:
        column_types = _column_types(cur, spec)
        cur.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {columns} FROM {target} WITH NO DATA; "
                "ALTER TABLE {stage} ADD COLUMN _staged_order bigint GENERATED ALWAYS AS IDENTITY"
            ).format(stage=stage, columns=_column_list(spec.columns), target=spec.identifier())
        )
    staged = StagedMerge(pg, spec, stage, column_types)
    try:
        yield staged
    finally:
        if not pg.closed and pg.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            with pg.cursor() as cur:
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))


class Stager:
    """One staged merge per table, fed in batches so that memory stays bounded."""

    def __init__(self, conn, flush_rows: int = 2000):
        self.conn, self.flush_rows = conn, flush_rows
        self._stack = ExitStack()
        self._stages: dict[str, StagedMerge] = {}
        self._buffers: dict[str, list[tuple]] = defaultdict(list)

    def stage(self, spec: TableSpec) -> StagedMerge:
        if spec.table not in self._stages:
            self._stages[spec.table] = self._stack.enter_context(staged_merge(self.conn, spec))
        return self._stages[spec.table]

    def add(self, spec: TableSpec, row: tuple) -> None:
        buffer = self._buffers[spec.table]
        buffer.append(row)
        if len(buffer) >= self.flush_rows:
            self.flush(spec)

    def flush(self, spec: TableSpec) -> None:
        buffer = self._buffers[spec.table]
        if buffer:
            self.stage(spec).add(buffer)
            buffer.clear()

    def merge(self, spec: TableSpec, scope: DeleteScope | None, group_by: str | None = None) -> MergeCounts:
        self.flush(spec)
        if spec.table not in self._stages and scope is None:
            return MergeCounts()  # nothing staged, nothing to delete: no temporary table needed
        return self.stage(spec).merge(scope, group_by)

    def merge_all(self, parts: Sequence[tuple[TableSpec, DeleteScope | None]]) -> dict[str, MergeCounts]:
        """Merge several tables in order; return their counts by table name.

        Tables whose few rows are still buffered (never copied to a stage) merge together in
        one statement, without temporary tables: an incremental run that finds little to do
        costs one round trip instead of several per table.
        """
        counts: dict[str, MergeCounts] = {}
        small: list[tuple[TableSpec, list[tuple], DeleteScope | None]] = []

        def merge_small() -> None:
            if small:
                statement, params = values_merge_many(driver_connection(self.conn), small)
                row = _cursor_for(driver_connection(self.conn), statement).execute(statement, params).fetchone()
                counts.update(zip((spec.table for spec, _, _ in small), counts_of_many(row)))
                for spec, _, _ in small:
                    self._buffers[spec.table].clear()
                small.clear()

        for spec, scope in parts:
            buffered = self._buffers[spec.table]
            if spec.table not in self._stages and len(buffered) <= SMALL_BATCH_ROWS:
                small.append((spec, list(buffered), scope))
            else:
                merge_small()  # keep the order: parents before the rows that refer to them
                counts[spec.table] = self.merge(spec, scope)
        merge_small()
        return counts

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Stager:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def merge_rows(conn, spec: TableSpec, rows: Iterable[Sequence[object]],
               delete_scope: DeleteScope | None = None) -> MergeCounts:
    """Stage and merge one batch of rows."""
    with staged_merge(conn, spec) as stage:
        stage.add(rows)
        return stage.merge(delete_scope)


def merge_values(conn, spec: TableSpec, rows: Sequence[Sequence[object]],
                 delete_scope: DeleteScope | None = None) -> MergeCounts:
    """Merge a small batch (a webhook's record) in one statement, without a staging table.

    Same semantics and counts as `merge_rows`; the rows travel as parameters, so this suits
    a few rows, where creating and filling a temporary table would cost more than the merge.
    Statements are composed once per shape (table, row count, scope) and reused, which also
    lets the server keep their plans (psycopg prepares a query text executed repeatedly).
    """
    pg = driver_connection(conn)
    statement, params = values_merge(pg, spec, rows, delete_scope)
    return counts_of(_cursor_for(pg, statement).execute(statement, params).fetchone())


def values_merge(pg: psycopg.Connection, spec: TableSpec, rows: Sequence[Sequence[object]],
                 delete_scope: DeleteScope | None = None) -> tuple[str, list[object]]:
    """The statement and parameters of `merge_values`, to send in a pipeline with others;
    `counts_of` reads its result row."""
    return values_merge_many(pg, [(spec, rows, delete_scope)])


def _row_params(pg: psycopg.Connection, spec: TableSpec, rows: Sequence[Sequence[object]]) -> list[object]:
    types = _column_type_names(pg, spec)
    json_columns = {i for i, t in enumerate(types) if t in ("jsonb", "json")}
    return [Jsonb(value) if i in json_columns and value is not None else value
            for row in rows for i, value in enumerate(row)]


def values_merge_many(pg: psycopg.Connection,
                      parts: Sequence[tuple[TableSpec, Sequence[Sequence[object]], DeleteScope | None]]
                      ) -> tuple[str, list[object]]:
    """One statement merging small batches into several tables (a record and those it embeds):
    each part is (spec, rows, delete scope), as for `merge_values`, and the tables must differ.
    Its result row holds four counts per part, in order: `counts_of_many` reads them.

    Foreign keys between the parts hold: Postgres checks them at the end of the statement.
    """
    if len({spec.table for spec, _, _ in parts}) != len(parts):
        raise ValueError("values_merge_many merges each table once")
    shapes, conditions, params = [], [], []
    for spec, rows, scope in parts:
        rows = list(rows)
        condition, scope_params = _scope_condition(scope) if scope is not None else (None, [])
        conditions.append(condition)
        shapes.append((spec, len(rows), repr(condition) if condition is not None else None))
        params.extend(_row_params(pg, spec, rows))
        params.extend(scope_params if condition is not None else [])
    shape = (pg.info.dbname, "many", tuple(shapes))
    statement = _values_statements.get(shape)
    if statement is None:
        pieces = [_values_ctes(pg, spec, row_count, condition, f"m{n}_")
                  for n, ((spec, row_count, _), condition) in enumerate(zip(shapes, conditions))]
        statement = _values_statements[shape] = NumberedQuery.of(sql.SQL("WITH {} SELECT {}").format(
            sql.SQL(", ").join(ctes for ctes, _ in pieces),
            sql.SQL(", ").join(counts for _, counts in pieces)).as_string(pg))
    return statement, params


def counts_of_many(row: Sequence[int]) -> list[MergeCounts]:
    """The MergeCounts of each part of a `values_merge_many` statement, from its result row."""
    return [counts_of(row[i:i + 4]) for i in range(0, len(row), 4)]


def counts_of(row: Sequence[int]) -> MergeCounts:
    """MergeCounts from the result row (count, created, updated, deleted) of a merge statement."""
    count, created, updated, gone = row
    return MergeCounts(count=count, created=created, updated=updated, deleted=gone, noop=count - created - updated)


def run_pipelined(pg: psycopg.Connection, statements: Sequence[tuple[str, Sequence[object]]]) -> list[tuple]:
    """Send independent statements together (one round trip) and return each one's first row."""
    with pg.pipeline():
        cursors = [_cursor_for(pg, statement).execute(statement, params) for statement, params in statements]
    return [cursor.fetchone() for cursor in cursors]


class NumberedQuery(str):
    """A statement whose placeholders are already PostgreSQL's `$1, $2…`: it is sent as is.

    psycopg parses a `%s` statement on every execution when it is longer than 4 kB or has more
    than 50 parameters (its parse cache skips those), which the merge statements often are: on
    the webhook path that parsing was a seventh of the receiver's profiled time.
    """

    @classmethod
    def of(cls, statement: str) -> NumberedQuery:
        numbers = itertools.count(1)
        if re.search(r"%[^s%]", statement):
            raise ValueError("only %s placeholders can be numbered")
        return cls(re.sub(r"%[s%]", lambda m: "%" if m.group() == "%%" else f"${next(numbers)}", statement))


def _cursor_for(pg: psycopg.Connection, statement: str) -> psycopg.Cursor:
    return psycopg.RawCursor(pg) if isinstance(statement, NumberedQuery) else pg.cursor()


_values_statements: dict[tuple, str] = {}


def _values_ctes(pg: psycopg.Connection, spec: TableSpec, row_count: int, condition: sql.Composable | None,
                 prefix: str) -> tuple[sql.Composed, sql.Composed]:
    """The CTEs merging `row_count` parameter rows into `spec`'s table (names start with
    `prefix`), and the four count expressions (count, created, updated, deleted)."""
    types = _column_type_names(pg, spec)
    source_name, staged_name, written_name, gone_name = (
        sql.Identifier(prefix + name) for name in ("source", "staged", "written", "gone"))
    staged_columns = sql.SQL(", ").join([*(sql.Identifier(c) for c in spec.columns), sql.Identifier("_staged_order")])
    key, columns = _column_list(spec.key), _column_list(spec.columns)
    if row_count:
        values = sql.SQL(", ").join(
            sql.SQL("({})").format(sql.SQL(", ").join(
                [*(sql.SQL("%s::{}").format(sql.SQL(t)) for t in types), sql.Literal(n)]))
            for n in range(row_count))
        source = sql.SQL("SELECT * FROM (VALUES {}) AS v ({})").format(values, staged_columns)
    else:
        source = sql.SQL("SELECT {}, 0 WHERE false").format(
            sql.SQL(", ").join(sql.SQL("NULL::{}").format(sql.SQL(t)) for t in types))
    delete_cte, deleted = sql.SQL(""), sql.SQL("0")
    if condition is not None:
        delete_cte = sql.SQL(", {gone} AS (DELETE FROM {target} t WHERE {condition} AND NOT EXISTS "
                             "(SELECT 1 FROM {staged} s WHERE {match}) RETURNING 1)").format(
            gone=gone_name, staged=staged_name, target=spec.identifier(), condition=condition,
            match=sql.SQL(" AND ").join(sql.SQL("s.{c} = t.{c}").format(c=sql.Identifier(c)) for c in spec.key))
        deleted = sql.SQL("(SELECT count(*) FROM {})").format(gone_name)
    ctes = sql.SQL(
        "{source_name} ({staged_columns}) AS ({source}), "
        "{staged_name} AS (SELECT DISTINCT ON ({key}) {columns} FROM {source_name} ORDER BY {key}, _staged_order DESC), "
        "{written_name} AS (INSERT INTO {target} AS t ({columns}, synced_at) SELECT {columns}, now() "
        "FROM ({changed}) changed ON CONFLICT ({key}) {on_conflict} RETURNING (t.xmax = 0) AS created){delete_cte}"
    ).format(source_name=source_name, staged_name=staged_name, written_name=written_name,
             staged_columns=staged_columns, source=source, key=key, columns=columns, target=spec.identifier(),
             on_conflict=_on_conflict(spec), delete_cte=delete_cte, changed=_changed_rows(spec, staged_name))
    counts = sql.SQL(
        "(SELECT count(*) FROM {staged}), (SELECT count(*) FILTER (WHERE created) FROM {written}), "
        "(SELECT count(*) FILTER (WHERE NOT created) FROM {written}), {deleted}"
    ).format(staged=staged_name, written=written_name, deleted=deleted)
    return ctes, counts


def _scope_condition(scope: DeleteScope) -> tuple[sql.Composable | None, list[object]]:
    """The scope as a condition on `t`, or None when nothing is in scope."""
    if isinstance(scope, WholeTable):
        return sql.SQL("true"), []
    if isinstance(scope, DeleteWhere):
        return scope.condition, list(scope.params)
    if not scope:
        raise ValueError("an empty delete scope is ambiguous: pass WHOLE_TABLE or a column scope")
    conditions, params = [], []
    for column, values in scope.items():
        values = list(values)
        if not values:
            return None, []
        conditions.append(sql.SQL("t.{} = ANY(%s)").format(sql.Identifier(column)))
        params.append(values)
    return sql.SQL(" AND ").join(conditions), params


def _changed_rows(spec: TableSpec, source: sql.Composable) -> sql.Composed:
    """The rows of `source` (aliased s) that are new or differ from the stored ones.

    Identical rows are left out by a plain read: sent to INSERT … ON CONFLICT DO UPDATE they
    would be locked until the transaction ends, even though nothing changes, which makes
    concurrent writers of a shared row (an organisation every event embeds) wait in line.
    """
    match = sql.SQL(" AND ").join(sql.SQL("c.{k} = s.{k}").format(k=sql.Identifier(k)) for k in spec.key)
    same = sql.SQL("")
    if spec.compared_columns:
        same = sql.SQL(" AND ({stored}) IS NOT DISTINCT FROM ({incoming})").format(
            stored=sql.SQL(", ").join(sql.SQL("c.{}").format(sql.Identifier(c)) for c in spec.compared_columns),
            incoming=sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in spec.compared_columns))
    return sql.SQL("SELECT {columns} FROM {source} s WHERE NOT EXISTS (SELECT 1 FROM {target} c WHERE {match}{same})").format(
        columns=sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in spec.columns),
        source=source, target=spec.identifier(), match=match, same=same)


def _on_conflict(spec: TableSpec) -> sql.Composable:
    if not spec.compared_columns:
        return sql.SQL("DO NOTHING")
    newer = sql.SQL("")
    if spec.version_column:
        newer = sql.SQL(" AND (t.{v} IS NULL OR EXCLUDED.{v} IS NULL OR t.{v} <= EXCLUDED.{v})").format(
            v=sql.Identifier(spec.version_column))
    return sql.SQL(
        "DO UPDATE SET {assignments}, synced_at = EXCLUDED.synced_at "
        "WHERE ({current}) IS DISTINCT FROM ({incoming}){newer}"
    ).format(newer=newer,
        assignments=sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in spec.value_columns),
        current=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in spec.compared_columns),
        incoming=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in spec.compared_columns),
    )


_type_names: dict[tuple[str, str], list[str]] = {}


def _column_type_names(pg: psycopg.Connection, spec: TableSpec) -> list[str]:
    """SQL type names of the spec's columns, looked up once per table and database."""
    cache_key = (pg.info.dbname, spec.table)
    names = _type_names.get(cache_key)
    if names is None:
        rows = dict(pg.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped", [spec.table]).fetchall())
        missing = [c for c in (*spec.columns, "synced_at") if c not in rows]
        if missing:
            raise ValueError(f"{spec.table} has no column(s) {missing}")
        names = _type_names[cache_key] = [rows[c] for c in spec.columns]
    return names


def _column_list(columns: Sequence[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(c) for c in columns)


def _column_types(cur: psycopg.Cursor, spec: TableSpec) -> list[int]:
    rows = cur.execute(
        "SELECT a.attname, a.atttypid FROM pg_attribute a "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        [spec.table],
    ).fetchall()
    types = dict(rows)
    missing = [c for c in (*spec.columns, "synced_at") if c not in types]
    if missing:
        raise ValueError(f"{spec.table} has no column(s) {missing}")
    return [types[c] for c in spec.columns]
