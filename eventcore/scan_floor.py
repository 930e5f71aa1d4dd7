"""Where an outbox relay's pass starts reading: past the rows it has published, but never past a row that
may still commit.

The relay selects rows still marked unpublished in position order. Published rows leave their entries in
the unpublished index until VACUUM removes them (marking a row published is not a HOT update: the index's
predicate names the column): autovacuum comes once a minute at best, and not at all past what a long
reader's snapshot may still see. A scan from the start of the index walks every one of them: with 100,000
published rows a read of 350 took 6.3 ms, against 0.8 ms from the floor (bench/outbox_scan.py). So a pass
reads `position > floor` instead.

Positions are handed out before commit, so a row below one already published may still commit (its
transaction is running) or never will (it rolled back). The floor moves over published positions one by
one; at a missing one it waits until no transaction that may hold it is running:
- a missing position g below the highest published one M was taken (the sequence hands numbers out in
  order: `bigserial`, cache 1) before M's, hence before M committed, hence before the snapshot of the pass
  that saw M published. The transaction holding g had a transaction id below that snapshot's xmax then.
- so once a pass's snapshot has an xmin at or above that xmax, the holder has finished: its row, if it
  committed, was visible to that pass, which started at the floor and so returned it (unless the pass was
  cut short by its LIMIT: then the floor moves only up to the last row it returned).
A holder that had taken its number but not yet its transaction id at that snapshot (between a statement's
first `nextval` and its first row: microseconds) escapes this reasoning; so does a sequence someone gave
a cache. For those, every `full_scan_seconds` a pass reads from the start of the index again.

Rows marked unpublished again lie below the floor: the relay starts a new one when it re-drives a topic, and
when `caseline audit --repair` says so on its channel (`eventcore.outbox.REWIND`).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class _Gap:
    top: int  # the highest position published when a missing one below it was seen
    next_xid: int  # that pass's snapshot xmax: whoever holds a missing position below `top` had an id below it


class ScanFloor:
    """`floor`: every position at or below it is published, or was taken by a transaction that finished
    without committing it. A new floor (a new leader, a re-drive) starts at 0: the first passes read from the
    start, and the floor moves up to what they published once the transactions running meanwhile end."""

    def __init__(self, full_scan_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.floor = 0
        self._runs: list[list[int]] = []  # published positions above the floor: sorted, disjoint [low, high]
        self._gap: _Gap | None = None
        self._full_scan_seconds = full_scan_seconds
        self._clock = clock
        self._next_full_scan = clock() + full_scan_seconds

    def scan_from(self) -> int:
        """The position a pass reads after: the floor, or 0 every `full_scan_seconds`."""
        if self._clock() < self._next_full_scan:
            return self.floor
        self._next_full_scan = self._clock() + self._full_scan_seconds
        return 0

    def passed(self, published: Sequence[int], *, oldest_running: int, next_xid: int, complete: bool) -> None:
        """After a pass: `published`, the positions it returned and marked (in order); `oldest_running` and
        `next_xid`, its snapshot's xmin and xmax; `complete`, whether it returned every row it could see (it
        was not cut short by its LIMIT)."""
        for position in published:
            if position > self.floor:
                self._add(position)
        gap = self._gap
        if gap is not None and oldest_running >= gap.next_xid:
            reach = gap.top if complete or not published else min(gap.top, published[-1])
            self._move_to(reach)
            self._gap = None
        self._move_to(self.floor)  # over what follows it without a gap
        if not self._runs:
            self._gap = None
        elif self._gap is None:
            self._gap = _Gap(self._runs[-1][1], next_xid)

    def _add(self, position: int) -> None:
        runs = self._runs
        i = bisect.bisect_left(runs, [position, position])
        if i > 0 and runs[i - 1][1] >= position - 1:  # joins (or is in) the run before it
            run = runs[i - 1]
            run[1] = max(run[1], position)
            if i < len(runs) and runs[i][0] <= run[1] + 1:
                run[1] = max(run[1], runs.pop(i)[1])
        elif i < len(runs) and runs[i][0] <= position + 1:  # joins the run after it
            runs[i][0] = min(runs[i][0], position)
        else:
            runs.insert(i, [position, position])

    def _move_to(self, position: int) -> None:
        """The floor at `position` at least, and on over the published runs that follow it directly."""
        floor = max(self.floor, position)
        runs = self._runs
        while runs and runs[0][0] <= floor + 1:
            floor = max(floor, runs.pop(0)[1])
        self.floor = floor
