"""Upcasters: how an older schema version of an event becomes the next one (v → v+1).

A contract change that is not additive (a changed, removed or renamed field, a new required field) keeps
the event type, raises its `schema_version`, and registers here the function that turns the old data into
the new, so stored events and messages of the old version still read as the current contract
(eventcore.mapper.EventMapper). Readers then only ever see the current version. For example, had
CaseCalledBack v2 renamed v1's `note` to `complainant_said`:

    def _case_called_back_v1(data: dict[str, Any]) -> dict[str, Any]:
        upcast = dict(data)
        upcast["complainant_said"] = upcast.pop("note", "")
        return upcast

    UPCASTERS = {("CaseCalledBack", 1): _case_called_back_v1}

Readers are deployed before the writer starts writing the new version (a reader that meets a version newer
than it knows dead-letters it). No contract has needed an upcaster yet; a change that cannot be upcast is a
new topic (schemas/compatibility.py, docs/contracts.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}
