"""Checks every inbound channel applies to what people type: text, phone numbers, labels, times.

Each failure raises a PydanticCustomError whose type names the class of problem (`control_characters`,
`markup`, `invalid_phone`...), so a rejection can be counted by kind and explained field by field.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from schemas.reference import CATEGORY_LABELS_ZH, Category, ComplaintKind, Urgency

BEIJING = timezone(timedelta(hours=8))

# C0 controls except tab, newline and carriage return, plus DEL and the C1 block: never typed by a person,
# usually the sign of a binary or mis-decoded field.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A tag or a script URL; a comparison such as "温度<0" is not a tag.
_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!][^<>]*>|javascript\s*:|\bon[a-z]+\s*=\s*['\"]", re.IGNORECASE)

# Mobile 1[3-9]xxxxxxxxx; landline with area code 0xx(x)-xxxxxxx(x); optional +86 / 0086 prefix.
_PHONE = re.compile(r"^(?:(?:\+|00)?86)?(?:1[3-9]\d{9}|0\d{2,3}\d{7,8})$")
_PHONE_SEPARATORS = re.compile(r"[\s\-()]")

CATEGORY_BY_LABEL: dict[str, Category] = {label: category for category, label in CATEGORY_LABELS_ZH.items()}
KIND_BY_LABEL: dict[str, ComplaintKind] = {
    "投诉": ComplaintKind.COMPLAINT,
    "举报": ComplaintKind.REPORT,
    "求助": ComplaintKind.HELP,
    "咨询": ComplaintKind.INQUIRY,
    "建议": ComplaintKind.SUGGESTION,
}
URGENCY_BY_LABEL: dict[str, Urgency] = {
    "一般": Urgency.NORMAL,
    "普通": Urgency.NORMAL,
    "紧急": Urgency.URGENT,
    "特急": Urgency.URGENT,
    "加急": Urgency.URGENT,
}


def plain_text(value: str) -> str:
    """Refuse control characters and HTML/script: free text is shown to staff in other systems."""
    if match := _CONTROL.search(value):
        raise PydanticCustomError(
            "control_characters",
            "contains control character U+{code} at position {position}",
            {"code": f"{ord(match.group()):04X}", "position": match.start() + 1},
        )
    if match := _MARKUP.search(value):
        raise PydanticCustomError(
            "markup",
            "contains HTML or script ({fragment!r}); send plain text",
            {"fragment": match.group()[:40]},
        )
    return value


def phone_number(value: str) -> str:
    digits = _PHONE_SEPARATORS.sub("", value)
    if not _PHONE.match(digits):
        raise PydanticCustomError(
            "invalid_phone",
            "is not a mainland China phone number (mobile 1xxxxxxxxxx or landline 0xxx-xxxxxxx)",
        )
    return value


def optional_phone(value: str) -> str:
    return phone_number(value) if value else value


def _label(table: dict[str, object]) -> BeforeValidator:
    def convert(value: object) -> object:
        if isinstance(value, str):
            stripped = value.strip()
            return table.get(stripped, stripped)
        return value

    return BeforeValidator(convert)


PlainText = Annotated[str, AfterValidator(plain_text)]
Phone = Annotated[str, AfterValidator(phone_number)]
OptionalPhone = Annotated[str, AfterValidator(optional_phone)]
CategoryField = Annotated[Category, _label(dict(CATEGORY_BY_LABEL))]
KindField = Annotated[ComplaintKind, _label(dict(KIND_BY_LABEL))]
UrgencyField = Annotated[Urgency, _label(dict(URGENCY_BY_LABEL))]


def needs_offset(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise PydanticCustomError(
            "time_without_offset", "must carry a UTC offset, e.g. 2026-11-18T09:30:00+08:00"
        )
    return value


AwareDatetime = Annotated[datetime, AfterValidator(needs_offset)]


# 所属区 as outside systems write it: a registry code ("shangdang") or a Chinese name ("上党区"). Intake
# resolves it against the district registry; empty means the district the intake serves by default.
DistrictField = Annotated[
    PlainText,
    Field(max_length=32, description="所属区: district code or Chinese name; empty for the intake's default"),
]
