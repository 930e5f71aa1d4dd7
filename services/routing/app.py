"""Routing's entrypoint: consumes complaints and joint-meeting outcomes, owns cases, serves the staff API."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from district.registry import load_districts
from eventcore.logging import get_logger
from eventcore.service import ServiceSpec, Subscription, build_app
from eventcore.settings import Settings, get_settings
from schemas.complaints import ComplaintMerged, ComplaintReceived
from schemas.jointmeeting import JointEnforcementCompleted
from schemas.sla import SlaBreached
from schemas.topics import COMPLAINTS, JOINT_MEETING, SLA
from services.routing.adapters.case_view import CASE_VIEW_DDL, CaseView
from services.routing.adapters.http import staff_router
from services.routing.adapters.learnt_store import LEARNT_DDL
from services.routing.adapters.tokens import configured_tokens
from services.routing.domain.learnt import CLOCK_FACTS, LEAD_FACTS
from services.routing.handlers import (
    RoutingContext,
    handle_complaints_topic,
    handle_joint_meeting_topic,
    handle_sla_topic,
)

SERVICE = "routing"
SCHEMA = "routing"
EXTRA_DDL = (CASE_VIEW_DDL, LEARNT_DDL)
log = get_logger(__name__)


def spec(settings: Settings | None = None) -> ServiceSpec:
    settings = settings or get_settings()
    districts = load_districts(settings.districts_file)
    # A district's directory is loaded when its first case needs it; every rules file is checked now.
    ctx = RoutingContext(districts)
    ctx.check_rules()
    tokens, development = configured_tokens(districts)
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
                JOINT_MEETING,
                partial(handle_joint_meeting_topic, ctx),
                (JointEnforcementCompleted, *LEAD_FACTS),
            ),
            # The SLA's clocks are the only source of a case's deadline; routing shows what they say.
            Subscription(SLA, partial(handle_sla_topic, ctx), (SlaBreached, *CLOCK_FACTS)),
        ],
        extra_ddl=EXTRA_DDL,
        routers=[staff_router(ctx, tokens)],
        projector=CaseView(SCHEMA).project,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return build_app(spec(settings), settings)
