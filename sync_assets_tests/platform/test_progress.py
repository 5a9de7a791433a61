"""Progress of long work: a line at an interval, never one per page or per row."""

from __future__ import annotations

from sync_assets.platform.progress import Progress, table_count_lines


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_pages_and_merges_are_reported_at_the_interval_with_the_rate():
    clock, lines = Clock(), []
    progress = Progress("rdvsp account 1", lines.append, interval_s=10, clock=clock)
    for _ in range(50):  # 50 pages of 100 in 9 s: nothing yet
        clock.now += 0.18
        progress.page(100)
    assert lines == []
    clock.now = 10.0
    progress.page(100)
    assert lines == ["rdvsp account 1: 51 pages, 5100 records fetched (510 records/s)"]
    progress.merged("rdvs", 5100)  # within the interval: counted, not printed
    clock.now = 25.0
    progress.merged("participations", 7000)
    assert lines[-1] == "rdvsp account 1: 2 tables merged, 12100 rows (last: participations)"
    assert len(lines) == 2 and progress.elapsed() == 25.0


def test_the_final_figures_are_one_line_per_table():
    lines = table_count_lines([("rdvs", 10, 2, 1, 0, 7, 3), ("users", 4, 0, 0, 1, 3, 1)])
    assert [line.split() for line in lines] == [
        ["table", "count", "created", "updated", "deleted", "noop", "drift"],
        ["rdvs", "10", "2", "1", "0", "7", "3"],
        ["users", "4", "0", "0", "1", "3", "1"],
    ]
