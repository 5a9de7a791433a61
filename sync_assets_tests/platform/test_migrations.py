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
    columns = query(url, "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
                         "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3")
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
    assert SCHEMAS <= schemas
    tables = {r[0] for r in query(empty_database_url,
                                  "SELECT table_name FROM information_schema.tables WHERE table_schema = 'sync'")}
    assert SYNC_TABLES <= tables
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
    (directory / "0001_first.sql").write_text("CREATE SCHEMA sync_order; CREATE TABLE sync_order.log (n int);"
                                              "INSERT INTO sync_order.log VALUES (1);")
    migrations.upgrade(empty_database_url, directory)
    (directory / "0003_third.sql").write_text("INSERT INTO sync_order.log VALUES (3);")
    assert [m.name for m in migrations.upgrade(empty_database_url, directory)] == ["third"]
    assert query(empty_database_url, "SELECT n FROM sync_order.log") == [(1,), (2,), (3,)]


def test_a_failing_migration_is_rolled_back_and_named(empty_database_url, migrations_dir):
    migrations.upgrade(empty_database_url, migrations_dir)
    before = snapshot(empty_database_url)
    (migrations_dir / "0900_broken.sql").write_text(
        "CREATE TABLE sync.half_done (id int);\nALTER TABLE sync.no_such_table ADD COLUMN x int;\n")
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
