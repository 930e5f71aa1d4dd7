"""Topic names and which event types each carries. Names are versioned; a breaking change is a new topic."""

from __future__ import annotations

from schemas.base import DomainEvent
from schemas.cases import CaseEscalated, CaseOpened, CaseRouted
from schemas.complaints import ComplaintMerged, ComplaintReceived
from schemas.jointmeeting import EnforcementTaskAssigned, JointEnforcementCompleted, JointMeetingFileOpened

COMPLAINTS = "caseline.complaints.v1"
CASES = "caseline.cases.v1"
JOINT_MEETING = "caseline.jointmeeting.v1"

TOPIC_EVENTS: dict[str, tuple[type[DomainEvent], ...]] = {
    COMPLAINTS: (ComplaintReceived, ComplaintMerged),
    CASES: (CaseOpened, CaseRouted, CaseEscalated),
    JOINT_MEETING: (JointMeetingFileOpened, EnforcementTaskAssigned, JointEnforcementCompleted),
}

ALL_TOPICS: tuple[str, ...] = tuple(TOPIC_EVENTS)


def event_class(cloudevent_type: str) -> type[DomainEvent] | None:
    """The contract for a CloudEvents type, or None when the type is unknown."""
    return _BY_CE_TYPE.get(cloudevent_type)


_BY_CE_TYPE: dict[str, type[DomainEvent]] = {
    cls.cloudevent_type(): cls for classes in TOPIC_EVENTS.values() for cls in classes
}
