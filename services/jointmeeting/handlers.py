"""The joint meeting's message handlers."""

from __future__ import annotations

from datetime import UTC, datetime

from eventcore.consumer import InboundMessage
from eventcore.logging import get_logger
from eventcore.store import PendingEvent
from eventcore.unit_of_work import UnitOfWork
from schemas.base import EventMetadata
from schemas.cases import CaseEscalated
from schemas.topics import JOINT_MEETING
from services.jointmeeting.domain.files import file_stream, open_file

log = get_logger(__name__)
ACTOR = "jointmeeting"


async def handle_case_escalated(uow: UnitOfWork, message: InboundMessage) -> None:
    """Open the file and assign each member bureau its enforcement task, once per escalated case."""
    escalation = message.event
    if not isinstance(escalation, CaseEscalated):
        return  # the case topic carries every case fact; only escalations concern the joint meeting
    metadata = EventMetadata(
        correlation_id=message.cloudevent.correlation_id or escalation.case_id,
        causation_id=message.cloudevent.id,
        actor=ACTOR,
    )
    events = open_file(escalation, _escalated_at(message))
    uow.start_stream(
        file_stream(escalation.case_id), [PendingEvent(e, metadata) for e in events], publish_to=JOINT_MEETING
    )
    log.info("joint_meeting_file_opened", bureaus=[b.value for b in escalation.bureaus])


def _escalated_at(message: InboundMessage) -> datetime:
    """The escalation's own time, so a redelivery computes the same deadlines."""
    if message.cloudevent.time:
        try:
            return datetime.fromisoformat(message.cloudevent.time)
        except ValueError:
            pass
    return datetime.now(UTC)
