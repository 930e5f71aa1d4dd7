"""The SLA watch's handlers: case and task facts move clocks; staff pause and resume them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from deadlines.policy import PolicyError
from deadlines.timing import Timing
from district.registry import UnknownDistrict
from eventcore.consumer import InboundMessage, MessageRejected
from eventcore.logging import get_logger
from eventcore.unit_of_work import UnitOfWork
from schemas.base import DomainEvent, EventMetadata
from schemas.cases import CaseOpened
from schemas.sla import ClockKind, PauseSlaClocks, ResumeSlaClocks
from services.sla.adapters.clock_store import clocks_of, load_case, load_cases, record
from services.sla.domain.clocks import (
    CaseClocks,
    Clock,
    ClockConflict,
    ClockState,
    pausable,
    pause_clock,
    resume_clock,
)
from services.sla.domain.reactions import HANDLED_FACTS, Reactor

log = get_logger(__name__)
ACTOR = "sla"
# Case facts that only make sense once CaseOpened has started the case's clocks (same topic, so in order).
NEEDS_OPENED_CASE = tuple(
    t for t in HANDLED_FACTS if t.__module__ == CaseOpened.__module__ and t is not CaseOpened
)


@dataclass(frozen=True)
class SlaContext:
    reactor: Reactor


async def preload_cases(uow: UnitOfWork, messages: Sequence[InboundMessage]) -> None:
    """A consumer batch's Preload: the clocks of every case its facts are about, in one query."""
    await load_cases(uow, [m.event.case_id for m in messages if isinstance(m.event, HANDLED_FACTS)])


async def handle_case_fact(ctx: SlaContext, uow: UnitOfWork, message: InboundMessage) -> None:
    """Start, retarget or stop the case's clocks for one routing or joint-meeting fact, once."""
    fact = message.event
    if fact is None or not isinstance(fact, HANDLED_FACTS):
        return
    loaded = await load_case(uow, fact.case_id)
    case = clocks_of(loaded)
    if case.scope is None and isinstance(fact, NEEDS_OPENED_CASE):
        # Only after a broker lost its log can a case fact come before its CaseOpened (the new log's first
        # messages precede the older ones re-sent behind them). Kept as a dead letter, it is tried again
        # when it is re-sent in its place; ignored, it would be lost for good.
        raise MessageRejected(f"{type(fact).__name__} for case {fact.case_id} before its CaseOpened")
    try:
        reaction = ctx.reactor.react(case, fact, message.occurred_at(), message.cloudevent.district)
    except (PolicyError, UnknownDistrict, ValidationError, AssertionError) as error:
        # A fact the clocks cannot take (e.g. an escalation with no case behind it, or a district this
        # deployment does not serve) is kept with its reason instead of being redelivered forever.
        raise MessageRejected(f"{type(fact).__name__} for case {fact.case_id}: {error}") from error
    metadata = message.metadata_for_effects(ACTOR, fact.case_id)
    # Not flushed here: the next fact of the case in this batch loads it from the unit of work, as saved.
    await record(uow, loaded, reaction.events, metadata, late=reaction.late)
    for event in reaction.events:
        warning = getattr(event, "calendar_warning", None)
        if warning:
            log.warning("deadline_in_uncovered_year", warning=warning)


async def pause_clocks(
    timing: Timing, uow: UnitOfWork, case_id: str, command: PauseSlaClocks, now: datetime
) -> list[str]:
    """Pause the case's running clocks (or one kind; never a bureau's task clock, see `pausable`); a case
    with none running is a conflict."""
    loaded = await load_case(uow, case_id)
    case = clocks_of(loaded)
    clocks = pausable(_chosen(case, command.kind, ClockState.RUNNING), case.case_id)
    events: list[DomainEvent] = [pause_clock(timing, c, now, command.reason) for c in clocks]
    await record(uow, loaded, events, _command_metadata(case, command.actor))
    log.info("sla_clocks_paused", case_id=case_id, clocks=[c.clock_id for c in clocks], actor=command.actor)
    return [c.clock_id for c in clocks]


async def resume_clocks(
    timing: Timing, uow: UnitOfWork, case_id: str, command: ResumeSlaClocks, now: datetime
) -> list[str]:
    loaded = await load_case(uow, case_id)
    case = clocks_of(loaded)
    clocks = _chosen(case, command.kind, ClockState.PAUSED)
    events: list[DomainEvent] = [resume_clock(timing, c, now) for c in clocks]
    await record(uow, loaded, events, _command_metadata(case, command.actor))
    log.info("sla_clocks_resumed", case_id=case_id, clocks=[c.clock_id for c in clocks], actor=command.actor)
    return [c.clock_id for c in clocks]


def _chosen(case: CaseClocks, kind: ClockKind | None, state: ClockState) -> list[Clock]:
    if not case.clocks:
        raise LookupError(f"the SLA watch has no clocks for case {case.case_id!r}")
    chosen = [c for c in case.clocks.values() if c.state is state and (kind is None or c.kind == kind)]
    if not chosen:
        what = f"{kind} clock" if kind else "clock"
        raise ClockConflict(f"case {case.case_id!r} has no {state.value} {what}")
    return chosen


def _command_metadata(case: CaseClocks, actor: str) -> EventMetadata:
    # A staff command comes with no message to inherit the district from: it is the case's.
    return EventMetadata(correlation_id=case.case_id, actor=actor, district=case.district)
