"""Helpers shared by the benchmarks (not a benchmark: `make bench` skips `_`-prefixed files)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from sync_assets.platform import migrations
from sync_assets.platform.warehouse import database_url, libpq_url, normalize_database_url


def start_command(
    args: list[str], ready_url: str, *, env: dict | None = None, timeout_s: float = 300, what: str = "the server"
) -> subprocess.Popen:
    """Start `sync-assets ARGS` in its own process; return once `ready_url` answers 200."""
    command = [str(Path(sys.executable).with_name("sync-assets")), *args]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(ready_url, timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{what} did not start: {process.stderr.read().decode()[-2000:]}")


def scratch_database(name: str) -> str:
    """A new, migrated database on the warehouse's server (dropped first if it exists)."""
    admin = libpq_url(database_url())
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = normalize_database_url(make_url(admin).set(database=name).render_as_string(hide_password=False))
    migrations.upgrade(url)
    return url


def drop_database(name: str) -> None:
    with psycopg.connect(libpq_url(database_url()), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
