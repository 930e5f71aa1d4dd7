"""The services `caseline service NAME` can run."""

from __future__ import annotations

from enum import StrEnum

from fastapi import FastAPI

from eventcore.settings import Settings


class ServiceName(StrEnum):
    INTAKE = "intake"
    ROUTING = "routing"
    JOINTMEETING = "jointmeeting"
    SLA = "sla"


SERVICE_NAMES = tuple(name.value for name in ServiceName)


def create_service_app(name: str, settings: Settings) -> FastAPI:
    if name == "intake":
        from services.intake.app import create_app
    elif name == "routing":
        from services.routing.app import create_app
    elif name == "jointmeeting":
        from services.jointmeeting.app import create_app
    elif name == "sla":
        from services.sla.app import create_app
    else:
        raise ValueError(f"unknown service {name!r}: choose one of {', '.join(SERVICE_NAMES)}")
    return create_app(settings)
