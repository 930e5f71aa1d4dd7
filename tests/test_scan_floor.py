"""Where the outbox relay's passes start reading: past what was published, never past what may commit."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from eventcore.scan_floor import ScanFloor


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _floor(full_scan_seconds: float = 60.0) -> tuple[ScanFloor, Clock]:
    clock = Clock()
    return ScanFloor(full_scan_seconds, clock), clock


def test_the_floor_moves_over_positions_published_without_a_gap() -> None:
    floor, _ = _floor()
    floor.passed([1, 2, 3], oldest_running=10, next_xid=10, complete=True)
    floor.passed([4, 5], oldest_running=10, next_xid=11, complete=True)
    assert floor.scan_from() == 5


def test_the_floor_waits_below_a_missing_position_while_a_transaction_that_may_hold_it_runs() -> None:
    floor, _ = _floor()
    floor.passed([1, 3, 4], oldest_running=7, next_xid=9, complete=True)  # 2: taken by xid 7 or 8, say
    assert floor.scan_from() == 1
    floor.passed([5], oldest_running=8, next_xid=10, complete=True)  # one of them still runs
    assert floor.scan_from() == 1
    floor.passed([], oldest_running=9, next_xid=10, complete=True)  # both finished: 2 will never commit
    assert floor.scan_from() == 5


def test_a_late_commit_below_the_published_rows_closes_the_gap_at_once() -> None:
    floor, _ = _floor()
    floor.passed([2, 3], oldest_running=5, next_xid=6, complete=True)
    floor.passed([1], oldest_running=5, next_xid=7, complete=True)  # its transaction may even run on
    assert floor.scan_from() == 3


def test_a_pass_cut_short_by_its_limit_moves_the_floor_only_up_to_its_last_row() -> None:
    """It could not see rows past its last one: one there that committed must still be read."""
    floor, _ = _floor()
    floor.passed([1, 2, 9, 10], oldest_running=5, next_xid=6, complete=True)
    floor.passed([4, 5], oldest_running=6, next_xid=7, complete=False)  # 6, 7 or 8 may be visible
    assert floor.scan_from() == 5
    floor.passed([7], oldest_running=7, next_xid=8, complete=True)  # it saw all: 6 and 8 rolled back
    assert floor.scan_from() == 10


def test_a_new_floor_reads_from_the_start_until_the_transactions_it_saw_running_end() -> None:
    floor, _ = _floor()
    assert floor.scan_from() == 0
    floor.passed([500, 501], oldest_running=40, next_xid=42, complete=True)
    assert floor.scan_from() == 0
    floor.passed([], oldest_running=42, next_xid=43, complete=True)
    assert floor.scan_from() == 501


def test_every_full_scan_seconds_one_pass_reads_from_the_start_again() -> None:
    """For a holder that took its position without a transaction id yet, which the floor cannot see."""
    floor, clock = _floor(full_scan_seconds=5.0)
    floor.passed([1, 2], oldest_running=3, next_xid=3, complete=True)
    clock.now = 4.9
    assert floor.scan_from() == 2
    clock.now = 5.0
    assert floor.scan_from() == 0
    assert floor.scan_from() == 2
    floor.passed([1], oldest_running=3, next_xid=3, complete=True)  # re-read below the floor: no change
    assert floor.scan_from() == 2


@settings(max_examples=200, deadline=None)
@given(
    st.permutations(list(range(1, 41))), st.sets(st.integers(1, 40)), st.integers(1, 8), st.integers(1, 6)
)
def test_the_floor_never_passes_a_position_that_can_still_commit(
    order: list[int], rolled_back: set[int], batch: int, commits_per_pass: int
) -> None:
    """Rows commit in any order (some roll back); each pass sees the committed unpublished rows after the
    floor, up to its limit. The floor only ever passes a position that is published or rolled back, and
    once nothing runs any more it reaches the top."""
    floor, _ = _floor()
    committed: set[int] = set()
    published: set[int] = set()
    running = [p for p in order if p not in rolled_back]
    xid_of = {p: i + 1 for i, p in enumerate(order)}  # each its own transaction, started in this order

    def one_pass() -> None:
        oldest = min((xid_of[p] for p in running), default=len(order) + 1)
        start = floor.scan_from()
        visible = sorted(p for p in committed - published if p > start)[:batch]
        published.update(visible)
        floor.passed(visible, oldest_running=oldest, next_xid=len(order) + 1, complete=len(visible) < batch)
        assert all(p in published or p in rolled_back for p in range(1, floor.floor + 1))

    while running:
        committed.update(running[:commits_per_pass])
        del running[:commits_per_pass]
        one_pass()
    for _ in range(40):
        one_pass()
    assert published == committed
    assert floor.floor == max(committed, default=0) or not committed
