"""Topic names and which event types each carries. Names are versioned; a breaking change is a new topic."""

from __future__ import annotations

from schemas.base import DomainEvent
from schemas.bureau import BUREAU_REPORTS, BureauTaskNotice, bureau_tasks_topic
from schemas.cases import (
    CaseAccepted,
    CaseCalledBack,
    CaseClosed,
    CaseEscalated,
    CaseOpened,
    CaseProgressNoted,
    CaseRecategorised,
    CaseReopened,
    CaseResolved,
    CaseReturned,
    CaseRouted,
    CoComplainantAdded,
)
from schemas.complaints import ComplaintMerged, ComplaintReceived
from schemas.jointmeeting import JOINT_MEETING_EVENTS
from schemas.reference import Bureau
from schemas.sla import SLA_EVENTS

COMPLAINTS = "caseline.complaints.v1"
CASES = "caseline.cases.v1"
JOINT_MEETING = "caseline.jointmeeting.v1"
HOTLINE_RAW = "caseline.hotline.raw.v1"  # JSON work orders a hotline platform publishes (not CloudEvents)
SLA = "caseline.sla.v1"  # the SLA watch: clock facts, SlaAtRisk, SlaBreached

TOPIC_EVENTS: dict[str, tuple[type[DomainEvent], ...]] = {
    COMPLAINTS: (ComplaintReceived, ComplaintMerged),
    CASES: (
        CaseOpened,
        CaseRouted,
        CaseEscalated,
        CaseAccepted,
        CaseProgressNoted,
        CaseResolved,
        CaseCalledBack,
        CaseClosed,
        CaseReopened,
        CaseReturned,
        CoComplainantAdded,
        CaseRecategorised,
    ),
    JOINT_MEETING: JOINT_MEETING_EVENTS,
    # One topic per bureau, so broker ACLs can keep each bureau to its own tasks (docs/bureau-integration.md).
    **{bureau_tasks_topic(bureau): (BureauTaskNotice,) for bureau in Bureau},
    BUREAU_REPORTS: (),  # plain JSON BureauReport records from bureau systems, not CloudEvents
    HOTLINE_RAW: (),  # plain JSON HotlineOrder records (schemas/hotline.py), consumed by intake
    SLA: SLA_EVENTS,
}

ALL_TOPICS: tuple[str, ...] = tuple(TOPIC_EVENTS)

# The only ce_source each CloudEvents topic accepts: the service that owns it. Consumers dead-letter an event
# from anyone else (a forged JointEnforcementCompleted closes no case), and broker ACLs keep others from
# writing there at all (deploy/README.md). Raw topics (bureau reports, hotline work orders) have no owner.
TOPIC_SOURCES: dict[str, str] = {
    COMPLAINTS: "/caseline/intake",
    CASES: "/caseline/routing",
    JOINT_MEETING: "/caseline/jointmeeting",
    **{bureau_tasks_topic(bureau): "/caseline/jointmeeting" for bureau in Bureau},
    SLA: "/caseline/sla",
}


def event_class(cloudevent_type: str) -> type[DomainEvent] | None:
    """The contract of exactly this CloudEvents type, or None when the type is unknown. No upcasting:
    readers go through eventcore.mapper.default_mapper(), which also reads older versions."""
    return _BY_CE_TYPE.get(cloudevent_type)


_BY_CE_TYPE: dict[str, type[DomainEvent]] = {
    cls.cloudevent_type(): cls for classes in TOPIC_EVENTS.values() for cls in classes
}
