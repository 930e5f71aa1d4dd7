"""The services `caseline service NAME` can run, and the port each listens on."""

from __future__ import annotations

from fastapi import FastAPI

from eventcore.settings import Settings
from services import ServiceName
from services.intake.settings import IntakeSettings
from services.jointmeeting.settings import JointMeetingSettings
from services.routing.settings import RoutingSettings
from services.sla.settings import SlaSettings


def http_port(name: str) -> int:
    """The port the service's own settings name (CASELINE_<SERVICE>_PORT)."""
    match ServiceName(name):
        case ServiceName.INTAKE:
            return IntakeSettings().intake_port
        case ServiceName.ROUTING:
            return RoutingSettings().port
        case ServiceName.JOINTMEETING:
            return JointMeetingSettings().port
        case ServiceName.SLA:
            return SlaSettings().port


def create_service_app(name: str, settings: Settings) -> FastAPI:
    # Imported when asked for: a command that runs one service does not load the other three.
    match ServiceName(name):
        case ServiceName.INTAKE:
            from services.intake.app import create_app
        case ServiceName.ROUTING:
            from services.routing.app import create_app
        case ServiceName.JOINTMEETING:
            from services.jointmeeting.app import create_app
        case ServiceName.SLA:
            from services.sla.app import create_app
    return create_app(settings)
