"""Set-based bulk merge with exact diff counts.

A sync stages its rows with COPY into a temporary table (page by page, so memory stays
bounded), then merges them into the target with one statement:

    INSERT … ON CONFLICT (key) DO UPDATE … WHERE target IS DISTINCT FROM staged

and, when asked, deletes the rows of a scope that were not staged. Counts come back from the
same statements, so they are exact: a row already present is never counted as created, and an
identical row is not rewritten (its `synced_at` keeps the time of its last change).

Rows staged twice (APIs that repeat a record across pages) count once; the last one wins.

Webhooks and polls write the same rows concurrently, so a versioned table (`version_column`)
follows three rules here, for every caller:
- a state older than the one stored never overwrites it;
- a deletion is a version too: a deleted row leaves a tombstone (`sync.tombstones`), and no state
  older than the deletion brings the row back (a newer one does);
- a poll (`as_of`: the moment its listing began) deletes only rows it could have seen: none whose
  version is newer. A child table (`parent`) follows its parent: a poll writes or deletes children
  only under parents it could have seen. Rows refused by these rules count as `noop` and `stale`.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeAlias

import psycopg
import sqlalchemy
from psycopg import sql
from psycopg.rows import Row
from psycopg.types.json import Jsonb

from sync_assets.platform.sql_files import package_sql

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
    stale: int = 0  # among noop: refused as older than the stored state, a tombstone, or a newer parent

    @property
    def drift(self) -> int:
        return self.created + self.updated + self.deleted

    def __add__(self, other: MergeCounts) -> MergeCounts:
        return MergeCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"drift": self.drift}

    def table_line(self) -> tuple[int, ...]:
        """count, created, updated, deleted, noop, drift: a row of the per-table summaries."""
        return self.count, self.created, self.updated, self.deleted, self.noop, self.drift


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
    # The versioned table this one's rows belong to (participations to their RDV).
    parent: ParentLink | None = None

    def __post_init__(self) -> None:
        if self.version_column and self.version_column not in self.untracked:
            raise ValueError(f"{self.table}: the version column must be untracked")
        missing = [k for k in (*self.key, *self.untracked) if k not in self.columns]
        if missing:
            raise ValueError(f"{self.table}: column(s) {missing} must be among the columns")

    @property
    def name(self) -> str:
        """The table's name without its schema ("rdvs")."""
        return self.table.split(".", 1)[1]

    @property
    def value_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.key)

    @property
    def compared_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.value_columns if c not in self.untracked)

    def identifier(self) -> sql.Identifier:
        return sql.Identifier(*self.table.split("."))


@dataclass(frozen=True)
class ParentLink:
    """Rows of a child table exist under a row of `spec`, whose key their `columns` hold."""

    spec: TableSpec
    columns: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.spec.version_column or len(self.columns) != len(self.spec.key):
            raise ValueError(f"a parent must be versioned and named by its whole key ({self.spec.table})")


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


# What the platform's database functions take: a SQLAlchemy connection (from the warehouse's
# engine, as Dagster resources give it) or the psycopg connection itself.
AnyConnection: TypeAlias = sqlalchemy.Connection | psycopg.Connection


def driver_connection(conn: AnyConnection) -> psycopg.Connection:
    """The psycopg connection behind a SQLAlchemy Connection (or the psycopg one itself)."""
    if isinstance(conn, psycopg.Connection):
        return conn
    pg = conn.connection.driver_connection
    if not isinstance(pg, psycopg.Connection):
        raise TypeError("the warehouse's engine must use the psycopg driver, on an open connection")
    return pg


@contextmanager
def autocommit_connection(engine: sqlalchemy.Engine) -> Iterator[psycopg.Connection]:
    """A pooled connection of `engine` in autocommit (the pool restores its mode): a run stages on
    it while it reads an API, outside any transaction, and opens one short transaction to write."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        yield driver_connection(conn)


def one_row(cursor: psycopg.Cursor[Row]) -> Row:
    """The row of a statement that always returns one (an aggregate, a write's RETURNING that
    cannot be skipped): a clear error rather than a None met further on."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("a statement that always returns a row returned none")
    return row


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

    def merge(
        self, delete_scope: DeleteScope | None = None, group_by: str | None = None, as_of: datetime | None = None
    ) -> MergeCounts:
        """Merge the staged rows into the target; delete unstaged rows of `delete_scope`.

        group_by: also count created/updated/deleted per value of that column (in `groups`).
        as_of: the staged rows are a poll's, whose listing began then: rows or parents newer than
        that are neither overwritten nor deleted, and deleted rows are tombstoned at that version.
        """
        with self.conn.cursor() as cur:
            # Temporary tables are never auto-analysed; without statistics the planner may pick
            # a nested loop for the anti-join below.
            cur.execute(sql.SQL("ANALYZE {}").format(self.stage))
            rows = cur.execute(self._upsert_statement(group_by, as_of)).fetchall()
            count, stale = (rows[0][1], rows[0][4]) if rows else (0, 0)
            created = sum(r[2] for r in rows)
            updated = sum(r[3] for r in rows)
            if group_by:
                self.groups = {r[0]: MergeCounts(created=r[2], updated=r[3]) for r in rows if r[0] is not None}
            deleted = 0
            if delete_scope is not None:
                condition, params = _scope_condition(delete_scope)
                if condition is not None:  # otherwise nothing was listed in full: nothing may be deleted
                    unstaged = sql.SQL("{condition} AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE {match})").format(
                        condition=condition, stage=self.stage, match=_key_match(self.spec, "s", "t")
                    )
                    statement, params = _delete_statement(self.spec, unstaged, params, as_of, group_by)
                    for value, gone in cur.execute(statement, params).fetchall():
                        deleted += gone
                        if group_by:
                            before = self.groups.get(value, MergeCounts())
                            self.groups[value] = MergeCounts(
                                created=before.created, updated=before.updated, deleted=before.deleted + gone
                            )
        return MergeCounts(
            count=count, created=created, updated=updated, deleted=deleted, noop=count - created - updated, stale=stale
        )

    def _upsert_statement(self, group_by: str | None = None, as_of: datetime | None = None) -> sql.Composed:
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
            # One row per group (a single row without group_by); the staged count and the stale
            # count are repeated on each.
            ") SELECT grp, (SELECT count(*) FROM staged),"
            "  count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created),"
            "  (SELECT count(*) FROM staged s WHERE {stale})"
            "  FROM (SELECT * FROM written UNION ALL SELECT NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM written)) w"
            "  GROUP BY grp"
        ).format(
            key=key,
            columns=columns,
            stage=self.stage,
            target=spec.identifier(),
            on_conflict=on_conflict,
            group=group,
            changed=_changed_rows(spec, sql.SQL("staged"), as_of),
            stale=_stale(spec, "s", as_of),
        )


@contextmanager
def staged_merge(conn: AnyConnection, spec: TableSpec) -> Iterator[StagedMerge]:
    """Open a stage for `spec`: inside the caller's transaction (dropped at commit), or, on an
    autocommit connection, for the session (dropped when the stage closes), so that a run can stage
    while it waits on an API and merge in a short transaction of its own."""
    pg = driver_connection(conn)
    lifetime = sql.SQL("") if pg.autocommit else sql.SQL("ON COMMIT DROP")
    stage = sql.Identifier(f"stage_{spec.table.replace('.', '_')}_{next(_stage_numbers)}")
    column_types = _column_types(pg, spec)
    with pg.cursor() as cur:
        cur.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE {stage} {lifetime} AS SELECT {columns} FROM {target} WITH NO DATA; "
                "ALTER TABLE {stage} ADD COLUMN _staged_order bigint GENERATED ALWAYS AS IDENTITY"
            ).format(stage=stage, lifetime=lifetime, columns=_column_list(spec.columns), target=spec.identifier())
        )
    staged = StagedMerge(pg, spec, stage, column_types)
    try:
        yield staged
    finally:
        status = pg.info.transaction_status
        in_session = pg.autocommit and status == psycopg.pq.TransactionStatus.IDLE
        if not pg.closed and (in_session or status == psycopg.pq.TransactionStatus.INTRANS):
            with pg.cursor() as cur:
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))


class Stager:
    """One staged merge per table, fed in batches so that memory stays bounded."""

    def __init__(self, conn: AnyConnection, flush_rows: int = 2000) -> None:
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

    def merge(
        self, spec: TableSpec, scope: DeleteScope | None, group_by: str | None = None, as_of: datetime | None = None
    ) -> MergeCounts:
        self.flush(spec)
        if spec.table not in self._stages and scope is None:
            return MergeCounts()  # nothing staged, nothing to delete: no temporary table needed
        return self.stage(spec).merge(scope, group_by, as_of)

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
                row = one_row(_cursor_for(driver_connection(self.conn), statement).execute(statement, params))
                counts.update(zip((spec.table for spec, _, _ in small), counts_of_many(row), strict=True))
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

    def __exit__(self, *exc: object) -> None:
        self.close()


def delete_rows(
    conn: AnyConnection,
    spec: TableSpec,
    condition: sql.Composable,
    params: Sequence[object] = (),
    as_of: datetime | None = None,
    group_by: str | None = None,
) -> list[tuple[object, int]]:
    """Delete the rows of `spec`'s table matching `condition` (on `t`), under the rules of a poll
    whose listing began `as_of` (see the module's docstring); (group, deleted) pairs."""
    pg = driver_connection(conn)
    statement, all_params = _delete_statement(spec, condition, list(params), as_of, group_by)
    return [tuple(row) for row in pg.execute(statement, all_params).fetchall()]


def destroy_statement(spec: TableSpec, key: Sequence[object], version: datetime) -> tuple[sql.Composed, list[object]]:
    """The statement deleting one record destroyed at `version` (a webhook), unless the table holds
    a newer state of it, and leaving its tombstone; its row is the number deleted (0 or 1)."""
    if not spec.version_column:
        raise ValueError(f"{spec.table} has no version: a destroyed record needs one")
    match = sql.SQL(" AND ").join(sql.SQL("t.{} = %s").format(sql.Identifier(k)) for k in spec.key)
    statement = sql.SQL(
        "WITH gone AS (DELETE FROM {target} t WHERE {match} AND (t.{v} IS NULL OR t.{v} <= %s) RETURNING 1), "
        "tomb AS ({tombstone} VALUES ({table}, concat_ws(',', {keys}), %s::timestamptz) {keep_latest}) "
        "SELECT count(*) FROM gone"
    ).format(
        target=spec.identifier(),
        match=match,
        v=sql.Identifier(spec.version_column),
        tombstone=_TOMBSTONE_INSERT,
        table=sql.Literal(spec.table),
        keep_latest=_TOMBSTONE_KEEP_LATEST,
        keys=sql.SQL(", ").join(sql.SQL("%s::text") for _ in spec.key),
    )
    return statement, [*key, version, *key, version]


def destroy_record(conn: AnyConnection, spec: TableSpec, key: Sequence[object], version: datetime) -> int:
    """Delete one record destroyed at `version`, leaving its tombstone (`destroy_statement`)."""
    statement, params = destroy_statement(spec, key, version)
    gone: int = one_row(driver_connection(conn).execute(statement, params))[0]
    return gone


TOMBSTONE_RETENTION_DAYS = 30  # longer than a webhook is retried (about 8 days)


def prune_tombstones(conn: AnyConnection, days: int) -> int:
    """Delete the tombstones written more than `days` ago; how many."""
    pruned = driver_connection(conn).execute(package_sql(__file__, "prune_tombstones"), {"retention_days": days})
    count: int = one_row(pruned)[0]
    return count


def lock_tenants_statement(connector: str, tenants: Sequence[int], shared: bool) -> tuple[str, list[object]]:
    """The statement taking, until the transaction ends, the lock of each tenant (organisation,
    practice) of `connector`: exclusive for a poll's merge, shared between webhook applies, so
    that the two never interleave on a tenant's rows. Tenants are locked in order (no deadlock)."""
    name = "lock_tenants_shared" if shared else "lock_tenants"
    return package_sql(__file__, name), [connector, sorted(set(tenants))]


def lock_tenants(conn: AnyConnection, connector: str, tenants: Sequence[int], shared: bool = False) -> None:
    statement, params = lock_tenants_statement(connector, tenants, shared)
    driver_connection(conn).execute(statement, params)


def merge_rows(
    conn: AnyConnection, spec: TableSpec, rows: Iterable[Sequence[object]], delete_scope: DeleteScope | None = None
) -> MergeCounts:
    """Stage and merge one batch of rows."""
    with staged_merge(conn, spec) as stage:
        stage.add(rows)
        return stage.merge(delete_scope)


def merge_values(
    conn: AnyConnection, spec: TableSpec, rows: Sequence[Sequence[object]], delete_scope: DeleteScope | None = None
) -> MergeCounts:
    """Merge a small batch (a webhook's record) in one statement, without a staging table.

    Same semantics and counts as `merge_rows`; the rows travel as parameters, so this suits
    a few rows, where creating and filling a temporary table would cost more than the merge.
    Statements are composed once per shape (table, row count, scope) and reused, which also
    lets the server keep their plans (psycopg prepares a query text executed repeatedly).
    """
    pg = driver_connection(conn)
    statement, params = values_merge(pg, spec, rows, delete_scope)
    return counts_of(one_row(_cursor_for(pg, statement).execute(statement, params)))


def values_merge(
    pg: psycopg.Connection, spec: TableSpec, rows: Sequence[Sequence[object]], delete_scope: DeleteScope | None = None
) -> tuple[str, list[object]]:
    """The statement and parameters of `merge_values`, to send in a pipeline with others;
    `counts_of` reads its result row."""
    return values_merge_many(pg, [(spec, rows, delete_scope)])


def _row_params(pg: psycopg.Connection, spec: TableSpec, rows: Sequence[Sequence[object]]) -> list[object]:
    types = _column_type_names(pg, spec)
    json_columns = {i for i, t in enumerate(types) if t in ("jsonb", "json")}
    return [
        Jsonb(value) if i in json_columns and value is not None else value
        for row in rows
        for i, value in enumerate(row)
    ]


def values_merge_many(
    pg: psycopg.Connection, parts: Sequence[tuple[TableSpec, Sequence[Sequence[object]], DeleteScope | None]]
) -> tuple[str, list[object]]:
    """One statement merging small batches into several tables (a record and those it embeds):
    each part is (spec, rows, delete scope), as for `merge_values`, and the tables must differ.
    Its result row holds five counts per part, in order: `counts_of_many` reads them.

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
        pieces = [
            _values_ctes(pg, spec, row_count, condition, f"m{n}_")
            for n, ((spec, row_count, _), condition) in enumerate(zip(shapes, conditions, strict=True))
        ]
        statement = _values_statements[shape] = NumberedQuery.of(
            sql.SQL("WITH {} SELECT {}")
            .format(sql.SQL(", ").join(ctes for ctes, _ in pieces), sql.SQL(", ").join(counts for _, counts in pieces))
            .as_string(pg)
        )
    return statement, params


def counts_of_many(row: Sequence[int]) -> list[MergeCounts]:
    """The MergeCounts of each part of a `values_merge_many` statement, from its result row."""
    return [counts_of(row[i : i + 5]) for i in range(0, len(row), 5)]


def counts_of(row: Sequence[int]) -> MergeCounts:
    """MergeCounts from the result row (count, created, updated, deleted[, stale]) of a merge statement."""
    count, created, updated, gone, *stale = row
    return MergeCounts(
        count=count,
        created=created,
        updated=updated,
        deleted=gone,
        noop=count - created - updated,
        stale=stale[0] if stale else 0,
    )


def run_pipelined(
    pg: psycopg.Connection, statements: Sequence[tuple[str, Sequence[object]]]
) -> list[tuple[Any, ...] | None]:
    """Send independent statements together (one round trip) and return each one's first row
    (None for one that returned no row)."""
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


def _values_ctes(
    pg: psycopg.Connection, spec: TableSpec, row_count: int, condition: sql.Composable | None, prefix: str
) -> tuple[sql.Composed, sql.Composed]:
    """The CTEs merging `row_count` parameter rows into `spec`'s table (names start with
    `prefix`), and the four count expressions (count, created, updated, deleted)."""
    source_name, staged_name, written_name, gone_name = (
        sql.Identifier(prefix + name) for name in ("source", "staged", "written", "gone")
    )
    staged_columns = sql.SQL(", ").join([*(sql.Identifier(c) for c in spec.columns), sql.Identifier("_staged_order")])
    key, columns = _column_list(spec.key), _column_list(spec.columns)
    source = _values_source(_column_type_names(pg, spec), row_count, staged_columns)
    delete_cte, deleted = _values_delete(spec, condition, staged_name, gone_name)
    ctes = sql.SQL(
        "{source_name} ({staged_columns}) AS ({source}), "
        "{staged_name} AS (SELECT DISTINCT ON ({key}) {columns} FROM {source_name} "
        "ORDER BY {key}, _staged_order DESC), "
        "{written_name} AS (INSERT INTO {target} AS t ({columns}, synced_at) SELECT {columns}, now() "
        "FROM ({changed}) changed ON CONFLICT ({key}) {on_conflict} RETURNING (t.xmax = 0) AS created){delete_cte}"
    ).format(
        source_name=source_name,
        staged_name=staged_name,
        written_name=written_name,
        staged_columns=staged_columns,
        source=source,
        key=key,
        columns=columns,
        target=spec.identifier(),
        on_conflict=_on_conflict(spec),
        delete_cte=delete_cte,
        changed=_changed_rows(spec, staged_name),
    )
    counts = sql.SQL(
        "(SELECT count(*) FROM {staged}), (SELECT count(*) FILTER (WHERE created) FROM {written}), "
        "(SELECT count(*) FILTER (WHERE NOT created) FROM {written}), {deleted}, "
        "(SELECT count(*) FROM {staged} s WHERE {stale})"
    ).format(staged=staged_name, written=written_name, deleted=deleted, stale=_stale(spec, "s", None))
    return ctes, counts


def _values_source(types: Sequence[str], row_count: int, staged_columns: sql.Composable) -> sql.Composable:
    """`row_count` rows of parameters, numbered like a stage's `_staged_order` so that the last
    row of a key wins. Each parameter is cast to its column's type: a VALUES list takes its types
    from its rows, not from the table they go to."""
    if not row_count:
        # Typed even when empty: the INSERT reading it needs its columns' types.
        return sql.SQL("SELECT {}, 0 WHERE false").format(
            sql.SQL(", ").join(sql.SQL("NULL::{}").format(sql.SQL(t)) for t in types)
        )
    values = sql.SQL(", ").join(
        sql.SQL("({})").format(
            sql.SQL(", ").join([*(sql.SQL("%s::{}").format(sql.SQL(t)) for t in types), sql.Literal(n)])
        )
        for n in range(row_count)
    )
    return sql.SQL("SELECT * FROM (VALUES {}) AS v ({})").format(values, staged_columns)


def _values_delete(
    spec: TableSpec, condition: sql.Composable | None, staged_name: sql.Identifier, gone_name: sql.Identifier
) -> tuple[sql.Composable, sql.Composable]:
    """The CTE deleting the rows of `condition` that were not staged, and the expression counting
    them; with no condition, nothing is deleted and the count is 0."""
    if condition is None:
        return sql.SQL(""), sql.SQL("0")
    delete_cte = sql.SQL(
        ", {gone} AS (DELETE FROM {target} t WHERE {condition} AND NOT EXISTS "
        "(SELECT 1 FROM {staged} s WHERE {match}) RETURNING 1)"
    ).format(
        gone=gone_name,
        staged=staged_name,
        target=spec.identifier(),
        condition=condition,
        match=sql.SQL(" AND ").join(sql.SQL("s.{c} = t.{c}").format(c=sql.Identifier(c)) for c in spec.key),
    )
    return delete_cte, sql.SQL("(SELECT count(*) FROM {})").format(gone_name)


def _scope_condition(scope: DeleteScope) -> tuple[sql.Composable | None, list[object]]:
    """The scope as a condition on `t`, or None when nothing is in scope."""
    if isinstance(scope, WholeTable):
        return sql.SQL("true"), []
    if isinstance(scope, DeleteWhere):
        return scope.condition, list(scope.params)
    if not scope:
        raise ValueError("an empty delete scope is ambiguous: pass WHOLE_TABLE or a column scope")
    conditions: list[sql.Composable] = []
    params: list[object] = []
    for column, values in scope.items():
        values = list(values)
        if not values:
            return None, []
        conditions.append(sql.SQL("t.{} = ANY(%s)").format(sql.Identifier(column)))
        params.append(values)
    return sql.SQL(" AND ").join(conditions), params


def _changed_rows(spec: TableSpec, source: sql.Composable, as_of: datetime | None = None) -> sql.Composed:
    """The rows of `source` (aliased s) that are new or differ from the stored ones, without those
    a tombstone refuses, nor (for a poll, `as_of`) children of parents it could not have seen.

    Identical rows are left out by a plain read: sent to INSERT … ON CONFLICT DO UPDATE they
    would be locked until the transaction ends, even though nothing changes, which makes
    concurrent writers of a shared row (an organisation every event embeds) wait in line.
    """
    match = _key_match(spec, "c", "s")
    same: sql.Composable = sql.SQL("")
    if spec.compared_columns:
        same = sql.SQL(" AND ({stored}) IS NOT DISTINCT FROM ({incoming})").format(
            stored=sql.SQL(", ").join(sql.SQL("c.{}").format(sql.Identifier(c)) for c in spec.compared_columns),
            incoming=sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in spec.compared_columns),
        )
    refused: sql.Composable = sql.SQL("")
    if spec.version_column:
        refused = sql.SQL(" AND NOT {}").format(_tombstoned(spec, "s"))
    if spec.parent and as_of is not None:
        refused = sql.SQL("{} AND {}").format(refused, _parent_seen(spec, "s", as_of))
    return sql.SQL(
        "SELECT {columns} FROM {source} s WHERE NOT EXISTS (SELECT 1 FROM {target} c WHERE {match}{same}){refused}"
    ).format(
        columns=sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in spec.columns),
        source=source,
        target=spec.identifier(),
        match=match,
        same=same,
        refused=refused,
    )


_TOMBSTONE_INSERT = sql.SQL("INSERT INTO sync.tombstones AS d (table_name, record_key, deleted_version)")
_TOMBSTONE_KEEP_LATEST = sql.SQL(
    "ON CONFLICT (table_name, record_key) DO UPDATE "
    "SET deleted_version = greatest(d.deleted_version, EXCLUDED.deleted_version), deleted_at = now()"
)


def _key_text(spec: TableSpec, alias: str) -> sql.Composed:
    """A row's key as text, as tombstones hold it: its key columns joined with commas."""
    return sql.SQL("concat_ws(',', {})").format(
        sql.SQL(", ").join(sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(k)) for k in spec.key)
    )


def _key_match(spec: TableSpec, left: str, right: str) -> sql.Composed:
    return sql.SQL(" AND ").join(
        sql.SQL("{l}.{k} = {r}.{k}").format(l=sql.Identifier(left), r=sql.Identifier(right), k=sql.Identifier(k))
        for k in spec.key
    )


def _tombstoned(spec: TableSpec, alias: str) -> sql.Composed:
    """True when a tombstone refuses the row `alias`: its record was deleted at its version or later."""
    assert spec.version_column, f"{spec.table}: only a versioned table has tombstones"
    return sql.SQL(
        "EXISTS (SELECT 1 FROM sync.tombstones d WHERE d.table_name = {table} AND d.record_key = {key} "
        "AND d.deleted_version >= {row}.{v})"
    ).format(
        table=sql.Literal(spec.table),
        key=_key_text(spec, alias),
        row=sql.Identifier(alias),
        v=sql.Identifier(spec.version_column),
    )


def _parent_seen(spec: TableSpec, alias: str, as_of: datetime) -> sql.Composed:
    """True when the row `alias` belongs to a parent that exists and that a poll as of `as_of`
    could have seen (not newer)."""
    parent = spec.parent
    assert parent is not None and parent.spec.version_column, f"{spec.table}: only a child of a versioned parent"
    match = sql.SQL(" AND ").join(
        sql.SQL("p.{pk} = {row}.{fk}").format(pk=sql.Identifier(pk), row=sql.Identifier(alias), fk=sql.Identifier(fk))
        for pk, fk in zip(parent.spec.key, parent.columns, strict=True)
    )
    return sql.SQL("EXISTS (SELECT 1 FROM {parent} p WHERE {match} AND (p.{v} IS NULL OR p.{v} <= {as_of}))").format(
        parent=parent.spec.identifier(),
        match=match,
        v=sql.Identifier(parent.spec.version_column),
        as_of=sql.Literal(as_of),
    )


def _stale(spec: TableSpec, alias: str, as_of: datetime | None) -> sql.Composable:
    """True when the staged row `alias` is refused: older than the stored state or a tombstone, or
    (for a poll) under a parent it could not have seen."""
    reasons: list[sql.Composable] = []
    if spec.version_column:
        reasons.append(
            sql.SQL("EXISTS (SELECT 1 FROM {target} c WHERE {match} AND c.{v} > {row}.{v})").format(
                target=spec.identifier(),
                match=_key_match(spec, "c", alias),
                v=sql.Identifier(spec.version_column),
                row=sql.Identifier(alias),
            )
        )
        reasons.append(_tombstoned(spec, alias))
    if spec.parent and as_of is not None:
        reasons.append(sql.SQL("NOT {}").format(_parent_seen(spec, alias, as_of)))
    return sql.SQL(" OR ").join(reasons) if reasons else sql.SQL("false")


def _delete_statement(
    spec: TableSpec,
    condition: sql.Composable,
    params: list[object],
    as_of: datetime | None,
    group_by: str | None = None,
) -> tuple[sql.Composed, list[object]]:
    """DELETE the rows of `condition` (on `t`), counted per `group_by` value. With `as_of` (a poll):
    never a row, nor a child of a parent, newer than that; deleted versioned rows are tombstoned."""
    group = sql.SQL("t.{}").format(sql.Identifier(group_by)) if group_by else sql.SQL("NULL::text")
    seen: sql.Composable = sql.SQL("")
    tombstones: sql.Composable = sql.SQL("")
    if as_of is not None and spec.version_column:
        seen = sql.SQL(" AND (t.{v} IS NULL OR t.{v} <= {as_of})").format(
            v=sql.Identifier(spec.version_column), as_of=sql.Literal(as_of)
        )
        tombstones = sql.SQL(", tomb AS ({insert} SELECT {table}, record_key, {as_of} FROM gone {keep_latest})").format(
            insert=_TOMBSTONE_INSERT,
            table=sql.Literal(spec.table),
            as_of=sql.Literal(as_of),
            keep_latest=_TOMBSTONE_KEEP_LATEST,
        )
    if as_of is not None and spec.parent:
        seen = sql.SQL("{} AND {}").format(seen, _parent_seen(spec, "t", as_of))
    statement = sql.SQL(
        "WITH gone AS (DELETE FROM {target} t WHERE {condition}{seen} RETURNING {group} AS grp, {key} AS record_key)"
        "{tombstones} SELECT grp, count(*) FROM gone GROUP BY grp"
    ).format(
        target=spec.identifier(),
        condition=condition,
        seen=seen,
        group=group,
        key=_key_text(spec, "t"),
        tombstones=tombstones,
    )
    return statement, params


def _on_conflict(spec: TableSpec) -> sql.Composable:
    if not spec.compared_columns:
        return sql.SQL("DO NOTHING")
    newer: sql.Composable = sql.SQL("")
    if spec.version_column:
        newer = sql.SQL(" AND (t.{v} IS NULL OR EXCLUDED.{v} IS NULL OR t.{v} <= EXCLUDED.{v})").format(
            v=sql.Identifier(spec.version_column)
        )
    return sql.SQL(
        "DO UPDATE SET {assignments}, synced_at = EXCLUDED.synced_at "
        "WHERE ({current}) IS DISTINCT FROM ({incoming}){newer}"
    ).format(
        newer=newer,
        assignments=sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in spec.value_columns
        ),
        current=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in spec.compared_columns),
        incoming=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in spec.compared_columns),
    )


_type_names: dict[tuple[str, str], list[str]] = {}


def _column_type_names(pg: psycopg.Connection, spec: TableSpec) -> list[str]:
    """SQL type names of the spec's columns, looked up once per table and database."""
    cache_key = (pg.info.dbname, spec.table)
    names = _type_names.get(cache_key)
    if names is None:
        columns = _catalogue_columns(pg, spec)
        names = _type_names[cache_key] = [columns[c].type_name for c in spec.columns]
    return names


def _column_list(columns: Sequence[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(c) for c in columns)


def _column_types(pg: psycopg.Connection, spec: TableSpec) -> list[int]:
    """Type oids of the spec's columns, for COPY. Looked up for each stage, unlike the names: a
    type dropped and created again (an enum a migration redefines) keeps its name, not its oid."""
    columns = _catalogue_columns(pg, spec)
    return [columns[c].type_oid for c in spec.columns]


@dataclass(frozen=True)
class _CatalogueType:
    type_name: str  # as format_type gives it, e.g. "character varying(20)", to cast parameters to
    type_oid: int


def _catalogue_columns(pg: psycopg.Connection, spec: TableSpec) -> dict[str, _CatalogueType]:
    """The table's columns as the catalogue describes them (the statement `table_metadata` reads
    too); a clear error when the spec names a column the table does not have."""
    rows = pg.execute(package_sql(__file__, "table_columns"), {"relations": [spec.table]}).fetchall()
    if not rows:
        raise ValueError(f"{spec.table} does not exist")
    columns = {column: _CatalogueType(type_name, type_oid) for _, column, type_name, type_oid, *_ in rows}
    missing = [c for c in (*spec.columns, "synced_at") if c not in columns]
    if missing:
        raise ValueError(f"{spec.table} has no column(s) {missing}")
    return columns
