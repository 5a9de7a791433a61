"""Migrations on real PostgreSQL: in order, each once, each atomic, failures named."""

from __future__ import annotations

import shutil

import psycopg
import pytest

from sync_assets.platform import migrations
from sync_assets.platform.errors import MigrationError
from sync_assets.platform.warehouse import libpq_url

SCHEMAS = {"rdvsp", "doctolib", "coop", "sync", "analytics"}
SYNC_TABLES = {"schema_migrations", "raw_responses", "webhook_inbox", "drift_events"}


def query(url, statement, params=None):
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(statement, params).fetchall()


def snapshot(url):
    """Every table and column outside the system schemas, and the recorded migrations."""
    columns = query(
        url,
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3",
    )
    return columns, query(url, "SELECT version, name, checksum FROM sync.schema_migrations ORDER BY 1")


@pytest.fixture
def migrations_dir(tmp_path):
    directory = tmp_path / "migrations"
    shutil.copytree(migrations.sql_root() / "migrations", directory)
    return directory


def test_upgrade_creates_the_schemas_and_sync_tables(empty_database_url):
    applied = migrations.upgrade(empty_database_url)
    assert [m.version for m in applied] == [m.version for m in migrations.discover()]
    schemas = {r[0] for r in query(empty_database_url, "SELECT schema_name FROM information_schema.schemata")}
    assert schemas >= SCHEMAS
    tables = {
        r[0]
        for r in query(
            empty_database_url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'sync'"
        )
    }
    assert tables >= SYNC_TABLES
    assert [v for v, _ in migrations.applied(empty_database_url)] == [m.version for m in applied]


def test_upgrade_twice_changes_nothing_the_second_time(empty_database_url):
    migrations.upgrade(empty_database_url)
    before = snapshot(empty_database_url)
    assert migrations.upgrade(empty_database_url) == []
    assert snapshot(empty_database_url) == before


def test_migrations_apply_in_numeric_order_once_each(empty_database_url, tmp_path):
    directory = tmp_path / "m"
    directory.mkdir()
    (directory / "0002_second.sql").write_text("INSERT INTO sync_order.log VALUES (2);")
    (directory / "0001_first.sql").write_text(
        "CREATE SCHEMA sync_order; CREATE TABLE sync_order.log (n int);INSERT INTO sync_order.log VALUES (1);"
    )
    migrations.upgrade(empty_database_url, directory)
    (directory / "0003_third.sql").write_text("INSERT INTO sync_order.log VALUES (3);")
    assert [m.name for m in migrations.upgrade(empty_database_url, directory)] == ["third"]
    assert query(empty_database_url, "SELECT n FROM sync_order.log") == [(1,), (2,), (3,)]


def test_a_failing_migration_is_rolled_back_and_named(empty_database_url, migrations_dir):
    migrations.upgrade(empty_database_url, migrations_dir)
    before = snapshot(empty_database_url)
    (migrations_dir / "0900_broken.sql").write_text(
        "CREATE TABLE sync.half_done (id int);\nALTER TABLE sync.no_such_table ADD COLUMN x int;\n"
    )
    with pytest.raises(MigrationError) as error:
        migrations.upgrade(empty_database_url, migrations_dir)
    assert "0900_broken.sql" in str(error.value)
    assert "no_such_table" in str(error.value)
    assert snapshot(empty_database_url) == before  # the table created before the error is gone too


def test_an_applied_migration_that_was_edited_is_refused(empty_database_url, migrations_dir):
    migrations.upgrade(empty_database_url, migrations_dir)
    first = sorted(migrations_dir.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match=f"{first.name} was changed after it was applied"):
        migrations.upgrade(empty_database_url, migrations_dir)


def test_a_database_ahead_of_the_code_is_refused(empty_database_url, migrations_dir):
    (migrations_dir / "0999_future.sql").write_text("SELECT 1;")
    migrations.upgrade(empty_database_url, migrations_dir)
    (migrations_dir / "0999_future.sql").unlink()
    with pytest.raises(MigrationError, match="0999"):
        migrations.upgrade(empty_database_url, migrations_dir)


@pytest.mark.parametrize("name", ["1_short.sql", "0004-dash.sql", "0004_Upper.sql"])
def test_badly_named_files_are_refused(tmp_path, name):
    (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=name):
        migrations.discover(tmp_path)


def test_two_files_with_one_number_are_refused(tmp_path):
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="share the number 0001"):
        migrations.discover(tmp_path)


def test_concurrent_upgrades_apply_each_file_once(empty_database_url):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: migrations.upgrade(empty_database_url), range(3)))
    assert sorted(len(r) for r in results) == [0, 0, len(migrations.discover())]


def test_the_one_run_log_keeps_the_history_of_both_connectors(empty_database_url, tmp_path):
    """A warehouse upgraded from the four run tables of each connector loses no run: they move to
    sync.runs and sync.run_tables, and the old names still answer, as views. So do the cursors of
    Doctolib's practices, to sync.cursors."""
    before = tmp_path / "before"
    before.mkdir()
    for migration in migrations.discover():
        if migration.version < 11:
            shutil.copy(migration.path, before / migration.path.name)
    migrations.upgrade(empty_database_url, before)
    with psycopg.connect(libpq_url(empty_database_url)) as conn:
        conn.execute("""
            INSERT INTO rdvsp.accounts (id, base_url, sync_from) VALUES (7, 'https://rdv.test', '2024-01-01');
            INSERT INTO rdvsp.sync_logs (id, account_id, dagster_run_id, kind, organisation_ids, started_at, ended_at,
                                         status, drift, pages_fetched, api_requests)
            VALUES ('00000000-0000-0000-0000-00000000000a', 7, 'dagster-a', 'nightly', '{100,101}',
                    '2026-01-01 03:00+00', '2026-01-01 03:01+00', 'success', 3, 12, 14);
            INSERT INTO rdvsp.sync_log_tables
            VALUES ('00000000-0000-0000-0000-00000000000a', 'rdvs', 10, 1, 2, 0, 7, 3);
            INSERT INTO rdvsp.sync_log_organisations
            VALUES ('00000000-0000-0000-0000-00000000000a', 100, 1, 2, 0, 3, 'installed');
            INSERT INTO doctolib.sync_runs
                (id, practice_id, account_name, mode, started_at, status, reason, updated_since)
            VALUES ('00000000-0000-0000-0000-00000000000b', 3, 'practice_3', 'incremental', '2026-01-02 03:00+00',
                    'failed', 'HTTP 503', '2026-01-01 02:00+00');
            INSERT INTO doctolib.sync_run_tables
            VALUES ('00000000-0000-0000-0000-00000000000b', 'appointments', 5, 5, 0, 0, 0, 5);
            INSERT INTO doctolib.sync_state (practice_id, cursor_updated_at, last_success_at)
            VALUES (3, '2026-01-01 02:30+00', '2026-01-01 03:00+00');
        """)
    migrations.upgrade(empty_database_url)
    assert query(
        empty_database_url,
        "SELECT connector, partition_key, kind, status, error, pages, detail FROM sync.runs ORDER BY started_at",
    ) == [
        ("rdvsp", "7", "nightly", "success", None, 12, {"organisation_ids": [100, 101]}),
        (
            "doctolib",
            "3",
            "incremental",
            "failed",
            "HTTP 503",
            None,
            {"account_name": "practice_3", "since": "2026-01-01T02:00:00+00:00"},
        ),
    ]
    assert query(empty_database_url, "SELECT table_name, count, drift FROM sync.run_tables ORDER BY 1") == [
        ("appointments", 5, 5),
        ("rdvs", 10, 3),
    ]
    # What analysts queried still answers, through views.
    assert query(empty_database_url, "SELECT account_id, organisation_ids, pages_fetched FROM rdvsp.sync_logs") == [
        (7, [100, 101], 12)
    ]
    assert query(empty_database_url, "SELECT drift FROM rdvsp.sync_log_tables") == [(3,)]
    assert query(empty_database_url, "SELECT organisation_id, drift FROM rdvsp.sync_log_organisations") == [(100, 3)]
    assert query(
        empty_database_url, "SELECT practice_id, account_name, reason, updated_since::text FROM doctolib.sync_runs"
    ) == [(3, "practice_3", "HTTP 503", "2026-01-01 02:00:00+00")]
    # The practices' cursors moved to sync.cursors, with the other connectors' to come.
    assert query(empty_database_url, "SELECT connector, partition_key, cursor::text FROM sync.cursors") == [
        ("doctolib", "3", "2026-01-01 02:30:00+00")
    ]
    assert query(empty_database_url, "SELECT practice_id, cursor_updated_at::text FROM doctolib.sync_state") == [
        (3, "2026-01-01 02:30:00+00")
    ]
