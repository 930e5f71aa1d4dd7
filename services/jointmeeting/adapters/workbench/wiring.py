"""The joint meeting's workbench as the service builds it: the office's and the bureaus' credentials."""

from __future__ import annotations

from district.registry import Districts
from eventcore.logging import get_logger
from services.jointmeeting.adapters.auth import DEV_OFFICE_STAFF, Tokens
from services.jointmeeting.adapters.workbench.routes import JointMeetingWorkbench
from webui.principals import CredentialBooks
from webui.settings import WorkbenchSettings

log = get_logger(__name__)


def development_credentials() -> list[str]:
    """What `make run` and the sign-in page offer while the development token set is in use."""
    return [
        f"dev-office · 联席会议办公室 ({DEV_OFFICE_STAFF})",
        "dev-bureau-fire_rescue · 消防救援大队 (bureau)",
        "dev-bureau-<bureau> · housing_construction, market_supervision, public_security, city_appearance, …",
    ]


def joint_meeting_workbench(
    tokens: Tokens, districts: Districts, development_tokens: bool
) -> JointMeetingWorkbench:
    settings = WorkbenchSettings()
    if settings.uses_development_secret:
        log.warning("workbench_development_secret", hint="set CASELINE_WORKBENCH_SECRET in production")

    def office(token: str) -> tuple[str, str] | None:
        staff = tokens.staff(token)
        return (staff.district, staff.staff) if staff else None

    def bureaus(token: str) -> tuple[str, str] | None:
        bureau = tokens.bureau(token)
        return (bureau.district, bureau.bureau.value) if bureau else None

    return JointMeetingWorkbench(
        CredentialBooks(office=office, bureaus=bureaus),
        districts,
        settings,
        development_credentials() if development_tokens else [],
    )
