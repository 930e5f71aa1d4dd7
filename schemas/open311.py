"""Open311 GeoReport v2 contracts: what `/open311/v2/` accepts and answers (https://wiki.open311.org/GeoReport_v2)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.hotline import MAX_DESCRIPTION
from schemas.inbound import PhoneText, PlainText


class ServiceType(StrEnum):
    REALTIME = "realtime"
    BATCH = "batch"
    BLACKBOX = "blackbox"


class Service(BaseModel):
    """One entry of services.json: one of Caseline's complaint categories."""

    service_code: str
    service_name: str
    description: str
    metadata: bool = Field(description="True when services/{code}.json defines attributes")
    type: ServiceType
    keywords: str
    group: str


class AttributeValue(BaseModel):
    key: str
    name: str


class Attribute(BaseModel):
    variable: bool
    code: str
    datatype: str  # string, number, datetime, text, singlevaluelist, multivaluelist
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[AttributeValue] = Field(default_factory=list)


class ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[Attribute]


class ServiceRequestForm(BaseModel):
    """The form fields of POST requests.json (application/x-www-form-urlencoded or multipart)."""

    # Clients send fields of later spec drafts or their own; what Caseline does not use is ignored.
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    api_key: str = Field(min_length=1)
    service_code: str = Field(min_length=1)
    jurisdiction_id: str | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    long: float | None = Field(default=None, ge=-180, le=180)
    address_string: PlainText | None = Field(default=None, max_length=500)
    address_id: PlainText | None = Field(default=None, max_length=64)
    email: PlainText | None = Field(default=None, max_length=200)
    device_id: PlainText | None = Field(default=None, max_length=200)
    account_id: PlainText | None = Field(default=None, max_length=200)
    first_name: PlainText | None = Field(default=None, max_length=64)
    last_name: PlainText | None = Field(default=None, max_length=64)
    phone: PhoneText | None = Field(default=None, description="personal data; read leniently")
    description: PlainText | None = Field(default=None, max_length=MAX_DESCRIPTION)
    media_url: PlainText | None = Field(default=None, max_length=1000)
    attributes: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_a_location(self) -> ServiceRequestForm:
        # GeoReport v2: lat and long together, or address_string, or address_id.
        if (self.lat is None) != (self.long is None):
            raise ValueError("lat and long must be given together")
        if self.lat is None and not self.address_string and not self.address_id:
            raise ValueError("a location is required: lat & long, address_string or address_id")
        return self


class ServiceRequestCreated(BaseModel):
    service_request_id: str
    service_notice: str | None
    account_id: str | None


class ServiceRequest(BaseModel):
    """One entry of requests.json / requests/{id}.json."""

    service_request_id: str
    status: str  # open | closed
    status_notes: str | None
    service_name: str
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime | None
    expected_datetime: datetime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class Open311Error(BaseModel):
    code: int
    description: str
