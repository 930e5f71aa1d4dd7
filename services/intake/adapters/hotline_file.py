"""Reading a hotline export file: JSON lines, one work order per line, every rejection naming its line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from eventcore.deadletters import Rejection
from schemas.hotline import HotlineOrder


@dataclass(frozen=True)
class FileRecord:
    source: str
    line_no: int
    raw: bytes


def read_json_lines(path: Path) -> Iterator[FileRecord]:
    source = f"hotline-file:{path.name}"
    with path.open("rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            if line.strip():
                yield FileRecord(source, line_no, line.rstrip(b"\r\n"))


def parse_order(record: FileRecord) -> HotlineOrder | Rejection:
    where = f"line {record.line_no}"
    try:
        data = json.loads(record.raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        return _reject(record, "encoding", f"{where}: not UTF-8 at byte {error.start}")
    except json.JSONDecodeError as error:
        return _reject(record, "invalid_json", f"{where}: invalid JSON at column {error.colno}: {error.msg}")
    if not isinstance(data, dict):
        return _reject(record, "invalid_json", f"{where}: expected a JSON object, got {type(data).__name__}")
    try:
        return HotlineOrder.model_validate(data)
    except ValidationError as error:
        return _reject(record, _kind(error), f"{where}: {_fields(error)}", order_no=data.get("order_no"))


def _fields(error: ValidationError) -> str:
    return "; ".join(
        f"field {'.'.join(str(p) for p in problem['loc']) or '(record)'!r}: {problem['msg']}"
        for problem in error.errors()
    )


def _kind(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "record"
    return f"{field}:{first['type']}"


def _reject(record: FileRecord, kind: str, reason: str, order_no: object = None) -> Rejection:
    return Rejection(
        source=record.source,
        source_ref=f"line {record.line_no}",
        reason=reason,
        payload=record.raw,
        details={
            "kind": kind,
            "line": record.line_no,
            "order_no": order_no if isinstance(order_no, str) else None,
        },
    )
