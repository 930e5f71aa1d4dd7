"""Every service's own figures on /metrics: what it consumed, published and rejected, and what is waiting.

Counters count in this process and start at zero after a restart, as Prometheus counters should. The outbox
backlog and the dead letters are read from the service's schema at scrape time, so every replica reports the
same figures whichever replica holds the relay, and a restart does not hide a backlog.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from eventcore.auth import AUTH_FAILURES
from eventcore.consumer import BatchOutcome
from eventcore.database import checked_schema
from eventcore.delivery_check import CHECKS, DeliveryCheck
from eventcore.logging import get_logger
from eventcore.relay import OutboxRelay

log = get_logger(__name__)
BATCH_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class StoreFigures:
    """Read from the service's schema when scraped; `readable` is False when the database did not answer."""

    unpublished: int = 0
    oldest_unpublished_seconds: float = 0.0
    dead_letters_waiting: int = 0
    dead_letters_replayed: int = 0
    readable: bool = False


class ServiceMetrics:
    def __init__(self, service: str, schema: str) -> None:
        self.service = service
        self.schema = checked_schema(schema)
        self.registry = CollectorRegistry()
        self.consumed = Counter(
            "caseline_messages_consumed",
            "Records this replica consumed, by what became of them",
            ["service", "topic", "outcome"],
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "caseline_consume_batch_seconds",
            "Time to handle one topic's part of a batch, commit included",
            ["service", "topic"],
            registry=self.registry,
            buckets=BATCH_SECONDS_BUCKETS,
        )
        self.store = StoreFigures()
        self.relay: OutboxRelay | None = None
        self.delivery: DeliveryCheck | None = None
        self.assigned: Callable[[], Mapping[str, Sequence[int]]] = dict
        self.registry.register(_RuntimeCollector(self))
        self.registry.register(AUTH_FAILURES)

    def record(self, topic: str, outcome: BatchOutcome, seconds: float) -> None:
        for name, count in outcome.counts().items():
            if count:
                self.consumed.labels(self.service, topic, name).inc(count)
        self.batch_seconds.labels(self.service, topic).observe(seconds)

    def register(self, collectors: Sequence[Collector]) -> None:
        for collector in collectors:
            self.registry.register(collector)

    async def exposition(self, pool: asyncpg.Pool | None) -> bytes:
        """The text format for one scrape, the store figures read fresh first."""
        self.store = await self._read_store(pool)
        return generate_latest(self.registry)

    async def _read_store(self, pool: asyncpg.Pool | None) -> StoreFigures:
        if pool is None:
            return StoreFigures()
        s = self.schema
        try:
            async with asyncio.timeout(2), pool.acquire() as conn:
                row = await conn.fetchrow(
                    f"SELECT (SELECT count(*) FROM {s}.outbox WHERE published_at IS NULL) AS unpublished, "
                    f"(SELECT extract(epoch FROM clock_timestamp() - min(created_at)) FROM {s}.outbox "
                    "WHERE published_at IS NULL) AS oldest, "
                    f"(SELECT count(*) FILTER (WHERE replayed_at IS NULL) FROM {s}.dead_letters) AS waiting, "
                    f"(SELECT count(*) FILTER (WHERE replayed_at IS NOT NULL) FROM {s}.dead_letters) AS replayed"
                )
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("metrics_store_unreadable", error=str(error))
            return StoreFigures()
        assert row is not None
        return StoreFigures(
            unpublished=int(row["unpublished"]),
            oldest_unpublished_seconds=float(row["oldest"] or 0.0),
            dead_letters_waiting=int(row["waiting"]),
            dead_letters_replayed=int(row["replayed"]),
            readable=True,
        )


class _RuntimeCollector(Collector):
    """The figures that are state, not events: relay, partitions, the store's backlog."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        service, store, relay = self.metrics.service, self.metrics.store, self.metrics.relay
        published = CounterMetricFamily(
            "caseline_messages_published",
            "Outbox messages this replica's relay published and saw acknowledged",
            labels=["service", "topic"],
        )
        for topic, count in sorted((relay.published_by_topic if relay else {}).items()):
            published.add_metric([service, topic], count)
        yield published
        lost = CounterMetricFamily(
            "caseline_relay_log_lost",
            "Times this replica's relay found a topic's log lost by the broker and re-drove it",
            labels=["service", "topic"],
        )
        for topic, count in sorted((relay.log_losses if relay else {}).items()):
            lost.add_metric([service, topic], count)
        yield lost
        yield from self._delivery_gaps()
        yield _gauge(
            "caseline_relay_leader",
            "1 on the replica whose relay publishes the service's outbox (one per service)",
            service,
            int(bool(relay and relay.is_leader)),
        )
        partitions = GaugeMetricFamily(
            "caseline_assigned_partitions",
            "Partitions this replica consumes now",
            labels=["service", "topic"],
        )
        for topic, numbers in sorted(self.metrics.assigned().items()):
            partitions.add_metric([service, topic], len(numbers))
        yield partitions
        yield _gauge(
            "caseline_store_readable",
            "1 when the figures below were read from the database",
            service,
            int(store.readable),
        )
        yield _gauge(
            "caseline_outbox_unpublished", "Committed messages not yet published", service, store.unpublished
        )
        yield _gauge(
            "caseline_outbox_oldest_unpublished_seconds",
            "Age of the oldest committed message not yet published (0 when none)",
            service,
            store.oldest_unpublished_seconds,
        )
        dead = GaugeMetricFamily(
            "caseline_dead_letters",
            "Rejected input kept with its reason: waiting for a fix, or replayed",
            labels=["service", "state"],
        )
        dead.add_metric([service, "waiting"], store.dead_letters_waiting)
        dead.add_metric([service, "replayed"], store.dead_letters_replayed)
        yield dead

    def _delivery_gaps(self) -> Iterator[Metric]:
        service, delivery = self.metrics.service, self.metrics.delivery
        now = time.monotonic()
        size = GaugeMetricFamily(
            "caseline_audit_gap",
            "What this service's background check found not where it should be yet (eventcore.delivery_check)",
            labels=["service", "check"],
        )
        stuck = GaugeMetricFamily(
            "caseline_audit_gap_stuck_seconds",
            "How long that gap has not shrunk (0 while there is none or it closes)",
            labels=["service", "check"],
        )
        for check in CHECKS:
            gap = delivery.gaps[check] if delivery else None
            size.add_metric([service, check], gap.size if gap else 0)
            stuck.add_metric([service, check], gap.stuck_seconds(now) if gap else 0.0)
        yield size
        yield stuck


def _gauge(name: str, documentation: str, service: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation, labels=["service"])
    gauge.add_metric([service], value)
    return gauge
