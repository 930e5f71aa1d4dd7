"""CloudEvents 1.0 in Kafka binary content mode: attributes in `ce_` headers, data as the JSON value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from schemas.base import DomainEvent, EventMetadata
from schemas.reference import FOUNDING_DISTRICT

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
_CORE = frozenset({"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_subject", "ce_time"})  # not extensions


class InvalidCloudEvent(ValueError):
    """A Kafka record that is not a valid CloudEvent; the message says which attribute is wrong."""


@dataclass(frozen=True)
class CloudEvent:
    id: str
    source: str
    type: str
    subject: str | None
    time: str | None
    data: bytes
    extensions: dict[str, str]

    @property
    def correlation_id(self) -> str | None:
        return self.extensions.get("correlationid")

    @property
    def district(self) -> str:
        """The tenant; records published before Caseline served several districts have none."""
        return self.extensions.get("district") or FOUNDING_DISTRICT


def headers_for(
    *, event_id: UUID, event: DomainEvent, metadata: EventMetadata, source: str, time: datetime | None = None
) -> dict[str, str]:
    """CloudEvents attributes (and Caseline's extensions) for one event, as header name → value."""
    headers = {
        "ce_specversion": SPEC_VERSION,
        "ce_id": str(event_id),
        "ce_source": source,
        "ce_type": event.cloudevent_type(),
        "ce_time": (time or datetime.now(UTC)).isoformat(),
        "ce_subject": event.subject,
        "content-type": CONTENT_TYPE,
        "ce_correlationid": metadata.correlation_id,
        "ce_actor": metadata.actor,
        "ce_district": metadata.district,
    }
    if metadata.causation_id:
        headers["ce_causationid"] = metadata.causation_id
    if metadata.channel:
        headers["ce_channel"] = metadata.channel.value
    return headers


def parse_record(headers: Any, value: bytes | None) -> CloudEvent:
    """Read a binary-mode CloudEvent from a Kafka record's headers and value."""
    # Inlined, not _text per header: this runs for every record every consumer reads.
    attrs = {
        name: raw.decode("utf-8", "replace") if type(raw) is bytes else _text(raw) for name, raw in headers or ()
    }
    if attrs.get("ce_specversion") != SPEC_VERSION:
        raise InvalidCloudEvent(
            f"ce_specversion must be {SPEC_VERSION!r}, got {attrs.get('ce_specversion')!r}"
        )
    for required in ("ce_id", "ce_source", "ce_type"):
        if not attrs.get(required):
            raise InvalidCloudEvent(f"missing required header {required}")
    if value is None:
        raise InvalidCloudEvent("record has no value (data)")
    if (time := attrs.get("ce_time")) is not None and not _is_timestamp(time):
        raise InvalidCloudEvent(f"ce_time must be an RFC 3339 timestamp, got {time[:40]!r}")
    extensions = {name[3:]: text for name, text in attrs.items() if name[:3] == "ce_" and name not in _CORE}
    return CloudEvent(
        id=attrs["ce_id"],
        source=attrs["ce_source"],
        type=attrs["ce_type"],
        subject=attrs.get("ce_subject"),
        time=attrs.get("ce_time"),
        data=value,
        extensions=extensions,
    )


def _is_timestamp(text: str) -> bool:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return False
    return parsed.tzinfo is not None


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
