"""Every contract in schemas/ has its JSON Schema checked in, up to date, and changed only compatibly.

New contract: run `python -m schemas.export` and check the new file in. Incompatible change: give the
contract a new version (a new event type version or message schema_version, usually on a new topic).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel, Field

from schemas.compatibility import incompatibilities
from schemas.export import contract_classes, path_for, rendered, schema_of

FIX = "run `.venv/bin/python -m schemas.export` and check in schemas/json/"
CURRENT = {name: schema_of(name, cls) for name, cls in contract_classes().items()}


def _checked_in(name: str) -> dict[str, Any] | None:
    path = path_for(name)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def test_every_contract_has_a_checked_in_json_schema() -> None:
    missing = [name for name in CURRENT if _checked_in(name) is None]
    assert not missing, f"no JSON Schema for {missing}: {FIX}"


@pytest.mark.parametrize("name", sorted(CURRENT))
def test_no_contract_changed_incompatibly_without_a_new_version(name: str) -> None:
    old = _checked_in(name)
    if old is None:
        pytest.skip("new contract (the test above asks for its export)")
    problems = incompatibilities(old, CURRENT[name])
    assert not problems, (
        f"{name} changed incompatibly: {problems}. Keep the old shape, or publish a new version "
        "(bump schema_version / a new topic) so existing consumers keep working"
    )


def test_the_checked_in_schemas_are_up_to_date() -> None:
    stale = [
        name
        for name, schema in CURRENT.items()
        if path_for(name).exists() and path_for(name).read_text(encoding="utf-8") != rendered(schema)
    ]
    assert not stale, f"compatible changes not exported yet for {stale}: {FIX}"


class _V1(BaseModel):
    task_id: str
    due_at: datetime
    note: str = ""
    kind: str = Field(json_schema_extra={"enum": ["a", "b"]})


def test_adding_an_optional_field_or_an_enum_value_is_compatible() -> None:
    old = _V1.model_json_schema()
    new = json.loads(json.dumps(old))
    new["properties"]["evidence"] = {"type": "array", "items": {"type": "string"}, "default": []}
    new["properties"]["kind"]["enum"] = ["a", "b", "c"]
    assert incompatibilities(old, new) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s["properties"].pop("note"), "/note: removed"),
        (lambda s: s["properties"].__setitem__("task_id", {"type": "integer"}), "/task_id: type"),
        (lambda s: s["required"].append("note"), "/note: became required"),
        (lambda s: s["properties"]["kind"].__setitem__("enum", ["a"]), "enum values removed"),
        (lambda s: s["properties"]["task_id"].__setitem__("maxLength", 5), "maxLength tightened"),
        (
            lambda s: (
                s["properties"].__setitem__("bureau", {"type": "string"}),
                s["required"].append("bureau"),
            ),
            "/bureau: added as required",
        ),
    ],
)
def test_removing_retyping_requiring_or_tightening_a_field_is_caught(change: Any, expected: str) -> None:
    old = _V1.model_json_schema()
    new = json.loads(json.dumps(old))
    change(new)
    assert any(expected in problem for problem in incompatibilities(old, new))
