"""Events routing publishes on caseline.cases.v1."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from schemas.base import DomainEvent
from schemas.reference import Bureau, Category, Channel, Level, Urgency


class CaseOpened(DomainEvent):
    """Routing took ownership of a complaint as a case."""

    event_type = "CaseOpened"

    complaint_id: str
    channel: Channel
    category: Category
    urgency: Urgency
    received_at: datetime
    compound_code: str | None
    street_code: str | None
    complainant_id: str


class RoutedUnit(StrEnum):
    """Kinds of unit a case can be routed to."""

    CENTRE_TRIAGE = "centre_triage"
    CENTRE = "centre"
    STREET = "street"
    COMMUNITY = "community"


class CaseRouted(DomainEvent):
    """The case was sent to a unit at one of the three levels."""

    event_type = "CaseRouted"

    level: Level
    unit_code: str = Field(description="Directory code of the centre, street or community that handles it")
    unit_name: str
    rule_id: str = Field(description="The routing rule that decided, so the routing can be explained")
    rules_version: str
    reason: str


class EscalationTrigger(StrEnum):
    CROSS_DEPARTMENT = "cross_department"
    GROUP_COMPLAINT = "group_complaint"
    REPEATED_REOPENING = "repeated_reopening"
    REPEATED_RETURN = "repeated_return"
    UNIT_REQUEST = "unit_request"
    SLA_WATCH = "sla_watch"


class CaseEscalated(DomainEvent):
    """The case went to the district property-management joint meeting."""

    event_type = "CaseEscalated"

    trigger: EscalationTrigger
    category: Category
    compound_code: str | None
    street_code: str | None
    bureaus: list[Bureau] = Field(description="Member bureaus that must act, lead first")
    lead_bureau: Bureau
    rule_id: str
    rules_version: str
    reason: str
