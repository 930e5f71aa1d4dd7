"""Events the SLA watch publishes on caseline.sla.v1, and the commands it takes over HTTP.

A clock measures one promise on one case: dispatch it, contact the complainant, resolve it, or (for a
joint-meeting bureau) finish an enforcement task. Its id is deterministic (`<case>/<kind>[/<n>]`), and so
are the streams of its alerts, which is what makes `SlaAtRisk` and `SlaBreached` happen once per clock.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.base import Contract, DomainEvent
from schemas.personal_data import FreeText
from schemas.reference import FOUNDING_DISTRICT, Bureau, Category, Channel, DistrictCode, Urgency


class ClockKind(StrEnum):
    DISPATCH = "dispatch"  # 派单: from receipt to a handling unit
    CONTACT = "contact"  # 响应: from dispatch to the unit taking the case on (first contact)
    RESOLVE = "resolve"  # 办结: from dispatch (or reopening) to resolution
    TASK = "task"  # a joint-meeting bureau's enforcement task, due when the meeting said


class ClockMeasure(StrEnum):
    WALL = "wall"  # every second counts (urgent cases run around the clock)
    WORKING = "working"  # only working days count (weekends, holidays and 调休 on the Chinese calendar)


class ClockScope(Contract):
    """Whom a clock judges: where the case is and who handles it. No personal data."""

    district: DistrictCode = FOUNDING_DISTRICT
    channel: Channel | None = None
    urgency: Urgency | None = None
    category: Category | None = None
    level: str | None = Field(description="centre, street, community or joint_meeting; None before dispatch")
    unit_code: str | None = None
    street_code: str | None = None
    community_code: str | None = None
    compound_code: str | None = None
    company_code: str | None = Field(default=None, description="Property company managing the compound")
    bureau: Bureau | None = None
    task_id: str | None = None


class SlaClockStarted(DomainEvent):
    event_type = "SlaClockStarted"

    clock_id: str
    kind: ClockKind
    started_at: datetime
    measure: ClockMeasure
    budget_seconds: float = Field(ge=0)
    deadline: datetime
    at_risk_at: datetime
    scope: ClockScope
    policy_rule: str
    policy_version: str
    escalate_on_breach: bool = False
    calendar_warning: str | None = Field(default=None, description="Set when no calendar covers the year")
    cause: str | None = Field(
        default=None,
        description="The event type that started the clock (e.g. CaseReopened, EnforcementTaskAssigned)",
    )


class SlaClockRetargeted(DomainEvent):
    """The clock now judges someone else or has a new deadline (escalation, re-routing, the joint meeting's
    decision on its lead, a meeting's revised task deadline, an extension)."""

    event_type = "SlaClockRetargeted"

    clock_id: str
    budget_seconds: float = Field(ge=0)
    measure: ClockMeasure
    deadline: datetime | None = Field(description="None while the clock is paused")
    at_risk_at: datetime | None
    scope: ClockScope
    policy_rule: str
    escalate_on_breach: bool
    reason: FreeText
    calendar_warning: str | None = None
    cause: str | None = Field(
        default=None,
        description="The event type that moved the clock (e.g. EnforcementTaskConfirmed, CaseEscalated)",
    )


class SlaClockPaused(DomainEvent):
    event_type = "SlaClockPaused"

    clock_id: str
    paused_at: datetime
    consumed_seconds: float = Field(ge=0, description="Time used before the pause, in the clock's measure")
    reason: FreeText = Field(min_length=1)


class SlaClockResumed(DomainEvent):
    event_type = "SlaClockResumed"

    clock_id: str
    resumed_at: datetime
    deadline: datetime
    at_risk_at: datetime
    calendar_warning: str | None = None


class SlaClockStopped(DomainEvent):
    event_type = "SlaClockStopped"

    clock_id: str
    stopped_at: datetime
    consumed_seconds: float = Field(ge=0)
    on_time: bool
    cause: str = Field(description="The event type that stopped the clock")


class SlaAtRisk(DomainEvent):
    """A clock used its at-risk share of the time; once per clock."""

    event_type = "SlaAtRisk"

    clock_id: str
    kind: ClockKind
    deadline: datetime
    share_used: float
    scope: ClockScope


class SlaBreached(DomainEvent):
    """A clock ran out; once per clock. Routing escalates the case when `escalation_requested`."""

    event_type = "SlaBreached"

    clock_id: str
    kind: ClockKind
    deadline: datetime
    scope: ClockScope
    policy_rule: str
    escalation_requested: bool


class SlaCallbackRecorded(DomainEvent):
    """The watch counted a callback outcome towards the satisfaction rate."""

    event_type = "SlaCallbackRecorded"

    outcome: str = Field(description="satisfied, basically_satisfied or dissatisfied")
    called_back_at: datetime


class SlaLeadBureauRecorded(DomainEvent):
    """The watch now attributes the case's joint-meeting clocks to the lead the joint meeting decided
    (routing's CaseEscalated only proposed one); once per case and decision."""

    event_type = "SlaLeadBureauRecorded"

    lead_bureau: Bureau
    file_id: str = Field(description="The joint-meeting file whose decision it is")


SLA_EVENTS: tuple[type[DomainEvent], ...] = (
    SlaClockStarted,
    SlaClockRetargeted,
    SlaClockPaused,
    SlaClockResumed,
    SlaClockStopped,
    SlaAtRisk,
    SlaBreached,
    SlaCallbackRecorded,
    SlaLeadBureauRecorded,
)


class PauseSlaClocks(BaseModel):
    """Stop the case's running clocks, e.g. while waiting for the complainant (command, HTTP body)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str = Field(min_length=1, max_length=500)
    actor: str = Field(min_length=1, max_length=64, description="Staff id of who paused")
    kind: ClockKind | None = Field(default=None, description="Only this clock; all running ones when None")


class ResumeSlaClocks(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: str = Field(min_length=1, max_length=64)
    kind: ClockKind | None = None
