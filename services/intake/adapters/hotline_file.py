"""Reading hotline exports: JSON lines or CSV, UTF-8 (with or without BOM) or GB18030, every rejection
naming its line.

The encoding is detected over the whole file, not guessed from its start: UTF-8 when every line decodes
as UTF-8, else GB18030 when every line decodes as that; a file that is neither is read in whichever
decodes more lines, and the lines that do not decode are rejected with their bytes.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from eventcore.deadletters import Rejection
from eventcore.http import may_be_hostile, structure_problem
from schemas.hotline import CSV_HEADER_SYNONYMS_ZH, CSV_HEADERS_ZH, LABEL_OF_FIELD, HotlineOrder
from services.intake.adapters.validation_errors import describe

JSON = "json"
CSV = "csv"


@dataclass(frozen=True)
class FileRecord:
    source: str
    line_no: int
    raw: bytes  # the record's bytes as they were in the file (or as sent over HTTP or a topic)
    format: str = JSON
    encoding: str = "utf-8"
    header: str | None = None  # CSV: the header line, so a dead-lettered row can be replayed alone
    fields: dict[str, str] | None = None  # CSV: the row by field name
    problem: tuple[str, str] | None = None  # (kind, reason) found while reading, before parsing
    at_end_unterminated: bool = False  # the file's last record with no line end: maybe cut off
    unit: str = "line"  # how `line_no` counts: file lines, records of an HTTP batch, topic offsets

    @property
    def where(self) -> str:
        return f"{self.unit} {self.line_no}"


class DuplicateKeys(ValueError):
    pass


def detect_encoding(path: Path) -> str:
    """utf-8-sig, utf-8 or gb18030, decided by the lines that are not plain ASCII.

    Almost any UTF-8 text also decodes as GB18030 (into nonsense), so "decodes without error" is no evidence
    for GB18030; valid multi-byte UTF-8, on the other hand, hardly ever happens by chance in GB18030 text.
    The file is UTF-8 when most non-ASCII lines are valid UTF-8, else GB18030.
    """
    with path.open("rb") as handle:
        if handle.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
    utf8, other = 0, 0
    with path.open("rb") as handle:
        for line in handle:
            if line.isascii():
                continue
            if _is_utf8(line):
                utf8 += 1
            else:
                other += 1
    return "utf-8" if utf8 >= other else "gb18030"


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def read_hotline_file(path: Path) -> Iterator[FileRecord]:
    encoding = detect_encoding(path)
    lines = _decoded_lines(path, encoding)
    source = f"hotline-file:{path.name}"
    if _is_csv(path):
        yield from _csv_records(source, encoding, lines)
    else:
        yield from _json_records(source, encoding, lines)


def read_json_lines(path: Path) -> Iterator[FileRecord]:
    """Kept for callers that know the file is JSON lines."""
    return read_hotline_file(path)


def _is_csv(path: Path) -> bool:
    if path.suffix.lower() in (".csv", ".tsv"):
        return True
    with path.open("rb") as handle:
        start = handle.read(64).lstrip(codecs.BOM_UTF8).lstrip()
    return not start.startswith(b"{") and path.suffix.lower() not in (".jsonl", ".json", ".ndjson")


@dataclass
class _Line:
    no: int
    raw: bytes  # without the line end
    text: str | None  # None when it does not decode
    error: str = ""
    terminated: bool = True


def _decoded_lines(path: Path, encoding: str) -> Iterator[_Line]:
    with path.open("rb") as handle:
        for no, chunk in enumerate(handle, start=1):
            terminated = chunk.endswith(b"\n")
            raw = chunk.rstrip(b"\r\n")
            if no == 1 and encoding == "utf-8-sig":
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as error:
                shown = "UTF-8" if encoding.startswith("utf-8") else "GB18030"
                message = (
                    f"line {no}: not valid {shown} at byte {error.start + 1} (the file is read as {shown})"
                )
                yield _Line(no, raw, None, message, terminated)
                continue
            if encoding == "gb18030" and not raw.isascii() and _is_utf8(raw):
                # It would decode, into nonsense: a UTF-8 line inside a GB18030 file.
                message = (
                    f"line {no}: this line is UTF-8 but the file is GB18030; re-export it in one encoding"
                )
                yield _Line(no, raw, None, message, terminated)
                continue
            yield _Line(no, raw, text, terminated=terminated)


def _json_records(source: str, encoding: str, lines: Iterable[_Line]) -> Iterator[FileRecord]:
    for line in lines:
        if line.text is not None and not line.text.strip():
            continue
        problem = ("encoding", line.error) if line.text is None else None
        yield FileRecord(
            source,
            line.no,
            line.raw,
            JSON,
            encoding,
            problem=problem,
            at_end_unterminated=not line.terminated,
        )


def _csv_records(source: str, encoding: str, lines: Iterable[_Line]) -> Iterator[FileRecord]:
    consumed: list[_Line] = []

    def texts() -> Iterator[str]:
        for line in lines:
            if line.text is None:
                consumed.append(line)  # reported on its own below; the reader never sees it
                continue
            consumed.append(line)
            yield line.text + "\n"

    reader = csv.reader(texts(), strict=True)
    header: list[str] | None = None
    header_text = ""
    while True:
        try:
            row = next(reader)
            error = None
        except StopIteration:
            row, error = None, None
        except csv.Error as failure:
            row, error = [], str(failure)
        taken, consumed[:] = list(consumed), []
        for bad in (line for line in taken if line.text is None):
            yield FileRecord(
                source, bad.no, bad.raw, CSV, encoding, header_text, problem=("encoding", bad.error)
            )
        good = [line for line in taken if line.text is not None]
        if row is None:
            return
        if not good or (error is None and not any(cell.strip() for cell in row)):
            continue
        if header is None:
            header, header_text = [cell.strip().lstrip("\ufeff") for cell in row], good[0].text or ""
            continue
        yield _csv_record(source, encoding, header, header_text, row, good, error)


def _csv_record(
    source: str,
    encoding: str,
    header: list[str],
    header_text: str,
    row: list[str],
    lines: list[_Line],
    error: str | None,
) -> FileRecord:
    first, last = lines[0], lines[-1]
    raw = b"\n".join(line.raw for line in lines)
    record = FileRecord(
        source, first.no, raw, CSV, encoding, header_text, at_end_unterminated=not last.terminated
    )
    problem = _csv_problem(header, row, error, record)
    if problem is not None:
        return replace(record, problem=problem)
    fields = {_field_name(name): cell for name, cell in zip(header, row, strict=True)}
    return replace(record, fields=fields)


def _csv_problem(
    header: list[str], row: list[str], error: str | None, record: FileRecord
) -> tuple[str, str] | None:
    where = record.where
    if error is not None:
        kind = "truncated" if record.at_end_unterminated else "invalid_csv"
        return (
            kind,
            f"{where}: {'file ends inside this record' if kind == 'truncated' else 'malformed CSV'}: {error}",
        )
    names = [_field_name(name) for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        shown = ", ".join(LABEL_OF_FIELD.get(name, name) for name in repeated)
        return "duplicate_key", f"{where}: the header (line 1) names column(s) {shown} more than once"
    if len(row) != len(header):
        if len(row) < len(header) and record.at_end_unterminated:
            return (
                "truncated",
                f"{where}: the file ends inside this record ({len(row)} of {len(header)} columns)",
            )
        return "invalid_csv", f"{where}: {len(row)} columns, the header has {len(header)}"
    return None


def _field_name(header: str) -> str:
    return CSV_HEADERS_ZH.get(header) or CSV_HEADER_SYNONYMS_ZH.get(header, header)


# -- parsing one record ------------------------------------------------------------------------------


def parse_order(record: FileRecord, *, as_of: datetime | None = None) -> HotlineOrder | Rejection:
    """The work order in a record, or why it cannot be one. `as_of` refuses times after it."""
    parsed = parse_record(record, as_of=as_of)
    return parsed if isinstance(parsed, Rejection) else parsed[0]


def parse_record(
    record: FileRecord, *, as_of: datetime | None = None
) -> tuple[HotlineOrder, dict[str, Any]] | Rejection:
    """The work order and the fields as sent (for the audit copy), or why it cannot be one."""
    if record.problem is not None:
        return reject(record, *record.problem)
    data = _csv_data(record) if record.format == CSV else _json_data(record)
    if isinstance(data, Rejection):
        return data
    data = _as_text(data)
    try:
        order = HotlineOrder.model_validate(data)
    except ValidationError as error:
        kind, reason = describe(error, LABEL_OF_FIELD)
        return reject(record, kind, f"{record.where}: {reason}", order_no=data.get("order_no"))
    if as_of is not None and order.received_at is not None and order.received_at > as_of:
        reason = (
            f"{record.where}: field 'received_at' (来电时间): {order.received_at.isoformat()} is in the future "
            f"(intake's clock: {as_of.isoformat(timespec='seconds')})"
        )
        return reject(record, "future_time", reason, order_no=order.order_no)
    return order, data


def _json_data(record: FileRecord) -> dict[str, Any] | Rejection:
    try:
        text = (
            record.raw.decode("utf-8")
            if record.encoding.startswith("utf-8")
            else record.raw.decode(record.encoding)
        )
    except UnicodeDecodeError as error:
        return reject(record, "encoding", f"{record.where}: not UTF-8 at byte {error.start}")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except DuplicateKeys as error:
        return reject(record, "duplicate_key", f"{record.where}: key {error} appears more than once")
    except RecursionError:
        return reject(record, "too_deep", f"{record.where}: the JSON is nested too deeply")
    except json.JSONDecodeError as error:
        if error.pos >= len(text.rstrip()) - 1 or error.msg.startswith("Unterminated string"):
            cut = (
                "the file ends inside this record" if record.at_end_unterminated else "the record is cut off"
            )
            return reject(record, "truncated", f"{record.where}: {cut} ({error.msg}, column {error.colno})")
        return reject(
            record, "invalid_json", f"{record.where}: invalid JSON at column {error.colno}: {error.msg}"
        )
    if not isinstance(data, dict):
        return reject(
            record, "invalid_json", f"{record.where}: expected a JSON object, got {type(data).__name__}"
        )
    if may_be_hostile(text) and (problem := structure_problem(data)):
        return reject(record, problem[0], f"{record.where}: {problem[1]}")
    return data


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKeys(repr(key))
        seen[key] = value
    return seen


def _csv_data(record: FileRecord) -> dict[str, Any]:
    """Empty cells count as absent (times, Chinese formats included, are read by the contract)."""
    return {name: cell for name, cell in (record.fields or {}).items() if cell.strip()}


def _as_text(data: dict[str, Any]) -> dict[str, Any]:
    """JSON exports write phone numbers, codes and order numbers as numbers: read them as the text they are."""
    return {
        key: str(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and key != "received_at"
        else value
        for key, value in data.items()
    }


def reject(record: FileRecord, kind: str, reason: str, order_no: object = None) -> Rejection:
    details = {"kind": kind, **record_details(record, order_no)}
    return Rejection(
        source=record.source, source_ref=record.where, reason=reason, payload=record.raw, details=details
    )


def record_details(record: FileRecord, order_no: object = None) -> dict[str, Any]:
    """Where a record came from, as its dead letter keeps it (enough to read it again)."""
    details: dict[str, Any] = {
        "line": record.line_no,
        "unit": record.unit,
        "order_no": order_no if isinstance(order_no, str) else None,
        "channel": "hotline",
        "format": record.format,
        "encoding": record.encoding,
    }
    if record.header is not None:
        details["header"] = record.header
    return details


def record_from_dead_letter(source: str, payload: bytes, details: dict[str, Any]) -> FileRecord:
    """Rebuild a record from a dead letter (possibly with corrected bytes) so it can be parsed again."""
    line_no = int(details.get("line") or 0)
    encoding = str(details.get("encoding") or "utf-8")
    if details.get("format") != CSV:
        return FileRecord(source, line_no, payload, JSON, encoding)
    header_text = str(details.get("header") or "")
    lines = [_Line(0, header_text.encode(encoding), header_text)]
    lines += [_Line(line_no, part, part.decode(encoding, errors="replace")) for part in payload.split(b"\n")]
    records = list(_csv_records(source, encoding, lines))
    return (
        records[0]
        if records
        else FileRecord(source, line_no, payload, CSV, encoding, problem=("empty_field", "empty record"))
    )
