"""Python's cyclic garbage collector, where its passes cost more than they free.

Two moments, one idiom for each:
- `freeze_long_lived()`: once a process holds what it keeps for good (its modules, a trained classifier,
  the districts' directories: 10^5 objects), those leave the collector's sight. Every consumer batch and
  every fed batch leaves enough survivors to start a full collection every batch or two, and each walked
  all of them: a sixth of a feed's CPU and about a tenth of a consumer's. Objects made later stay
  collectable as ever.
- `collector_paused()`: around a replay, which decodes every event once and keeps what it folded until it
  is written; the collector's passes over those live objects cost a quarter of the replay and found nothing
  to free (a whole replay leaves a few dozen objects in cycles).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache


@cache
def freeze_long_lived() -> None:
    """Once per process: collect what is already garbage, then freeze what survives."""
    gc.collect()
    gc.freeze()


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector paused until the block ends; memory stays bounded by what the block holds."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
