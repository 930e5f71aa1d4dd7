"""The joint meeting's workbench as the service builds it: the office's and the bureaus' credentials."""

from __future__ import annotations

from deadlines.timing import Timing
from district.registry import Districts
from eventcore.logging import get_logger
from eventcore.production import SecretChecks
from services.jointmeeting.adapters.auth import BUREAU, DEV_OFFICE_STAFF, OFFICE, Tokens
from services.jointmeeting.adapters.workbench.routes import JointMeetingWorkbench
from webui.principals import CredentialBooks, PrincipalKind
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
    tokens: Tokens, districts: Districts, checks: SecretChecks | None, timing: Timing
) -> JointMeetingWorkbench:
    """The office and the bureaus sign in with the same tokens the office and bureau APIs take."""
    settings = WorkbenchSettings()
    settings.check_production(checks)
    if settings.uses_development_secret:
        log.warning("workbench_development_secret", hint="set CASELINE_WORKBENCH_SECRET in production")
    return JointMeetingWorkbench(
        CredentialBooks(tokens.verifier, {OFFICE: PrincipalKind.OFFICE, BUREAU: PrincipalKind.BUREAU}),
        districts,
        timing,
        settings,
        development_credentials() if tokens.verifier.development else [],
    )
