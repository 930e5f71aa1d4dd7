"""Base classes for event contracts and the metadata every event carries."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.reference import FOUNDING_DISTRICT, Channel, DistrictCode


class EventMetadata(BaseModel):
    """Who and what caused an event; travels with it through every topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    correlation_id: str = Field(description="Id shared by every event of one complaint's journey")
    causation_id: str | None = Field(default=None, description="Id of the message or command that caused it")
    actor: str = Field(description="Who acted: a service name, staff id or bureau code")
    channel: Channel | None = Field(default=None, description="Intake channel the journey began on")
    district: DistrictCode = Field(
        default=FOUNDING_DISTRICT,
        description="The district (tenant) the journey belongs to; travels as the ce_district header",
    )


class DomainEvent(BaseModel):
    """A past-tense fact. Subclasses name their type and schema version; data is the model's fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    case_id: str = Field(description="The case this fact belongs to; the Kafka key and ce_subject")

    @classmethod
    def cloudevent_type(cls) -> str:
        return f"caseline.{cls.event_type}.v{cls.schema_version}"
