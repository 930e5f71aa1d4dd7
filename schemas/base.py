"""Base classes for event contracts and the metadata every event carries."""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from schemas.reference import FOUNDING_DISTRICT, Channel, DistrictCode

READING: dict[str, Any] = {"reading": True}
"""Validation context for reading what another service (or an older or newer version) wrote."""


class Contract(BaseModel):
    """A model that crosses a service boundary. Writing is strict (unknown fields are refused, so a typo
    in a producer fails its own tests); reading with the READING context ignores fields this version does
    not know, so an additive change upstream never dead-letters a not-yet-upgraded reader."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _ignore_unknown_fields_when_reading(cls, data: Any, info: ValidationInfo) -> Any:
        if not (info.context and info.context.get("reading")) or not isinstance(data, dict):
            return data
        known = cls._known_keys()
        if known.issuperset(data):
            return data  # the common case: nothing to drop, no copy
        return {key: value for key, value in data.items() if key in known}

    @classmethod
    @cache
    def _known_keys(cls) -> frozenset[str]:
        keys = set(cls.model_fields)
        keys.update(field.alias for field in cls.model_fields.values() if field.alias)
        return frozenset(keys)


class EventMetadata(Contract):
    """Who and what caused an event; travels with it through every topic."""

    correlation_id: str = Field(description="Id shared by every event of one complaint's journey")
    causation_id: str | None = Field(default=None, description="Id of the message or command that caused it")
    actor: str = Field(description="Who acted: a service name, staff id or bureau code")
    channel: Channel | None = Field(default=None, description="Intake channel the journey began on")
    district: DistrictCode = Field(
        default=FOUNDING_DISTRICT,
        description="The district (tenant) the journey belongs to; travels as the ce_district header",
    )


class DomainEvent(Contract):
    """A past-tense fact. Subclasses name their type and schema version; data is the model's fields."""

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    case_id: str = Field(description="The case this fact belongs to; the Kafka key and ce_subject")

    @property
    def subject(self) -> str:
        """What the fact is about: the Kafka message key, ce_subject and the store's subject column."""
        return self.case_id

    @classmethod
    def cloudevent_type(cls) -> str:
        return f"caseline.{cls.event_type}.v{cls.schema_version}"
