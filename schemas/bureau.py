"""What member bureaus' own systems exchange with the joint meeting.

Outbound: `BureauTaskNotice` on `caseline.bureau.<bureau>.tasks.v1`, one topic per bureau, so a bureau's
Kafka credentials can be limited to its own topic. Each notice carries the task's whole current state
(latest notice per task id wins), so a bureau system needs no other topic and no memory of its own.
Inbound: `BureauReport`, plain JSON on `caseline.bureau.reports.v1` or the body of the HTTP report.
Neither carries personal data: no names, no phone numbers, not even masked ones.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.base import Contract, DomainEvent
from schemas.personal_data import FreeText
from schemas.reference import FOUNDING_DISTRICT, Bureau, Category, DistrictCode

BUREAU_REPORTS = "caseline.bureau.reports.v1"


def bureau_tasks_topic(bureau: Bureau) -> str:
    """The topic a bureau subscribes to for its own tasks."""
    return f"caseline.bureau.{bureau.value}.tasks.v1"


class TaskStatus(StrEnum):
    ASSIGNED = "assigned"  # waiting for the bureau to accept
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    UNABLE = "unable"  # the bureau cannot do it; the office must answer
    DONE = "done"
    CANCELLED = "cancelled"
    REASSIGNED = "reassigned"  # moved to another bureau under a new task id


OPEN_STATUSES = frozenset(
    {TaskStatus.ASSIGNED, TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS, TaskStatus.UNABLE}
)


class ReportKind(StrEnum):
    ACCEPTED = "accepted"
    PROGRESS = "progress"
    DONE = "done"
    UNABLE = "unable"


# A Contract because it travels inside EnforcementTaskReported, read tolerantly; inside a bureau's BureauReport
# (an outside input, validated without the reading context) it stays as strict as the report.
class EvidenceRef(Contract):
    """Evidence kept in the bureau's own system (photos, inspection reports): a reference, never the bytes."""

    kind: str = Field(
        min_length=1, max_length=40, description="e.g. photo, inspection_report, penalty_decision"
    )
    ref: str = Field(
        min_length=1, max_length=500, description="URI or document number in the bureau's system"
    )


class BureauReport(BaseModel):
    """A bureau's report on one of its tasks, over HTTP or on caseline.bureau.reports.v1 (key: task id)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    message_type: ClassVar[str] = "BureauReport"
    schema_version: ClassVar[int] = 1

    report_id: str = Field(
        min_length=1,
        max_length=100,
        description="Chosen by the bureau, unique per report: resending is harmless",
    )
    task_id: str = Field(min_length=1, max_length=200)
    bureau: Bureau = Field(description="The reporting bureau; must be the task's bureau")
    district: DistrictCode | None = Field(
        default=None,
        description="The reporting bureau's district; when given, a task of another district is unknown to it",
    )
    kind: ReportKind
    note: FreeText = Field(default="", max_length=4000)
    evidence: list[EvidenceRef] = Field(default_factory=list, description="Required when kind is done")
    reason: FreeText = Field(default="", max_length=4000, description="Required when kind is unable")
    reported_at: datetime = Field(description="When the bureau made the report, with UTC offset")

    @model_validator(mode="after")
    def _kind_needs_its_details(self) -> BureauReport:
        if self.kind is ReportKind.DONE and not self.evidence:
            raise ValueError("a done report needs at least one evidence reference")
        if self.kind is ReportKind.UNABLE and not self.reason:
            raise ValueError("an unable report needs a reason")
        if self.reported_at.tzinfo is None:
            raise ValueError("reported_at must carry a UTC offset, e.g. 2026-11-18T09:30:00+08:00")
        return self


class NoticeKind(StrEnum):
    ASSIGNED = "assigned"
    CONFIRMED = "confirmed"  # a meeting confirmed or revised the task's terms
    EXTENDED = "extended"
    REASSIGNED_AWAY = "reassigned_away"
    CANCELLED = "cancelled"
    OVERDUE = "overdue"
    REPORT_RECORDED = "report_recorded"
    UNABLE_ANSWERED = "unable_answered"


class BureauTaskNotice(DomainEvent):
    """Something happened to one of the bureau's tasks; carries the task's whole current state."""

    event_type = "BureauTaskNotice"

    notice: NoticeKind
    task_id: str
    file_id: str
    bureau: Bureau
    district: DistrictCode = Field(
        default=FOUNDING_DISTRICT, description="The district whose bureau this is (codes are district-local)"
    )
    is_lead: bool
    lead_bureau: Bureau | None = Field(
        default=None,
        description="The bureau the joint meeting decided leads the file (absent before 2026-12)",
    )
    category: Category
    compound_code: str | None
    street_code: str | None
    action: FreeText
    done_when: FreeText
    due_at: datetime = Field(
        description="The task's deadline: the joint meeting's decision, which its SLA clock keeps"
    )
    status: TaskStatus
    overdue: bool = Field(description="Past its deadline and not done")
    note: FreeText = Field(default="", description="Reason, answer or report note, when the notice has one")
