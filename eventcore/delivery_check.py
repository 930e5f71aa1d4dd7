"""What a service can prove about its own deliveries, checked in the background (`caseline_audit_gap`).

Services never read each other's schemas, so the reconciliation across stores (every complaint handled by
routing, every escalation in a file, ...) is the operator's `caseline audit`, which reads them all. Each
service checks, every `audit_check_seconds`, what it can see alone:

- `unpublished`: its outbox rows committed more than `grace` seconds ago and still not published (the relay
  stuck, the broker refusing, or a re-drive after a lost log still under way);
- `unconsumed`: records on the input partitions this replica consumes that it has not consumed, on
  partitions where its position did not move since the previous check;
- `dead_lettered`: messages from Caseline's own topics it dead-lettered and that still wait for a fix.

A gap is *closing* while it shrinks and *stuck* once it has not shrunk for `grace` seconds; `/healthz`
reports both and `caseline_audit_gap_stuck_seconds` feeds the alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from eventcore.database import checked_schema
from eventcore.failures import FailedAttempts
from eventcore.logging import get_logger

log = get_logger(__name__)
CHECKS = ("unpublished", "unconsumed", "dead_lettered")
# (topic, partition) → (position, high watermark) of what this replica consumes
Positions = Mapping[tuple[str, int], tuple[int, int]]


@dataclass
class Gap:
    size: int = 0
    not_shrinking_since: float | None = None  # monotonic; None while there is no gap

    def observe(self, size: int, now: float) -> None:
        if size == 0:
            self.not_shrinking_since = None
        elif self.not_shrinking_since is None or size < self.size:
            self.not_shrinking_since = now  # opened, or shrank: closing, give it time again
        self.size = size

    def stuck_seconds(self, now: float) -> float:
        return 0.0 if self.not_shrinking_since is None else now - self.not_shrinking_since


@dataclass
class DeliveryCheck:
    schema: str
    caseline_topics: Sequence[str]  # the CloudEvents topics it consumes (not outside systems' raw records)
    grace_seconds: float = 120.0
    every_seconds: float = 15.0
    positions: Callable[[], Awaitable[Positions]] | None = None
    gaps: dict[str, Gap] = field(default_factory=lambda: {check: Gap() for check in CHECKS})
    checked_at: float | None = None
    _last_positions: dict[tuple[str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checked_schema(self.schema)

    async def run(self, pool: asyncpg.Pool, stop: asyncio.Event) -> None:
        rounds = 0
        while not stop.is_set():
            try:
                await self.check_once(pool)
                rounds += 1
                if rounds % 20 == 0:
                    async with pool.acquire() as conn:
                        await FailedAttempts(self.schema).forget_handled(conn)
            except Exception as error:  # noqa: BLE001 - a failed round (database away) is tried next round
                log.warning("delivery_check_failed", error=str(error) or repr(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every_seconds)

    async def check_once(self, pool: asyncpg.Pool) -> dict[str, int]:
        s = self.schema
        async with asyncio.timeout(10), pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT (SELECT count(*) FROM {s}.outbox WHERE published_at IS NULL "
                "AND created_at < clock_timestamp() - make_interval(secs => $1::double precision)) AS unpublished, "
                f"(SELECT count(*) FROM {s}.dead_letters WHERE replayed_at IS NULL AND message_id IS NOT NULL "
                "AND source = ANY($2::text[])) AS dead_lettered",
                self.grace_seconds,
                [f"kafka:{topic}" for topic in self.caseline_topics],
            )
        assert row is not None
        sizes = {
            "unpublished": int(row["unpublished"]),
            "unconsumed": await self._unconsumed(),
            "dead_lettered": int(row["dead_lettered"]),
        }
        now = time.monotonic()
        for check, size in sizes.items():
            self.gaps[check].observe(size, now)
        self.checked_at = now
        if any(sizes.values()):
            log.info("delivery_gaps", **sizes)
        return sizes

    async def _unconsumed(self) -> int:
        if self.positions is None:
            return 0
        positions = await self.positions()
        standing = sum(
            max(highwater - position, 0)
            for tp, (position, highwater) in positions.items()
            if self._last_positions.get(tp) == position
        )
        self._last_positions = {tp: position for tp, (position, _) in positions.items()}
        return standing

    def stuck(self, now: float | None = None) -> dict[str, float]:
        at = time.monotonic() if now is None else now
        return {
            check: gap.stuck_seconds(at)
            for check, gap in self.gaps.items()
            if gap.stuck_seconds(at) >= self.grace_seconds
        }

    def health(self) -> dict[str, Any]:
        """For /healthz: ok, closing (a gap that shrinks) or stuck (one that has not shrunk for the grace)."""
        open_gaps = {check: gap.size for check, gap in self.gaps.items() if gap.size}
        stuck = self.stuck()
        status = "stuck" if stuck else "closing" if open_gaps else "ok"
        body: dict[str, Any] = {"status": status, "gaps": open_gaps}
        if stuck:
            body["stuck_seconds"] = {check: round(seconds) for check, seconds in stuck.items()}
        if self.checked_at is None:
            body["status"] = "not_checked_yet"
        return body
