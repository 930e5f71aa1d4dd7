"""Live updates: PostgreSQL LISTEN/NOTIFY in, server-sent events out.

A service's read-model projection sends `NOTIFY <channel>, '<payload>'` in the transaction that changes a
row, so it is delivered at commit, to every replica. Each replica holds one listening connection per
channel (`Notifications`) and fans the payloads out to its open event streams; a stream decides which
payloads concern its person and sends them named events. Streams send a comment every 15 s (heartbeat),
tell the browser to retry after 3 s, and send "everything may have changed" (`RESYNC`) after the listening
connection was lost and regained or a slow stream fell behind, so nothing is silently missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence

import asyncpg
from sse_starlette import EventSourceResponse, ServerSentEvent

from eventcore.database import DbConnection
from eventcore.logging import get_logger

log = get_logger(__name__)
RESYNC = "\x00resync"  # not a payload anyone sends: "reload what you show"
HEARTBEAT_SECONDS = 15
RETRY_MILLISECONDS = 3000
_QUEUE_SIZE = 512


async def notify(conn: DbConnection, channel: str, payloads: Sequence[str]) -> None:
    """Queue one notification per payload, in one round trip; PostgreSQL delivers them at commit."""
    if payloads:
        await conn.execute(
            "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", channel, list(dict.fromkeys(payloads))
        )


class Notifications:
    """One listening connection for a channel, shared by every event stream of this process."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._queues: set[asyncio.Queue[str]] = set()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self, dsn: str, stop: asyncio.Event | None = None) -> None:
        """Start listening (once); the first event stream does it, so a replica nobody watches never listens."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen(dsn, stop), name=f"listen-{self.channel}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue(_QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    def publish(self, payload: str) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(payload)
            except asyncio.QueueFull:  # a stream that fell behind reloads everything instead
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(RESYNC)

    async def _listen(self, dsn: str, stop: asyncio.Event | None) -> None:
        first = True
        while stop is None or not stop.is_set():
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(dsn)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("live_updates_connect_failed", channel=self.channel, error=str(error))
                await asyncio.sleep(1.0)
                continue
            try:
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(self.channel, self._on_notify)
                self.connected.set()
                if not first:
                    self.publish(RESYNC)  # notifications sent while we were away are gone
                first = False
                await _first_of(lost, stop)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("live_updates_lost", channel=self.channel, error=str(error))
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await conn.close()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        self.publish(str(payload))


async def _first_of(lost: asyncio.Event, stop: asyncio.Event | None) -> None:
    waiters = [asyncio.create_task(lost.wait())]
    if stop is not None:
        waiters.append(asyncio.create_task(stop.wait()))
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def gathered(queue: asyncio.Queue[str], window: float = 0.3, timeout: float | None = None) -> list[str]:
    """The next payload and whatever follows within `window` seconds (one refresh for a burst);
    [] when nothing came within `timeout`."""
    try:
        first = await asyncio.wait_for(queue.get(), timeout)
    except TimeoutError:
        return []
    payloads = [first]
    await asyncio.sleep(window)
    while not queue.empty():
        payloads.append(queue.get_nowait())
    return payloads


def event_stream(events: AsyncIterator[ServerSentEvent]) -> EventSourceResponse:
    """An SSE response with the heartbeat, the retry hint and no caching or proxy buffering."""
    return EventSourceResponse(
        events,
        ping=HEARTBEAT_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def retry_hint() -> ServerSentEvent:
    return ServerSentEvent(comment="connected", retry=RETRY_MILLISECONDS)
