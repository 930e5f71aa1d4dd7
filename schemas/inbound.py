"""Checks every inbound channel applies to what people type: text, phone numbers, labels, times.

Each failure raises a PydanticCustomError whose type names the class of problem (`control_characters`,
`markup`...), so a rejection can be counted by kind and explained field by field. Kinds, urgencies,
categories, phone numbers and times are not refused here: intake reads them leniently and flags what it
had to assume (services/intake/domain/reading.py, the category taxonomies).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

BEIJING = timezone(timedelta(hours=8))

# C0 controls except tab, newline and carriage return, plus DEL and the C1 block: never typed by a person,
# usually the sign of a binary or mis-decoded field.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A tag or a script URL; a comparison such as "温度<0" is not a tag.
_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!][^<>]*>|javascript\s*:|\bon[a-z]+\s*=\s*['\"]", re.IGNORECASE)


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


PlainText = Annotated[str, AfterValidator(plain_text)]


def needs_offset(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise PydanticCustomError(
            "time_without_offset", "must carry a UTC offset, e.g. 2026-11-18T09:30:00+08:00"
        )
    return value


AwareDatetime = Annotated[datetime, AfterValidator(needs_offset)]

# Times as Chinese exports write them: 2026年11月18日 12:30, 2026/11/18 12:30, 2026-11-18 12:30:00, 2026.11.18,
# with 上午/下午/晚上 and 点/时/分/秒/半; ISO 8601 with or without offset. Without an offset it is Beijing time.
_CHINESE_TIME = re.compile(
    r"^(\d{4})\s*[-/年.]\s*(\d{1,2})\s*[-/月.]\s*(\d{1,2})\s*[日号]?"
    r"(?:\s*[T ]?\s*(凌晨|早上|上午|中午|下午|傍晚|晚上)?\s*(\d{1,2})\s*[:：时点]\s*(半|\d{1,2})?\s*分?"
    r"(?:\s*[:：]?\s*(\d{1,2})\s*秒?)?)?\s*$"
)
_AFTERNOON = {"下午", "傍晚", "晚上"}


def read_time(value: object) -> datetime | None:
    """The moment a time field gives, or None when it gives none a person could read (intake's clock
    stands in, flagged). A time without offset is Beijing time, as the platforms write it."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=BEIJING)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _epoch(float(value))
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = _chinese_time(text)
    if parsed is None:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=BEIJING)


def _epoch(value: float) -> datetime | None:
    """Seconds or milliseconds since 1970, as some JSON exports write times (2001 to 2286 only)."""
    seconds = value / 1000 if value >= 1e11 else value
    return datetime.fromtimestamp(seconds, BEIJING) if 1e9 <= seconds < 1e10 else None


def _chinese_time(text: str) -> datetime | None:
    match = _CHINESE_TIME.match(text.replace("\u3000", " "))
    if match is None:
        return None
    year, month, day, half_of_day, hour, minute, second = match.groups()
    hours = int(hour or 0)
    if half_of_day in _AFTERNOON and hours < 12:
        hours += 12
    if half_of_day == "中午" and hours < 6:
        hours += 12
    minutes = 30 if minute == "半" else int(minute or 0)
    try:
        return datetime(int(year), int(month), int(day), hours, minutes, int(second or 0))
    except ValueError:
        return None  # 2月30日, 25点: no such moment


# Absent or unreadable: None, and intake's clock stands in (flagged received_at_assigned).
LenientTime = Annotated[datetime | None, BeforeValidator(read_time)]
# Kinds, urgencies, category labels and phone numbers as the sender wrote them; intake reads them
# (services/intake/domain/reading.py, the category taxonomies) and flags what it had to assume.
LabelText = Annotated[PlainText, Field(max_length=200)]
PhoneText = Annotated[PlainText, Field(max_length=64, description="personal data: one or several numbers")]


# 所属区 as outside systems write it: a registry code ("shangdang") or a Chinese name ("上党区"). Intake
# resolves it against the district registry; empty means the district the intake serves by default.
DistrictField = Annotated[
    PlainText,
    Field(max_length=32, description="所属区: district code or Chinese name; empty for the intake's default"),
]
