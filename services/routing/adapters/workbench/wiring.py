"""Routing's workbench as the service builds it: credentials, the clocks' calendar, the settings."""

from __future__ import annotations

from deadlines.calendar import WorkingCalendar
from district.unit_tokens import UNIT
from eventcore.auth import TokenVerifier
from eventcore.logging import get_logger
from eventcore.production import SecretChecks
from services.routing.adapters.workbench.clocks import CaseClocks
from services.routing.adapters.workbench.routes import RoutingWorkbench
from services.routing.handlers import RoutingContext
from webui.principals import CredentialBooks, PrincipalKind
from webui.settings import WorkbenchSettings

log = get_logger(__name__)


def development_credentials(ctx: RoutingContext) -> list[str]:
    """What `make run` and the sign-in page offer while the development token set is in use."""
    directory = ctx.of(ctx.districts.founding.code).directory
    street = directory.streets[0]
    community = directory.communities_in_street(street.code)[0]
    return [
        "dev-centre · 区物管中心 (centre)",
        f"dev-{street.code} · {street.name_zh} (street)",
        f"dev-{community.code} · {community.name_zh} (community)",
    ]


def routing_workbench(
    ctx: RoutingContext, units: TokenVerifier, calendar: WorkingCalendar, checks: SecretChecks | None
) -> RoutingWorkbench:
    """The units sign in with the same tokens the staff API takes (`units`, kind `unit`); each clock's
    time left is counted on `calendar`, the working calendar the SLA counts with."""
    workbench_settings = WorkbenchSettings()
    workbench_settings.check_production(checks)
    if workbench_settings.uses_development_secret:
        log.warning("workbench_development_secret", hint="set CASELINE_WORKBENCH_SECRET in production")
    return RoutingWorkbench(
        ctx,
        CredentialBooks(units, {UNIT: PrincipalKind.UNIT}),
        CaseClocks(calendar),
        workbench_settings,
        development_credentials(ctx) if units.development else [],
    )
