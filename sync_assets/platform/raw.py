"""Raw response landing: every page an API returned, kept with the sha256 of its body.

A page whose body did not change since the last fetch with the same parameters is recognised
(`unchanged`) and not stored twice. `prune_raw_responses` applies the retention window
(`SYNC_RAW_RETENTION_DAYS`, 30 days by default).
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass

from psycopg.types.json import Jsonb

from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.http import Page
from sync_assets.platform.merge import AnyConnection, driver_connection, one_row
from sync_assets.platform.sql_files import package_sql

DEFAULT_RETENTION_DAYS = 30


@dataclass(frozen=True)
class Landed:
    id: int
    unchanged: bool


def land_page(conn: AnyConnection, connector: str, page: Page) -> Landed:
    """Store one response; tell whether its body changed since the last fetch.

    A body already stored is not sent to the database again (one small statement); a new one
    is inserted (a second statement).
    """
    pg = driver_connection(conn)
    params = {
        "connector": connector,
        "endpoint": page.endpoint,
        "params": Jsonb(dict(page.params)),
        "status": page.status,
        "body_sha256": page.sha256,
    }
    touched, unchanged = one_row(pg.execute(package_sql(__file__, "touch_raw_response"), params))
    if touched is not None:
        return Landed(id=touched, unchanged=unchanged)
    body = page.data if page.data is not None else page.body.decode("utf-8", errors="replace")
    (landed,) = one_row(pg.execute(package_sql(__file__, "land_raw_response"), {**params, "body": Jsonb(body)}))
    return Landed(id=landed, unchanged=False)


class BackgroundLander:
    """Lands pages on its own connection and thread, while the caller goes on fetching.

    At most `backlog` pages wait in memory. A landing failure is raised by `land` or `close`,
    so that the run it belongs to fails.
    """

    def __init__(self, conninfo: str, connector: str, backlog: int = 8):
        import psycopg

        self.connector = connector
        self._conn = psycopg.connect(conninfo, autocommit=True)
        self._queue: queue.Queue[Page | None] = queue.Queue(maxsize=backlog)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name=f"{connector}-raw-landing", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while (page := self._queue.get()) is not None:
            if self._error is None:
                try:
                    land_page(self._conn, self.connector, page)
                except BaseException as error:  # raised in the caller's thread
                    self._error = error

    def land(self, page: Page) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(page)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._conn.close()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BackgroundLander:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:  # the run already failed: stop quietly, its own error is the one to report
            self._queue.put(None)
            self._thread.join()
            self._conn.close()


def retention_days(variable: str = "SYNC_RAW_RETENTION_DAYS", default: int = DEFAULT_RETENTION_DAYS) -> int:
    """A retention window in days, from `variable` (a clear error when it is not a whole number)."""
    value = os.environ.get(variable, str(default))
    try:
        days = int(value)
    except ValueError:
        days = 0
    if days < 1:
        raise ConfigurationError(f"{variable} must be a whole number of days, at least 1 (it is {value!r}).")
    return days


def prune_raw_responses(conn: AnyConnection, days: int | None = None) -> int:
    """Delete the responses not fetched again within `days`; return how many were deleted."""
    days = retention_days() if days is None else days
    pruned = driver_connection(conn).execute(package_sql(__file__, "prune_raw_responses"), {"retention_days": days})
    count: int = one_row(pruned)[0]
    return count
