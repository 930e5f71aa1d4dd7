"""Routing's entrypoint: consumes complaints and joint-meeting outcomes, owns cases, serves the staff API."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from district.registry import load_districts
from district.unit_tokens import unit_tokens
from eventcore.auth import Authenticator
from eventcore.logging import get_logger
from eventcore.production import production_checks
from eventcore.service import ServiceSpec, Subscription, build_app
from eventcore.settings import Settings, get_settings
from schemas.complaints import ComplaintMerged, ComplaintReceived
from schemas.jointmeeting import JointEnforcementCompleted
from schemas.sla import SlaBreached
from schemas.topics import COMPLAINTS, JOINT_MEETING, SLA
from services.routing.adapters.case_view import CASE_VIEW_DDL, CaseView
from services.routing.adapters.http import staff_router
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


def spec(settings: Settings | None = None) -> ServiceSpec:
    settings = settings or get_settings()
    districts = load_districts(settings.districts_file)
    # A district's directory is loaded when its first case needs it; every rules file is checked now.
    ctx = RoutingContext(districts)
    ctx.check_rules()
    checks = production_checks(settings, SERVICE)
    auth = Authenticator(SERVICE, unit_tokens(districts, checks=checks))
    if checks is not None:
        checks.raise_if_any()
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
        routers=[staff_router(ctx, auth)],
        authenticator=auth,
        projector=CaseView(SCHEMA).project,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return build_app(spec(settings), settings)
