"""Which staff commands a unit may give a case right now, decided by the case aggregate itself.

Nothing here repeats the lifecycle's rules: each command is tried on the case (a pure call that returns
events and changes nothing) with placeholder arguments, and a command the aggregate refuses — wrong state,
wrong unit, not the centre — is not offered. A screen built on this list shows exactly what the staff API
would accept, and a rule changed in `lifecycle.py` changes the screen with it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from schemas.base import DomainEvent
from schemas.cases import CallbackOutcome, EscalationTrigger
from schemas.reference import Category, Level
from services.routing.domain.access import Actor
from services.routing.domain.lifecycle import Case, CaseCommandError
from services.routing.domain.routing import RouteToUnit, RoutingPolicy


class StaffCommand(StrEnum):
    """The staff API's commands, named as its paths are (`POST /cases/{id}/<command>`)."""

    ACCEPT = "accept"
    PROGRESS = "progress"
    RESOLVE = "resolve"
    RETURN = "return"
    ROUTE = "route"  # the centre places a case by hand (its triage queue, or a case routed wrongly)
    ESCALATE = "escalate"  # the handling unit asks for the joint meeting (trigger unit_request)
    ESCALATE_LATE = "escalate_late"  # the centre escalates for lateness (trigger sla_watch)
    CALLBACK = "callback"
    REOPEN = "reopen"
    RECATEGORISE = "recategorise"  # the centre corrects the category (its triage queue, or a wrong label)


Probe = Callable[[Case, Actor, RoutingPolicy], list[DomainEvent]]

# A unit code no directory holds, so "route by hand" is never refused for naming the unit it is with.
_PROBE_TARGET = RouteToUnit(Level.CENTRE, "\x00probe", "probe", "manual", "probe")

PROBES: dict[StaffCommand, Probe] = {
    StaffCommand.ACCEPT: lambda case, actor, policy: case.accept(actor),
    StaffCommand.PROGRESS: lambda case, actor, policy: case.note_progress(actor, "probe", ()),
    StaffCommand.RESOLVE: lambda case, actor, policy: case.resolve(actor, "probe"),
    StaffCommand.RETURN: lambda case, actor, policy: case.return_to_routing(actor, "probe", policy),
    StaffCommand.ROUTE: lambda case, actor, policy: case.route_to(actor, _PROBE_TARGET, policy),
    StaffCommand.ESCALATE: lambda case, actor, policy: case.request_escalation(
        actor, EscalationTrigger.UNIT_REQUEST, "probe", policy
    ),
    StaffCommand.ESCALATE_LATE: lambda case, actor, policy: case.request_escalation(
        actor, EscalationTrigger.SLA_WATCH, "probe", policy
    ),
    StaffCommand.CALLBACK: lambda case, actor, policy: case.record_callback(
        actor, CallbackOutcome.SATISFIED, "", policy
    ),
    StaffCommand.REOPEN: lambda case, actor, policy: case.reopen(actor, "probe", policy),
    # Recategorising to the category it has is refused unless the case waits in category triage; any
    # other category is a correction the centre may make, so probing with a different one asks "may I?".
    StaffCommand.RECATEGORISE: lambda case, actor, policy: case.recategorise(
        actor, _other_category(case.category), "probe", policy
    ),
}


def _other_category(category: Category) -> Category:
    return next(c for c in Category if c is not category)


def permitted_commands(case: Case, actor: Actor, policy: RoutingPolicy) -> list[StaffCommand]:
    """The commands the aggregate would accept from this actor on this case as it stands, in API order."""
    permitted = []
    for command, probe in PROBES.items():
        try:
            probe(case, actor, policy)
        except CaseCommandError:
            continue
        permitted.append(command)
    return permitted
