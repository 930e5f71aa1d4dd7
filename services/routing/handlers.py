"""Routing's message handlers, named after what they handle."""

from __future__ import annotations

from dataclasses import dataclass

from district.directory import Directory
from eventcore.consumer import InboundMessage
from eventcore.logging import get_logger
from eventcore.store import PendingEvent
from eventcore.unit_of_work import UnitOfWork
from schemas.base import EventMetadata
from schemas.complaints import ComplaintReceived
from schemas.topics import CASES
from services.routing.domain.case import case_stream, facts_of, open_case
from services.routing.domain.routing import decide_route
from services.routing.domain.rules import RoutingRules

log = get_logger(__name__)
ACTOR = "routing"


@dataclass(frozen=True)
class RoutingContext:
    rules: RoutingRules
    directory: Directory


async def handle_complaint_received(ctx: RoutingContext, uow: UnitOfWork, message: InboundMessage) -> None:
    """Open a case for the complaint and route or escalate it, once, whatever the redelivery."""
    complaint = message.event
    if not isinstance(complaint, ComplaintReceived):
        return  # other complaint-topic types are not routing's business yet
    decision = decide_route(facts_of(complaint), ctx.rules, ctx.directory)
    metadata = EventMetadata(
        correlation_id=message.cloudevent.correlation_id or complaint.complaint_id,
        causation_id=message.cloudevent.id,
        actor=ACTOR,
        channel=complaint.channel,
    )
    events = [PendingEvent(e, metadata) for e in open_case(complaint, decision, ctx.rules.version)]
    uow.start_stream(case_stream(complaint.case_id), events, publish_to=CASES)
    log.info("case_opened", decision=type(decision).__name__, rule_id=decision.rule_id)
