"""Routing's workbench as the service builds it: credentials, the clocks' source, the settings."""

from __future__ import annotations

from eventcore.logging import get_logger
from eventcore.settings import Settings
from services.routing.adapters.tokens import TokenBook
from services.routing.adapters.workbench.clocks import SlaServiceClocks
from services.routing.adapters.workbench.routes import RoutingWorkbench
from services.routing.handlers import RoutingContext
from webui.principals import CredentialBooks
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
    ctx: RoutingContext, tokens: TokenBook, development_tokens: bool, settings: Settings
) -> RoutingWorkbench:
    workbench_settings = WorkbenchSettings()
    if workbench_settings.uses_development_secret:
        log.warning("workbench_development_secret", hint="set CASELINE_WORKBENCH_SECRET in production")

    def units(token: str) -> tuple[str, str] | None:
        unit = tokens.unit_for(token)
        return (unit.district, unit.unit_code) if unit else None

    sla_url = settings.workbench_sla_url or f"http://{settings.http_host}:{settings.sla_port}"
    return RoutingWorkbench(
        ctx,
        CredentialBooks(units=units),
        SlaServiceClocks(sla_url),
        workbench_settings,
        development_credentials(ctx) if development_tokens else [],
    )
