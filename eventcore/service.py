"""The runtime every service shares: pool, migrations, Kafka broker, outbox relay, /healthz and /metrics.

A service describes itself with a `ServiceSpec` (its schema, subscriptions and HTTP routes); this
module turns that into a FastAPI application whose lifespan starts and stops everything in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from eventcore.auth import Authenticator, AuthRefused, Principal, TokenVerifier
from eventcore.collector import freeze_long_lived
from eventcore.consumed_log_check import ConsumedLogCheck
from eventcore.consumer import Handler, Preload, ServiceStores, consume_batch
from eventcore.database import create_pool, migrate
from eventcore.delivery_check import DeliveryCheck, Positions
from eventcore.failures import RetryPolicy, ShuttingDown
from eventcore.http import BodyGuard, BodyPolicy, error_responses
from eventcore.kafka import ensure_topics, faststream_security
from eventcore.logging import get_logger
from eventcore.metrics import ServiceMetrics
from eventcore.outbox import notify_channel
from eventcore.relay import OutboxRelay
from eventcore.settings import Settings
from eventcore.unit_of_work import Projector
from schemas.base import DomainEvent
from schemas.topics import ALL_TOPICS

log = get_logger(__name__)
# A SIGTERM must end in an exit within 5 s: HTTP requests get 1 s (uvicorn), the batch being handled
# finishes and is committed within this, the relay and background tasks get what is left.
CONSUMER_GRACE_SECONDS = 2.5
TASKS_GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class Subscription:
    """A topic and its handler: CloudEvents of the `handles` types, or, with `raw`, every record as bytes."""

    topic: str
    handler: Handler
    handles: tuple[type[DomainEvent], ...] = ()
    raw: bool = False
    preload: Preload | None = None  # what the handler loads, fetched for a whole batch at once

    @property
    def wanted(self) -> frozenset[str]:
        return frozenset(event.cloudevent_type() for event in self.handles)


@dataclass(frozen=True)
class FetchGathering:
    """Fetches the broker holds until `min_bytes` of records are waiting or `wait_ms` has passed (Kafka's
    fetch.min.bytes and fetch.max.wait.ms), so the consumer takes a few large batches instead of many small
    ones. Each batch costs a transaction, an offset commit and a fetch however few records it holds; for a
    consumer whose records no person waits on within a fraction of a second, that is worth a wait of up to
    `wait_ms`. Tansu honours both, as Apache Kafka does."""

    min_bytes: int = 64 * 1024  # ~120 case facts (a CaseOpened is ~0.6 KB with its headers)
    wait_ms: int = 200


@dataclass
class ServiceSpec:
    name: str
    schema: str
    subscriptions: Sequence[Subscription] = ()
    extra_ddl: Sequence[str] = ()
    routers: Sequence[APIRouter] = ()
    on_started: Callable[[ServiceRuntime], Awaitable[None]] | None = None
    projector: Projector | None = None  # keeps the service's read model in step with its appends
    collectors: Sequence[Collector] = ()  # the service's own figures, served on /metrics with the runtime's
    # Who may call: in production /openapi.json answers only principals this authenticator knows.
    authenticator: Authenticator | None = None
    body: BodyPolicy = field(default_factory=BodyPolicy)
    http_port: int | None = None  # the port the service's own settings name, for the start-up log line
    # How long a record may wait for this service's consumer on quiet partitions, when that is longer than
    # the settings' fetch wait and poll: for a service whose consumers no person waits on, fewer idle
    # fetches (on Tansu each costs the broker and the client a round of every partition) are worth more than
    # a few milliseconds (see _subscribe).
    patient_consumer_ms: int = 0
    # Batches gathered by the broker (see FetchGathering); None: a fetch is answered once any record is there.
    gathering: FetchGathering | None = None


@dataclass
class ServiceRuntime:
    """What a running service holds; handlers and HTTP routes reach their stores through it."""

    spec: ServiceSpec
    settings: Settings
    broker: KafkaBroker
    pool: asyncpg.Pool | None = None
    relay: OutboxRelay | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    subscribers: list[Any] = field(default_factory=list)
    background: list[asyncio.Task[None]] = field(default_factory=list)
    metrics: ServiceMetrics = field(init=False)
    delivery: DeliveryCheck = field(init=False)
    consumed_log: ConsumedLogCheck = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = ServiceMetrics(self.spec.name, self.spec.schema)
        self.metrics.assigned = self.assigned_partitions
        self.metrics.register(self.spec.collectors)
        self.delivery = DeliveryCheck(
            self.spec.schema,
            [s.topic for s in self.spec.subscriptions if not s.raw],
            grace_seconds=self.settings.audit_grace_seconds,
            every_seconds=self.settings.audit_check_seconds,
            positions=self.input_positions,
        )
        self.metrics.delivery = self.delivery
        self.consumed_log = ConsumedLogCheck(
            self.spec.schema,
            self.settings.bootstrap_servers(),
            every_seconds=self.settings.relay_log_check_seconds,
            consumers=self.consumers,
            on_replaced=self.ensure_topics,
        )

    async def ensure_topics(self) -> None:
        with contextlib.suppress(Exception):  # a broker still away: the next check tries again
            await ensure_topics(self.settings.bootstrap_servers(), ALL_TOPICS, self.settings.topic_partitions)

    def consumers(self) -> list[Any]:
        """The Kafka consumers of this replica's subscriptions, once started."""
        return [s.consumer for s in self.subscribers if getattr(s, "consumer", None) is not None]

    def spawn(self, work: Awaitable[None], name: str) -> asyncio.Task[None]:
        """A background task of the service: it should end when `stop` is set, and is awaited at shutdown."""
        task = asyncio.ensure_future(work)
        task.set_name(name)
        self.background.append(task)
        return task

    async def input_positions(self) -> Positions:
        """Position and high watermark of every partition this replica consumes (what it has not read yet)."""
        positions: dict[tuple[str, int], tuple[int, int]] = {}
        for consumer in self.consumers():
            for tp in consumer.assignment():
                highwater = consumer.highwater(tp)
                if highwater is None:
                    continue
                with contextlib.suppress(Exception):  # a partition being revoked has no position
                    async with asyncio.timeout(2):
                        positions[(tp.topic, tp.partition)] = (await consumer.position(tp), highwater)
        return positions

    def assigned_partitions(self) -> dict[str, list[int]]:
        """Which partitions this replica consumes now (they move between replicas on rebalance)."""
        assigned: dict[str, list[int]] = {}
        for subscriber in self.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            for tp in consumer.assignment() if consumer is not None else ():
                assigned.setdefault(tp.topic, []).append(tp.partition)
        return {topic: sorted(parts) for topic, parts in sorted(assigned.items())}

    @property
    def stores(self) -> ServiceStores:
        assert self.pool is not None, "service not started"
        return ServiceStores(
            self.pool,
            self.spec.schema,
            source=f"/caseline/{self.spec.name}",
            projector=self.spec.projector,
            dead_letter_max_payload_bytes=self.settings.dead_letter_max_payload_bytes,
            wake_locally={notify_channel(self.spec.schema): self.relay.wake_if_leading} if self.relay else {},
        )


def group_id(service: str) -> str:
    return f"caseline.{service}"


def build_app(spec: ServiceSpec, settings: Settings) -> FastAPI:
    bootstrap = settings.bootstrap_servers()
    broker = KafkaBroker(
        bootstrap,
        logger=get_logger("faststream"),
        log_level=logging.DEBUG,
        graceful_timeout=CONSUMER_GRACE_SECONDS,  # on stop, the batch being handled finishes and commits
        security=faststream_security(settings),
        # The handler takes the fetch's records as they are (`_raw_records`): nothing to inject, and the
        # injection would cost every batch a hop through a worker thread (FastStream's message context).
        apply_types=False,
    )
    runtime = ServiceRuntime(spec=spec, settings=settings, broker=broker)
    if spec.subscriptions:
        _subscribe(runtime, spec.subscriptions)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with _running(runtime):
            yield

    production = settings.env == "production"
    # In production the interactive docs are not served and the OpenAPI document answers only a credential
    # of this service (docs/security.md); in development both are open, as `make run` shows them.
    app = FastAPI(
        title=f"Caseline {spec.name}",
        lifespan=lifespan,
        docs_url=None if production else "/docs",
        redoc_url=None if production else "/redoc",
        openapi_url=None if production else "/openapi.json",
    )
    app.state.runtime = runtime
    app.add_api_route(
        "/healthz",
        _healthz(runtime),
        methods=["GET"],
        summary="Database and broker connections",
        responses={
            503: {"description": "The database or the broker does not answer", "model": dict[str, Any]}
        },
    )
    app.add_api_route(
        "/livez", _livez, methods=["GET"], summary="The process answers (liveness, no dependencies)"
    )
    metrics_auth = _metrics_guard(spec.name, settings) if production else None
    app.add_api_route(
        "/metrics",
        _metrics(runtime),
        methods=["GET"],
        include_in_schema=False,
        dependencies=[Depends(metrics_auth)] if metrics_auth else [],
    )
    for router in spec.routers:
        _document_guard_statuses(router)
        app.include_router(router)
    if production:
        _serve_openapi_to_principals(app, spec.authenticator)
    error_body = spec.body.error_body

    async def refused(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, AuthRefused)
        return JSONResponse(error_body(error.code, error.message), error.status_code, headers=error.headers)

    app.add_exception_handler(AuthRefused, refused)
    app.add_middleware(BodyGuard, policy=spec.body)
    return app


def _metrics_guard(service: str, settings: Settings) -> Callable[..., Awaitable[Principal]]:
    """/metrics in production: the metrics token only (Prometheus' bearer credentials)."""
    verifier = TokenVerifier.of(
        [(Principal("metrics", "prometheus"), settings.metrics_tokens())], setting="CASELINE_METRICS_TOKEN"
    )
    return Authenticator(service, verifier).requiring("metrics")


def _serve_openapi_to_principals(app: FastAPI, authenticator: Authenticator | None) -> None:
    async def openapi(request: Request) -> JSONResponse:
        if authenticator is None:
            raise AuthRefused(401, "unauthorized", "this service serves no OpenAPI document in production")
        authenticator.principal(request, request.headers.get("authorization"))
        return JSONResponse(app.openapi())

    app.add_api_route("/openapi.json", openapi, methods=["GET"], include_in_schema=False)


def _document_guard_statuses(router: APIRouter) -> None:
    """The body guard answers 400, 413, 415 and 422 on every route that takes a body: say so in OpenAPI."""
    for route in router.routes:
        if isinstance(route, APIRoute) and (route.methods or set()) & {"POST", "PUT", "PATCH"}:
            for status, response in error_responses(400, 413, 415, 422).items():
                route.responses.setdefault(status, response)


def _subscribe(runtime: ServiceRuntime, subscriptions: Sequence[Subscription]) -> None:
    """One consumer for all of a service's topics.

    One group member per replica, not one per topic: every member that joins makes the group rebalance,
    and several members per process made start-up wait for a rebalance each.
    """
    by_topic = {subscription.topic: subscription for subscription in subscriptions}
    if len(by_topic) != len(subscriptions):
        raise ValueError(f"{runtime.spec.name}: one subscription per topic")

    settings = runtime.settings
    gathering = runtime.spec.gathering or FetchGathering(min_bytes=1, wait_ms=0)
    retry = RetryPolicy(
        max_attempts=settings.consumer_max_attempts,
        first_backoff_seconds=settings.consumer_retry_backoff_seconds,
        stop=runtime.stop,
    )

    async def on_batch(records: tuple[Any, ...]) -> None:
        for topic, of_topic in by_subscription(records, by_topic):
            subscription = by_topic[topic]
            started = time.perf_counter()
            try:
                outcome = await consume_batch(
                    runtime.stores,
                    of_topic,
                    subscription.handler,
                    subscription.wanted,
                    raw=subscription.raw,
                    retry=retry,
                    preload=subscription.preload,
                )
            except ShuttingDown:
                raise  # not committed: whoever consumes next gets the batch again
            except Exception as error:
                # Only infrastructure failures leave consume_batch (the database away): not the
                # messages' fault, so they come again, as often as it takes.
                log.warning("batch_will_be_redelivered", topic=topic, error=str(error) or repr(error))
                with contextlib.suppress(TimeoutError):  # back off before the framework rewinds
                    await asyncio.wait_for(runtime.stop.wait(), timeout=1.0)
                raise
            runtime.metrics.record(topic, outcome, time.perf_counter() - started)
            runtime.consumed_log.note(of_topic)

    subscriber = runtime.broker.subscriber(
        *by_topic,
        group_id=group_id(runtime.spec.name),
        batch=True,
        max_records=runtime.settings.consumer_batch_size,
        # How long a poll waits for records before the framework sleeps as long again (FastStream): records
        # arriving in that sleep wait for its end, so this is also a hop's idle latency. Records arriving
        # while it waits are taken at once, so a short one costs only a few idle wake-ups a second.
        batch_timeout_ms=max(settings.consumer_batch_timeout_ms, runtime.spec.patient_consumer_ms // 2),
        # How long the broker may hold a fetch that finds nothing new (or, gathering, too little). Kafka
        # answers as soon as records (enough of them) arrive. Tansu looks again after half the time left,
        # then half of what is left, ...: a record arriving on a quiet partition waits a sixth of this on
        # average, up to half of it.
        fetch_max_wait_ms=max(
            settings.consumer_fetch_wait_ms, runtime.spec.patient_consumer_ms, gathering.wait_ms
        ),
        fetch_min_bytes=gathering.min_bytes,
        auto_offset_reset="earliest",
        # A replica killed without leaving its group holds its partitions until its session times out; a
        # short session makes a crashed replica's partitions (and a restarted one's start) move on within
        # seconds. Heartbeats run beside the handlers, so a long batch does not end the session.
        session_timeout_ms=6000,
        heartbeat_interval_ms=1500,
        # What a replica that is behind holds in memory before handling it: a batch's worth per partition,
        # not the client's 1 MiB per partition and 50 MiB per fetch (memory would follow the lag).
        max_partition_fetch_bytes=256 * 1024,
        fetch_max_bytes=8 * 1024 * 1024,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_raw_records,
        title=f"{runtime.spec.name}:{','.join(by_topic)}",
    )
    subscriber(on_batch)
    runtime.subscribers.append(subscriber)


def by_subscription(records: Sequence[Any], topics: Iterable[str]) -> list[tuple[str, list[Any]]]:
    """A fetch's records by topic, each topic's in their order, the topics in the order the service lists
    its subscriptions (not as the records came): routing lists the complaints first, so a complaint is not
    kept waiting behind a fetch's worth of SLA facts."""
    grouped: dict[str, list[Any]] = {}
    for record in records:
        grouped.setdefault(record.topic, []).append(record)
    listed = [topic for topic in topics if topic in grouped]
    return [(topic, grouped[topic]) for topic in [*listed, *(t for t in grouped if t not in listed)]]


async def _raw_records(message: KafkaMessage) -> tuple[Any, ...]:
    """The fetch's records, for the consumer to read the CloudEvents from itself: FastStream's JSON decoding
    skipped."""
    raw = message.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


@contextlib.asynccontextmanager
async def _running(runtime: ServiceRuntime) -> AsyncIterator[None]:
    settings, spec = runtime.settings, runtime.spec
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set: `caseline up` sets it, or point it at a PostgreSQL")
    runtime.pool = await create_pool(settings.database_url)
    await migrate(runtime.pool, spec.schema, spec.extra_ddl)
    await ensure_topics(settings.bootstrap_servers(), ALL_TOPICS, settings.topic_partitions)
    runtime.relay = OutboxRelay(
        settings.database_url,
        spec.schema,
        settings.bootstrap_servers(),
        batch_size=settings.relay_batch_size,
        idle_seconds=settings.relay_idle_seconds,
        log_check_seconds=settings.relay_log_check_seconds,
        retention_hours=settings.outbox_retention_hours,
        topic_partitions=settings.topic_partitions,
        topics=ALL_TOPICS,
    )
    runtime.metrics.relay = runtime.relay
    runtime.spawn(runtime.relay.run(runtime.stop), f"{spec.name}-relay")
    runtime.spawn(runtime.delivery.run(runtime.pool, runtime.stop), f"{spec.name}-delivery-check")
    if spec.subscriptions:
        runtime.spawn(runtime.consumed_log.run(runtime.pool, runtime.stop), f"{spec.name}-consumed-log-check")
    await runtime.broker.start()
    if spec.on_started:
        await spec.on_started(runtime)
    freeze_long_lived()
    log.info("service_started", http_port=spec.http_port)
    try:
        yield
    finally:
        await _stop(runtime)


async def _stop(runtime: ServiceRuntime) -> None:
    """Finish the batch being handled and commit it, then stop the relay and the background tasks."""
    started = time.monotonic()
    runtime.stop.set()  # back-offs and background loops end now; no new batch is taken
    await runtime.broker.stop()  # waits up to CONSUMER_GRACE_SECONDS for the batch in hand
    late: set[asyncio.Task[None]] = set()
    if runtime.background:
        _, late = await asyncio.wait(runtime.background, timeout=TASKS_GRACE_SECONDS)
    for task in late:
        task.cancel()  # e.g. a relay waiting for a broker that does not answer: its rows stay unpublished
    if late:
        await asyncio.wait(late, timeout=0.5)
    if runtime.pool is not None:
        try:
            await asyncio.wait_for(runtime.pool.close(), timeout=0.5)
        except TimeoutError:
            runtime.pool.terminate()
    log.info(
        "service_stopped",
        seconds=round(time.monotonic() - started, 2),
        cancelled=[t.get_name() for t in late],
    )


async def _livez() -> dict[str, str]:
    # Liveness must not depend on PostgreSQL or Kafka: an outage there should stop traffic
    # (readiness, /healthz), not restart every replica.
    return {"status": "alive"}


def _healthz(runtime: ServiceRuntime) -> Callable[[], Awaitable[JSONResponse]]:
    async def healthz() -> JSONResponse:
        database = await _database_ok(runtime)
        broker = await _broker_ok(runtime)
        relay_leader = bool(runtime.relay and runtime.relay.is_leader)
        ok = database and broker
        body = {
            "service": runtime.spec.name,
            "status": "ok" if ok else "degraded",
            "database": "up" if database else "down",
            "broker": "up" if broker else "down",
            "relay": "leader" if relay_leader else "standby",
            "published": runtime.relay.published_total if runtime.relay else 0,
            "partitions": runtime.assigned_partitions(),
            # A delivery gap that does not close is reported, not a reason to take the replica out of
            # traffic: readiness stays with the database and the broker (the alert pages someone).
            "audit": runtime.delivery.health(),
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    return healthz


def _metrics(runtime: ServiceRuntime) -> Callable[[], Awaitable[Response]]:
    async def metrics() -> Response:
        body = await runtime.metrics.exposition(runtime.pool)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics


async def _database_ok(runtime: ServiceRuntime) -> bool:
    if runtime.pool is None:
        return False
    try:
        async with asyncio.timeout(2):
            async with runtime.pool.acquire() as conn:
                return bool(await conn.fetchval("SELECT 1") == 1)
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False


async def _broker_ok(runtime: ServiceRuntime) -> bool:
    try:
        return bool(await runtime.broker.ping(timeout=2))
    except Exception:  # noqa: BLE001 - any failure means "down" to a health probe
        return False
