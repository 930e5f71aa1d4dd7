"""The joint meeting's handlers, named after what they handle: escalations, bureau reports, office commands."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from deadlines.settings import DeadlineSettings, load_timing
from deadlines.timing import Timing
from district.registry import Districts
from eventcore.consumer import InboundMessage, MessageRejected, ServiceStores
from eventcore.http import structure_problem
from eventcore.logging import get_logger
from eventcore.store import ConcurrencyError
from eventcore.unit_of_work import UnitOfWork
from schemas.base import DomainEvent, EventMetadata
from schemas.bureau import BureauReport
from schemas.cases import CaseEscalated
from services.jointmeeting.adapters.file_store import (
    commit,
    file_of_task,
    files_of_case,
    files_with_tasks_overdue,
    load_file,
    open_cluster_file,
    unopened_file,
)
from services.jointmeeting.domain.errors import CommandRefused, NotFound, StaleFile
from services.jointmeeting.domain.files import add_case, cluster_key, district_prefix, file_id_for, open_file
from services.jointmeeting.domain.rules import RULES_FILE, JointMeetingRules, load_district_rules
from services.jointmeeting.domain.state import FileState
from services.jointmeeting.domain.tasks import mark_overdue, record_report

log = get_logger(__name__)
ACTOR = "jointmeeting"

Decide = Callable[[FileState], list[DomainEvent]]


@dataclass(frozen=True)
class JointMeetingContext:
    """Each district's joint meeting: its rules, the prefix of its file ids, and the SLA policies and working
    calendar its tasks' default deadlines are counted with."""

    rules: Mapping[str, JointMeetingRules]
    id_prefixes: Mapping[str, str]
    timing: Timing

    def rules_for(self, district: str) -> JointMeetingRules:
        rules = self.rules.get(district)
        if rules is None:
            raise MessageRejected(
                f"unknown district {district!r}: this joint meeting serves {', '.join(sorted(self.rules))}"
            )
        return rules


def context_for(
    districts: Districts, rules_file: Path = RULES_FILE, deadlines: DeadlineSettings | None = None
) -> JointMeetingContext:
    return JointMeetingContext(
        rules=load_district_rules(districts.codes, rules_file),
        id_prefixes={d.code: district_prefix(d.id_prefix) for d in districts},
        timing=load_timing(districts, deadlines),
    )


async def handle_case_escalated(ctx: JointMeetingContext, uow: UnitOfWork, message: InboundMessage) -> None:
    """Open a file for the case in its district's joint meeting, or add it to the open file there for the
    same compound and problem."""
    escalation = message.event
    if not isinstance(escalation, CaseEscalated):
        return  # the case topic carries every case fact; only escalations concern the joint meeting
    district = escalation.district
    rules = ctx.rules_for(district)
    # The escalation's journey; its data (not the header) names whose joint meeting takes the case.
    metadata = message.metadata_for_effects(ACTOR, escalation.case_id, district=district)
    earlier = await files_of_case(uow, escalation.case_id)
    still_open = [file_id for file_id, completed in earlier if not completed]
    if still_open:
        log.info("case_already_in_open_file", file_id=still_open[0])  # a repeat escalation adds nothing
        return
    key = cluster_key(escalation)
    cluster = await open_cluster_file(uow, key[0], key[1], key[2].value) if key else None
    if cluster is not None:
        loaded = await load_file(uow, cluster)
        assert loaded.state is not None
        await commit(uow, loaded, add_case(loaded.state, escalation), metadata)
        log.info("case_added_to_file", file_id=cluster, district=district)
        return
    file_id = file_id_for(escalation.case_id, len(earlier), ctx.id_prefixes.get(district, ""))
    # the escalation's own time, so a redelivery computes the same deadlines
    opened = open_file(escalation, message.occurred_at(), rules, file_id, ctx.timing)
    await commit(uow, unopened_file(file_id), opened, metadata)
    log.info(
        "joint_meeting_file_opened",
        file_id=file_id,
        district=district,
        bureaus=[b.value for b in escalation.bureaus],
    )


async def handle_bureau_report_record(uow: UnitOfWork, message: InboundMessage) -> None:
    """A bureau's report from caseline.bureau.reports.v1 (plain JSON); anything unusable is dead-lettered.

    The record is plain JSON read raw, so there is no ce_district: the task id, unique across districts,
    decides the district. A report that names its `district` is confined to that district's tasks; one
    that does not is confined by bureau kind only (the report's bureau must be the task's).
    """
    try:
        report = BureauReport.model_validate_json(message.cloudevent.data)
    except ValidationError as error:
        raise MessageRejected(f"invalid BureauReport: {validation_summary(error)}") from error
    except Exception as error:
        raise MessageRejected(f"unreadable BureauReport ({type(error).__name__})") from error
    if problem := structure_problem(report.model_dump(mode="json")):
        raise MessageRejected(f"invalid BureauReport: {problem[1]}")
    try:
        await report_on_task(
            uow, report, via="topic", causation_id=message.cloudevent.id, district=report.district
        )
    except CommandRefused as refused:
        raise MessageRejected(f"report {report.report_id} refused: {refused}") from refused


async def report_on_task(
    uow: UnitOfWork,
    report: BureauReport,
    *,
    via: str,
    causation_id: str,
    district: str | None = None,
    expected_version: int | None = None,
) -> FileState | None:
    """Both report paths end here, so HTTP and the topic record the same facts and dedupe the same way.

    Task ids are unique across districts, so the task names the district. `district` (HTTP: the
    caller's token) confines the report to that district's tasks: another district's task is unknown.
    """
    file_id = await file_of_task(uow, report.task_id, district)
    if file_id is None:
        raise NotFound(f"no task {report.task_id!r}")
    return await decide_on_file(
        uow,
        file_id,
        lambda state: record_report(state, report, via),
        actor=f"bureau:{report.bureau.value}",
        causation_id=causation_id,
        district=district,
        expected_version=expected_version,
    )


async def decide_on_file(
    uow: UnitOfWork,
    file_id: str,
    decide: Decide,
    *,
    actor: str,
    causation_id: str,
    district: str | None = None,
    expected_version: int | None = None,
) -> FileState:
    """Load the file, decide, commit; the facts join the journey of the case the file was opened for.

    With `district` (the caller's), a file of another district is refused as unknown: staff and bureaus
    learn nothing about other districts, not even that the id exists. With `expected_version` (the version
    a person decided on), a file that changed since is refused as stale; the append at the loaded version
    makes a change in between fail too.
    """
    loaded = await load_file(uow, file_id)
    if loaded.state is None or (district is not None and loaded.state.district != district):
        raise NotFound(f"no file {file_id!r}")
    if expected_version is not None and loaded.version != expected_version:
        raise StaleFile(file_id, expected_version, loaded.version)
    metadata = EventMetadata(
        correlation_id=loaded.correlation_id or file_id,
        causation_id=causation_id,
        actor=actor,
        district=loaded.state.district,
    )
    events = decide(loaded.state)
    after = (await commit(uow, loaded, events, metadata)).state
    assert after is not None
    log.info(
        "file_changed",
        file_id=file_id,
        case_id=after.primary_case_id,
        district=after.district,
        actor=actor,
        events=[e.event_type for e in events],
    )
    return after


async def handle_office_command(
    stores: ServiceStores,
    file_id: str,
    decide: Decide,
    actor: str,
    district: str | None = None,
    expected_version: int | None = None,
) -> FileState:
    """One office command on one file, in its own transaction; a concurrent change raises ConcurrencyError.

    `district`: the staff member's; None only for the service's own overdue watch, which serves all.
    `expected_version`: the file version the staff member saw (the workbench's forms carry it).
    """
    async with stores.unit_of_work() as uow:
        return await decide_on_file(
            uow,
            file_id,
            decide,
            actor=actor,
            causation_id=f"command:{uuid.uuid4()}",
            district=district,
            expected_version=expected_version,
        )


async def handle_overdue_check(stores: ServiceStores, now: datetime) -> int:
    """Mark every open task past its deadline overdue, once per deadline; returns the files changed.

    One watch serves every district; each file's facts carry the file's own district.
    """
    async with stores.unit_of_work() as uow:
        file_ids = await files_with_tasks_overdue(uow, now)
    changed = 0
    for file_id in file_ids:
        try:
            await handle_office_command(stores, file_id, lambda state: mark_overdue(state, now), ACTOR)
            changed += 1
        except ConcurrencyError:
            log.info("overdue_check_raced", file_id=file_id)  # the other writer's change wins; next round
    return changed


def validation_summary(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in item['loc']) or 'body'}: {item['msg']}" for item in error.errors()
    )
