"""The joint meeting's entrypoint: escalations and bureau reports in, files, tasks and bureau notices out."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from fastapi import FastAPI

from district.registry import Districts, load_districts
from eventcore.http import BodyPolicy
from eventcore.logging import get_logger
from eventcore.production import production_checks
from eventcore.service import FetchGathering, ServiceRuntime, ServiceSpec, Subscription, build_app
from eventcore.settings import Settings, get_settings
from schemas.bureau import BUREAU_REPORTS
from schemas.cases import CaseEscalated
from schemas.topics import CASES
from services.jointmeeting.adapters.auth import Callers, Tokens
from services.jointmeeting.adapters.http_bureau import bureau_router
from services.jointmeeting.adapters.http_office import office_router
from services.jointmeeting.adapters.overdue_watch import start_overdue_watch
from services.jointmeeting.adapters.read_models import EXTRA_DDL
from services.jointmeeting.adapters.workbench.wiring import joint_meeting_workbench
from services.jointmeeting.domain.rules import RULES_FILE
from services.jointmeeting.handlers import (
    context_for,
    handle_bureau_report_record,
    handle_case_escalated,
)
from services.jointmeeting.settings import JointMeetingSettings
from webui.workbench import FORM_PATHS

SERVICE = "jointmeeting"
SCHEMA = "jointmeeting"
log = get_logger(__name__)


def spec(
    settings: JointMeetingSettings | None = None,
    districts: Districts | None = None,
    rules_file: Path = RULES_FILE,
) -> ServiceSpec:
    """One service for every district's joint meeting: the registry says which districts there are."""
    settings = settings or JointMeetingSettings()
    shared = get_settings()
    districts = districts or load_districts(shared.districts_file)
    ctx = context_for(districts, rules_file)
    checks = production_checks(shared, SERVICE)
    callers = Callers(Tokens.configured(settings, districts, checks), SERVICE)
    workbench = joint_meeting_workbench(callers.tokens, districts, checks, ctx.timing)
    if checks is not None:
        checks.raise_if_any()

    async def on_started(runtime: ServiceRuntime) -> None:
        start_overdue_watch(runtime, settings.overdue_check_seconds)  # the runtime holds and awaits it

    return ServiceSpec(
        name=SERVICE,
        schema=SCHEMA,
        subscriptions=[
            Subscription(CASES, partial(handle_case_escalated, ctx), (CaseEscalated,)),
            Subscription(BUREAU_REPORTS, handle_bureau_report_record, raw=True),
        ],
        extra_ddl=EXTRA_DDL,
        routers=[office_router(callers, ctx.timing), bureau_router(callers), workbench.router()],
        on_started=on_started,
        body=BodyPolicy(form_paths=FORM_PATHS),
        authenticator=callers.auth,
        # Escalations open files the members meet and act on within days: a fifth of a second is nothing,
        # and idle fetches of every partition are not free.
        patient_consumer_ms=200,
        gathering=FetchGathering(),
        http_port=settings.port,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_app(spec(), settings or get_settings())
