"""Request budgets shared by every process of a deployment.

An API's published rate limit counts the requests of one client IP, and every process of a
deployment (runs, sensors, the write-back job, the command line) leaves from that IP. So the
budget is kept where they all meet: one token bucket per budget in `sync.request_budgets`, taken
with one short statement per request (`take_request_budgets.sql`), paced a little under the
published limit so that a fixed window of the API never sees more than it allows. When the API
answers 429 anyway, the shared pace is lowered and every process waits for the API's
`Retry-After` (`throttle_request_budgets.sql`).

Budgets of 6,000 a minute and more (lifted, or a local stand-in's) are paced in-process, without
a statement per request. When the warehouse cannot be reached, a process falls back to the same
in-process limiter, and says so once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from sync_assets.platform.http import shared_rate_limiter
from sync_assets.platform.observability import get_logger
from sync_assets.platform.sql_files import package_sql

log = get_logger(__name__)

# The pace is this share of the published limit: a fixed window then holds the burst and the
# paced requests with room to spare.
PACE = 0.95
# What may leave at once after a quiet time: one, so that a window of the API, whatever its length,
# holds at most one request more than the pace allows.
BURST = 1
# Budgets this large (a lifted budget, a local stand-in) are paced in-process: the fast path, with
# no statement per request.
IN_PROCESS_FROM_PER_MINUTE = 6000.0


@dataclass(frozen=True)
class Budget:
    name: str  # e.g. "rdvsp", "rdvsp:rdvs:organisation:100"
    per_minute: float


# Which budgets a request spends: (method, endpoint, params) -> budgets.
BudgetRule = Callable[[str, str, Mapping[str, Any]], Sequence[Budget]]


class SharedBudgets:
    """The budgets of `sync.request_budgets`, taken and throttled on a connection of their own
    (autocommit: each statement is its own short transaction). Thread-safe."""

    def __init__(
        self, conninfo: str, rule: BudgetRule, *, sleep: Callable[[float], None] = time.sleep, connector: str = ""
    ) -> None:
        self.conninfo, self.rule, self.sleep, self.connector = conninfo, rule, sleep, connector
        self.lowest_per_minute: dict[str, float] = {}  # the lowered paces this process saw, per budget
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()
        self._warned = False

    def take(self, method: str, endpoint: str, params: Mapping[str, Any]) -> float:
        """Take one request from each budget the request spends, waiting for its slot; the wait."""
        budgets = self.rule(method, endpoint, params)
        if not budgets:
            return 0.0
        if all(b.per_minute >= IN_PROCESS_FROM_PER_MINUTE for b in budgets):
            return self._take_in_process(budgets)
        try:
            waits = self._execute("take_request_budgets", _arrays(budgets))
            wait = max(float(w) for _, w in waits)
        except psycopg.Error as error:
            return self._take_locally(budgets, error)
        if wait > 0:
            self.sleep(wait)
        return wait

    def throttled(self, method: str, endpoint: str, params: Mapping[str, Any], retry_after_s: float) -> None:
        """The API answered 429: lower the shared pace, and let no request leave before `retry_after_s`."""
        budgets = self.rule(method, endpoint, params)
        if not budgets:  # a path no budget covers: wait here
            self.sleep(retry_after_s)
            return
        try:
            rows = self._execute(
                "throttle_request_budgets", {"names": [b.name for b in budgets], "retry_after_s": retry_after_s}
            )
        except psycopg.Error as error:
            self._warn_local(error)
            self.sleep(retry_after_s)
            return
        for name, rate in rows:
            self.lowest_per_minute[name] = min(rate, self.lowest_per_minute.get(name, rate))
            log.warning(
                "the API answered 429: its real budget is lower than ours; shared pace lowered",
                extra={
                    "connector": self.connector,
                    "budget": name,
                    "per_minute": round(rate, 1),
                    "retry_after_s": retry_after_s,
                },
            )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _execute(self, statement: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
            return self._conn.execute(package_sql(__file__, statement), {**params, "margin": PACE}).fetchall()

    def _take_locally(self, budgets: Sequence[Budget], error: psycopg.Error) -> float:
        self._warn_local(error)
        return self._take_in_process(budgets)

    def _take_in_process(self, budgets: Sequence[Budget]) -> float:
        """The process's own limiters at the same pace (shared by its clients)."""
        return sum(shared_rate_limiter(b.name, b.per_minute * PACE / 60, BURST).acquire() for b in budgets)

    def _warn_local(self, error: psycopg.Error) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "the shared request budget cannot be reached: pacing this process alone",
                extra={"connector": self.connector, "error": type(error).__name__},
            )


def _arrays(budgets: Sequence[Budget]) -> dict[str, list[Any]]:
    return {
        "names": [b.name for b in budgets],
        "per_minute": [b.per_minute for b in budgets],
        "burst": [float(BURST)] * len(budgets),
    }
