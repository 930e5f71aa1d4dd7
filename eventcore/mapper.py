"""Stored rows and consumed messages as typed domain events: one registry by (type, schema version), with
upcasters that lift an older version's data to the version this code knows.

Every service reads events through a mapper, so a contract's history is handled in one place: an old row
in the store or an old message on a topic is upcast step by step, then validated as a tolerant reader
(fields this version does not know are ignored; schemas.base.Contract.read).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from eventcore.store import RecordedEvent
from schemas.base import DomainEvent
from schemas.topics import TOPIC_EVENTS
from schemas.upcasters import UPCASTERS

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns one version's data into the next version's (v → v+1); registered under (event type, v)."""


class UnknownEventType(LookupError):
    """No contract (and no upcaster chain to one) for this event type and version."""


@dataclass(frozen=True)
class EventMapper:
    contracts: Mapping[tuple[str, int], type[DomainEvent]]
    upcasters: Mapping[tuple[str, int], Upcaster] = field(default_factory=dict)
    _ce_types: dict[str, tuple[str, int, type[DomainEvent]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def of(
        cls, contracts: Iterable[type[DomainEvent]], upcasters: Mapping[tuple[str, int], Upcaster] | None = None
    ) -> EventMapper:
        registry = {(c.event_type, c.schema_version): c for c in contracts}
        return cls(registry, dict(upcasters or {}))

    def knows(self, event_type: str, schema_version: int) -> bool:
        return self._resolve(event_type, schema_version) is not None

    def to_event(self, event_type: str, schema_version: int, data: Mapping[str, Any]) -> DomainEvent:
        """The event as its contract, upcast from an older version when need be."""
        version, upcast = schema_version, data
        while (event_type, version) not in self.contracts:
            step = self.upcasters.get((event_type, version))
            if step is None:
                raise UnknownEventType(f"no contract for {event_type} v{schema_version}")
            upcast, version = step(dict(upcast)), version + 1  # a copy: an upcaster may change what it is given
        return self.contracts[(event_type, version)].read(upcast)

    def from_json(self, event_type: str, schema_version: int, text: str | bytes) -> DomainEvent:
        """Decoded straight from JSON when no upcasting is needed (the common case: one parse, no dict)."""
        contract = self.contracts.get((event_type, schema_version))
        if contract is not None:
            return contract.read_json(text)
        return self.to_event(event_type, schema_version, json.loads(text))

    def from_cloudevent(self, cloudevent_type: str, data: str | bytes) -> DomainEvent | None:
        """A message's event by its ce_type (`caseline.<type>.v<n>`); None for a type this code does not
        know at all (another service's newer event is ignored, not an error)."""
        known = self._known_type(cloudevent_type)
        if known is None:
            return None
        event_type, version, _ = known
        return self.from_json(event_type, version, data)

    def reads_as(self, cloudevent_type: str) -> type[DomainEvent] | None:
        """The contract a message of this ce_type becomes: its own, or the current one an older version is
        upcast to; None for a type (or a version) this code does not know. Lets a consumer that wants the
        current version of a type also take the older versions of it, before any data is parsed."""
        known = self._known_type(cloudevent_type)
        return None if known is None else known[2]

    def _known_type(self, cloudevent_type: str) -> tuple[str, int, type[DomainEvent]] | None:
        """The event type, version and the contract it reads as, of a ce_type this code knows. Every
        consumer asks for every record: remembered, for the ce_types known only (so a producer's invented
        types cannot grow the memory)."""
        known = self._ce_types.get(cloudevent_type)
        if known is not None:
            return known
        parsed = _CE_TYPE.fullmatch(cloudevent_type)
        if parsed is None:
            return None
        event_type, version = parsed["type"], int(parsed["version"])
        contract = self._resolve(event_type, version)
        if contract is None:
            return None
        known = self._ce_types[cloudevent_type] = (event_type, version, contract)
        return known

    def current_contract(self, event_type: str) -> type[DomainEvent] | None:
        """The newest version of this event type this code has a contract for; None for a type it lacks."""
        versions = [c for (known, _), c in self.contracts.items() if known == event_type]
        return max(versions, key=lambda c: c.schema_version, default=None)

    def newer_than_known(self, cloudevent_type: str) -> type[DomainEvent] | None:
        """For a ce_type of a known event type at a version above every one this code knows (written by a
        producer upgraded before its readers): the contract this code has of it. None otherwise."""
        parsed = _CE_TYPE.fullmatch(cloudevent_type)
        if parsed is None:
            return None
        known = self.current_contract(parsed["type"])
        return known if known is not None and int(parsed["version"]) > known.schema_version else None

    def recorded(self, recorded: RecordedEvent) -> DomainEvent:
        return self.to_event(recorded.event_type, recorded.schema_version, recorded.data)

    def all_recorded(self, recorded: Iterable[RecordedEvent]) -> list[DomainEvent]:
        return [self.recorded(r) for r in recorded]

    def _resolve(self, event_type: str, version: int) -> type[DomainEvent] | None:
        while (event_type, version) not in self.contracts:
            if (event_type, version) not in self.upcasters:
                return None
            version += 1
        return self.contracts[(event_type, version)]


_CE_TYPE = re.compile(r"caseline\.(?P<type>[A-Za-z0-9_]+)\.v(?P<version>[0-9]+)")


@cache
def default_mapper() -> EventMapper:
    """Every contract on Caseline's topics, with the registered upcasters."""
    return EventMapper.of({c for classes in TOPIC_EVENTS.values() for c in classes}, UPCASTERS)
