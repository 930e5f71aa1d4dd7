"""Prometheus metrics, computed at scrape time from the watch's clocks (so they survive restarts and replays).

Per-case figures (open cases, clocks at risk or breached, time-to histograms) carry a `district` label: unit
and company codes are district-local, so `unit="ST01"` alone would add up two districts' streets.
Consumer lag is read from the broker for every Caseline consumer group. What every service reports about
itself (messages consumed, outbox backlog, dead letters) comes from eventcore.metrics, on each service's
own /metrics.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime

from aiokafka import TopicPartition
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from eventcore.kafka import new_consumer
from eventcore.logging import get_logger
from schemas.sla import ClockKind
from schemas.topics import ALL_TOPICS
from services import SERVICE_NAMES
from services.sla.adapters.archive import BUCKETS, TIMED_KINDS, Durations, timed_durations
from services.sla.adapters.watch import Watch
from services.sla.domain.clocks import CaseClocks, ClockState

log = get_logger(__name__)
CONSUMER_GROUPS = SERVICE_NAMES  # each service consumes as the group named after it


def case_state(case: CaseClocks) -> str | None:
    """Where an open case stands, from its clocks (None: nothing is running or paused)."""
    by_kind = {c.kind: c.state for c in case.clocks.values() if c.state is not ClockState.STOPPED}
    if by_kind.get(ClockKind.DISPATCH) is ClockState.RUNNING:
        return "awaiting_dispatch"
    if by_kind.get(ClockKind.CONTACT) is ClockState.RUNNING:
        return "awaiting_contact"
    if by_kind.get(ClockKind.RESOLVE) is ClockState.RUNNING:
        return "in_progress"
    if ClockState.PAUSED in by_kind.values():
        return "paused"
    if ClockKind.TASK in by_kind:
        return "joint_enforcement"
    return None


class BrokerFigures:
    """Consumer lag per group and topic, refreshed in the background (the broker is too slow to ask per scrape)."""

    def __init__(self) -> None:
        self.lag: dict[tuple[str, str], int] = {}

    async def run(self, bootstrap: str, stop: asyncio.Event, every: float = 10.0) -> None:
        while not stop.is_set():
            try:
                self.lag = await consumer_lag(bootstrap, CONSUMER_GROUPS)
            except Exception as error:  # noqa: BLE001 - a metric source being down must not stop the watch
                log.warning("metrics_refresh_failed", error=repr(error))
            try:
                await asyncio.wait_for(stop.wait(), timeout=every)
            except TimeoutError:
                pass


async def consumer_lag(bootstrap: str, services: Iterable[str]) -> dict[tuple[str, str], int]:
    """Records each service's consumer group has not committed yet, per topic.

    Read through a group member that never joins (no subscription), because some Kafka-protocol brokers
    (Tansu) do not answer the admin client's OffsetFetch; a consumer's coordinator speaks the same
    request the group itself uses to resume.
    """
    lag: dict[tuple[str, str], int] = {}
    for service in services:
        consumer = new_consumer(
            bootstrap_servers=bootstrap, group_id=f"caseline.{service}", enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in ALL_TOPICS
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            committed = await consumer._coordinator.fetch_committed_offsets(set(partitions))
            positions = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
            ends = await consumer.end_offsets(list(positions)) if positions else {}
            for tp, offset in positions.items():
                key = (service, tp.topic)
                lag[key] = lag.get(key, 0) + max(ends.get(tp, offset) - offset, 0)
        finally:
            await consumer.stop()
    return lag


class SlaCollector(Collector):
    def __init__(self, watch: Watch, figures: BrokerFigures, districts: Iterable[str]) -> None:
        self.watch = watch
        self.figures = figures
        self.districts = tuple(districts)  # each served district shows its zeros too

    def collect(self) -> Iterator[Metric]:
        now = self.watch.now()
        yield self._open_cases()
        yield self._clocks(now)
        yield from self._histograms()
        lag = GaugeMetricFamily(
            "caseline_consumer_lag", "Records not yet consumed", labels=["service", "topic"]
        )
        for (service, topic), value in sorted(self.figures.lag.items()):
            lag.add_metric([service, topic], value)
        yield lag
        held = GaugeMetricFamily(
            "caseline_sla_watch_cases",
            "Cases the watch holds in memory (open, or closed recently) and closed ones it archived",
            labels=["held"],
        )
        held.add_metric(["in_memory"], len(self.watch.cases))
        held.add_metric(["archived"], self.watch.archive.cases)
        yield held

    def _open_cases(self) -> Metric:
        counts: Counter[tuple[str, str, str, str, str]] = Counter()
        for case in list(self.watch.cases.values()):
            state = case_state(case)
            scope = case.scope
            if state is None or scope is None:
                continue
            counts[
                (
                    scope.district,
                    scope.level or "none",
                    scope.unit_code or "none",
                    state,
                    scope.category.value if scope.category else "none",
                )
            ] += 1
        family = GaugeMetricFamily(
            "caseline_open_cases",
            "Open cases",
            labels=["district", "level", "unit", "state", "category"],
        )
        for labels, value in sorted(counts.items()):
            family.add_metric(list(labels), value)
        return family

    def _clocks(self, now: datetime) -> Metric:
        counts: Counter[tuple[str, str, str]] = Counter()
        for clock in list(self.watch.clocks()):
            if clock.state is ClockState.STOPPED:
                continue
            district = clock.scope.district
            if clock.is_overdue(now):
                counts[(district, clock.kind.value, "breached")] += 1
            elif clock.at_risk_alerted or (clock.at_risk_at is not None and now >= clock.at_risk_at):
                counts[(district, clock.kind.value, "at_risk")] += 1
        family = GaugeMetricFamily(
            "caseline_sla_clocks",
            "Open SLA clocks at risk or breached",
            labels=["district", "kind", "status"],
        )
        seen = {district for district, _, _ in counts}
        for district in sorted(seen.union(self.districts)):
            for kind in ClockKind:
                for status in ("at_risk", "breached"):
                    family.add_metric([district, kind.value, status], counts[(district, kind.value, status)])
        return family

    def _histograms(self) -> Iterator[Metric]:
        """From the cases in memory and what archived cases left in the archive."""
        durations: dict[tuple[ClockKind, str], Durations] = {}
        for case in list(self.watch.cases.values()):
            for kind, district, seconds in timed_durations(case):
                durations.setdefault((kind, district), Durations()).add(seconds)
        for key, archived in self.watch.archive.durations.items():
            merged = durations.setdefault(key, Durations())
            merged.per_bucket = [a + b for a, b in zip(merged.per_bucket, archived.per_bucket, strict=True)]
            merged.count += archived.count
            merged.total += archived.total
        districts = sorted({d for _, d in durations}.union(self.districts))
        for kind in TIMED_KINDS:
            family = HistogramMetricFamily(
                f"caseline_time_to_{kind.value}_seconds",
                f"Wall-clock time from start to {kind.value}",
                labels=["district"],
            )
            for district in districts:
                values = durations.get((kind, district), Durations())
                cumulative = values.cumulative()
                buckets = [(_le(bound), cumulative[i]) for i, bound in enumerate(BUCKETS)]
                buckets.append(("+Inf", values.count))
                family.add_metric([district], buckets, sum_value=values.total)
            yield family


def _le(bound: float) -> str:
    return f"{bound:g}"
