"""The joint meeting's refused commands as HTTP answers (eventcore.http.Refusals), `{"error", "detail"}`."""

from __future__ import annotations

from eventcore.http import Refusal, Refusals
from eventcore.store import ConcurrencyError
from services.jointmeeting.domain.errors import (
    CommandRefused,
    Conflict,
    InvalidCommand,
    NotFound,
    WrongBureau,
)

REFUSALS = Refusals(
    {
        NotFound: Refusal(404, "not_found"),
        Conflict: Refusal(409, "conflict"),
        WrongBureau: Refusal(403, "forbidden"),
        InvalidCommand: Refusal(422, "invalid_command"),
        CommandRefused: Refusal(409, "conflict"),
        ConcurrencyError: Refusal(
            409, "conflict", message=lambda _: "the file changed at the same time; reload it and retry"
        ),
    },
    message_key="detail",
)
http_error = REFUSALS.error
refusals_as_http = REFUSALS.as_http
