"""Refused commands as HTTP answers with a machine-readable body."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from fastapi import HTTPException

from eventcore.store import ConcurrencyError
from services.jointmeeting.domain.errors import (
    CommandRefused,
    Conflict,
    InvalidCommand,
    NotFound,
    WrongBureau,
)

_STATUS: dict[type[CommandRefused], tuple[int, str]] = {
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
    WrongBureau: (403, "forbidden"),
    InvalidCommand: (422, "invalid_command"),
}


def http_error(status: int, error: str, detail: str) -> HTTPException:
    return HTTPException(status, {"error": error, "detail": detail})


@contextlib.contextmanager
def refusals_as_http() -> Iterator[None]:
    try:
        yield
    except CommandRefused as refused:
        status, error = _STATUS.get(type(refused), (409, "conflict"))
        raise http_error(status, error, str(refused)) from refused
    except ConcurrencyError as error:
        raise http_error(409, "conflict", "the file changed at the same time; reload it and retry") from error
