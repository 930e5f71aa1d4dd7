"""The SLA watch's entrypoint: consumes case and joint-meeting facts, keeps clocks, announces risks and breaches.

Its own process and schema (`sla`) so it scales and restarts independently of routing; it only reads topics.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from deadlines.calendar import WorkingCalendar
from deadlines.policy import DEFAULT_POLICY_FILE
from deadlines.settings import load_timing
from district.registry import Districts, load_districts, stray_policy_files
from district.unit_tokens import unit_tokens
from eventcore.auth import Authenticator
from eventcore.logging import get_logger
from eventcore.production import is_production, production_checks
from eventcore.service import FetchGathering, ServiceRuntime, ServiceSpec, Subscription, build_app
from eventcore.settings import Settings, get_settings
from schemas.cases import CaseEscalated
from schemas.jointmeeting import JointMeetingFileOpened
from schemas.topics import CASES, JOINT_MEETING
from services.sla.adapters.http import OpsView, ops_router
from services.sla.adapters.metrics import BrokerFigures, SlaCollector
from services.sla.adapters.watch import Watch
from services.sla.domain.reactions import HANDLED_FACTS, Attribution, Reactor
from services.sla.handlers import SlaContext, handle_case_fact, preload_cases
from services.sla.settings import SlaSettings

SERVICE = "sla"
SCHEMA = "sla"
log = get_logger(__name__)


def attribution(districts: Districts) -> Attribution:
    """Community and property company of a compound, looked up in the case's own district's directory."""

    def lookup(district: str, compound_code: str | None) -> tuple[str | None, str | None]:
        directory = districts.directory(district)  # UnknownDistrict for a district not served
        compound = directory.compound(compound_code) if compound_code else None
        return (compound.community_code, compound.company_code) if compound else (None, None)

    return lookup


def spec(sla: SlaSettings | None = None, settings: Settings | None = None) -> ServiceSpec:
    sla = sla or SlaSettings()
    settings = settings or get_settings()
    districts = load_districts(settings.districts_file)
    # Every district's policy is read now: a bad file of any district refuses to start, naming the file.
    timing = load_timing(districts, sla)
    policies = {code: timing.policy_for(code) for code in districts.codes}
    _warn_uncovered_years(timing.calendar)  # the calendar is every district's
    _warn_unused_policy_files(sla.policy_file or DEFAULT_POLICY_FILE, districts)
    for district in districts:
        district.directory  # noqa: B018 - load every directory now: a broken one refuses to start
    watch = Watch(
        {code: policy.at_risk_share for code, policy in policies.items()},
        archive_after=timedelta(hours=sla.archive_after_hours),
    )
    figures = BrokerFigures()
    handler = partial(handle_case_fact, SlaContext(Reactor(timing, attribution(districts))))
    case_facts = tuple(t for t in HANDLED_FACTS if t.__module__ == CaseEscalated.__module__)
    task_facts = tuple(t for t in HANDLED_FACTS if t.__module__ == JointMeetingFileOpened.__module__)

    async def on_started(runtime: ServiceRuntime) -> None:
        dsn = runtime.settings.database_url
        assert dsn is not None
        bootstrap, stores, stop = runtime.settings.bootstrap_servers(), runtime.stores, runtime.stop
        runtime.spawn(watch.run(stores, dsn, stop), "sla-watch")  # the runtime holds and awaits them
        runtime.spawn(figures.run(bootstrap, stop, sla.metrics_refresh_seconds), "sla-metrics")

    checks = production_checks(settings, SERVICE)
    auth = Authenticator(SERVICE, unit_tokens(districts, checks=checks))
    if checks is not None:
        checks.raise_if_any()
    view = OpsView(watch, timing, districts, auth, open_reads=not is_production(settings))
    return ServiceSpec(
        name=SERVICE,
        schema=SCHEMA,
        subscriptions=[
            Subscription(CASES, handler, case_facts, preload=preload_cases),
            Subscription(JOINT_MEETING, handler, task_facts, preload=preload_cases),
        ],
        routers=[ops_router(view)],
        on_started=on_started,
        collectors=[SlaCollector(watch, figures, districts.codes)],
        # A clock's deadline is counted from its fact's own time, so starting it a fifth of a second later
        # moves nothing; its facts in batches of dozens, not of two or three, take a fifth less of the
        # SLA's CPU and leave the cores to routing (bench/README.md, sixth stop).
        gathering=FetchGathering(),
        authenticator=auth,
        http_port=sla.port,
    )


def _warn_uncovered_years(calendar: WorkingCalendar) -> None:
    year = datetime.now(UTC).year
    missing = calendar.uncovered_years([year, year + 1])
    if missing:
        log.warning(
            "calendar_year_not_covered",
            years=missing,
            hint="deadlines in these years count Monday to Friday only; add the announced holidays and "
            "make-up working days to deadlines/calendar_overrides.yaml (or CASELINE_SLA_CALENDAR_FILE)",
        )


def _warn_unused_policy_files(default: Path, districts: Districts) -> None:
    for path, district in stray_policy_files(default, districts.codes).items():
        log.warning(
            "sla_policy_file_unused",
            file=str(path),
            hint=f"no served district is called {district!r} (serving {', '.join(districts.codes)})",
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return build_app(spec(settings=settings), settings)
