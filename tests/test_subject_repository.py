"""An aggregate spread over several streams about one subject: each stream keeps its own version, one state
decides on all of them, and a unit of work sees what it saved before flushing."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import NAMESPACE_URL, uuid5

import asyncpg
import pytest

from eventcore.aggregate import SubjectRepository
from eventcore.consumer import ServiceStores
from eventcore.store import ConcurrencyError, PendingEvent
from schemas.base import DomainEvent, EventMetadata
from schemas.reference import Bureau
from schemas.sla import SlaCallbackRecorded, SlaLeadBureauRecorded

AT = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
METADATA = EventMetadata(correlation_id="c", actor="test")
History = tuple[str, ...]


def evolve(history: History | None, event: DomainEvent) -> History:
    """What the subject heard, in order: enough to see which events a load folded."""
    return (*(history or ()), f"{event.event_type}:{event.case_id}")


def called_back(case_id: str, outcome: str = "satisfied") -> SlaCallbackRecorded:
    return SlaCallbackRecorded(case_id=case_id, outcome=outcome, called_back_at=AT)


def lead(case_id: str) -> SlaLeadBureauRecorded:
    return SlaLeadBureauRecorded(case_id=case_id, lead_bureau=Bureau.FIRE_RESCUE, file_id="f")


@pytest.fixture
def stores(pool: asyncpg.Pool) -> ServiceStores:
    return ServiceStores(pool, "svc", source="/caseline/test")


CASES = SubjectRepository(evolve, publish_to=None)


async def test_a_subjects_streams_are_loaded_together_each_at_its_own_version(stores: ServiceStores) -> None:
    async with stores.unit_of_work() as uow:
        loaded = await CASES.load(uow, "C1")
        CASES.save(
            uow,
            loaded,
            [("case/C1", called_back("C1")), ("task/C1", lead("C1")), ("case/C1", called_back("C1", "x"))],
            METADATA,
        )
        assert (await CASES.load(uow, "C1")).state == (
            "SlaCallbackRecorded:C1",
            "SlaCallbackRecorded:C1",
            "SlaLeadBureauRecorded:C1",
        )
        other = await CASES.load(uow, "C2")
        CASES.save(uow, other, [("case/C2", called_back("C2"))], METADATA)
    async with stores.unit_of_work() as uow:
        found = await CASES.load_many(uow, ["C1", "C2", "C3"])
    assert dict(found["C1"].versions) == {"case/C1": 2, "task/C1": 1}
    # stream by stream, as stored: what the unit of work remembered is what a reload sees
    assert found["C1"].state == (
        "SlaCallbackRecorded:C1",
        "SlaCallbackRecorded:C1",
        "SlaLeadBureauRecorded:C1",
    )
    assert found["C2"].state == ("SlaCallbackRecorded:C2",)  # another subject's events are not folded in
    assert found["C3"].state is None and found["C3"].version("case/C3") == 0


async def test_a_second_decision_in_one_unit_of_work_sees_the_first_without_a_flush(
    stores: ServiceStores,
) -> None:
    async with stores.unit_of_work() as uow:
        first = await CASES.load(uow, "C1")
        CASES.save(uow, first, [("case/C1", called_back("C1"))], METADATA)
        second = await CASES.load(uow, "C1")
        assert second.state == ("SlaCallbackRecorded:C1",) and second.version("case/C1") == 1
        CASES.save(uow, second, [("case/C1", lead("C1"))], METADATA)
    async with stores.unit_of_work() as uow:
        assert (await CASES.load(uow, "C1")).version("case/C1") == 2


async def test_a_writer_behind_on_one_stream_conflicts_while_the_subjects_other_stream_is_free(
    stores: ServiceStores,
) -> None:
    async with stores.unit_of_work() as uow:
        CASES.save(uow, await CASES.load(uow, "C1"), [("case/C1", called_back("C1"))], METADATA)
    async with stores.unit_of_work() as uow:
        stale = await CASES.load(uow, "C1")
    async with stores.unit_of_work() as uow:  # someone else moves the case stream
        CASES.save(uow, await CASES.load(uow, "C1"), [("case/C1", lead("C1"))], METADATA)
    async with stores.unit_of_work() as uow:  # the task stream did not move: no conflict there
        CASES.save(uow, stale, [("task/C1", lead("C1"))], METADATA)
    with pytest.raises(ConcurrencyError):
        async with stores.unit_of_work() as uow:
            CASES.save(uow, stale, [("case/C1", called_back("C1", "again"))], METADATA)
    async with stores.unit_of_work() as uow:
        assert dict((await CASES.load(uow, "C1")).versions) == {"case/C1": 2, "task/C1": 1}


async def test_a_stream_started_by_two_writers_is_written_once_and_known_to_both(
    stores: ServiceStores,
) -> None:
    alert = "alert/C1/breached"

    def pending() -> list[PendingEvent]:
        return [PendingEvent(lead("C1"), METADATA, event_id=uuid5(NAMESPACE_URL, alert))]

    async with stores.unit_of_work() as uow:
        loaded = await CASES.load(uow, "C1")
        async with stores.unit_of_work() as racing:  # another writer starts it first
            CASES.start(racing, await CASES.load(racing, "C1"), alert, pending())
        started = CASES.start(uow, loaded, alert, pending())
        assert started.state == ("SlaLeadBureauRecorded:C1",) and started.version(alert) == 1
        assert CASES.start(uow, started, alert, pending()) is started  # a stream it has: left alone
    assert alert not in uow.created_streams
    async with stores.unit_of_work() as uow:
        again = await CASES.load(uow, "C1")
    assert again.state == ("SlaLeadBureauRecorded:C1",) and dict(again.versions) == {alert: 1}
