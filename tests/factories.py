"""Test data: domain events and hotline work orders."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from district.directory import load_directory
from eventcore.store import PendingEvent
from schemas.base import EventMetadata
from schemas.cases import CaseOpened
from schemas.reference import Category, Channel, Urgency

BEIJING = timezone(timedelta(hours=8))


def case_opened(case_id: str, category: Category = Category.SANITATION) -> PendingEvent:
    event = CaseOpened(
        case_id=case_id,
        complaint_id=f"hotline:{case_id}",
        channel=Channel.HOTLINE,
        category=category,
        urgency=Urgency.NORMAL,
        received_at=datetime(2026, 11, 18, 9, 30, tzinfo=BEIJING),
        compound_code=None,
        street_code=None,
        complainant_id="p-test",
    )
    return PendingEvent(event, EventMetadata(correlation_id=case_id, actor="test"))


def write_hotline_file(path: Path, count: int, *, seed: int = 7, prefix: str = "T") -> Path:
    """`count` valid, unique work orders over every category, most in a known compound."""
    rng = random.Random(seed)
    compounds = load_directory().compounds
    categories = list(Category)
    start = datetime(2026, 11, 2, 8, 0, tzinfo=BEIJING)
    with path.open("w", encoding="utf-8") as handle:
        for number in range(count):
            compound = rng.choice(compounds)
            order = {
                "order_no": f"{prefix}-{number:07d}",
                "received_at": (start + timedelta(minutes=number)).isoformat(),
                "caller_name": "测试人",
                "caller_phone": f"139{rng.randrange(10**8):08d}",
                "kind": "complaint",
                "category": categories[number % len(categories)].value,
                "description": "楼道堆放杂物，影响通行。",
                "address": f"{compound.name_zh}{rng.randrange(1, 30)}号楼",
                "street": "",
                "compound": compound.name_zh if number % 5 else "",
                "urgency": "urgent" if number % 11 == 0 else "normal",
            }
            handle.write(json.dumps(order, ensure_ascii=False) + "\n")
    return path
