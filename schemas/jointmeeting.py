"""Events the joint meeting publishes on caseline.jointmeeting.v1."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from schemas.base import DomainEvent
from schemas.reference import Bureau, Category


class JointMeetingFileOpened(DomainEvent):
    """The joint-meeting office opened a file for an escalated case."""

    event_type = "JointMeetingFileOpened"

    file_id: str
    category: Category
    compound_code: str | None
    street_code: str | None
    lead_bureau: Bureau
    member_bureaus: list[Bureau]


class EnforcementTaskAssigned(DomainEvent):
    """One member bureau got its part of the joint enforcement."""

    event_type = "EnforcementTaskAssigned"

    file_id: str
    task_id: str
    bureau: Bureau
    is_lead: bool
    action: str
    due_at: datetime = Field(description="Deadline for the bureau to report the task done")
    done_when: str = Field(description="What counts as done")


class JointEnforcementCompleted(DomainEvent):
    """Every task of the file is done and the office verified it on site; routing's case continues."""

    event_type = "JointEnforcementCompleted"

    file_id: str
    verified_by: str = Field(description="Staff id of the joint-meeting office member who verified on site")
    verified_at: datetime
    tasks_done: int
    summary: str
