"""`caseline audit`: the end-to-end proof, from the stores, that nothing was lost or doubled.

An operator's command, so it reads every service's schema (the services themselves never read each
other's; each checks only what it can see alone, eventcore.delivery_check). It reconciles:

- every complaint intake accepted is handled by routing exactly once (one CaseOpened caused by it), and
  every co-complainant intake merged is recorded by routing;
- every escalated case is in a joint-meeting file, and no escalation opened two;
- every case routing opened has its SLA clocks, no clock was started twice, and a dispatched case's
  dispatch clock has stopped;
- every outbox row is published;
- every bureau report on the reports topic is applied (read from the broker, when it is reachable);
- no message of Caseline's own topics waits as a dead letter.

What is younger than `min_age_seconds` is in flight, not a gap. `repair` marks the missing messages'
outbox rows in the producer's store unpublished, so its relay sends them again; the consumers' inboxes
drop what they already had, and a dead-lettered message delivered again is tried again.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from eventcore.database import DbConnection, connect
from eventcore.kafka import new_consumer
from eventcore.outbox import REWIND, notify_channel
from schemas.base import DomainEvent
from schemas.bureau import BUREAU_REPORTS
from schemas.cases import CaseEscalated, CaseOpened, CaseRouted, CoComplainantAdded
from schemas.complaints import ComplaintMerged, ComplaintReceived
from schemas.jointmeeting import CaseAddedToFile, EnforcementTaskReported, JointMeetingFileOpened
from schemas.sla import SlaClockStarted, SlaClockStopped
from schemas.topics import CASES, COMPLAINTS, JOINT_MEETING, SLA, TOPIC_EVENTS
from services import SERVICE_NAMES

SCHEMAS = SERVICE_NAMES  # each service keeps its stores in the schema named after it
# Which service's outbox each of Caseline's own topics comes from (the bureau task topics: the joint meeting's).
PRODUCERS = {COMPLAINTS: "intake", CASES: "routing", JOINT_MEETING: "jointmeeting", SLA: "sla"}
CLOUDEVENT_TOPICS = tuple(topic for topic, events in TOPIC_EVENTS.items() if events)
CHECKS = {
    "complaint_not_handled": "complaints intake accepted that routing has not handled",
    "complaint_handled_twice": "complaints routing opened more than one case for",
    "merge_not_recorded": "co-complainants intake merged into a case that routing has not recorded",
    "merge_recorded_twice": "co-complainants routing recorded more than once",
    "escalation_without_file": "escalated cases that are in no joint-meeting file",
    "escalation_filed_twice": "escalations that opened or joined more than one file",
    "case_without_clocks": "cases routing opened that have no SLA clock",
    "clock_started_twice": "SLA clocks started more than once",
    "dispatch_clock_running": "dispatched cases whose dispatch clock still runs",
    "unpublished": "outbox rows not published",
    "report_not_applied": "bureau reports on the topic that the joint meeting has not applied",
    "dead_lettered": "messages of Caseline's own topics waiting as dead letters",
}


@dataclass(frozen=True)
class Republish:
    """Outbox rows of a producer to send again: by message id, or every message of some cases on a topic."""

    schema: str
    message_ids: tuple[str, ...] = ()
    topic: str | None = None
    case_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Gap:
    check: str
    subject: str  # the id of what is missing or doubled
    detail: str
    republish: Republish | None = None


@dataclass
class AuditReport:
    gaps: list[Gap] = field(default_factory=list)
    figures: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.gaps

    def by_check(self) -> dict[str, list[Gap]]:
        grouped: dict[str, list[Gap]] = defaultdict(list)
        for gap in self.gaps:
            grouped[gap.check].append(gap)
        return dict(grouped)

    def as_json(self) -> str:
        return json.dumps(
            {
                "ok": self.ok,
                "figures": self.figures,
                "notes": self.notes,
                "gaps": [{"check": g.check, "id": g.subject, "detail": g.detail} for g in self.gaps],
            },
            ensure_ascii=False,
            indent=2,
        )


Check = Callable[[DbConnection, float], Awaitable[list[Gap]]]


async def audit(
    dsn: str, *, bootstrap_servers: str | None = None, min_age_seconds: float = 0.0
) -> AuditReport:
    """Reconcile the stores; with `bootstrap_servers`, the bureau reports on the broker too."""
    report = AuditReport()
    conn = await connect(dsn)
    try:
        # One snapshot for every check, so a case opened between two queries is no false gap. Rolled back:
        # the empty stand-ins for stores that do not exist yet never reach the database.
        transaction = conn.transaction(isolation="repeatable_read")
        await transaction.start()
        try:
            present = {s for s in SCHEMAS if await conn.fetchval("SELECT to_regclass($1)", f"{s}.events")}
            missing = [s for s in SCHEMAS if s not in present]
            if missing:
                report.notes.append(f"no store yet for {', '.join(missing)}: counted as holding nothing")
            for schema in missing:
                await conn.execute(_EMPTY_SCHEMA.format(s=schema))
            for check in (_complaints, _merges, _escalations, _clocks, _outboxes, _dead_letters):
                report.gaps.extend(await check(conn, min_age_seconds))
            report.figures = await _figures(conn)
            if bootstrap_servers:
                report.gaps.extend(
                    await _bureau_reports(conn, bootstrap_servers, min_age_seconds, report.notes)
                )
        finally:
            await transaction.rollback()
    finally:
        await conn.close()
    return report


_EMPTY_SCHEMA = """
CREATE SCHEMA {s};
CREATE TABLE {s}.events (event_id uuid, event_type text, data jsonb, metadata jsonb, subject text,
    recorded_at timestamptz);
CREATE TABLE {s}.outbox (message_id uuid, topic text, message_key text, created_at timestamptz,
    published_at timestamptz, position bigint);
CREATE TABLE {s}.dead_letters (id bigint, source text, source_ref text, reason text, message_id text,
    replayed_at timestamptz);
"""


def _older(alias: str) -> str:
    return f"{alias}.recorded_at < clock_timestamp() - make_interval(secs => $1::double precision)"


def _named(contract: type[DomainEvent]) -> str:
    """The contract's event type as an SQL literal: the queries name the types the code names."""
    assert contract.event_type.isidentifier()
    return f"'{contract.event_type}'"


async def _complaints(conn: DbConnection, min_age: float) -> list[Gap]:
    rows = await conn.fetch(
        "WITH opened AS (SELECT metadata->>'causation_id' AS cause, count(*) AS n FROM routing.events "
        f"WHERE event_type = {_named(CaseOpened)} GROUP BY 1) "
        "SELECT e.event_id::text AS id, e.subject AS case_id, coalesce(o.n, 0) AS n "
        "FROM intake.events e LEFT JOIN opened o ON o.cause = e.event_id::text "
        f"WHERE e.event_type = {_named(ComplaintReceived)} AND {_older('e')} AND coalesce(o.n, 0) <> 1",
        min_age,
    )
    missing = [r for r in rows if r["n"] == 0]
    reasons = await _consumer_side(conn, "routing", [r["id"] for r in missing])
    gaps = [
        Gap(
            "complaint_not_handled",
            r["id"],
            f"case {r['case_id']}: {reasons.get(r['id'], 'never reached routing')}",
            Republish("intake", (r["id"],)),
        )
        for r in missing
    ]
    gaps += [
        Gap("complaint_handled_twice", r["id"], f"case {r['case_id']}: {r['n']} cases opened for it")
        for r in rows
        if r["n"] > 1
    ]
    twice = await conn.fetch(
        f"SELECT subject AS case_id, count(*) AS n FROM routing.events WHERE event_type = {_named(CaseOpened)} "
        "GROUP BY 1 HAVING count(*) > 1"
    )
    gaps += [Gap("complaint_handled_twice", r["case_id"], f"case opened {r['n']} times") for r in twice]
    return gaps


async def _merges(conn: DbConnection, min_age: float) -> list[Gap]:
    rows = await conn.fetch(
        "WITH added AS (SELECT metadata->>'causation_id' AS cause, "
        f"count(*) FILTER (WHERE event_type = {_named(CoComplainantAdded)}) AS n, count(*) AS any_n "
        "FROM routing.events GROUP BY 1) "
        "SELECT e.event_id::text AS id, e.subject AS case_id, coalesce(a.n, 0) AS n, "
        "coalesce(a.any_n, 0) AS any_n FROM intake.events e LEFT JOIN added a ON a.cause = e.event_id::text "
        f"WHERE e.event_type = {_named(ComplaintMerged)} AND {_older('e')} AND (coalesce(a.any_n, 0) = 0 OR a.n > 1)",
        min_age,
    )
    missing = [r for r in rows if r["any_n"] == 0]
    reasons = await _consumer_side(conn, "routing", [r["id"] for r in missing])
    return [
        Gap(
            "merge_not_recorded",
            r["id"],
            f"case {r['case_id']}: {reasons.get(r['id'], 'never reached routing')}",
            Republish("intake", (r["id"],)),
        )
        for r in missing
    ] + [
        Gap("merge_recorded_twice", r["id"], f"case {r['case_id']}: recorded {r['n']} times")
        for r in rows
        if r["n"] > 1
    ]


async def _escalations(conn: DbConnection, min_age: float) -> list[Gap]:
    filed = f"({_named(JointMeetingFileOpened)}, {_named(CaseAddedToFile)})"
    rows = await conn.fetch(
        "WITH filed AS (SELECT DISTINCT subject AS case_id FROM jointmeeting.events "
        f"WHERE event_type IN {filed}) "
        "SELECT e.event_id::text AS id, e.subject AS case_id FROM routing.events e "
        "LEFT JOIN filed f ON f.case_id = e.subject "
        f"WHERE e.event_type = {_named(CaseEscalated)} AND {_older('e')} AND f.case_id IS NULL",
        min_age,
    )
    reasons = await _consumer_side(conn, "jointmeeting", [r["id"] for r in rows])
    gaps = [
        Gap(
            "escalation_without_file",
            r["case_id"],
            f"escalation {r['id']}: {reasons.get(r['id'], 'never reached the joint meeting')}",
            Republish("routing", (r["id"],)),
        )
        for r in rows
    ]
    twice = await conn.fetch(
        "SELECT metadata->>'causation_id' AS cause, count(*) AS n FROM jointmeeting.events "
        f"WHERE event_type IN {filed} GROUP BY 1 HAVING count(*) > 1"
    )
    return gaps + [Gap("escalation_filed_twice", r["cause"], f"{r['n']} file events for it") for r in twice]


async def _clocks(conn: DbConnection, min_age: float) -> list[Gap]:
    without = await conn.fetch(
        "WITH clocked AS (SELECT DISTINCT subject AS case_id FROM sla.events "
        f"WHERE event_type = {_named(SlaClockStarted)}) "
        "SELECT e.subject AS case_id FROM routing.events e LEFT JOIN clocked c "
        f"ON c.case_id = e.subject WHERE e.event_type = {_named(CaseOpened)} AND {_older('e')} AND c.case_id IS NULL",
        min_age,
    )
    running = await conn.fetch(
        "WITH dispatched AS (SELECT DISTINCT subject AS case_id FROM routing.events e "
        f"WHERE (event_type = {_named(CaseEscalated)} OR (event_type = {_named(CaseRouted)} AND data->>'unit_code' <> 'centre-triage')) "
        f"AND {_older('e')}), "
        f"started AS (SELECT DISTINCT data->>'clock_id' AS clock_id FROM sla.events WHERE event_type = {_named(SlaClockStarted)}), "
        f"stopped AS (SELECT DISTINCT data->>'clock_id' AS clock_id FROM sla.events WHERE event_type = {_named(SlaClockStopped)}) "
        "SELECT d.case_id FROM dispatched d JOIN started s ON s.clock_id = d.case_id || '/dispatch' "
        "LEFT JOIN stopped t ON t.clock_id = s.clock_id WHERE t.clock_id IS NULL",
        min_age,
    )
    twice = await conn.fetch(
        f"SELECT data->>'clock_id' AS clock_id, count(*) AS n FROM sla.events WHERE event_type = {_named(SlaClockStarted)} "
        "GROUP BY 1 HAVING count(*) > 1"
    )
    case_history = "the SLA watch missed the case's facts"
    return (
        [
            Gap(
                "case_without_clocks",
                r["case_id"],
                case_history,
                Republish("routing", topic=CASES, case_ids=(r["case_id"],)),
            )
            for r in without
        ]
        + [
            Gap(
                "dispatch_clock_running",
                r["case_id"],
                case_history,
                Republish("routing", topic=CASES, case_ids=(r["case_id"],)),
            )
            for r in running
        ]
        + [Gap("clock_started_twice", r["clock_id"], f"started {r['n']} times") for r in twice]
    )


async def _outboxes(conn: DbConnection, min_age: float) -> list[Gap]:
    gaps: list[Gap] = []
    for schema in SCHEMAS:
        rows = await conn.fetch(
            f"SELECT message_id::text AS id, topic, created_at FROM {schema}.outbox WHERE published_at IS NULL "
            "AND created_at < clock_timestamp() - make_interval(secs => $1::double precision) ORDER BY position",
            min_age,
        )
        gaps += [
            Gap(
                "unpublished",
                r["id"],
                f"{schema} → {r['topic']}, committed {r['created_at']:%Y-%m-%d %H:%M:%S}",
            )
            for r in rows
        ]
    return gaps


async def _dead_letters(conn: DbConnection, min_age: float) -> list[Gap]:
    gaps: list[Gap] = []
    for schema in SCHEMAS:
        rows = await conn.fetch(
            f"SELECT id, source, source_ref, reason, message_id FROM {schema}.dead_letters "
            "WHERE replayed_at IS NULL AND source = ANY($1::text[]) ORDER BY id",
            [f"kafka:{topic}" for topic in CLOUDEVENT_TOPICS],
        )
        for r in rows:
            topic = r["source"].removeprefix("kafka:")
            producer = PRODUCERS.get(topic, "jointmeeting")  # the bureau task topics are the joint meeting's
            again = Republish(producer, (r["message_id"],)) if r["message_id"] else None
            gaps.append(Gap("dead_lettered", f"{schema}#{r['id']}", r["reason"], again))
    return gaps


async def _consumer_side(conn: DbConnection, schema: str, message_ids: Sequence[str]) -> dict[str, str]:
    """What the consumer knows of messages it did not act on: dead-lettered (why), or consumed."""
    if not message_ids:
        return {}
    found: dict[str, str] = {}
    if await conn.fetchval("SELECT to_regclass($1)", f"{schema}.inbox"):
        for row in await conn.fetch(
            f"SELECT message_id FROM {schema}.inbox WHERE message_id = ANY($1::text[])", list(message_ids)
        ):
            found[row["message_id"]] = f"consumed by {schema} without effect"
    for row in await conn.fetch(
        f"SELECT message_id, reason FROM {schema}.dead_letters WHERE message_id = ANY($1::text[])",
        list(message_ids),
    ):
        found[row["message_id"]] = f"dead-lettered by {schema}: {row['reason']}"
    return found


async def _figures(conn: DbConnection) -> dict[str, int]:
    row = await conn.fetchrow(
        f"SELECT (SELECT count(*) FROM intake.events WHERE event_type = {_named(ComplaintReceived)}) AS complaints_accepted, "
        f"(SELECT count(*) FROM intake.events WHERE event_type = {_named(ComplaintMerged)}) AS complaints_merged, "
        f"(SELECT count(*) FROM routing.events WHERE event_type = {_named(CaseOpened)}) AS cases_opened, "
        f"(SELECT count(*) FROM routing.events WHERE event_type = {_named(CaseEscalated)}) AS escalations, "
        f"(SELECT count(*) FROM jointmeeting.events WHERE event_type = {_named(JointMeetingFileOpened)}) AS files_opened, "
        f"(SELECT count(DISTINCT subject) FROM sla.events WHERE event_type = {_named(SlaClockStarted)}) "
        "AS cases_with_clocks"
    )
    assert row is not None
    return {name: int(value) for name, value in row.items()}


async def _bureau_reports(conn: DbConnection, bootstrap: str, min_age: float, notes: list[str]) -> list[Gap]:
    try:
        records = await _read_topic(bootstrap, BUREAU_REPORTS)
    except (KafkaError, OSError) as error:
        notes.append(
            f"bureau reports not checked: the broker did not answer ({error or type(error).__name__})"
        )
        return []
    applied = {
        r["report_id"]
        for r in await conn.fetch(
            "SELECT DISTINCT data->>'report_id' AS report_id FROM jointmeeting.events "
            f"WHERE event_type = {_named(EnforcementTaskReported)}"
        )
    }
    refused = {
        r["source_ref"]: r["reason"]
        for r in await conn.fetch(
            "SELECT source_ref, reason FROM jointmeeting.dead_letters WHERE source = $1",
            f"kafka:{BUREAU_REPORTS}",
        )
    }
    now_ms = float(await conn.fetchval("SELECT extract(epoch FROM clock_timestamp()) * 1000"))
    newest = now_ms - min_age * 1000
    gaps = []
    for ref, timestamp, value in records:
        try:
            report_id = str(json.loads(value).get("report_id"))
        except (ValueError, AttributeError):
            report_id = ref
        if report_id in applied or ref in refused or timestamp > newest:
            continue
        gaps.append(Gap("report_not_applied", report_id, f"{ref}: the bureau must send it again"))
    return gaps


async def _read_topic(bootstrap: str, topic: str) -> list[tuple[str, int, bytes]]:
    """Every record the broker holds on the topic: (topic/partition@offset, timestamp ms, value)."""
    consumer = new_consumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=5000,
    )
    try:
        await consumer.start()
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return []
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[tuple[str, int, bytes]] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batches = await consumer.getmany(timeout_ms=1000)
            if not batches:
                break  # some brokers report end offsets per batch: nothing more is coming
            for tp, batch in batches.items():
                records += [
                    (f"{topic}/{tp.partition}@{r.offset}", r.timestamp, r.value or b"") for r in batch
                ]
        return records
    finally:
        await consumer.stop()


@dataclass
class RepairResult:
    marked: dict[str, int] = field(default_factory=dict)  # schema → outbox rows marked unpublished
    not_in_outbox: int = 0  # past the outbox retention: replay by hand
    not_repairable: int = 0  # nothing of Caseline's to send again (e.g. a bureau's report)


async def repair(dsn: str, report: AuditReport) -> RepairResult:
    """Mark the missing messages' outbox rows unpublished, in their producers' stores (the relays resend)."""
    result = RepairResult()
    conn = await connect(dsn)
    try:
        for gap in report.gaps:
            if gap.republish is None:
                result.not_repairable += gap.check not in ("unpublished",)
                continue
            marked = await _mark_unpublished(conn, gap.republish)
            result.marked[gap.republish.schema] = result.marked.get(gap.republish.schema, 0) + marked
            result.not_in_outbox += marked == 0 and bool(gap.republish.message_ids)
        for schema, marked in result.marked.items():
            if marked:  # below what the relay published: it must read from the start again
                await conn.execute("SELECT pg_notify($1, $2)", notify_channel(schema), REWIND)
    finally:
        await conn.close()
    return result


async def _mark_unpublished(conn: DbConnection, again: Republish) -> int:
    if again.topic is not None:
        status = await conn.execute(
            f"UPDATE {again.schema}.outbox SET published_at = NULL WHERE topic = $1 "
            "AND message_key = ANY($2::text[]) AND published_at IS NOT NULL",
            again.topic,
            list(again.case_ids),
        )
    else:
        status = await conn.execute(
            f"UPDATE {again.schema}.outbox SET published_at = NULL WHERE message_id::text = ANY($1::text[]) "
            "AND published_at IS NOT NULL",
            list(again.message_ids),
        )
    return int(status.split()[-1])
