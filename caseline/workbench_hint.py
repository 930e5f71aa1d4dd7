"""What `caseline up` prints about the staff workbenches: where they are and, while the development
credentials are in use, which ones to sign in with."""

from __future__ import annotations

from district.registry import load_districts
from district.unit_tokens import unit_tokens
from eventcore.settings import Settings
from services.jointmeeting.adapters.workbench.wiring import development_credentials as office_credentials
from services.jointmeeting.settings import JointMeetingSettings
from services.routing.adapters.workbench.wiring import development_credentials as unit_credentials
from services.routing.handlers import RoutingContext
from services.routing.settings import RoutingSettings


def workbench_lines(settings: Settings) -> list[str]:
    host = settings.http_host
    units = f"http://{host}:{RoutingSettings().port}/workbench/"
    office = f"http://{host}:{JointMeetingSettings().port}/workbench/"
    lines = [f"unit workbench (centre, streets, communities): {units}"]
    districts = load_districts(settings.districts_file)
    if unit_tokens(districts).development:
        lines += [
            f"  development credential {c}, with any staff id"
            for c in unit_credentials(RoutingContext(districts))
        ]
    lines.append(f"joint-meeting workbench (office, bureaus): {office}")
    if JointMeetingSettings().uses_development_tokens:
        lines += [f"  development credential {c}" for c in office_credentials()]
    return lines
