"""The service's own periodic check that marks tasks past their deadline overdue."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import asyncpg

from eventcore.logging import get_logger
from eventcore.service import ServiceRuntime
from services.jointmeeting.handlers import handle_overdue_check

log = get_logger(__name__)


async def watch_overdue(runtime: ServiceRuntime, every_seconds: float) -> None:
    """Runs until the service stops; a failed round (database away) is logged and retried next round."""
    while not runtime.stop.is_set():
        try:
            changed = await handle_overdue_check(runtime.stores, datetime.now(UTC))
            if changed:
                log.info("overdue_tasks_marked", files=changed)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("overdue_check_failed", error=str(error))
        except Exception as error:  # noqa: BLE001 - a bug in one round must not end the watch for good
            log.error("overdue_check_failed", error=repr(error))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runtime.stop.wait(), timeout=every_seconds)


def start_overdue_watch(runtime: ServiceRuntime, every_seconds: float) -> asyncio.Task[None]:
    return runtime.spawn(watch_overdue(runtime, every_seconds), "jointmeeting-overdue-watch")
