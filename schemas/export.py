"""`python -m schemas.export`: a JSON Schema for every contract in schemas/, written to schemas/json/.

A contract is every pydantic model defined in a module of this package: events (named by their CloudEvents
type, `caseline.CaseOpened.v1`) and messages (`schemas.hotline.HotlineOrder.v1`; a message class may set a
`schema_version` ClassVar). The files are checked in; tests/test_schema_compatibility.py fails when a
contract changes incompatibly without a new version, or when the files are stale. Adding a new contract
only needs this command to be run again. Old versions' files stay as history. It also regenerates the
AsyncAPI document of the topics, docs/asyncapi.json (caseline/asyncapi.py).
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import schemas
from schemas.base import Contract, DomainEvent

JSON_DIR = Path(__file__).resolve().parent / "json"
ASYNCAPI_NOTE = "docs/asyncapi.json"
_NOT_CONTRACTS = {"schemas.export"}


def contract_classes() -> dict[str, type[BaseModel]]:
    """Every contract by its versioned name."""
    found: dict[str, type[BaseModel]] = {}
    for module_info in pkgutil.iter_modules(schemas.__path__):
        module_name = f"schemas.{module_info.name}"
        if module_name in _NOT_CONTRACTS:
            continue
        module = importlib.import_module(module_name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseModel) and cls.__module__ == module_name and _is_contract(cls):
                found[contract_name(cls)] = cls
    return dict(sorted(found.items()))


def _is_contract(cls: type[BaseModel]) -> bool:
    if cls is Contract:
        return False  # the base every contract shares, no message of its own
    if issubclass(cls, DomainEvent):
        return "event_type" in cls.__dict__  # the base and any abstract intermediates are not
    return not cls.__name__.startswith("_")


def contract_name(cls: type[BaseModel]) -> str:
    if issubclass(cls, DomainEvent):
        return cls.cloudevent_type()
    return f"{cls.__module__}.{cls.__name__}.v{getattr(cls, 'schema_version', 1)}"


def schema_of(name: str, cls: type[BaseModel]) -> dict[str, Any]:
    schema = cls.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": name, **schema}


def rendered(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def path_for(name: str) -> Path:
    return JSON_DIR / f"{name}.schema.json"


def export() -> list[Path]:
    JSON_DIR.mkdir(exist_ok=True)
    written = []
    for name, cls in contract_classes().items():
        path = path_for(name)
        text = rendered(schema_of(name, cls))
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def main() -> None:
    # The AsyncAPI document is generated from the services' own wiring, which only the CLI's composition
    # root sees; imported here, when exporting, so the contracts themselves never load the services.
    from caseline.asyncapi import write_document

    written = export()
    if write_document():
        written.append(Path(ASYNCAPI_NOTE))
    for path in written:
        print(f"wrote {path}")
    print(f"{len(contract_classes())} contracts, {len(written)} files changed", file=sys.stderr)


if __name__ == "__main__":
    main()
