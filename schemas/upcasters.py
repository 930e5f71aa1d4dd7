"""Upcasters: how an older schema version of an event becomes the next one (v → v+1).

A contract change that is not additive (a renamed field, a new required field) keeps the event type,
raises its `schema_version`, and registers here the function that turns the old data into the new, so
stored events and messages of the old version still read as the current contract
(eventcore.mapper.EventMapper). Readers then only ever see the current version. No contract has needed
one yet; a change that cannot be upcast is a new topic (schemas/compatibility.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}
