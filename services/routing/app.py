"""Routing's entrypoint: consumes complaints and joint-meeting outcomes, owns cases, serves the staff API."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from deadlines.settings import DeadlineSettings, load_calendar
from district.registry import load_districts
from district.unit_tokens import unit_tokens
from eventcore.auth import Authenticator
from eventcore.http import BodyPolicy
from eventcore.logging import get_logger
from eventcore.production import production_checks
from eventcore.service import ServiceSpec, Subscription, build_app
from eventcore.settings import Settings, get_settings
from schemas.complaints import ComplaintMerged, ComplaintReceived
from schemas.jointmeeting import JOINT_MEETING_EVENTS
from schemas.sla import SLA_EVENTS
from schemas.topics import COMPLAINTS, JOINT_MEETING, SLA
from services.routing.adapters.case_view import CASE_VIEW_DDL, CaseView
from services.routing.adapters.http import staff_router
from services.routing.adapters.learnt_store import LEARNT_DDL
from services.routing.adapters.workbench.changes import notifying
from services.routing.adapters.workbench.timeline import TIMELINE_DDL
from services.routing.adapters.workbench.wiring import routing_workbench
from services.routing.handlers import (
    RoutingContext,
    handle_complaints_topic,
    handle_joint_meeting_topic,
    handle_sla_topic,
    preload_batch,
)
from services.routing.settings import RoutingSettings
from webui.workbench import FORM_PATHS

SERVICE = "routing"
SCHEMA = "routing"
EXTRA_DDL = (CASE_VIEW_DDL, LEARNT_DDL, TIMELINE_DDL)
log = get_logger(__name__)


def spec(settings: Settings | None = None, deadlines: DeadlineSettings | None = None) -> ServiceSpec:
    settings = settings or get_settings()
    districts = load_districts(settings.districts_file)
    # A district's directory is loaded when its first case needs it; every rules file is checked now.
    ctx = RoutingContext(districts)
    ctx.check_rules()
    checks = production_checks(settings, SERVICE)
    verifier = unit_tokens(districts, checks=checks)
    auth = Authenticator(SERVICE, verifier)
    # The workbench records every fact of these topics for the case page's history, so routing takes them
    # all; its own handlers still act only on theirs.
    workbench = routing_workbench(ctx, verifier, load_calendar(deadlines), checks)
    if checks is not None:
        checks.raise_if_any()
    recorded = workbench.timeline.recording
    return ServiceSpec(
        name=SERVICE,
        schema=SCHEMA,
        subscriptions=[
            Subscription(
                COMPLAINTS,
                recorded(partial(handle_complaints_topic, ctx)),
                (ComplaintReceived, ComplaintMerged),
                preload=preload_batch,
            ),
            Subscription(
                JOINT_MEETING,
                recorded(partial(handle_joint_meeting_topic, ctx)),
                JOINT_MEETING_EVENTS,
                preload=preload_batch,
            ),
            # The SLA's clocks are the only source of a deadline; routing keeps and shows what they say.
            Subscription(SLA, recorded(partial(handle_sla_topic, ctx)), SLA_EVENTS, preload=preload_batch),
        ],
        extra_ddl=EXTRA_DDL,
        routers=[staff_router(ctx, auth), workbench.router()],
        body=BodyPolicy(form_paths=FORM_PATHS),
        authenticator=auth,
        projector=notifying(CaseView(SCHEMA).project, SCHEMA),
        http_port=RoutingSettings().port,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return build_app(spec(settings), settings)
