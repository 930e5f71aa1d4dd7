"""The watch: every open clock in memory, a timer heap, and alerts written exactly once.

No per-clock polling: at start the clocks are folded from the service's own store; afterwards a
PostgreSQL NOTIFY (sent by every transaction that changes a case's clocks, delivered at commit) names
the case to read again. Only what the watch lacks is read: the events after the version of each stream it
has folded, folded after the case as it holds it, unless one of them committed behind an event already
folded; then the case is folded again from the start (`FoldedUpTo` in adapters/clock_store.py says why
that always equals a full fold of the store). One sleeping task wakes at the earliest at-risk or deadline
instant on the heap.
An alert goes into a stream whose id is derived from the clock, created with `start_stream` (ON CONFLICT
DO NOTHING), so a restart, a replay or a second replica can try again and nothing is announced twice.

Memory follows the open cases: a case called back with every clock stopped and unchanged for
`archive_after` leaves memory, its part of the rates and histograms kept in an Archive (adapters/archive.py);
the heap is rebuilt when stale entries (clocks that stopped or moved) outnumber the live ones. The
listening connection is watched too: when PostgreSQL restarts, the watch reconnects and reloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

import asyncpg

from eventcore.consumer import ServiceStores
from eventcore.database import connect
from eventcore.logging import get_logger
from schemas.base import DomainEvent, EventMetadata
from schemas.topics import SLA
from services.sla.adapters.archive import Archive, is_settled
from services.sla.adapters.clock_store import (
    NOTIFY_CHANNEL,
    CaseHistory,
    FoldedUpTo,
    alert_pending,
    load_all,
    load_histories,
    notify_changed,
)
from services.sla.domain.clocks import (
    AlertKind,
    CaseClocks,
    Clock,
    alert_stream,
    at_risk_alert,
    breach_alert,
    evolve,
)

log = get_logger(__name__)
ACTOR = "sla-watch"
_IDLE_SECONDS = 30.0  # the longest sleep: a safety net should a notification be lost
_ALERTS_PER_TRANSACTION = 500  # after an outage thousands fall due at once; keep transactions short
_SWEEP_SECONDS = 30.0  # how often settled cases are looked for to leave memory
DEFAULT_ARCHIVE_AFTER = timedelta(hours=72)  # longer than the 48-hour merge window that may reopen a case


def utc_now() -> datetime:
    return datetime.now(UTC)


class Watch:
    def __init__(
        self,
        at_risk_share: float | Mapping[str, float],
        now: Callable[[], datetime] = utc_now,
        archive_after: timedelta = DEFAULT_ARCHIVE_AFTER,
    ) -> None:
        """`at_risk_share`: one share for every district, or each served district's (its policy's)."""
        self.at_risk_shares = at_risk_share
        self.now = now
        self.cases: dict[str, CaseClocks] = {}
        self.archive = Archive()
        self.archive_after = archive_after
        self._last_change: dict[str, datetime] = {}  # when each case in memory was last recorded changing
        self._folded: dict[str, FoldedUpTo] = {}  # how much of each case in memory was folded
        self.alerts_written = 0
        self._heap: list[tuple[datetime, int, str, str, AlertKind]] = []
        self._seq = itertools.count()
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        # What the ops page's event streams wait on: bumped whenever the clocks in memory change.
        self.revision = 0
        self._revised = asyncio.Event()

    def share_for(self, district: str) -> float:
        shares = self.at_risk_shares
        if isinstance(shares, float | int):
            return float(shares)
        # A clock of a district the registry no longer lists (it could not start otherwise) still gets
        # its alert: with the first (founding) district's share, which the alert only reports.
        return shares.get(district) or next(iter(shares.values()))

    # -- what the ops page and the metrics read --------------------------------------------------------

    def clocks(self) -> Iterable[Clock]:
        for case in self.cases.values():
            yield from case.clocks.values()

    async def changed_since(self, revision: int, timeout: float) -> int:
        """The clocks' revision once it differs from `revision`, or after `timeout` seconds as it is."""
        if self.revision == revision:
            revised = self._revised
            try:
                await asyncio.wait_for(revised.wait(), timeout)
            except TimeoutError:
                pass
        return self.revision

    def _changed(self) -> None:
        self.revision += 1
        revised, self._revised = self._revised, asyncio.Event()
        revised.set()

    # -- running ------------------------------------------------------------------------------------

    async def run(self, stores: ServiceStores, dsn: str, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._run_once(stores, dsn, stop)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("sla_watch_retrying", error=str(error) or repr(error))
            except Exception as error:  # noqa: BLE001 - a bug in one round must not end the watch for good
                log.error("sla_watch_failed", error=repr(error))
            await _sleep_or_stop(stop, 1.0)

    async def _run_once(self, stores: ServiceStores, dsn: str, stop: asyncio.Event) -> None:
        listener = await connect(dsn)
        try:
            # Listen before loading, so no change between the load and the first wait is missed.
            await listener.add_listener(NOTIFY_CHANNEL, self._on_notify)
            # A lost listening connection would let notifications pass unseen: wake up and reconnect.
            listener.add_termination_listener(lambda _conn: self._wake.set())
            await self.load(stores)
            log.info("sla_watch_loaded", cases=len(self.cases), open_clocks=sum(1 for _ in self._open()))
            next_sweep = 0.0
            loop = asyncio.get_running_loop()
            while not stop.is_set():
                if listener.is_closed():
                    raise ConnectionError("the connection listening for clock changes was lost")
                await self._refresh(stores)
                await self.fire_due(stores)
                if loop.time() >= next_sweep:
                    self.sweep()
                    next_sweep = loop.time() + _SWEEP_SECONDS
                await self._sleep(stop)
        finally:
            if not listener.is_closed():
                with contextlib.suppress(Exception):
                    await listener.close(timeout=2)

    async def load(self, stores: ServiceStores) -> None:
        """Fold the whole store and put every open clock on the heap (start-up, reconnection)."""
        last_change: dict[str, datetime] = {}
        folded: dict[str, FoldedUpTo] = {}
        # One snapshot for every page: each stream is then folded up to a version all before it are in.
        async with (
            stores.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            self.cases = await load_all(conn, stores.schema, last_change, folded)
        self._last_change = last_change
        self._folded = folded
        self.archive.clear()  # everything is in memory again; the sweep archives what has settled
        self._rebuild_heap()
        self.sweep()

    def sweep(self) -> int:
        """Settled cases left alone for `archive_after` leave memory (their part of the figures stays)."""
        now = utc_now()  # compared with the store's recording times, not the watch's deadline clock
        settled = [
            case_id
            for case_id, case in self.cases.items()
            if is_settled(case) and now - self._last_change.get(case_id, now) >= self.archive_after
        ]
        for case_id in settled:
            self.archive.add(self.cases.pop(case_id), now)
            self._last_change.pop(case_id, None)
            self._folded.pop(case_id, None)
        if len(self._heap) > 2 * sum(1 for _ in self._open()) + 1024:
            self._rebuild_heap()  # stopped and moved clocks leave stale entries behind
        return len(settled)

    def _rebuild_heap(self) -> None:
        self._heap.clear()
        for case in self.cases.values():
            self._schedule(case)
        self._changed()

    def _open(self) -> Iterable[Clock]:
        return (c for c in self.clocks() if c.next_alert() is not None)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        self._dirty.add(str(payload))
        self._wake.set()

    async def _sleep(self, stop: asyncio.Event) -> None:
        if self._dirty:
            return
        timeout = _IDLE_SECONDS
        if self._heap:
            timeout = min(max((self._heap[0][0] - self.now()).total_seconds(), 0.0), _IDLE_SECONDS)
        self._wake.clear()
        waiters = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _refresh(self, stores: ServiceStores) -> None:
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        held = {c: self._folded[c].versions for c in dirty if c in self._folded and c in self.cases}
        async with stores.pool.acquire() as conn:
            changes = await load_histories(stores.bind(conn), dirty, held)
            # What committed behind an event already folded cannot be folded after it: fold those again.
            behind = {c for c, new in changes.items() if c in held and not self._folded[c].continued_by(new)}
            histories = await load_histories(stores.bind(conn), behind) if behind else {}
        for case_id, facts in changes.items():
            if case_id in held and case_id not in behind:
                self._fold(case_id, facts, self.cases[case_id], self._folded[case_id])
                continue
            history = histories.get(case_id, []) if case_id in behind else facts
            if history:
                # A case not in memory that changes may have been archived before.
                archived = case_id not in self.cases
                self._fold(case_id, history, CaseClocks(case_id), FoldedUpTo(), archived=archived)
        if changes:
            self._changed()

    def _fold(
        self,
        case_id: str,
        facts: CaseHistory,
        case: CaseClocks,
        folded: FoldedUpTo,
        *,
        archived: bool = False,
    ) -> None:
        """`case` (folded up to `folded`) after `facts`, its stored events that follow those.

        With `archived`, the facts are a whole history of a case not in memory: it was archived before if
        they hold a settled state left alone for `archive_after` (the last such state is what the archive
        counted), which is taken out of the archive, since the case now counts from memory again. A new
        case has no such state."""
        counted: CaseClocks | None = None
        for index, fact in enumerate(facts):
            case = evolve(case, fact.event)
            folded.add(fact.stream_id, fact.version, fact.position)
            if archived and index + 1 < len(facts):
                left_alone = facts[index + 1].recorded_at - fact.recorded_at >= self.archive_after
                if left_alone and is_settled(case):
                    counted = case  # a value: the clocks folded after it are new ones
        if counted is not None:
            self.archive.subtract(counted, self.now())
        self.cases[case_id] = case
        self._folded[case_id] = folded
        self._last_change[case_id] = facts[-1].recorded_at
        self._schedule(case)

    def _schedule(self, case: CaseClocks) -> None:
        now = self.now()
        for clock in case.clocks.values():
            due = clock.next_alert(now)
            if due is not None:
                heapq.heappush(self._heap, (due[0], next(self._seq), case.case_id, clock.clock_id, due[1]))

    def _pop_due(self, limit: int = _ALERTS_PER_TRANSACTION) -> list[tuple[Clock, AlertKind]]:
        now = self.now()
        due: list[tuple[Clock, AlertKind]] = []
        seen: set[tuple[str, AlertKind]] = set()
        while self._heap and self._heap[0][0] <= now and len(due) < limit:
            at, _, case_id, clock_id, kind = heapq.heappop(self._heap)
            case = self.cases.get(case_id)
            clock = case.clocks.get(clock_id) if case else None
            # Stale entries (the clock stopped, paused or moved) and repeats are skipped.
            if clock is not None and clock.next_alert(now) == (at, kind) and (clock_id, kind) not in seen:
                seen.add((clock_id, kind))
                due.append((clock, kind))
        return due

    async def fire_due(self, stores: ServiceStores) -> None:
        """Announce every alert whose time has come, a few hundred per transaction."""
        due = self._pop_due()
        while due:
            written: list[tuple[str, DomainEvent]] = []
            async with stores.unit_of_work() as uow:
                for clock, kind in due:
                    stream = alert_stream(clock.clock_id, kind)
                    event: DomainEvent = (
                        at_risk_alert(clock, self.share_for(clock.scope.district))
                        if kind is AlertKind.AT_RISK
                        else breach_alert(clock)
                    )
                    # A timer has no message to inherit from: the alert is the clock's district's.
                    metadata = EventMetadata(
                        correlation_id=clock.case_id, actor=ACTOR, district=clock.scope.district
                    )
                    uow.start_stream(stream, [alert_pending(stream, event, metadata)], publish_to=SLA)
                    written.append((stream, event))
                notify_changed(uow, [clock.case_id for clock, _ in due])
            self.alerts_written += len(uow.created_streams)  # the unit of work flushed on leaving the block
            for stream, event in written:
                # Folded now, so that the clock is not due again; the notification then reads the alert as
                # stored (FoldedUpTo counts only what was read), and folding it twice changes nothing: an
                # alert only marks its clock announced.
                self.cases[event.case_id] = evolve(self.cases[event.case_id], event)
                log.info(
                    "sla_alert",
                    kind=type(event).__name__,
                    case_id=event.case_id,
                    clock_id=getattr(event, "clock_id", None),
                    new=stream in uow.created_streams,
                )
            for case_id in {event.case_id for _, event in written}:
                self._schedule(self.cases[case_id])
            self._changed()
            due = self._pop_due()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
