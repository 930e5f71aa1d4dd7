"""Property-based, through the staff API and the real PostgreSQL: whatever staff send, every accepted command's
events are stored at the next versions, refused ones store nothing, and the read model is the folded stream."""

from __future__ import annotations

import itertools

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventcore.consumer import ServiceStores
from schemas.reference import Category
from services.routing.adapters.case_store import load_case
from services.routing.adapters.case_view import COLUMNS, row_of
from tests.test_case_lifecycle import DIRECTORY, complaint, compound
from tests.test_routing_service import VIEW, api, as_unit, receive, stores  # noqa: F401 - fixtures

ACTIONS: dict[str, dict[str, object]] = {
    "accept": {},
    "progress": {"note": "on it"},
    "resolve": {"resolution": "fixed"},
    "return": {"reason": "not ours"},
    "escalate": {"reason": "needs bureaus"},
    "callback": {"outcome": "dissatisfied"},
    "callback-ok": {"outcome": "satisfied"},
    "reopen": {"detail": "called again"},
}
_ids = itertools.count()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    category=st.sampled_from([Category.SANITATION, Category.SECURITY_ACCESS, Category.FIRE_HAZARD]),
    plan=st.lists(
        st.tuples(st.sampled_from(sorted(ACTIONS)), st.sampled_from(["handler", "centre", "other"])),
        max_size=12,
    ),
)
async def test_any_sequence_of_staff_commands_stores_exactly_the_accepted_events_and_keeps_the_row_in_step(
    stores: ServiceStores,  # noqa: F811 - the fixture
    api: httpx.AsyncClient,  # noqa: F811 - the fixture
    category: Category,
    plan: list[tuple[str, str]],
) -> None:
    case_id = f"case-p{next(_ids)}"
    await receive(stores, complaint(category, where=compound(), case_id=case_id), first=next(_ids) * 100)
    version = 2
    for action, who in plan:
        row = (await api.get(f"/cases/{case_id}", headers=as_unit("centre"))).json()
        unit = {
            "handler": row["unit_code"] or "centre",
            "centre": "centre",
            "other": DIRECTORY.communities[-1].code,
        }
        body = {"expected_version": version, "staff_id": "p", **ACTIONS[action]}
        answer = await api.post(
            f"/cases/{case_id}/{action.removesuffix('-ok')}", json=body, headers=as_unit(unit[who])
        )
        assert answer.status_code in (200, 403, 404, 409), answer.text
        if answer.status_code == 200:
            assert answer.json()["version"] == version + len(answer.json()["events"])
            version = answer.json()["version"]
    async with stores.pool.acquire() as conn:
        case = await load_case(conn, stores.store, case_id)
        stored_row = await VIEW.get(conn, case_id)
    assert case is not None and case.version == version
    assert stored_row is not None and tuple(stored_row[c] for c in COLUMNS) == row_of(case)
