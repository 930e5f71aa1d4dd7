"""A case's whole history for the case page: routing's own events and the facts of the other services
(the timeline), oldest first, each with who acted, when, and the facts that say why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventcore.store import RecordedEvent
from services.routing.adapters.workbench.timeline import TimelineEntry
from webui.i18n import Translator

# The facts shown on each entry, in this order; the rest of the event is one click away ("all fields").
WHY_FIELDS = (
    "description", "address", "reason", "trigger", "rule_id", "unit_name", "level", "note", "resolution",
    "evidence_refs", "photo_refs", "outcome", "detail", "merge_reason", "complainant_count", "return_count",
    "reopen_count", "lead_bureau", "bureaus", "bureau", "from_bureau", "to_bureau", "action", "done_when",
    "due_at", "scheduled_for", "place", "attendees", "minutes", "kind", "evidence", "answer", "summary",
    "verified_by", "policy_rule", "deadline", "cause", "on_time",
)  # fmt: skip
_BUREAU_FIELDS = frozenset({"lead_bureau", "bureau", "from_bureau", "to_bureau"})
_LABELLED = {"trigger": "trigger", "outcome": "outcome", "level": "level", "kind": "kind", "cause": "cause"}


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    service: str
    event_type: str
    actor: str | None
    facts: list[tuple[str, Any]]
    data: dict[str, Any]


def case_history(own: Sequence[RecordedEvent], others: Sequence[TimelineEntry]) -> list[HistoryItem]:
    items = [
        HistoryItem(
            e.recorded_at, "routing", e.event_type, _actor(e.metadata.get("actor")), _facts(e.data), e.data
        )
        for e in own
    ] + [HistoryItem(o.occurred_at, o.service, o.event_type, o.actor, _facts(o.data), o.data) for o in others]
    return sorted(items, key=lambda item: item.at)


def _facts(data: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(name, data[name]) for name in WHY_FIELDS if data.get(name) not in (None, "", [], {})]


def _actor(value: object) -> str | None:
    return str(value) if value else None


def fact_value(t: Translator, name: str, value: Any) -> str:
    """A fact as a person reads it: words for codes, Beijing times, lists joined."""
    if isinstance(value, list):
        return (
            "、".join(fact_value(t, name, v) for v in value)
            if t.zh
            else "; ".join(fact_value(t, name, v) for v in value)
        )
    if isinstance(value, dict):
        return " ".join(str(v) for v in value.values())
    if isinstance(value, bool):
        return t("common.yes") if value else t("common.no")
    if name in _BUREAU_FIELDS or name in ("bureaus", "attendees"):
        return t.bureau(str(value))
    if name in _LABELLED:
        return t.label(_LABELLED[name], value)
    if isinstance(value, str) and name in ("due_at", "deadline", "scheduled_for"):
        return t.when(value)
    return str(value)
