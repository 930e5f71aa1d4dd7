"""Property-based: whatever staff, the joint-meeting office and bureaus do, and in whatever order the topics
deliver it, every view shows a case's and a task's deadline as its SLA clock has it, and one lead bureau;
a task nobody gave a date is due by the shared SLA policy in working days; and the time left routing counts
for each clock (its workbench) is what the SLA counts for it.

Routing's case aggregate, the joint-meeting file and the SLA clocks are composed in-process through the
events they exchange, with the pure domain functions only (no I/O). Each consumer reads each topic in order,
but the topics interleave at random: the SLA may hear of a joint-meeting file before the escalation behind it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deadlines.calendar import BEIJING, WorkingCalendar
from deadlines.policy import PolicyLevel, load_policy
from deadlines.timing import Timing
from schemas.base import DomainEvent
from schemas.bureau import BureauReport, BureauTaskNotice, EvidenceRef, ReportKind
from schemas.cases import CallbackOutcome, CaseEscalated, EscalationTrigger
from schemas.jointmeeting import EnforcementTaskAssigned, JointEnforcementCompleted
from schemas.reference import Bureau, Category, Management
from schemas.sla import ClockKind, ClockMeasure
from services.jointmeeting.domain.completion import verify_file
from services.jointmeeting.domain.errors import CommandRefused
from services.jointmeeting.domain.files import add_case, cluster_key, file_id_for, open_file
from services.jointmeeting.domain.meetings import Decision, hold_meeting, schedule_meeting
from services.jointmeeting.domain.notices import notice_for
from services.jointmeeting.domain.rules import load_rules as load_joint_meeting_rules
from services.jointmeeting.domain.state import FileState, evolve
from services.jointmeeting.domain.tasks import (
    assign_task,
    cancel_task,
    extend_task,
    reassign_task,
    record_report,
)
from services.routing.domain.case import facts_of, open_case
from services.routing.domain.learnt import (
    CLOCK_FACTS,
    DeadlineStatus,
    JointDecision,
    LearntClock,
    current_resolve,
    decision_of,
    learn_clock,
    shown_deadline,
)
from services.routing.domain.lifecycle import Case, CaseCommandError, CaseState
from services.routing.domain.routing import RouteToUnit, decide_route
from services.sla.domain.clocks import (
    CaseClocks,
    Clock,
    ClockConflict,
    ClockState,
    clock_id_for,
    pausable,
    pause_clock,
    resume_clock,
    status,
    time_left,
)
from services.sla.domain.clocks import evolve as evolve_clocks
from services.sla.domain.reactions import Reactor
from tests.test_case_lifecycle import CENTRE, DIRECTORY, POLICY, complaint, compound, handler

START = datetime(2026, 11, 16, 9, 0, tzinfo=BEIJING)  # a Monday
TIMING = Timing(load_policy(), WorkingCalendar())  # the one policy and calendar every service counts with
REACTOR = Reactor(TIMING, lambda _d, _c: (None, None))
JM_RULES = load_joint_meeting_rules()
CASE_IDS = ("case-1", "case-2")  # neighbours: same compound, same problem, so they may share a file
QUEUES = ("sla<cases", "sla<jointmeeting", "jointmeeting<cases", "routing<jointmeeting", "routing<sla")


@dataclass
class World:
    now: datetime = START
    cases: dict[str, Case] = field(default_factory=dict)
    learnt: dict[str, dict[str, LearntClock]] = field(default_factory=dict)  # routing's copy of the clocks
    decisions: dict[str, JointDecision] = field(default_factory=dict)  # what routing learnt
    clocks: dict[str, CaseClocks] = field(default_factory=dict)
    files: dict[str, FileState] = field(default_factory=dict)
    notices: dict[str, BureauTaskNotice] = field(default_factory=dict)  # the latest per task
    queues: dict[str, deque[tuple[DomainEvent, datetime]]] = field(
        default_factory=lambda: {q: deque() for q in QUEUES}
    )
    reports: int = 0

    # -- the topics ---------------------------------------------------------------------------------

    def routing_published(self, events: list[DomainEvent]) -> None:
        for event in events:
            case = self.cases.get(event.case_id)
            if isinstance(event, CaseEscalated) and case is not None and case.joint_decision is not None:
                # once routing knows the joint meeting's decision, no escalation proposes another lead
                assert event.lead_bureau is case.joint_decision.lead
            folded = case.then([event]) if case is not None else Case.rebuild([event])
            assert folded is not None
            self.cases[event.case_id] = folded
            for queue in ("sla<cases", "jointmeeting<cases"):
                self.queues[queue].append((event, self.now))

    def joint_meeting_published(self, file_id: str, events: list[DomainEvent]) -> None:
        state = self.files.get(file_id)
        for event in events:
            state = evolve(state, event)
            notice = notice_for(state, event)
            if notice is not None:
                self.notices[notice.task_id] = notice
            for queue in ("sla<jointmeeting", "routing<jointmeeting"):
                self.queues[queue].append((event, self.now))
        assert state is not None
        self.files[file_id] = state

    def deliver(self, queue: str) -> None:
        if not self.queues[queue]:
            return
        event, at = self.queues[queue].popleft()
        consumer = queue.split("<")[0]
        if consumer == "sla":
            reaction = REACTOR.react(self.clocks.get(event.case_id, CaseClocks(event.case_id)), event, at)
            self.clocks[event.case_id] = reaction.case
            for fact in reaction.events:
                self.queues["routing<sla"].append((fact, at))
        elif consumer == "jointmeeting":
            if isinstance(event, CaseEscalated):
                self.escalated(event, at)
        elif isinstance(event, CLOCK_FACTS):
            copies = self.learnt.setdefault(event.case_id, {})
            clock_id = str(getattr(event, "clock_id", ""))
            if (learnt := learn_clock(copies.get(clock_id), event)) is not None:
                copies[clock_id] = learnt
        elif (decided := decision_of(event)) is not None:
            self.decisions[event.case_id] = decided
        elif isinstance(event, JointEnforcementCompleted):
            self.routing_published(self.cases[event.case_id].complete_joint_enforcement(event))

    def drain(self) -> None:
        while any(self.queues.values()):
            for queue in QUEUES:
                self.deliver(queue)

    # -- the joint meeting --------------------------------------------------------------------------

    def escalated(self, escalation: CaseEscalated, at: datetime) -> None:
        mine = [f for f in self.files.values() if escalation.case_id in f.case_ids]
        if any(not f.completed for f in mine):
            return
        cluster = next(
            (
                f
                for f in self.open_files()
                if cluster_key(escalation) == (f.district, f.compound_code, f.category)
            ),
            None,
        )
        if cluster is not None:
            self.joint_meeting_published(cluster.file_id, add_case(cluster, escalation))
            return
        file_id = file_id_for(escalation.case_id, len(mine))
        opened = open_file(escalation, at, JM_RULES, file_id, TIMING)
        check_due_by_the_policy(opened, Category(escalation.category), at)
        self.joint_meeting_published(file_id, opened)

    def open_files(self) -> list[FileState]:
        return [f for f in self.files.values() if not f.completed]

    def office(self, name: str, arg: int) -> None:
        files = self.open_files()
        if not files:
            return
        state = files[arg % len(files)]
        tasks = sorted(t.task_id for t in state.tasks.values() if t.is_open)
        task_id = tasks[arg % len(tasks)] if tasks else f"{state.file_id}-t1"
        due = self.now + timedelta(hours=1 + arg * 7)
        bureaus = list(Bureau)
        try:
            if name == "meeting":
                scheduled = schedule_meeting(state, self.now + timedelta(minutes=5), "", self.now)
                self.joint_meeting_published(state.file_id, scheduled)
                state = self.files[state.file_id]
                decisions = [Decision("revised", due, "done", task_id=task_id)]
                if arg % 3 == 0:  # a new task; without a date (arg 0, 6) it is due by the policy
                    new_due = None if arg % 2 == 0 else due
                    decisions.append(Decision("new", new_due, "done", bureau=bureaus[arg % len(bureaus)]))
                meeting_id = f"{state.file_id}-m{len(state.meetings)}"
                events = hold_meeting(state, meeting_id, [state.lead_bureau], decisions, "", self.now, TIMING)
                if arg % 6 == 0:
                    check_due_by_the_policy(events, state.category, self.now)
            elif name == "assign":  # the office gives a bureau a task, without a date: due by the policy
                events = assign_task(
                    state, bureaus[arg % len(bureaus)], "more", None, "done", self.now, TIMING
                )
                check_due_by_the_policy(events, state.category, self.now)
            elif name == "extend":
                events = extend_task(state, task_id, due + timedelta(days=2), "owner away", self.now)
            elif name == "reassign":
                events = reassign_task(state, task_id, bureaus[arg % len(bureaus)], "not ours", self.now)
            elif name == "cancel":
                events = cancel_task(state, task_id, "no longer needed")
            elif name == "done":
                events = record_report(state, self.report(state, task_id), "http")
            else:
                events = verify_file(state, "office-dev", self.now, "verified on site")
        except CommandRefused:
            return
        self.joint_meeting_published(state.file_id, events)

    def report(self, state: FileState, task_id: str) -> BureauReport:
        self.reports += 1
        return BureauReport(
            report_id=f"r{self.reports}",
            task_id=task_id,
            bureau=state.tasks[task_id].bureau,
            kind=ReportKind.DONE,
            evidence=[EvidenceRef(kind="photo", ref="dms://1")],
            reported_at=self.now,
        )

    # -- routing's staff ----------------------------------------------------------------------------

    def sla_command(self, name: str, case_id: str) -> None:
        """Staff pause the case's clocks (waiting for the complainant) or resume them, on the SLA's API."""
        clocks = self.clocks.get(case_id)
        if clocks is None:
            return
        try:
            if name == "pause":
                chosen = pausable(clocks.running(), case_id)
                facts: list[DomainEvent] = [pause_clock(TIMING, c, self.now, "waiting") for c in chosen]
            else:
                paused = [c for c in clocks.clocks.values() if c.state is ClockState.PAUSED]
                facts = [resume_clock(TIMING, c, self.now) for c in paused]
        except ClockConflict:
            return
        for fact in facts:
            self.clocks[case_id] = evolve_clocks(self.clocks[case_id], fact)
            self.queues["routing<sla"].append((fact, self.now))

    def staff(self, name: str, case_id: str, arg: int) -> None:
        case = self.cases[case_id].knowing(self.decisions.get(case_id))
        if name == "next":  # the case's natural next step, so that lives reach callbacks and reopenings
            name = NEXT.get(case.state, "accept")
        actor = (
            CENTRE
            if name in ("callback", "reopen", "route", "recategorise") or case.unit_code is None
            else handler(case)
        )
        units = [s.code for s in DIRECTORY.streets[:2]]
        try:
            events = {
                "accept": lambda: case.accept(actor),
                "progress": lambda: case.note_progress(actor, "on it", []),
                "resolve": lambda: case.resolve(actor, "fixed"),
                "return": lambda: case.return_to_routing(actor, "not ours", POLICY),
                "route": lambda: case.route_to(actor, _street(units[arg % 2]), POLICY),
                "escalate": lambda: case.request_escalation(
                    actor, EscalationTrigger.UNIT_REQUEST, "needs bureaus", POLICY
                ),
                "callback": lambda: case.record_callback(actor, list(CallbackOutcome)[arg % 3], "", POLICY),
                "reopen": lambda: case.reopen(actor, "called again", POLICY),
                "recategorise": lambda: case.recategorise(
                    actor, list(Category)[arg % len(Category)], "the label was wrong", POLICY
                ),
            }[name]()
        except CaseCommandError:
            return
        self.cases[case_id] = case
        self.routing_published(events)


def _street(code: str) -> RouteToUnit:
    unit = POLICY.unit(code)
    assert unit is not None
    return unit


# -- what every view shows, against the clocks ---------------------------------------------------------


def check_case_deadlines(world: World) -> None:
    """Routing's view (the staff API's due_at and deadline_status) is the current resolve clock's."""
    for case_id, case in world.cases.items():
        shown = shown_deadline(_routing_resolve(world, case), case.reopen_count)
        clocks = world.clocks.get(case_id, CaseClocks(case_id))
        clock = clocks.clocks.get(clock_id_for(case_id, ClockKind.RESOLVE, case.reopen_count))
        if clock is None:
            assert shown.status is DeadlineStatus.PENDING and shown.due_at is None
            continue
        expected = {
            ClockState.RUNNING: DeadlineStatus.RUNNING,
            ClockState.PAUSED: DeadlineStatus.PAUSED,
            ClockState.STOPPED: DeadlineStatus.STOPPED,
        }[clock.state]
        assert (shown.status, shown.clock_id) == (expected, clock.clock_id)
        assert shown.due_at == (None if clock.state is ClockState.PAUSED else clock.deadline)


def check_never_a_stale_round(world: World) -> None:
    """Even while the topics lag: routing never shows an earlier round's deadline for a reopened case (it
    says "pending" until the SLA's fresh resolve clock reaches it)."""
    for case_id, case in world.cases.items():
        shown = shown_deadline(_routing_resolve(world, case), case.reopen_count)
        current = clock_id_for(case_id, ClockKind.RESOLVE, case.reopen_count)
        assert shown.status is DeadlineStatus.PENDING or shown.clock_id == current


def _routing_resolve(world: World, case: Case) -> LearntClock | None:
    return current_resolve(world.learnt.get(case.case_id, {}).values(), case.reopen_count)


def check_time_left_of_every_clock(world: World) -> None:
    """Routing's workbench counts each clock's time left (and whether it is at risk or late) from what it
    learnt on the SLA topic, on the shared calendar: exactly what the SLA's own `time_left` counts, now and
    days later (across weekends: working-time clocks count working time only)."""
    for case_id, clocks in world.clocks.items():
        learnt = world.learnt.get(case_id, {})
        for clock in clocks.clocks.values():
            copy = learnt[clock.clock_id]
            assert (copy.kind, copy.measure, copy.deadline) == (clock.kind, clock.measure, clock.deadline)
            for now in (world.now, world.now + timedelta(days=3, hours=5)):
                assert copy.time_left(TIMING.calendar, now) == time_left(TIMING, clock, now)
                assert copy.standing(now) == (status(clock, now) or clock.state.value)


def check_due_by_the_policy(events: list[DomainEvent], category: Category, since: datetime) -> None:
    """The tasks these events give without a date are due by the shared SLA policy's task budget for the
    category (15 working days, fire hazards 5), counted in working time from when they were given."""
    budget = TIMING.policy.task_deadline(category).budget
    assert budget.measure is ClockMeasure.WORKING
    for task in [e for e in events if isinstance(e, EnforcementTaskAssigned)]:
        assert TIMING.calendar.working_seconds(since, task.due_at) == budget.seconds
        assert task.due_at == TIMING.calendar.add_working(since, budget.seconds).at


def check_task_deadlines(world: World) -> None:
    """The bureau board (the file's tasks) and the bureau's latest notice show the task clock's deadline."""
    for state in world.files.values():
        clocks = world.clocks[state.primary_case_id].clocks
        for task in state.tasks.values():
            clock = clocks[clock_id_for(state.primary_case_id, ClockKind.TASK, task.task_id)]
            if not task.is_open:
                assert clock.state is ClockState.STOPPED
                continue
            assert clock.state is ClockState.RUNNING
            assert task.due_at == clock.deadline == world.notices[task.task_id].due_at


def check_one_lead(world: World) -> None:
    """After the joint meeting decides, routing, the file, the bureaus' notices and the clocks name one lead."""
    for case_id, decided in world.decisions.items():
        state = world.files[decided.file_id]
        assert decided.lead is state.lead_bureau
        clocks = world.clocks[case_id]
        assert clocks.lead_bureau is decided.lead
        joint = [c for c in _case_clocks(clocks) if c.scope.level == PolicyLevel.JOINT_MEETING.value]
        assert all(
            c.scope.unit_code == decided.lead.value for c in joint if c.state is not ClockState.STOPPED
        )
        notices = [world.notices[t] for t in state.tasks if t in world.notices]
        assert all(n.lead_bureau is decided.lead for n in notices)


def check_clocks_judge_the_current_category(world: World) -> None:
    """A recategorised case's running clocks are judged by its corrected category, not the first one."""
    for case_id, case in world.cases.items():
        running = [c for c in _case_clocks(world.clocks.get(case_id, CaseClocks(case_id)))]
        assert all(c.scope.category is case.category for c in running if c.state is not ClockState.STOPPED)


def _case_clocks(clocks: CaseClocks) -> list[Clock]:
    return [c for c in clocks.clocks.values() if c.kind is not ClockKind.TASK]


# -- the generated lives ---------------------------------------------------------------------------------

NEXT = {
    CaseState.ACCEPTED: "resolve",
    CaseState.IN_PROGRESS: "resolve",
    CaseState.RESOLVED: "callback",
    CaseState.CLOSED: "reopen",
}
STAFF = ["next"] * 8 + ["accept", "progress", "resolve", "callback", "reopen", "return", "route", "escalate"]
STAFF += ["recategorise"]
OFFICE = ["meeting"] * 3 + ["extend"] * 2 + ["reassign", "cancel", "assign"] + ["done"] * 5 + ["verify"] * 2
staff = st.tuples(st.just("staff"), st.sampled_from(STAFF), st.sampled_from(CASE_IDS), st.integers(0, 9))
office = st.tuples(st.just("office"), st.sampled_from(OFFICE), st.just(""), st.integers(0, 9))
pauses = st.tuples(
    st.just("sla"), st.sampled_from(["pause", "resume"]), st.sampled_from(CASE_IDS), st.just(0)
)
# Weighted towards people acting, so lives reach meetings, resolutions, callbacks and reopenings.
steps = st.one_of(
    *[staff] * 5,
    *[office] * 3,
    pauses,
    st.tuples(st.just("time"), st.just(""), st.just(""), st.integers(1, 40)),
    *[st.tuples(st.just("deliver"), st.sampled_from(QUEUES), st.just(""), st.integers(1, 6))] * 2,
    *[st.tuples(st.just("drain"), st.just(""), st.just(""), st.just(0))] * 2,
)
starts = st.sampled_from(
    [
        (Category.FIRE_HAZARD, Management.PROFESSIONAL),  # escalated at opening
        (
            Category.SECURITY_ACCESS,
            Management.PROFESSIONAL,
        ),  # routing proposes the centre, public security leads
        (Category.NOISE_POLLUTION, Management.SELF_MANAGED),
        (Category.SANITATION, Management.PROFESSIONAL),
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=starts, plan=st.lists(steps, min_size=20, max_size=100))
def test_every_view_shows_the_deadline_of_its_clock_and_one_lead_bureau(
    start: tuple[Category, Management], plan: list[tuple[str, str, str, int]]
) -> None:
    category, management = start
    world = World()
    where = compound(management)
    for case_id in CASE_IDS:
        received = complaint(category, where=where, case_id=case_id)
        world.routing_published(
            open_case(received, decide_route(facts_of(received), POLICY.rules, DIRECTORY), "test")
        )
    for kind, name, case_id, arg in plan:
        if kind == "staff":
            world.staff(name, case_id, arg)
        elif kind == "office":
            world.office(name, arg)
        elif kind == "sla":
            world.sla_command(name, case_id)
        elif kind == "time":
            world.now += timedelta(hours=arg)
        elif kind == "deliver":
            for _ in range(arg):
                world.deliver(name)
        else:
            world.drain()
            check_case_deadlines(world)
            check_task_deadlines(world)
            check_time_left_of_every_clock(world)
            check_one_lead(world)
            check_clocks_judge_the_current_category(world)
        check_never_a_stale_round(world)
    world.drain()
    check_case_deadlines(world)
    check_task_deadlines(world)
    check_time_left_of_every_clock(world)
    check_one_lead(world)
    check_clocks_judge_the_current_category(world)
