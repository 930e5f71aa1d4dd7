"""Base classes for event contracts and the metadata every event carries."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field

from schemas.reference import FOUNDING_DISTRICT, Channel, DistrictCode


class Contract(BaseModel):
    """A model that crosses a service boundary. Writing is strict (unknown fields are refused, so a typo
    in a producer fails its own tests); reading (`read`, `read_json`) ignores fields this version does not
    know, nested ones too, so an additive change upstream never dead-letters a not-yet-upgraded reader."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Pydantic's own per-call `extra` rather than a validator of ours: it reaches every nested model, and
    # costs nothing where no field is unknown (a Python validator ran on every model, written or read).
    @classmethod
    def read(cls, data: Any) -> Self:
        """What another service (or an older or newer version of this one) wrote, as this version knows it."""
        return cls.model_validate(data, extra="ignore")

    @classmethod
    def read_json(cls, text: str | bytes) -> Self:
        """`read`, straight from JSON (one parse, no dict in between)."""
        return cls.model_validate_json(text, extra="ignore")


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
