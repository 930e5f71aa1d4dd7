"""Routing's handlers, named after what they handle: messages from the topics and staff commands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

from district.directory import Directory
from district.registry import Districts, UnknownDistrict
from eventcore.aggregate import Loaded
from eventcore.consumer import InboundMessage, MessageRejected, ServiceStores
from eventcore.logging import bound_contextvars, get_logger
from eventcore.store import ConcurrencyError
from eventcore.unit_of_work import UnitOfWork
from schemas.base import DomainEvent, EventMetadata
from schemas.cases import CallbackOutcome, EscalationTrigger
from schemas.complaints import ComplaintMerged, ComplaintReceived
from schemas.jointmeeting import JointEnforcementCompleted
from schemas.reference import Category
from schemas.sla import SlaBreached
from services.routing.adapters import case_store
from services.routing.adapters.learnt_store import keep_clock, keep_decision, learnt_clock, learnt_clocks
from services.routing.domain.access import Actor
from services.routing.domain.case import facts_of, open_case
from services.routing.domain.learnt import (
    CLOCK_FACTS,
    LEAD_FACTS,
    decision_of,
    learn_clock,
)
from services.routing.domain.lifecycle import Case, CaseCommandError, UnknownUnit
from services.routing.domain.routing import RoutingPolicy, decide_route
from services.routing.domain.rules import DEFAULT_RULES_FILE, RoutingRules, load_rules, rules_file_for

log = get_logger(__name__)
ACTOR = "routing"


class DistrictNotServed(CaseCommandError):
    """The case's district is no longer in this deployment's registry, so nothing can be decided for it."""

    code = "district_not_served"


@dataclass(frozen=True)
class DistrictRouting:
    """One district's routing: its rules and its directory (codes such as ST01 mean its own streets)."""

    district: str
    rules: RoutingRules
    directory: Directory

    @property
    def policy(self) -> RoutingPolicy:
        return RoutingPolicy(self.rules, self.directory)


class RoutingContext:
    """Every district's routing, each built on first use from the registry, so a deployment that only ever
    sees one district never loads the others' directories."""

    def __init__(self, districts: Districts, rules_file: Path = DEFAULT_RULES_FILE) -> None:
        self.districts = districts
        self.rules_file = rules_file
        self._built: dict[str, DistrictRouting] = {}
        self._lock = Lock()  # handlers run on the event loop, but the staff API may share the context

    def check_rules(self) -> None:
        """Read every district's rules now: a broken district rules file stops the service at start (a
        RulesError naming the file) instead of holding up that district's first complaint."""
        for district in self.districts:
            load_rules(rules_file_for(district.code, self.rules_file))

    def of(self, district: str) -> DistrictRouting:
        """The district's routing; UnknownDistrict (naming the known ones) for a district not served here."""
        with self._lock:
            built = self._built.get(district)
            if built is None:
                known = self.districts.get(district)
                rules = load_rules(rules_file_for(known.code, self.rules_file))
                built = DistrictRouting(known.code, rules, known.directory)
                self._built[district] = built
            return built

    def of_case(self, case: Case) -> DistrictRouting:
        try:
            return self.of(case.district)
        except UnknownDistrict as unknown:
            raise DistrictNotServed(f"case {case.case_id}: {unknown}") from unknown

    def of_case_for_message(self, case: Case) -> DistrictRouting:
        """As of_case, for a message handler: a case no district serves is dead-lettered, not retried forever."""
        try:
            return self.of_case(case)
        except DistrictNotServed as refused:
            raise MessageRejected(str(refused)) from refused


# -- messages ---------------------------------------------------------------------------------------


async def handle_complaint_received(ctx: RoutingContext, uow: UnitOfWork, message: InboundMessage) -> None:
    """Open a case for the complaint and route or escalate it, once, whatever the redelivery."""
    complaint = message.event
    if not isinstance(complaint, ComplaintReceived):
        return
    try:
        routing = ctx.of(complaint.district)
    except UnknownDistrict as unknown:
        raise MessageRejected(f"complaint {complaint.complaint_id}: {unknown}") from unknown
    rules = routing.rules
    decision = decide_route(facts_of(complaint), rules, routing.directory)
    metadata = message.metadata_for_effects(
        ACTOR, complaint.complaint_id, channel=complaint.channel, district=complaint.district
    )
    # Opened at the flush, with the batch's other new cases, unless it is open already (published again).
    case_store.open_case(uow, complaint.case_id, open_case(complaint, decision, rules.version), metadata)
    log.info(
        "case_opened", district=routing.district, decision=type(decision).__name__, rule_id=decision.rule_id
    )


async def handle_complaint_merged(ctx: RoutingContext, uow: UnitOfWork, message: InboundMessage) -> None:
    """A further complainant joins the case: recorded; a closed case reopens; enough of them escalate."""
    merged = message.event
    if not isinstance(merged, ComplaintMerged):
        return
    loaded, case = await _case_for_message(uow, merged.case_id, message)
    events = case.add_co_complainant(merged, ctx.of_case_for_message(case).policy)
    metadata = message.metadata_for_effects(
        ACTOR, merged.complaint_id, channel=merged.channel, district=case.district
    )
    _save_from_message(uow, loaded, events, metadata)


async def handle_complaints_topic(ctx: RoutingContext, uow: UnitOfWork, message: InboundMessage) -> None:
    if isinstance(message.event, ComplaintMerged):
        await handle_complaint_merged(ctx, uow, message)
    else:
        await handle_complaint_received(ctx, uow, message)


async def handle_joint_enforcement_completed(
    ctx: RoutingContext, uow: UnitOfWork, message: InboundMessage
) -> None:
    """The joint meeting finished and verified on site: the case is resolved and waits for its callback."""
    done = message.event
    if not isinstance(done, JointEnforcementCompleted):
        return
    loaded, case = await _case_for_message(uow, done.case_id, message)
    events = case.complete_joint_enforcement(done)
    if not events:
        log.warning("joint_enforcement_completed_ignored", state=case.state.value)
    metadata = message.metadata_for_effects(
        f"jointmeeting/{done.verified_by}", done.case_id, district=case.district
    )
    _save_from_message(uow, loaded, events, metadata)


async def handle_joint_meeting_topic(ctx: RoutingContext, uow: UnitOfWork, message: InboundMessage) -> None:
    if isinstance(message.event, LEAD_FACTS):
        await handle_lead_decided(uow, message)
    else:
        await handle_joint_enforcement_completed(ctx, uow, message)


async def handle_lead_decided(uow: UnitOfWork, message: InboundMessage) -> None:
    """The joint meeting decided who leads the case (routing only proposed): every view of the case and
    every later escalation of it use the decision. Learnt, not recorded in the case's stream."""
    if message.event is None or (decided := decision_of(message.event)) is None:
        return
    await keep_decision(uow, message.event.case_id, decided)
    log.info("lead_bureau_learnt", lead=decided.lead.value, file_id=decided.file_id)


async def handle_sla_topic(ctx: RoutingContext, uow: UnitOfWork, message: InboundMessage) -> None:
    if isinstance(message.event, CLOCK_FACTS):
        await handle_sla_clock_fact(uow, message)
    if isinstance(message.event, SlaBreached):
        await handle_sla_breached(ctx, uow, message)


async def handle_sla_clock_fact(uow: UnitOfWork, message: InboundMessage) -> None:
    """The SLA started, moved, paused, stopped or announced one of the case's clocks: routing keeps each
    clock as the SLA has it (the case's deadline is its resolve clock's; the workbench shows every clock's
    time left), and computes none."""
    fact = message.event
    clock_id = getattr(fact, "clock_id", None)
    if fact is None or not isinstance(clock_id, str):
        return
    before = await learnt_clock(uow, fact.case_id, clock_id)
    after = learn_clock(before, fact)
    if after is not None and after != before:
        await keep_clock(uow, fact.case_id, after)


async def handle_sla_breached(ctx: RoutingContext, uow: UnitOfWork, message: InboundMessage) -> None:
    """The SLA watch asks for the joint meeting when a deadline it judges by policy ran out."""
    breach = message.event
    if not isinstance(breach, SlaBreached) or not breach.escalation_requested:
        return
    loaded, case = await _case_for_message(uow, breach.case_id, message)
    why = f"{breach.kind.value} deadline {breach.deadline.isoformat()} passed (SLA rule {breach.policy_rule})"
    events = case.escalate_for_breach(why, ctx.of_case_for_message(case).policy)
    metadata = message.metadata_for_effects("sla", breach.case_id, district=case.district)
    _save_from_message(uow, loaded, events, metadata)


async def preload_batch(uow: UnitOfWork, messages: Sequence[InboundMessage]) -> None:
    """A consumer batch's Preload: the cases its handlers will change and the SLA clocks they will move,
    each kind in one query, so that every handler's load finds them in the unit of work."""
    events = [m.event for m in messages if m.event is not None]
    await case_store.load_many(uow, [e.case_id for e in events if _changes_its_case(e)])
    await learnt_clocks(
        uow,
        [
            (e.case_id, clock_id)
            for e in events
            if isinstance(e, CLOCK_FACTS) and isinstance(clock_id := getattr(e, "clock_id", None), str)
        ],
    )


def _changes_its_case(event: DomainEvent) -> bool:
    """The facts whose handlers load their case (a complaint received opens it without reading)."""
    if isinstance(event, SlaBreached):
        return event.escalation_requested
    return isinstance(event, (ComplaintMerged, JointEnforcementCompleted))


async def _case_for_message(
    uow: UnitOfWork, case_id: str, message: InboundMessage
) -> tuple[Loaded[Case], Case]:
    # No flush first: a case an earlier message of this batch opened or changed comes from the unit of work.
    loaded = await case_store.load(uow, case_id)
    if loaded.state is None:
        raise MessageRejected(
            f"{message.event.event_type if message.event else 'message'} for unknown case {case_id}"
        )
    return loaded, loaded.state


def _save_from_message(
    uow: UnitOfWork, loaded: Loaded[Case], events: Sequence[DomainEvent], metadata: EventMetadata
) -> None:
    if events:
        case_store.save(uow, loaded, events, metadata)
        log.info("case_updated", events=[e.event_type for e in events])


# -- staff commands ---------------------------------------------------------------------------------


class CaseNotFound(LookupError):
    """No case with this id (or none the acting unit may see)."""


class StaleCase(Exception):
    """The command was decided on an older version of the case than the stored one."""

    def __init__(self, case_id: str, expected: int, current: int) -> None:
        self.case_id, self.expected, self.current = case_id, expected, current
        super().__init__(
            f"case {case_id} is at version {current}, the command was based on version {expected}: "
            "reload the case and decide again"
        )


@dataclass(frozen=True)
class CommandResult:
    case: Case
    events: list[DomainEvent]


Decide = Callable[[Case], list[DomainEvent]]
DecideInDistrict = Callable[[Case, DistrictRouting], list[DomainEvent]]


async def _act(
    stores: ServiceStores, case_id: str, actor: Actor, expected_version: int, decide: Decide
) -> CommandResult:
    """Load, check the version the staff member saw, decide, save at that version: all or nothing."""
    with bound_contextvars(case_id=case_id, actor=actor.recorded_as, district=actor.district):
        try:
            async with stores.unit_of_work() as uow:
                loaded = await case_store.load(uow, case_id)
                case = loaded.state
                if case is None or not case.visible_to(actor):
                    raise CaseNotFound(case_id)
                if loaded.version != expected_version:
                    raise StaleCase(case_id, expected_version, loaded.version)
                events = decide(case)
                metadata = EventMetadata(
                    correlation_id=case_id, causation_id=None, actor=actor.recorded_as, district=case.district
                )
                saved = case_store.save(uow, loaded, events, metadata)
        except ConcurrencyError as error:  # another writer appended first, when the unit of work flushed
            raise StaleCase(case_id, expected_version, expected_version + 1) from error
        log.info("staff_command", events=[e.event_type for e in events])
        assert saved.state is not None
        return CommandResult(saved.state, events)


async def _act_in_district(
    ctx: RoutingContext,
    stores: ServiceStores,
    case_id: str,
    actor: Actor,
    expected_version: int,
    decide: DecideInDistrict,
) -> CommandResult:
    """A command that consults routing (rules, directory): the case's own district's."""
    return await _act(stores, case_id, actor, expected_version, lambda case: decide(case, ctx.of_case(case)))


async def accept_case(stores: ServiceStores, case_id: str, actor: Actor, version: int) -> CommandResult:
    return await _act(stores, case_id, actor, version, lambda case: case.accept(actor))


async def note_progress(
    stores: ServiceStores, case_id: str, actor: Actor, version: int, note: str, photo_refs: Sequence[str]
) -> CommandResult:
    return await _act(
        stores, case_id, actor, version, lambda case: case.note_progress(actor, note, photo_refs)
    )


async def resolve_case(
    stores: ServiceStores,
    case_id: str,
    actor: Actor,
    version: int,
    resolution: str,
    evidence_refs: Sequence[str] = (),
) -> CommandResult:
    return await _act(
        stores, case_id, actor, version, lambda case: case.resolve(actor, resolution, evidence_refs)
    )


async def return_case(
    ctx: RoutingContext, stores: ServiceStores, case_id: str, actor: Actor, version: int, reason: str
) -> CommandResult:
    return await _act_in_district(
        ctx, stores, case_id, actor, version, lambda case, d: case.return_to_routing(actor, reason, d.policy)
    )


async def route_case(
    ctx: RoutingContext, stores: ServiceStores, case_id: str, actor: Actor, version: int, unit_code: str
) -> CommandResult:

    def decide(case: Case, routing: DistrictRouting) -> list[DomainEvent]:
        # Unit codes are district-local: ST01 is looked up in the case's own directory.
        target = routing.policy.unit(unit_code)
        if target is None:
            raise UnknownUnit(
                f"unknown unit {unit_code!r} in district {routing.district}: "
                "use the centre, a street or a community code"
            )
        return case.route_to(actor, target, routing.policy)

    return await _act_in_district(ctx, stores, case_id, actor, version, decide)


async def escalate_case(
    ctx: RoutingContext,
    stores: ServiceStores,
    case_id: str,
    actor: Actor,
    version: int,
    trigger: EscalationTrigger,
    reason: str,
) -> CommandResult:
    return await _act_in_district(
        ctx,
        stores,
        case_id,
        actor,
        version,
        lambda case, d: case.request_escalation(actor, trigger, reason, d.policy),
    )


async def record_callback(
    ctx: RoutingContext,
    stores: ServiceStores,
    case_id: str,
    actor: Actor,
    version: int,
    outcome: CallbackOutcome,
    note: str,
) -> CommandResult:
    return await _act_in_district(
        ctx,
        stores,
        case_id,
        actor,
        version,
        lambda case, d: case.record_callback(actor, outcome, note, d.policy),
    )


async def recategorise_case(
    ctx: RoutingContext,
    stores: ServiceStores,
    case_id: str,
    actor: Actor,
    version: int,
    category: Category,
    reason: str,
) -> CommandResult:
    return await _act_in_district(
        ctx,
        stores,
        case_id,
        actor,
        version,
        lambda case, d: case.recategorise(actor, category, reason, d.policy),
    )


async def reopen_case(
    ctx: RoutingContext, stores: ServiceStores, case_id: str, actor: Actor, version: int, detail: str
) -> CommandResult:
    return await _act_in_district(
        ctx, stores, case_id, actor, version, lambda case, d: case.reopen(actor, detail, d.policy)
    )
