"""Why handling a message failed, and how often: the consumer's failure path decides with these.

Two kinds of failure, told apart carefully because one is retried forever and the other is not:
- infrastructure (the database or the network is away): not the message's fault, so nothing is counted
  against it; the batch comes again once the infrastructure is back;
- anything else while the database answers (a bug, a KeyError, a RecursionError, a value PostgreSQL
  refuses): counted per message id in the service's own `failed_attempts` table, so the count survives a
  redelivery and a restart; after `max_attempts` the message is dead-lettered with the reason and the
  partition moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import asyncpg

from eventcore.database import DbConnection, checked_schema
from eventcore.logging import get_logger

log = get_logger(__name__)
T = TypeVar("T")

# Errors that say the database (or the network to it) is away, whatever the message.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,  # class 08: connection exceptions
    asyncpg.OperatorInterventionError,  # class 57: admin shutdown, crash shutdown, cannot connect now
    asyncpg.InsufficientResourcesError,  # class 53: too many connections, disk full
)


_AWAY: tuple[type[BaseException], ...] = (*INFRASTRUCTURE_ERRORS, asyncpg.InterfaceError)


class ShuttingDown(Exception):
    """The service stops while a message waits for its next attempt; the batch is redelivered later."""


async def database_answers(pool: asyncpg.Pool, timeout: float = 2.0) -> bool:
    try:
        async with asyncio.timeout(timeout), pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT 1") == 1)
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False


async def is_infrastructure_failure(error: BaseException, pool: asyncpg.Pool) -> bool:
    """True when the failure is not the message's fault: the database is away, or the service stops.

    A closed connection (InterfaceError) is ambiguous: a bug can raise it too, so the database decides.
    """
    if isinstance(error, INFRASTRUCTURE_ERRORS + (ShuttingDown,)):
        return True
    return not await database_answers(pool)


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL did not come back within the patience; the message says what was done and what to do."""


async def retry_while_database_away(
    operation: Callable[[], Awaitable[T]], *, patience_seconds: float = 60.0
) -> T:
    """Run a transaction again while PostgreSQL is away (a restart, a failover), up to `patience_seconds`.

    Only for operations that are safe to repeat whatever happened to the interrupted attempt (e.g. intake's
    batches, deduplicated by their keys). A closed connection counts as the database being away here.
    """
    deadline: float | None = None
    delay = 0.5
    while True:
        try:
            return await operation()
        except _AWAY as error:
            now = time.monotonic()
            deadline = now + patience_seconds if deadline is None else deadline
            if now >= deadline:
                raise DatabaseUnavailable(
                    f"PostgreSQL did not answer for {patience_seconds:.0f} s"
                ) from error
            log.warning("database_away_retrying", error=describe(error), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def describe(error: BaseException) -> str:
    """The error's type and where it was raised, without its message: messages may quote personal data."""
    frames = traceback.extract_tb(error.__traceback__)
    where = (
        f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno} in {frames[-1].name}"
        if frames
        else ""
    )
    return f"{type(error).__name__}{where}"


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing message is tried, with a doubling back-off, before it is dead-lettered."""

    max_attempts: int = 5
    first_backoff_seconds: float = 0.2
    max_backoff_seconds: float = 5.0
    stop: asyncio.Event | None = None  # set when the service stops: a back-off then ends at once

    def backoff(self, attempt: int) -> float:
        return float(min(self.first_backoff_seconds * 2 ** max(attempt - 1, 0), self.max_backoff_seconds))

    async def wait_before_attempt(self, attempt: int) -> None:
        """Sleep the back-off after `attempt` failures; raise ShuttingDown should the service stop meanwhile."""
        if self.stop is None:
            await asyncio.sleep(self.backoff(attempt))
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=self.backoff(attempt))
        if self.stop.is_set():
            raise ShuttingDown("service stopping")


class FailedAttempts:
    """Failed attempts per message id, kept until the message is handled or dead-lettered."""

    def __init__(self, schema: str) -> None:
        self.schema = checked_schema(schema)

    async def record(self, pool: asyncpg.Pool, message_id: str, topic: str, error: BaseException) -> int:
        """Count one more failure (in its own transaction: the handler's was rolled back); the total so far."""
        async with pool.acquire() as conn:
            attempts = await conn.fetchval(
                f"INSERT INTO {self.schema}.failed_attempts (message_id, topic, attempts, last_error) "
                "VALUES ($1, $2, 1, $3) ON CONFLICT (message_id) DO UPDATE SET "
                "attempts = failed_attempts.attempts + 1, last_error = EXCLUDED.last_error, "
                "last_failed_at = clock_timestamp() RETURNING attempts",
                message_id,
                topic,
                f"{describe(error)}: {str(error)[:500]}",
            )
        return int(attempts)

    async def forget(self, conn: DbConnection, message_ids: list[str]) -> None:
        await conn.execute(
            f"DELETE FROM {self.schema}.failed_attempts WHERE message_id = ANY($1::text[])", message_ids
        )

    async def forget_handled(self, conn: DbConnection) -> int:
        """Housekeeping: a message that failed once and then went through on a later delivery."""
        result = await conn.execute(
            f"DELETE FROM {self.schema}.failed_attempts a USING {self.schema}.inbox i "
            "WHERE i.message_id = a.message_id"
        )
        return int(result.split()[-1])
