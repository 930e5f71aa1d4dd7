"""Routing's entrypoint: consumes complaints, owns cases."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from district.directory import load_directory
from eventcore.service import ServiceSpec, Subscription, build_app
from eventcore.settings import Settings, get_settings
from schemas.complaints import ComplaintReceived
from schemas.topics import COMPLAINTS
from services.routing.domain.rules import load_rules
from services.routing.handlers import RoutingContext, handle_complaint_received

SERVICE = "routing"
SCHEMA = "routing"


def spec() -> ServiceSpec:
    ctx = RoutingContext(rules=load_rules(), directory=load_directory())
    return ServiceSpec(
        name=SERVICE,
        schema=SCHEMA,
        subscriptions=[
            Subscription(COMPLAINTS, partial(handle_complaint_received, ctx), (ComplaintReceived,))
        ],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_app(spec(), settings or get_settings())
