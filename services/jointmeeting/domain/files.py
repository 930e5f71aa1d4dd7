"""Opening a joint-meeting file for an escalated case and splitting the enforcement among bureaus."""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.base import DomainEvent
from schemas.cases import CaseEscalated
from schemas.jointmeeting import EnforcementTaskAssigned, JointMeetingFileOpened
from schemas.reference import Bureau, Category

# Joint-meeting cases get 15 days in 12345 practice; working-day clocks arrive with the SLA watch.
ENFORCEMENT_PERIOD = timedelta(days=15)

_ACTIONS: dict[Bureau, tuple[str, str]] = {
    Bureau.CENTRE: (
        "Supervise the property company and check its fee filing",
        "Company's filing checked, findings written",
    ),
    Bureau.HOUSING_CONSTRUCTION: (
        "Inspect the structure and order rectification",
        "Inspection report and order issued",
    ),
    Bureau.MARKET_SUPERVISION: (
        "Investigate the charges against the filed price list",
        "Investigation concluded, refunds or penalty decided",
    ),
    Bureau.JUSTICE: ("Mediate between owners and the company", "Mediation record signed"),
    Bureau.PUBLIC_SECURITY: ("Secure the site and deal with any offence", "Site secured, case record opened"),
    Bureau.ENVIRONMENTAL_PROTECTION: ("Measure and stop the pollution", "Measurement within limits"),
    Bureau.FIRE_RESCUE: (
        "Inspect the fire hazard and order its removal",
        "Hazard removed, re-inspection passed",
    ),
    Bureau.CITY_APPEARANCE: (
        "Order and enforce removal of the illegal structure",
        "Structure removed, photo evidence",
    ),
    Bureau.STREET_OFFICE: (
        "Organise the compound's residents and follow up on site",
        "On-site follow-up recorded",
    ),
}


def file_stream(case_id: str) -> str:
    return f"jmfile-{case_id}"


def file_id_for(case_id: str) -> str:
    return f"jm-{case_id.removeprefix('case-')}"


def open_file(escalation: CaseEscalated, escalated_at: datetime) -> list[DomainEvent]:
    """The file, then one task per member bureau, lead bureau first."""
    file_id = file_id_for(escalation.case_id)
    bureaus = [escalation.lead_bureau] + [b for b in escalation.bureaus if b != escalation.lead_bureau]
    events: list[DomainEvent] = [
        JointMeetingFileOpened(
            case_id=escalation.case_id,
            file_id=file_id,
            category=Category(escalation.category),
            compound_code=escalation.compound_code,
            street_code=escalation.street_code,
            lead_bureau=escalation.lead_bureau,
            member_bureaus=bureaus,
        )
    ]
    for number, bureau in enumerate(bureaus, start=1):
        action, done_when = _ACTIONS[bureau]
        events.append(
            EnforcementTaskAssigned(
                case_id=escalation.case_id,
                file_id=file_id,
                task_id=f"{file_id}-t{number}",
                bureau=bureau,
                is_lead=bureau == escalation.lead_bureau,
                action=action,
                due_at=escalated_at + ENFORCEMENT_PERIOD,
                done_when=done_when,
            )
        )
    return events
