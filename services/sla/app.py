"""The SLA watch's entrypoint: consumes case and joint-meeting facts, keeps clocks, announces risks and breaches.

Its own process and schema (`sla`) so it scales and restarts independently of routing; it only reads topics.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from functools import partial

from fastapi import FastAPI

from district.directory import Directory, load_directory
from eventcore.logging import get_logger
from eventcore.service import ServiceRuntime, ServiceSpec, Subscription, build_app
from eventcore.settings import Settings, get_settings
from schemas.cases import CaseEscalated
from schemas.jointmeeting import JointMeetingFileOpened
from schemas.topics import CASES, JOINT_MEETING
from services.sla.adapters.http import OpsView, ops_router
from services.sla.adapters.metrics import BrokerFigures, registry_for
from services.sla.adapters.watch import Watch
from services.sla.domain.calendar import WorkingCalendar, load_overrides
from services.sla.domain.clocks import Timing
from services.sla.domain.policy import load_policy
from services.sla.domain.reactions import HANDLED_FACTS, Attribution, Reactor
from services.sla.handlers import SlaContext, handle_case_fact
from services.sla.settings import SlaSettings

SERVICE = "sla"
SCHEMA = "sla"
log = get_logger(__name__)


def attribution(directory: Directory) -> Attribution:
    def lookup(compound_code: str | None) -> tuple[str | None, str | None]:
        compound = directory.compound(compound_code) if compound_code else None
        return (compound.community_code, compound.company_code) if compound else (None, None)

    return lookup


def spec(sla: SlaSettings | None = None, settings: Settings | None = None) -> ServiceSpec:
    sla = sla or SlaSettings()
    policy = load_policy(sla.policy_file)  # refuses to start on a bad policy or calendar file
    calendar = WorkingCalendar(load_overrides(sla.calendar_file))
    _warn_uncovered_years(calendar)
    timing = Timing(policy, calendar)
    directory = load_directory()
    watch = Watch(policy.at_risk_share)
    figures = BrokerFigures()
    handler = partial(handle_case_fact, SlaContext(Reactor(timing, attribution(directory))))
    case_facts = tuple(t for t in HANDLED_FACTS if t.__module__ == CaseEscalated.__module__)
    task_facts = tuple(t for t in HANDLED_FACTS if t.__module__ == JointMeetingFileOpened.__module__)

    background: list[asyncio.Task[None]] = []  # held so the tasks are not garbage-collected

    async def on_started(runtime: ServiceRuntime) -> None:
        dsn = runtime.settings.database_url
        assert dsn is not None
        bootstrap, stores, stop = runtime.settings.bootstrap_servers(), runtime.stores, runtime.stop
        background.append(asyncio.create_task(watch.run(stores, dsn, stop), name="sla-watch"))
        background.append(
            asyncio.create_task(
                figures.run(bootstrap, stores, stop, sla.metrics_refresh_seconds), name="sla-metrics"
            )
        )

    view = OpsView(watch, timing, directory, registry_for(watch, figures))
    return ServiceSpec(
        name=SERVICE,
        schema=SCHEMA,
        subscriptions=[
            Subscription(CASES, handler, case_facts),
            Subscription(JOINT_MEETING, handler, task_facts),
        ],
        routers=[ops_router(view)],
        on_started=on_started,
    )


def _warn_uncovered_years(calendar: WorkingCalendar) -> None:
    year = datetime.now(UTC).year
    missing = calendar.uncovered_years([year, year + 1])
    if missing:
        log.warning(
            "calendar_year_not_covered",
            years=missing,
            hint="deadlines in these years count Monday to Friday only; add the announced holidays and "
            "make-up working days to services/sla/calendar_overrides.yaml (or CASELINE_SLA_CALENDAR_FILE)",
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return build_app(spec(settings=settings), settings)
