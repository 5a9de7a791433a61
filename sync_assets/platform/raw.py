"""Raw response landing: every page an API returned, kept with the sha256 of its body.

A page whose body did not change since the last fetch with the same parameters is recognised
(`unchanged`) and not stored twice. `prune_raw_responses` applies the retention window
(`SYNC_RAW_RETENTION_DAYS`, 30 days by default).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from psycopg.types.json import Jsonb

from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.http import Page
from sync_assets.platform.merge import driver_connection
from sync_assets.platform.sql_files import package_sql

DEFAULT_RETENTION_DAYS = 30


@dataclass(frozen=True)
class Landed:
    id: int
    unchanged: bool


def land_page(conn, connector: str, page: Page) -> Landed:
    """Store one response; tell whether its body changed since the last fetch.

    A body already stored is not sent to the database again (one small statement); a new one
    is inserted (a second statement).
    """
    pg = driver_connection(conn)
    params = {"connector": connector, "endpoint": page.endpoint, "params": Jsonb(dict(page.params)),
              "status": page.status, "body_sha256": page.sha256}
    touched, unchanged = pg.execute(package_sql(__file__, "touch_raw_response"), params).fetchone()
    if touched is not None:
        return Landed(id=touched, unchanged=unchanged)
    body = page.data if page.data is not None else page.body.decode("utf-8", errors="replace")
    row = pg.execute(package_sql(__file__, "land_raw_response"), {**params, "body": Jsonb(body)}).fetchone()
    return Landed(id=row[0], unchanged=row[1])


def retention_days() -> int:
    value = os.environ.get("SYNC_RAW_RETENTION_DAYS", str(DEFAULT_RETENTION_DAYS))
    try:
        days = int(value)
    except ValueError:
        days = 0
    if days < 1:
        raise ConfigurationError(
            f"SYNC_RAW_RETENTION_DAYS must be a whole number of days, at least 1 (it is {value!r})."
        )
    return days


def prune_raw_responses(conn, days: int | None = None) -> int:
    """Delete the responses not fetched again within `days`; return how many were deleted."""
    days = retention_days() if days is None else days
    return driver_connection(conn).execute(package_sql(__file__, "prune_raw_responses"),
                                           {"retention_days": days}).fetchone()[0]
