"""Routing's entrypoint: consumes complaints and joint-meeting outcomes, owns cases, serves the staff API."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from district.directory import load_directory
from eventcore.logging import get_logger
from eventcore.service import ServiceSpec, Subscription, build_app
from eventcore.settings import Settings, get_settings
from schemas.complaints import ComplaintMerged, ComplaintReceived
from schemas.jointmeeting import JointEnforcementCompleted
from schemas.sla import SlaBreached
from schemas.topics import COMPLAINTS, JOINT_MEETING, SLA
from services.routing.adapters.case_view import CASE_VIEW_DDL, CaseView
from services.routing.adapters.http import staff_router
from services.routing.adapters.tokens import configured_tokens
from services.routing.domain.rules import load_rules
from services.routing.handlers import (
    RoutingContext,
    handle_complaints_topic,
    handle_joint_enforcement_completed,
    handle_sla_breached,
)

SERVICE = "routing"
SCHEMA = "routing"
EXTRA_DDL = (CASE_VIEW_DDL,)
log = get_logger(__name__)


def spec() -> ServiceSpec:
    ctx = RoutingContext(rules=load_rules(), directory=load_directory())
    tokens, development = configured_tokens(ctx.directory)
    if development:
        log.warning("development_tokens_in_use", hint="set CASELINE_ROUTING_TOKENS_FILE in production")
    return ServiceSpec(
        name=SERVICE,
        schema=SCHEMA,
        subscriptions=[
            Subscription(
                COMPLAINTS, partial(handle_complaints_topic, ctx), (ComplaintReceived, ComplaintMerged)
            ),
            Subscription(
                JOINT_MEETING, partial(handle_joint_enforcement_completed, ctx), (JointEnforcementCompleted,)
            ),
            Subscription(SLA, partial(handle_sla_breached, ctx), (SlaBreached,)),
        ],
        extra_ddl=EXTRA_DDL,
        routers=[staff_router(ctx, tokens)],
        projector=CaseView(SCHEMA).project,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_app(spec(), settings or get_settings())
