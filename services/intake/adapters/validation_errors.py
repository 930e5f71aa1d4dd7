"""Turning a pydantic ValidationError into a rejection kind and a reason a person can act on."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from services.intake.domain.submission import PERSONAL_FIELDS

_KIND_OF_TYPE: dict[str, str] = {
    "missing": "missing_field",
    "string_too_short": "empty_field",
    "string_too_long": "too_long",
    "too_long": "too_long",
    "datetime_parsing": "invalid_time",
    "datetime_from_date_parsing": "invalid_time",
    "datetime_type": "invalid_time",
    "time_without_offset": "invalid_time",
    "control_characters": "control_characters",
    "markup": "markup",
    "extra_forbidden": "unknown_field",
}


def _field(problem: ErrorDetails) -> str:
    return ".".join(str(part) for part in problem["loc"]) or "record"


def kind_of(problem: ErrorDetails) -> str:
    return _KIND_OF_TYPE.get(problem["type"], "invalid_value")


def describe(error: ValidationError, labels: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(kind of the first problem, every problem named by field)."""
    problems = error.errors()
    parts = []
    for problem in problems:
        name = _field(problem)
        label = f" ({labels[name]})" if labels and name in labels else ""
        given = problem.get("input")
        # Echo what was given so it can be found and fixed, except personal data (reasons reach logs).
        echo = isinstance(given, str | int | float) and problem["type"] != "missing"
        shown = f", got {given!r}" if echo and name not in PERSONAL_FIELDS else ""
        message = problem["msg"]
        parts.append(f"field {name!r}{label}: {message}{shown[:80]}")
    return kind_of(problems[0]), "; ".join(parts)
