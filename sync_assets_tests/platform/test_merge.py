"""Bulk merge on real PostgreSQL: exact counts, scoped deletes, no per-row statements."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from sync_assets.platform.merge import (
    WHOLE_TABLE,
    MergeCounts,
    ParentLink,
    TableSpec,
    destroy_record,
    merge_rows,
    merge_values,
    staged_merge,
)
from sync_assets.platform.warehouse import engine_for

ITEMS = TableSpec(
    table="sync_test.items",
    key=("id",),
    columns=("id", "organisation_id", "name", "payload", "starts_at"),
)
LINKS = TableSpec(
    table="sync_test.links", key=("account_id", "organisation_id"), columns=("account_id", "organisation_id")
)


@pytest.fixture
def engine(database_url):
    engine = engine_for(database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE SCHEMA sync_test;"
                "CREATE TABLE sync_test.items (id bigint PRIMARY KEY, organisation_id bigint NOT NULL, name text,"
                " payload jsonb, starts_at timestamptz, synced_at timestamptz NOT NULL);"
                "CREATE TABLE sync_test.links (account_id bigint, organisation_id bigint,"
                " synced_at timestamptz NOT NULL, PRIMARY KEY (account_id, organisation_id));"
            )
        )
    return engine


def item(id_, org=1, name="a", payload=None, starts_at="2025-01-01 08:00:00 +0100"):
    return (id_, org, name, payload if payload is not None else {"n": id_}, starts_at)


@pytest.fixture(params=["staged", "values"])
def merge(request):
    """Both merge paths: staged with COPY (bulk) and one statement with parameters (a few rows)."""
    implementation = merge_rows if request.param == "staged" else merge_values

    def run(engine, spec, rows, scope=None) -> MergeCounts:
        with engine.begin() as conn:
            return implementation(conn, spec, list(rows), delete_scope=scope)

    return run


def table(engine, spec=ITEMS):
    with engine.connect() as conn:
        return {
            r[0]: r[1:] for r in conn.execute(text(f"SELECT {', '.join(spec.columns)} FROM {spec.table} ORDER BY 1"))
        }


def test_first_merge_creates_every_row(engine, merge):
    counts = merge(engine, ITEMS, [item(1), item(2), item(3)])
    assert counts == MergeCounts(count=3, created=3, updated=0, deleted=0, noop=0)
    assert counts.drift == 3
    assert sorted(table(engine)) == [1, 2, 3]


def test_same_rows_again_are_noop_and_not_rewritten(engine, merge):
    merge(engine, ITEMS, [item(1), item(2)])
    with engine.connect() as conn:
        before = dict(conn.execute(text("SELECT id, synced_at FROM sync_test.items")).all())
    counts = merge(engine, ITEMS, [item(1), item(2)])
    assert counts == MergeCounts(count=2, noop=2)
    assert counts.drift == 0
    with engine.connect() as conn:
        assert dict(conn.execute(text("SELECT id, synced_at FROM sync_test.items")).all()) == before


def test_changed_new_and_unchanged_rows_are_told_apart(engine, merge):
    merge(engine, ITEMS, [item(1), item(2), item(3)])
    counts = merge(engine, ITEMS, [item(1), item(2, name="renamed"), item(3, payload={"n": 3, "x": True}), item(4)])
    assert counts == MergeCounts(count=4, created=1, updated=2, noop=1)
    rows = table(engine)
    assert rows[2][1] == "renamed"
    assert rows[3][2] == {"n": 3, "x": True}


def test_a_null_becoming_a_value_is_an_update(engine, merge):
    merge(engine, ITEMS, [item(1, name=None)])
    assert merge(engine, ITEMS, [item(1, name="now set")]).updated == 1
    assert merge(engine, ITEMS, [item(1, name=None)]).updated == 1


def test_deletes_apply_only_inside_the_scope(engine, merge):
    merge(engine, ITEMS, [item(1, org=1), item(2, org=1), item(3, org=2), item(4, org=3)])
    counts = merge(engine, ITEMS, [item(1, org=1)], scope={"organisation_id": [1, 2]})
    assert counts == MergeCounts(count=1, noop=1, deleted=2)
    assert sorted(table(engine)) == [1, 4]  # organisation 3 was outside the scope


def test_scope_over_several_columns_must_match_all(engine, merge):
    merge(engine, ITEMS, [item(1, org=1, name="x"), item(2, org=1, name="y"), item(3, org=2, name="x")])
    counts = merge(engine, ITEMS, [], scope={"organisation_id": [1, 2], "name": ["x"]})
    assert counts.deleted == 2
    assert sorted(table(engine)) == [2]


def test_an_empty_scope_list_deletes_nothing(engine, merge):
    merge(engine, ITEMS, [item(1), item(2)])
    assert merge(engine, ITEMS, [], scope={"organisation_id": []}).deleted == 0
    assert sorted(table(engine)) == [1, 2]


def test_an_empty_mapping_is_refused_rather_than_read_as_everything(engine, merge):
    merge(engine, ITEMS, [item(1)])
    with pytest.raises(ValueError, match="WHOLE_TABLE"):
        merge(engine, ITEMS, [], scope={})
    assert sorted(table(engine)) == [1]


def test_whole_table_scope(engine, merge):
    merge(engine, ITEMS, [item(1), item(2, org=9)])
    assert merge(engine, ITEMS, [item(2, org=9)], scope=WHOLE_TABLE).deleted == 1
    assert sorted(table(engine)) == [2]


def test_a_row_staged_twice_counts_once_and_the_last_wins(engine, merge):
    counts = merge(engine, ITEMS, [item(1, name="first"), item(2), item(1, name="second")])
    assert counts == MergeCounts(count=2, created=2)
    assert table(engine)[1][1] == "second"


def test_pages_staged_separately_merge_as_one_batch(engine, merge):
    merge(engine, ITEMS, [item(1), item(2), item(3)])
    with engine.begin() as conn, staged_merge(conn, ITEMS) as stage:
        assert stage.add([item(1)]) == 1
        assert stage.add([item(3, name="changed"), item(5)]) == 2
        counts = stage.merge(delete_scope=WHOLE_TABLE)
    assert counts == MergeCounts(count=3, created=1, updated=1, noop=1, deleted=1)
    assert sorted(table(engine)) == [1, 3, 5]


def test_a_failed_transaction_changes_nothing(engine, merge):
    merge(engine, ITEMS, [item(1)])
    with pytest.raises(RuntimeError), engine.begin() as conn:
        merge_rows(conn, ITEMS, [item(2)], delete_scope=WHOLE_TABLE)
        raise RuntimeError("the rest of the run failed")
    assert sorted(table(engine)) == [1]


def test_key_only_tables(engine, merge):
    assert merge(engine, LINKS, [(1, 10), (1, 11)]) == MergeCounts(count=2, created=2)
    counts = merge(engine, LINKS, [(1, 10), (1, 12)], scope={"account_id": [1]})
    assert counts == MergeCounts(count=2, created=1, noop=1, deleted=1)
    assert sorted(table(engine, LINKS)) == [1]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT organisation_id FROM sync_test.links ORDER BY 1")).scalars().all() == [10, 12]


def test_text_needing_escapes_round_trips(engine, merge):
    awkward = "tab\there\nnew line \\N back\\slash '; DROP TABLE sync_test.items; --"
    merge(engine, ITEMS, [item(1, name=awkward, payload={"q": awkward})])
    assert table(engine)[1][1:3] == (awkward, {"q": awkward})
    assert merge(engine, ITEMS, [item(1, name=awkward, payload={"q": awkward})]).noop == 1


def test_a_spec_naming_an_unknown_column_fails_clearly(engine):
    spec = TableSpec(table="sync_test.items", key=("id",), columns=("id", "colour"))
    with pytest.raises(ValueError, match="colour"), engine.begin() as conn:
        merge_rows(conn, spec, [(1, "red")])


def test_merge_needs_a_transaction(database_url):
    import psycopg

    from sync_assets.platform.warehouse import libpq_url

    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn, pytest.raises(ValueError):
        merge_rows(conn, ITEMS, [])


def test_100k_rows_merge_with_a_handful_of_statements(engine, count_statements):
    rows = [item(i, org=i % 7, name=f"n{i}") for i in range(100_000)]
    with engine.begin() as conn, count_statements(conn.connection.driver_connection) as counter:
        counts = merge_rows(conn, ITEMS, rows, delete_scope=WHOLE_TABLE)
    assert counts == MergeCounts(count=100_000, created=100_000)
    assert counter.count < 15, f"{counter.count} statements for one merge"

    changed = rows[:99_000]
    changed[0] = item(0, org=0, name="changed")
    with engine.begin() as conn, count_statements(conn.connection.driver_connection) as counter:
        counts = merge_rows(conn, ITEMS, changed, delete_scope=WHOLE_TABLE)
    assert counts == MergeCounts(count=99_000, updated=1, noop=98_999, deleted=1_000)
    assert counter.count < 15


def test_untracked_columns_follow_changes_but_are_not_changes_themselves(engine, merge):
    spec = TableSpec(table=ITEMS.table, key=ITEMS.key, columns=ITEMS.columns, untracked=("payload",))
    merge(engine, spec, [item(1, payload={"v": 1})])
    assert merge(engine, spec, [item(1, payload={"v": 2})]) == MergeCounts(count=1, noop=1)
    assert table(engine)[1][2] == {"v": 1}  # not rewritten on its own
    assert merge(engine, spec, [item(1, name="b", payload={"v": 3})]).updated == 1
    assert table(engine)[1][1:3] == ("b", {"v": 3})  # rewritten with a real change


def test_an_older_version_never_overwrites_a_newer_row(engine, merge):
    spec = TableSpec(
        table=ITEMS.table, key=ITEMS.key, columns=ITEMS.columns, untracked=("starts_at",), version_column="starts_at"
    )
    merge(engine, spec, [item(1, name="v2", starts_at="2025-01-02 00:00:00+00")])
    older = merge(engine, spec, [item(1, name="v1", starts_at="2025-01-01 00:00:00+00")])
    assert older == MergeCounts(count=1, noop=1, stale=1)  # refused, and said so
    assert table(engine)[1][1] == "v2"
    assert merge(engine, spec, [item(1, name="v3", starts_at="2025-01-03 00:00:00+00")]).updated == 1
    assert table(engine)[1][1] == "v3"


def test_counts_can_be_grouped_by_a_column(engine):
    with engine.begin() as conn:
        merge_rows(conn, ITEMS, [item(1, org=1), item(2, org=1), item(3, org=2)])
    with engine.begin() as conn, staged_merge(conn, ITEMS) as stage:
        stage.add([item(1, org=1, name="changed"), item(3, org=2), item(4, org=2), item(5, org=3)])
        counts = stage.merge(delete_scope=WHOLE_TABLE, group_by="organisation_id")
        groups = stage.groups
    assert counts == MergeCounts(count=4, created=2, updated=1, deleted=1, noop=1)
    assert groups == {1: MergeCounts(updated=1, deleted=1), 2: MergeCounts(created=1), 3: MergeCounts(created=1)}


def test_several_tables_merge_in_one_statement_with_their_foreign_keys(engine):
    """A record and the records it embeds (a child referencing a new parent) in one statement."""
    from psycopg import sql

    from sync_assets.platform.merge import (
        DeleteWhere,
        counts_of_many,
        driver_connection,
        run_pipelined,
        values_merge_many,
    )

    with engine.begin() as conn:
        conn.execute(
            text("ALTER TABLE sync_test.links ADD FOREIGN KEY (organisation_id) REFERENCES sync_test.items (id)")
        )

    def merge_both(items, links):
        with engine.begin() as conn:
            pg = driver_connection(conn)
            statement = values_merge_many(
                pg, [(ITEMS, items, None), (LINKS, links, DeleteWhere(sql.SQL("t.account_id = %s"), [7]))]
            )
            return counts_of_many(run_pipelined(pg, [statement])[0])

    # The links reference items created by the same statement: the foreign key holds at its end.
    assert merge_both([item(1), item(2)], [(7, 1), (7, 2)]) == [
        MergeCounts(count=2, created=2),
        MergeCounts(count=2, created=2),
    ]
    assert merge_both([item(2, name="renamed")], [(7, 2)]) == [
        MergeCounts(count=1, updated=1),
        MergeCounts(count=1, noop=1, deleted=1),
    ]
    assert table(engine, LINKS) == {7: (2,)}
    assert table(engine)[2][1] == "renamed"
    with engine.begin() as conn, pytest.raises(ValueError, match="each table once"):
        values_merge_many(driver_connection(conn), [(ITEMS, [item(3)], None), (ITEMS, [item(4)], None)])


def test_merge_all_sends_small_batches_in_one_statement_and_large_ones_staged(engine, count_statements):
    """Small buffered batches merge together from parameters; a batch past the threshold goes
    through its staged COPY; the counts are the same either way, and the order is kept."""
    from sync_assets.platform.merge import SMALL_BATCH_ROWS, Stager, driver_connection

    with engine.begin() as conn:
        merge_rows(conn, ITEMS, [item(1), item(2)])

    def merge_small(items_rows, link_rows):
        with engine.begin() as conn, Stager(conn) as stager:
            for row in items_rows:
                stager.add(ITEMS, row)
            for row in link_rows:
                stager.add(LINKS, row)
            with count_statements(driver_connection(conn)) as counter:
                counts = stager.merge_all([(ITEMS, None), (LINKS, WHOLE_TABLE)])
        return counts, counter.count

    counts, _ = merge_small([item(2, name="changed"), item(3), item(3, name="last wins")], [(7, 1)])
    assert counts == {
        "sync_test.items": MergeCounts(count=2, created=1, updated=1),
        "sync_test.links": MergeCounts(count=1, created=1),
    }
    assert table(engine)[3][1] == "last wins"
    # Once the column types are known (read once per database): the transaction's BEGIN, then
    # one statement for both tables.
    counts, statements = merge_small([item(4), item(5)], [(7, 1)])
    assert statements == 2 and counts["sync_test.links"] == MergeCounts(count=1, noop=1)

    large = [item(n) for n in range(10, 10 + SMALL_BATCH_ROWS + 1)]
    with engine.begin() as conn, Stager(conn, flush_rows=10) as stager:
        for row in large:
            stager.add(ITEMS, row)
        counts = stager.merge_all([(ITEMS, None), (LINKS, {"account_id": [7]})])
    assert counts == {
        "sync_test.items": MergeCounts(count=len(large), created=len(large)),
        "sync_test.links": MergeCounts(deleted=1),
    }
    assert len(table(engine)) == 5 + len(large) and table(engine, LINKS) == {}


# --- Deletions are versions: tombstones, polls as of their listing, children under parents ------

VERSIONED = TableSpec(
    table=ITEMS.table, key=ITEMS.key, columns=ITEMS.columns, untracked=("starts_at",), version_column="starts_at"
)
CHILDREN = TableSpec(
    table="sync_test.children",
    key=("id",),
    columns=("id", "item_id", "name"),
    parent=ParentLink(VERSIONED, ("item_id",)),
)
T = {n: f"2025-01-0{n} 00:00:00+00" for n in range(1, 10)}


def at(n: int) -> datetime:
    return datetime.fromisoformat(T[n])


def test_a_deleted_record_refuses_older_states_and_takes_a_newer_one(engine, merge):
    merge(engine, VERSIONED, [item(1, name="v2", starts_at=T[2])])
    with engine.begin() as conn:
        assert destroy_record(conn, VERSIONED, [1], at(4)) == 1
        assert destroy_record(conn, VERSIONED, [2], at(4)) == 0  # unknown: its tombstone is kept all the same
    for older in (T[3], T[4]):  # a state from before the deletion, or of its very moment
        assert merge(engine, VERSIONED, [item(1, name="late", starts_at=older)]) == MergeCounts(
            count=1, noop=1, stale=1
        )
    assert table(engine) == {}
    assert merge(engine, VERSIONED, [item(1, name="re-created", starts_at=T[5])]).created == 1
    assert table(engine)[1][1] == "re-created"
    with engine.begin() as conn:  # a late, older destroy never deletes a newer state
        assert destroy_record(conn, VERSIONED, [1], at(3)) == 0
    assert table(engine)[1][1] == "re-created"


def test_a_poll_deletes_only_the_rows_it_could_have_seen_and_leaves_tombstones(engine):
    merge_rows_at(engine, [item(1, starts_at=T[1]), item(2, starts_at=T[1]), item(3, starts_at=T[6])])
    # A poll whose listing began at T[5] saw item 1 only: item 2 is gone, item 3 came after it.
    with engine.begin() as conn, staged_merge(conn, VERSIONED) as stage:
        stage.add([item(1, starts_at=T[5])])
        counts = stage.merge(WHOLE_TABLE, as_of=at(5))
    assert counts.deleted == 1 and sorted(table(engine)) == [1, 3]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT record_key, deleted_version FROM sync.tombstones")).fetchall() == [
            ("2", at(5))
        ]


def test_a_poll_writes_and_deletes_children_only_under_parents_it_could_have_seen(engine):
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE sync_test.children (id bigint PRIMARY KEY, item_id bigint NOT NULL "
                "REFERENCES sync_test.items (id), name text, synced_at timestamptz NOT NULL)"
            )
        )
    merge_rows_at(engine, [item(1, starts_at=T[1]), item(2, starts_at=T[7])])  # item 2 changed after T[5]
    with engine.begin() as conn:
        merge_rows(conn, CHILDREN, [(10, 1, "a"), (20, 2, "newer")])
    with engine.begin() as conn, staged_merge(conn, CHILDREN) as stage:
        # The poll (as of T[5]) lists a renamed child of each, and a child of item 3, which is gone.
        stage.add([(10, 1, "b"), (20, 2, "older"), (30, 3, "orphan")])
        counts = stage.merge(WHOLE_TABLE, as_of=at(5))
    assert counts == MergeCounts(count=3, updated=1, noop=2, stale=2)
    assert table(engine, CHILDREN) == {10: (1, "b"), 20: (2, "newer")}


def merge_rows_at(engine, rows) -> None:
    with engine.begin() as conn:
        merge_rows(conn, VERSIONED, rows)
