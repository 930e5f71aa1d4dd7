"""Group commit for intake's HTTP channels: requests that arrive while a transaction is in flight wait and
commit together in the next one, in one `receive_submissions` call.

Why: one transaction per HTTP request made intake latency-bound. A transaction is a dozen statements
whatever it holds, so at a few hundred single-order requests a second the pool's connections were busy
waiting for round trips and commits while the CPU idled. Requests that share a transaction share its
statements and its commit.

What a request can rely on, as when it had a transaction of its own:
- nothing is answered before its commit: a request awaits the transaction that carried its submissions;
- it gets exactly its own outcomes, in its own order (receive_submissions answers in the order of the
  submissions, and the combined answer is cut back along the requests);
- one bad request never fails another: when the combined transaction fails for any reason but the
  database being away, it was rolled back whole, and every request in it is received again on its own,
  so only the one at fault fails;
- requests in one transaction see each other as successive requests do: an order sent twice is a
  duplicate of the first (or a conflict, if changed), an earlier complaint's new case takes merges.

Each submission carries what it was read with (its actor, platform and district; a hotline push's records
were checked against its own `as_of` and credential before they get here), so only the store, the intake
context and `keep_conflicts` decide which requests may share a transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from eventcore.consumer import ServiceStores
from eventcore.deadletters import Rejection
from eventcore.failures import describe, is_infrastructure_failure
from eventcore.logging import get_logger
from services.intake.domain.submission import Submission
from services.intake.handlers import IntakeContext, Outcome, receive_submissions

log = get_logger(__name__)


class Receive(Protocol):
    """receive_submissions' signature, which GroupCommit.receive_submissions shares."""

    def __call__(
        self,
        stores: ServiceStores,
        ctx: IntakeContext,
        submissions: Sequence[Submission],
        rejections: Sequence[Rejection] = (),
        *,
        keep_conflicts: bool = True,
    ) -> Awaitable[list[Outcome]]: ...


@dataclass(eq=False)
class _Waiting:
    """One request's share of a transaction, and where its answer goes."""

    stores: ServiceStores
    ctx: IntakeContext
    submissions: Sequence[Submission]
    rejections: Sequence[Rejection]
    keep_conflicts: bool
    answer: asyncio.Future[list[Outcome]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def shares_with(self) -> tuple[object, ...]:
        """Requests with the same key may commit in one transaction."""
        return (self.stores.pool, self.stores.schema, id(self.ctx), self.keep_conflicts)

    def answered(self, outcomes: list[Outcome]) -> None:
        if not self.answer.done():  # a request given up by its caller (cancelled) needs no answer
            self.answer.set_result(outcomes)

    def failed(self, error: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(error)

    def abandoned(self) -> None:
        self.answer.cancel()


class GroupCommit:
    """At most `transactions` transactions at once; requests arriving meanwhile wait, then go together
    (up to `max_submissions` submissions in one transaction, a bigger request alone).

    An idle intake commits a request at once: there is no lingering for company, the company is whoever
    arrived during the transactions in flight."""

    def __init__(
        self, *, transactions: int = 2, max_submissions: int = 1000, receive: Receive = receive_submissions
    ) -> None:
        if transactions < 1:
            raise ValueError("group commit needs at least one transaction at a time")
        self.transactions = transactions
        self.max_submissions = max_submissions
        self._receive = receive
        self._waiting: list[_Waiting] = []
        self._in_flight = 0
        self._running: set[asyncio.Task[None]] = set()  # held, so no commit task is collected mid-flight
        self.committed = 0  # transactions committed, counting those of requests redone on their own
        self.redone = 0  # combined transactions that failed and were redone request by request

    async def receive_submissions(
        self,
        stores: ServiceStores,
        ctx: IntakeContext,
        submissions: Sequence[Submission],
        rejections: Sequence[Rejection] = (),
        *,
        keep_conflicts: bool = True,
    ) -> list[Outcome]:
        """What receive_submissions answers for these submissions, once the transaction holding them has
        committed (it raises what receive_submissions raised for them)."""
        waiting = _Waiting(stores, ctx, submissions, rejections, keep_conflicts)
        self._waiting.append(waiting)
        self._start_transactions()
        return await waiting.answer

    def _start_transactions(self) -> None:
        while self._waiting and self._in_flight < self.transactions:
            group = self._next_group()
            if not group:
                continue
            self._in_flight += 1
            task = asyncio.create_task(self._commit(group), name="intake-group-commit")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def _next_group(self) -> list[_Waiting]:
        """The longest-waiting request and those after it that may share its transaction, in arrival
        order, within `max_submissions`; requests given up meanwhile are dropped (never answered, so
        never acknowledged)."""
        self._waiting = [w for w in self._waiting if not w.answer.done()]
        if not self._waiting:
            return []
        first = self._waiting[0]
        group, size, left = [first], len(first.submissions), []
        for waiting in self._waiting[1:]:
            if waiting.shares_with == first.shares_with and size + len(waiting.submissions) <= self.max_submissions:
                group.append(waiting)
                size += len(waiting.submissions)
            else:
                left.append(waiting)
        self._waiting = left
        return group

    async def _commit(self, group: list[_Waiting]) -> None:
        try:
            await self._commit_together(group)
        except BaseException:  # cancelled (the service stops): nobody is told it committed
            for waiting in group:
                waiting.abandoned()
            raise
        finally:
            self._in_flight -= 1
            self._start_transactions()

    async def _commit_together(self, group: list[_Waiting]) -> None:
        first = group[0]
        try:
            outcomes = await self._receive(
                first.stores,
                first.ctx,
                [s for waiting in group for s in waiting.submissions],
                [r for waiting in group for r in waiting.rejections],
                keep_conflicts=first.keep_conflicts,
            )
        except Exception as error:  # noqa: BLE001 - told to the requests, not lost
            if len(group) == 1 or await is_infrastructure_failure(error, first.stores.pool):
                for waiting in group:  # the database is away: alone, each would have failed alike
                    waiting.failed(error)
                return
            log.warning("group_commit_redone_one_by_one", requests=len(group), error=describe(error))
            self.redone += 1
            for waiting in group:
                await self._commit_alone(waiting)
            return
        self.committed += 1
        start = 0
        for waiting in group:
            end = start + len(waiting.submissions)
            waiting.answered(outcomes[start:end])
            start = end

    async def _commit_alone(self, waiting: _Waiting) -> None:
        try:
            outcomes = await self._receive(
                waiting.stores,
                waiting.ctx,
                waiting.submissions,
                waiting.rejections,
                keep_conflicts=waiting.keep_conflicts,
            )
        except Exception as error:  # noqa: BLE001 - this request's own failure, told to it alone
            waiting.failed(error)
            return
        self.committed += 1
        waiting.answered(outcomes)
