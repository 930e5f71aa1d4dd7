"""The shared aggregate repository (eventcore.aggregate) against the real PostgreSQL: load, save, the unit of
work's identity map, optimistic concurrency and upcasting on load.

The aggregate is a test-only tally with its own contracts and mapper, registered nowhere else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import asyncpg
import pytest

from eventcore.aggregate import Repository
from eventcore.consumer import ServiceStores
from eventcore.mapper import EventMapper, UnknownEventType
from eventcore.store import ConcurrencyError, PendingEvent
from schemas.base import DomainEvent, EventMetadata


class TallyStarted(DomainEvent):
    event_type: ClassVar[str] = "TallyStarted"
    counting: str


class TallyCountedV1(DomainEvent):
    """The first version: the amount was called `n`."""

    event_type: ClassVar[str] = "TallyCounted"
    schema_version: ClassVar[int] = 1
    n: int


class TallyCounted(DomainEvent):
    event_type: ClassVar[str] = "TallyCounted"
    schema_version: ClassVar[int] = 2
    amount: int


def _counted_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    upcast = {key: value for key, value in data.items() if key != "n"}
    return upcast | {"amount": data["n"]}


TALLY_MAPPER = EventMapper.of([TallyStarted, TallyCounted], {("TallyCounted", 1): _counted_v1_to_v2})
WITHOUT_UPCASTER = EventMapper.of([TallyStarted, TallyCounted])


@dataclass(frozen=True)
class Tally:
    counting: str
    total: int = 0


def evolve(tally: Tally | None, event: DomainEvent) -> Tally:
    if isinstance(event, TallyStarted):
        return Tally(event.counting)
    assert tally is not None, "a tally counts once it has started"
    if isinstance(event, TallyCounted):
        return replace(tally, total=tally.total + event.amount)
    return tally


TALLIES = Repository(evolve, publish_to=None, mapper=TALLY_MAPPER)
METADATA = EventMetadata(correlation_id="journey-1", actor="test")


@pytest.fixture
async def stores(pool: asyncpg.Pool) -> AsyncIterator[ServiceStores]:
    yield ServiceStores(pool, "svc", source="/caseline/test")


async def stored_versions(stores: ServiceStores, stream_id: str) -> list[tuple[int, str]]:
    async with stores.pool.acquire() as conn:
        return [(r.stream_version, r.event_type) for r in await stores.store.read_stream(conn, stream_id)]


async def test_an_unknown_tally_loads_at_version_zero_with_no_state(stores: ServiceStores) -> None:
    async with stores.unit_of_work() as uow:
        loaded = await TALLIES.load(uow, "tally-nowhere")
    assert (loaded.version, loaded.state, loaded.exists, loaded.correlation_id) == (0, None, False, None)


async def test_a_saved_tally_is_seen_by_a_later_load_in_the_same_unit_of_work_before_any_flush(
    stores: ServiceStores,
) -> None:
    async with stores.unit_of_work() as uow:
        fresh = await TALLIES.load(uow, "tally-1")
        TALLIES.save(uow, fresh, [TallyStarted(case_id="c1", counting="bins")], METADATA)
        again = await TALLIES.load(uow, "tally-1")
        TALLIES.save(uow, again, [TallyCounted(case_id="c1", amount=2)], METADATA)
        later = await TALLIES.load(uow, "tally-1")
        nothing_written_yet = await uow.store.read_stream(uow.conn, "tally-1")
    assert (again.version, again.state) == (1, Tally("bins"))
    assert (later.version, later.state, later.correlation_id) == (2, Tally("bins", 2), "journey-1")
    assert nothing_written_yet == []
    assert await stored_versions(stores, "tally-1") == [(1, "TallyStarted"), (2, "TallyCounted")]
    async with stores.unit_of_work() as uow:
        from_the_store = await TALLIES.load(uow, "tally-1")
    assert (from_the_store.version, from_the_store.state) == (2, Tally("bins", 2))


async def test_two_units_of_work_that_loaded_the_same_version_cannot_both_count(
    stores: ServiceStores,
) -> None:
    async with stores.unit_of_work() as uow:
        TALLIES.save(
            uow, await TALLIES.load(uow, "tally-2"), [TallyStarted(case_id="c2", counting="bins")], METADATA
        )
    with pytest.raises(ConcurrencyError) as conflict:
        async with stores.unit_of_work() as loser:
            seen_by_loser = await TALLIES.load(loser, "tally-2")
            async with stores.unit_of_work() as winner:
                seen_by_winner = await TALLIES.load(winner, "tally-2")
                TALLIES.save(winner, seen_by_winner, [TallyCounted(case_id="c2", amount=5)], METADATA)
            TALLIES.save(loser, seen_by_loser, [TallyCounted(case_id="c2", amount=7)], METADATA)
    assert (seen_by_loser.version, seen_by_winner.version) == (1, 1)
    assert (conflict.value.stream_id, conflict.value.expected_version) == ("tally-2", 1)
    assert await stored_versions(stores, "tally-2") == [(1, "TallyStarted"), (2, "TallyCounted")]
    async with stores.unit_of_work() as uow:
        assert (await TALLIES.load(uow, "tally-2")).state == Tally("bins", 5)  # the winner's count alone


async def test_a_stored_first_version_count_is_upcast_when_the_tally_loads(stores: ServiceStores) -> None:
    async with stores.unit_of_work() as uow:
        old = [TallyStarted(case_id="c3", counting="bins"), TallyCountedV1(case_id="c3", n=3)]
        uow.append("tally-3", 0, [PendingEvent(e, METADATA) for e in old], publish_to=None)
    async with stores.pool.acquire() as conn:
        [_, stored] = await stores.store.read_stream(conn, "tally-3")
    assert (stored.schema_version, stored.data["n"]) == (1, 3)  # the row keeps the version it was written in
    async with stores.unit_of_work() as uow:
        loaded = await TALLIES.load(uow, "tally-3")
        with pytest.raises(UnknownEventType):
            await Repository(evolve, publish_to=None, mapper=WITHOUT_UPCASTER).load(uow, "tally-3")
    assert (loaded.version, loaded.state) == (2, Tally("bins", 3))


async def test_a_tally_started_twice_is_started_once_and_the_start_is_seen_without_a_read(
    stores: ServiceStores,
) -> None:
    async with stores.unit_of_work() as uow:
        started = TALLIES.start(uow, "tally-4", [TallyStarted(case_id="c4", counting="bins")], METADATA)
        repeat = TALLIES.start(uow, "tally-4", [TallyStarted(case_id="c4", counting="cups")], METADATA)
        TALLIES.save(uow, await TALLIES.load(uow, "tally-4"), [TallyCounted(case_id="c4", amount=1)], METADATA)
    assert (started.version, started.state) == (1, Tally("bins"))
    assert repeat == started
    async with stores.unit_of_work() as later:  # published again in a later batch: the stream exists
        TALLIES.start(later, "tally-4", [TallyStarted(case_id="c4", counting="cups")], METADATA)
    assert await stored_versions(stores, "tally-4") == [(1, "TallyStarted"), (2, "TallyCounted")]


async def test_tallies_loaded_together_take_one_query_and_later_loads_find_them_in_the_unit_of_work(
    stores: ServiceStores, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with stores.unit_of_work() as uow:
        for n in (5, 6):
            started = [TallyStarted(case_id=f"c{n}", counting="bins"), TallyCounted(case_id=f"c{n}", amount=n)]
            uow.append(f"tally-{n}", 0, [PendingEvent(e, METADATA) for e in started], publish_to=None)
    reads: list[list[str]] = []
    read_streams = stores.store.read_streams

    async def counted(conn: Any, stream_ids: list[str]) -> Any:
        reads.append(list(stream_ids))
        return await read_streams(conn, stream_ids)

    monkeypatch.setattr(stores.store, "read_streams", counted)
    monkeypatch.setattr(stores.store, "read_stream", None)  # a load after the preload must not read
    async with stores.unit_of_work() as uow:
        loaded = await TALLIES.load_many(uow, ["tally-5", "tally-6", "tally-none", "tally-5"])
        again = [await TALLIES.load(uow, s) for s in ("tally-5", "tally-6", "tally-none")]
    assert reads == [["tally-5", "tally-6", "tally-none"]]
    assert {s: (lo.version, lo.state) for s, lo in loaded.items()} == {
        "tally-5": (2, Tally("bins", 5)),
        "tally-6": (2, Tally("bins", 6)),
        "tally-none": (0, None),
    }
    assert again == [loaded["tally-5"], loaded["tally-6"], loaded["tally-none"]]
    assert loaded["tally-5"].correlation_id == "journey-1"


async def test_a_replay_reads_each_tally_of_a_kind_whole_in_order_across_pages_and_no_other_stream(
    stores: ServiceStores,
) -> None:
    """EventStore.each_stream, what the read models' rebuilds fold: pages smaller than a stream still give
    each stream once, all its events in order, decoded (and upcast) by the mapper."""
    async with stores.unit_of_work() as uow:
        for name, amounts in (("tally-b", [1, 2, 3]), ("tally-a", [4]), ("other-z", [9])):
            counted = [TallyCounted(case_id=name, amount=n) for n in amounts]
            events = [TallyStarted(case_id=name, counting="bins"), *counted]
            uow.append(name, 0, [PendingEvent(e, METADATA) for e in events], publish_to=None)
    async with stores.pool.acquire() as conn, conn.transaction():
        streams = [
            (stream_id, [evolve_all(events)])
            async for stream_id, events in stores.store.each_stream(conn, "tally-", TALLY_MAPPER.from_json, page=2)
        ]
    assert streams == [("tally-a", [Tally("bins", 4)]), ("tally-b", [Tally("bins", 6)])]


async def test_a_replay_refuses_a_stream_prefix_that_is_not_a_plain_name(stores: ServiceStores) -> None:
    async with stores.pool.acquire() as conn, conn.transaction():
        with pytest.raises(ValueError, match="stream prefix"):
            [_ async for _ in stores.store.each_stream(conn, "x'; --", TALLY_MAPPER.from_json)]


def evolve_all(events: list[DomainEvent]) -> Tally | None:
    tally = None
    for event in events:
        tally = evolve(tally, event)
    return tally
