"""Every contract in schemas/ has its JSON Schema checked in, up to date, and changed only compatibly.

New contract: run `python -m schemas.export` and check the new file in. The rule (docs/contracts.md): an
added optional field is compatible because readers are tolerant; a changed, removed or renamed field is a
new schema_version with an upcaster in schemas/upcasters.py; what cannot be upcast is a new topic.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel, Field

from eventcore.mapper import default_mapper
from schemas.base import Contract
from schemas.compatibility import incompatibilities
from schemas.export import JSON_DIR, contract_classes, path_for, rendered, schema_of
from schemas.upcasters import UPCASTERS

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
        f"{name} changed incompatibly: {problems}. Keep the old shape, or publish a new version so existing "
        "consumers keep working: raise schema_version and register an upcaster from the old one in "
        "schemas/upcasters.py (an old version's file stays as history); a new topic if it cannot be upcast"
    )


def test_the_checked_in_schemas_are_up_to_date() -> None:
    stale = [
        name
        for name, schema in CURRENT.items()
        if path_for(name).exists() and path_for(name).read_text(encoding="utf-8") != rendered(schema)
    ]
    assert not stale, f"compatible changes not exported yet for {stale}: {FIX}"


def test_every_event_version_ever_published_is_still_read_as_a_current_contract() -> None:
    """An old version's schema stays checked in as history; its events are still in stores and on topics,
    so the mapper must read them: by its own contract or through upcasters to the current one."""
    published = [path.name.removesuffix(".schema.json") for path in JSON_DIR.glob("caseline.*.schema.json")]
    versions = [name.removeprefix("caseline.").rsplit(".v", 1) for name in published]
    unreadable = [f"{t}.v{v}" for t, v in versions if not default_mapper().knows(t, int(v))]
    assert published and not unreadable, (
        f"no contract and no upcaster (schemas/upcasters.py) for {unreadable}"
    )


def test_every_upcaster_leads_to_a_current_contract() -> None:
    broken = [key for key in UPCASTERS if not default_mapper().knows(*key)]
    assert not broken, f"upcasters that reach no contract: {broken}"


class _Notice(Contract):
    task_id: str
    due_at: datetime


class _NoticeWithEvidence(Contract):  # the next release of _Notice: one optional field more
    task_id: str
    due_at: datetime
    evidence: list[str] = Field(default_factory=list)


def test_an_added_optional_field_is_compatible_because_the_older_reader_ignores_it() -> None:
    assert incompatibilities(_Notice.model_json_schema(), _NoticeWithEvidence.model_json_schema()) == []
    newer = _NoticeWithEvidence(task_id="t-1", due_at=datetime(2026, 12, 1), evidence=["photo://1"])
    read = _Notice.read_json(newer.model_dump_json())
    assert read == _Notice(task_id="t-1", due_at=datetime(2026, 12, 1))
    with pytest.raises(ValueError, match="evidence"):  # the older writer cannot write it by mistake
        _Notice.model_validate_json(newer.model_dump_json())


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
