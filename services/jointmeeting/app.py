"""The joint meeting's entrypoint: escalations and bureau reports in, files, tasks and bureau notices out."""

from __future__ import annotations

import asyncio
from functools import partial

from fastapi import FastAPI

from eventcore.logging import get_logger
from eventcore.service import ServiceRuntime, ServiceSpec, Subscription, build_app
from eventcore.settings import Settings, get_settings
from schemas.bureau import BUREAU_REPORTS
from schemas.cases import CaseEscalated
from schemas.topics import CASES
from services.jointmeeting.adapters.auth import Callers, JointMeetingSettings, Tokens
from services.jointmeeting.adapters.http_bureau import bureau_router
from services.jointmeeting.adapters.http_office import office_router
from services.jointmeeting.adapters.overdue_watch import start_overdue_watch
from services.jointmeeting.adapters.read_models import EXTRA_DDL
from services.jointmeeting.domain.rules import load_rules
from services.jointmeeting.handlers import (
    JointMeetingContext,
    handle_bureau_report_record,
    handle_case_escalated,
)

SERVICE = "jointmeeting"
SCHEMA = "jointmeeting"
log = get_logger(__name__)


def spec(settings: JointMeetingSettings | None = None) -> ServiceSpec:
    settings = settings or JointMeetingSettings()
    ctx = JointMeetingContext(rules=load_rules())
    callers = Callers(Tokens(bureaus=settings.bureau_tokens, office=settings.office_tokens))
    background: list[asyncio.Task[None]] = []  # held so the watch is not garbage-collected

    async def on_started(runtime: ServiceRuntime) -> None:
        if settings.uses_development_tokens:
            log.warning("development_tokens_in_use", hint="set CASELINE_JOINTMEETING_*_TOKENS in production")
        background.append(start_overdue_watch(runtime, settings.overdue_check_seconds))

    return ServiceSpec(
        name=SERVICE,
        schema=SCHEMA,
        subscriptions=[
            Subscription(CASES, partial(handle_case_escalated, ctx), (CaseEscalated,)),
            Subscription(BUREAU_REPORTS, handle_bureau_report_record, raw=True),
        ],
        extra_ddl=EXTRA_DDL,
        routers=[office_router(callers), bureau_router(callers)],
        on_started=on_started,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_app(spec(), settings or get_settings())
