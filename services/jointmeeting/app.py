"""The joint meeting's entrypoint: consumes escalations from the case topic."""

from __future__ import annotations

from fastapi import FastAPI

from eventcore.service import ServiceSpec, Subscription, build_app
from eventcore.settings import Settings, get_settings
from schemas.cases import CaseEscalated
from schemas.topics import CASES
from services.jointmeeting.handlers import handle_case_escalated

SERVICE = "jointmeeting"
SCHEMA = "jointmeeting"


def spec() -> ServiceSpec:
    return ServiceSpec(
        name=SERVICE,
        schema=SCHEMA,
        subscriptions=[Subscription(CASES, handle_case_escalated, (CaseEscalated,))],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_app(spec(), settings or get_settings())
