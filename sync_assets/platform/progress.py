"""Progress of long work, reported at an interval (never per row), and a final summary."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable


class Progress:
    """Counts pages fetched and rows merged; emits a line at most every `interval_s` seconds."""

    def __init__(
        self,
        label: str,
        emit: Callable[[str], None],
        interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label, self.emit, self.interval_s, self.clock = label, emit, interval_s, clock
        self.started = self.last_report = clock()
        self.pages = self.rows = 0
        self.merged_tables = self.merged_rows = 0

    def page(self, rows: int) -> None:
        self.pages += 1
        self.rows += rows
        if self._due():
            self.emit(f"{self.label}: {self.pages} pages, {self.rows} records fetched ({self.rate():.0f} records/s)")

    def merged(self, table: str, rows: int) -> None:
        """A table merged into the warehouse (`rows`: the rows it was given)."""
        self.merged_tables += 1
        self.merged_rows += rows
        if self._due():
            self.emit(f"{self.label}: {self.merged_tables} tables merged, {self.merged_rows} rows (last: {table})")

    def _due(self) -> bool:
        now = self.clock()
        if now - self.last_report < self.interval_s:
            return False
        self.last_report = now
        return True

    def rate(self) -> float:
        elapsed = self.clock() - self.started
        return self.rows / elapsed if elapsed > 0 else 0.0

    def elapsed(self) -> float:
        return self.clock() - self.started


def table_count_lines(tables: Iterable[tuple[str, int, int, int, int, int, int]]) -> list[str]:
    """Per-table figures of a sync, as printed by the command line and the demo.

    `tables`: (name, count, created, updated, deleted, noop, drift) tuples.
    """
    lines = [f"  {'table':<22}{'count':>8}{'created':>9}{'updated':>9}{'deleted':>9}{'noop':>8}{'drift':>7}"]
    lines += [
        f"  {name:<22}{count:>8}{created:>9}{updated:>9}{deleted:>9}{noop:>8}{drift:>7}"
        for name, count, created, updated, deleted, noop, drift in tables
    ]
    return lines
