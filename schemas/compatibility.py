"""Is a new JSON Schema of a contract compatible with the checked-in one of the same version?

The rule the code follows (docs/contracts.md):

- An added optional field is compatible because readers are tolerant: every consumer reads events through
  eventcore.mapper, which reads with schemas.base.Contract.read: fields its version does not know are ignored,
  nested ones too (every model inside an event is a schemas.base.Contract). Writing stays strict: a
  service cannot write a field its own contract lacks.
- A changed, removed or renamed field (or one made required, retyped or tightened) is a new
  `schema_version` of the event type, with an upcaster in schemas/upcasters.py that turns the old version's
  data into the new; stored events and messages of the old version then read as the current contract.
- A change that cannot be upcast (the old data does not hold what the new version needs) is a new topic.

So compatible means every message valid under the old schema is still valid under the new one: nothing
removed, renamed, retyped, made required or constrained more tightly; enum values may be added, not removed.
An added enum value is not covered by tolerant reading (an older reader refuses a value it does not know),
so its readers are upgraded before a writer uses it. `additionalProperties: false` is the writers'
strictness and is not compared: that readers meet fields they do not know is what tolerant reading is for.
"""

from __future__ import annotations

import json
from typing import Any

_IGNORED = {"description", "title", "default", "examples", "$id", "$schema", "$defs"}
_LOWER_BOUNDS = ("minLength", "minItems", "minimum", "exclusiveMinimum", "minProperties")
_UPPER_BOUNDS = ("maxLength", "maxItems", "maximum", "exclusiveMaximum", "maxProperties")


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    _compare("", _inline(old, old.get("$defs", {})), _inline(new, new.get("$defs", {})), problems)
    return problems


def _inline(node: Any, defs: dict[str, Any], depth: int = 0) -> Any:
    """Resolve local $refs so a change inside a shared definition is seen where it is used."""
    if depth > 20:
        return node
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = defs.get(ref.removeprefix("#/$defs/"), {})
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return _inline(merged, defs, depth + 1)
        return {k: _inline(v, defs, depth + 1) for k, v in node.items() if k not in _IGNORED}
    if isinstance(node, list):
        return [_inline(item, defs, depth + 1) for item in node]
    return node


def _compare(path: str, old: Any, new: Any, problems: list[str]) -> None:
    if not isinstance(old, dict) or not isinstance(new, dict):
        if old != new:
            problems.append(f"{path or '/'}: changed from {old!r} to {new!r}")
        return
    _compare_properties(path, old, new, problems)
    _compare_types(path, old, new, problems)
    _compare_bounds(path, old, new, problems)
    for key in ("items", "additionalProperties"):
        if isinstance(old.get(key), dict):
            _compare(f"{path}/{key}", old[key], new.get(key, {}), problems)
    for key in ("const", "pattern", "format"):
        if old.get(key) != new.get(key):
            problems.append(f"{path or '/'}: {key} changed from {old.get(key)!r} to {new.get(key)!r}")


def _compare_properties(path: str, old: dict[str, Any], new: dict[str, Any], problems: list[str]) -> None:
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, schema in old_props.items():
        if name not in new_props:
            problems.append(f"{path}/{name}: removed (or renamed)")
        else:
            _compare(f"{path}/{name}", schema, new_props[name], problems)
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required):
        added = "added as required" if name not in old_props else "became required"
        problems.append(f"{path}/{name}: {added}")


def _compare_types(path: str, old: dict[str, Any], new: dict[str, Any], problems: list[str]) -> None:
    old_types, new_types = _as_set(old.get("type")), _as_set(new.get("type"))
    if old_types and not old_types <= new_types and new_types:
        problems.append(f"{path or '/'}: type {sorted(old_types)} became {sorted(new_types)}")
    if "enum" in old:
        removed = [v for v in old["enum"] if v not in new.get("enum", old["enum"])]
        if removed:
            problems.append(f"{path or '/'}: enum values removed: {removed}")
    for key in ("anyOf", "oneOf"):
        if key in old:
            kept = {_canonical(v) for v in new.get(key, [new])}
            missing = [v for v in old[key] if _canonical(v) not in kept]
            for variant in missing:
                problems.append(f"{path or '/'}: {key} variant {_canonical(variant)} no longer accepted")


def _compare_bounds(path: str, old: dict[str, Any], new: dict[str, Any], problems: list[str]) -> None:
    for key in _LOWER_BOUNDS:
        if key in new and (key not in old or new[key] > old[key]):
            problems.append(f"{path or '/'}: {key} tightened to {new[key]}")
    for key in _UPPER_BOUNDS:
        if key in new and (key not in old or new[key] < old[key]):
            problems.append(f"{path or '/'}: {key} tightened to {new[key]}")


def _as_set(value: Any) -> set[str]:
    if value is None:
        return set()
    return set(value) if isinstance(value, list) else {value}


def _canonical(node: Any) -> str:
    return json.dumps(node, sort_keys=True)
