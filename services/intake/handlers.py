"""Intake's command handlers: every channel's submissions become ComplaintReceived (or ComplaintMerged), once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

from district.registry import District, Districts, UnknownDistrict
from eventcore.collector import freeze_long_lived
from eventcore.consumer import InboundMessage, MessageRejected, ServiceStores
from eventcore.database import DbConnection
from eventcore.deadletters import Rejection
from eventcore.failures import DatabaseUnavailable, retry_while_database_away
from eventcore.logging import get_logger
from eventcore.store import PendingEvent
from eventcore.unit_of_work import UnitOfWork
from schemas.base import DomainEvent, EventMetadata
from schemas.cases import CaseClosed, CaseRecategorised, CaseReopened
from schemas.complaints import ComplaintReceived
from schemas.hotline import HotlineOrder
from schemas.reference import Channel
from schemas.topics import COMPLAINTS
from services.intake.adapters.category_files import DEFAULT_PLATFORM, categoriser
from services.intake.adapters.hotline_file import (
    FileRecord,
    parse_order,
    parse_record,
    read_hotline_file,
    record_details,
    reject,
)
from services.intake.adapters.intake_store import (
    RETRYABLE,
    Claim,
    Correction,
    IntakeStore,
    LabelSeen,
    NewCase,
)
from services.intake.adapters.personal_data_store import Person, PersonalDataStore
from services.intake.adapters.privacy_store import PrivacyStore
from services.intake.domain.addresses import Location, resolve_location
from services.intake.domain.channels import from_hotline_order
from services.intake.domain.classification.categoriser import Categoriser, CategoryRequest
from services.intake.domain.classification.decision import CategoryQuestion
from services.intake.domain.complaints import (
    complaint_stream,
    merged_complaint,
    pseudonym_of,
    received_complaint,
)
from services.intake.domain.merge import MergeKey, MergePolicy, OpenCase, decide_merge, merge_key
from services.intake.domain.submission import Submission

log = get_logger(__name__)
_RETRIES = 5


@dataclass(frozen=True)
class IntakeContext:
    districts: Districts
    pseudonym_secret: str
    merge: MergePolicy = field(default_factory=lambda: MergePolicy(timedelta(0)))
    future_tolerance: timedelta = timedelta(minutes=10)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    default_district: str | None = None  # a registry code; None: the registry's founding district
    # Taxonomies and the text classifier (trained once per process, on first use).
    categories: Categoriser = field(default_factory=lambda: categoriser())

    def __post_init__(self) -> None:
        _ = self.default  # a misconfigured default district stops intake at start, naming the known ones

    @property
    def default(self) -> District:
        """The district of records that name none."""
        if self.default_district is None:
            return self.districts.founding
        return self.districts.get(self.default_district)

    def district_of(self, written: str) -> District:
        """The district a record names, by code or name (上党区, 上党, shangdang); none named: the default.

        Raises UnknownDistrict, whose message names the districts this deployment serves.
        """
        return self.districts.find(written) if written.strip() else self.default

    def district_for(self, written: str, confined_to: str | None) -> District:
        """The district of a record sent by a principal of `confined_to` (None: city-wide): a record naming
        none is placed in the principal's district; one naming another district raises OutsideDistrict."""
        if confined_to is None:
            return self.district_of(written)
        own = self.districts.get(confined_to)
        named = self.districts.find(written) if written.strip() else own
        if named.code != own.code:
            raise OutsideDistrict(
                f"field 'district': this credential submits {own.code} complaints only, not {named.code}"
            )
        return named

    def latest_acceptable_time(self) -> datetime:
        """Complaint times after this are in the future (beyond the allowed clock difference)."""
        return self.clock() + self.future_tolerance


UNKNOWN_DISTRICT = "unknown_district"
OUTSIDE_DISTRICT = "outside_district"


class OutsideDistrict(ValueError):
    """A record of another district than the one its sender's credential serves."""


def unknown_district_reason(error: UnknownDistrict, label: str = "") -> str:
    """The rejection reason for a district the registry does not list: the field, then the known ones."""
    shown = f" ({label})" if label else ""
    return f"field 'district'{shown}: {error}"


class Status(StrEnum):
    ACCEPTED = "accepted"
    MERGED = "merged"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"  # a known key with different content: refused, the first version stands
    REJECTED = "rejected"


@dataclass(frozen=True)
class Outcome:
    status: Status
    complaint_id: str | None = None
    case_id: str | None = None
    reason: str | None = None
    kind: str | None = None
    merge_rule: str | None = None
    category: str | None = None  # what intake decided, for the sender's answer
    needs_triage: bool | None = None
    flags: tuple[str, ...] | None = None


@dataclass
class FeedSummary:
    accepted: int = 0  # new complaints, merged ones included
    merged: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    flagged: Counter[str] = field(default_factory=Counter)  # accepted complaints by what intake assumed
    categories: Counter[str] = field(default_factory=Counter)  # accepted complaints by decided category

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def add(self, other: FeedSummary) -> None:
        self.accepted += other.accepted
        self.merged += other.merged
        self.duplicates += other.duplicates
        self.rejected.update(other.rejected)
        self.rejections.extend(other.rejections)
        self.flagged.update(other.flagged)
        self.categories.update(other.categories)

    def count(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            if outcome.status in (Status.ACCEPTED, Status.MERGED):
                self.accepted += 1
                self.flagged.update(outcome.flags or ())
                if outcome.category:
                    self.categories[outcome.category] += 1
            if outcome.status is Status.MERGED:
                self.merged += 1
            if outcome.status is Status.DUPLICATE:
                self.duplicates += 1


# -- the one way in: submissions to events, in one transaction ---------------------------------------


async def receive_submissions(
    stores: ServiceStores,
    ctx: IntakeContext,
    submissions: Sequence[Submission],
    rejections: Sequence[Rejection] = (),
    *,
    keep_conflicts: bool = True,
) -> list[Outcome]:
    """New complaints, merges, personal data and dead letters commit together; races with replicas retry."""
    for attempt in range(1, _RETRIES + 1):
        try:
            async with stores.unit_of_work() as uow:
                outcomes = await receive_in(uow, ctx, submissions)
                conflicts = conflict_rejections(submissions, outcomes) if keep_conflicts else []
                await stores.dead_letters.add(uow.conn, [*rejections, *conflicts])
                return outcomes
        except RETRYABLE:
            if attempt == _RETRIES:
                raise
            log.warning("intake_batch_retried", attempt=attempt)
            await asyncio.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


async def receive_in(uow: UnitOfWork, ctx: IntakeContext, submissions: Sequence[Submission]) -> list[Outcome]:
    """Receive within the caller's transaction (a consumer's, or receive_submissions')."""
    placed = [sub if sub.district is not None else replace(sub, district=ctx.default) for sub in submissions]
    categorised = categorise(ctx, placed)
    received = iter(
        await _receive_categorised(uow, ctx, [c for c in categorised if isinstance(c, Submission)])
    )
    return [next(received) if isinstance(c, Submission) else c for c in categorised]


NO_PROBLEM_STATED = "no_problem_stated"


def categorise(ctx: IntakeContext, submissions: Sequence[Submission]) -> list[Submission | Outcome]:
    """Each submission with its category decided (all at once), or refused when nothing says what the
    problem is: no description and no label the taxonomy knows."""
    requests = [
        CategoryRequest(
            sub.platform or DEFAULT_PLATFORM,
            sub.district.code if sub.district is not None else ctx.default.code,
            CategoryQuestion(sub.category_label, sub.description, sub.category_code),
        )
        for sub in submissions
    ]
    decisions = ctx.categories.decide_many(requests)
    return [
        replace(sub, category_decision=decision) if decision is not None else _nothing_to_handle(sub)
        for sub, decision in zip(submissions, decisions, strict=True)
    ]


def _nothing_to_handle(submission: Submission) -> Outcome:
    where = f"{submission.dead_letter_ref}: " if submission.dead_letter_ref else ""
    label = submission.category_label or submission.category_code
    named = f"the category {label[:60]!r} is not in the taxonomy" if label else "no category is given"
    reason = f"{where}nothing says what the problem is: the description is empty and {named}"
    return Outcome(Status.REJECTED, reason=reason, kind=NO_PROBLEM_STATED)


async def _receive_categorised(
    uow: UnitOfWork, ctx: IntakeContext, submissions: Sequence[Submission]
) -> list[Outcome]:
    store = IntakeStore(uow.store.schema)
    complaints = [received_complaint(sub, _location(ctx, sub), ctx.pseudonym_secret) for sub in submissions]
    complaints = await _after_erasures(uow.conn, store.s, ctx, submissions, complaints)
    first_of: dict[str, int] = {}
    for index, complaint in enumerate(complaints):
        first_of.setdefault(complaint.complaint_id, index)
    fingerprints = [sub.fingerprint() for sub in submissions]
    claims = [_claim(submissions[i], complaints[i], fingerprints[i]) for i in first_of.values()]
    fresh = await store.claim(uow.conn, claims)
    seen = await store.received(uow.conn, [c for c in first_of if c not in fresh])
    decided = await _record(
        uow, store, ctx, [(submissions[i], complaints[i]) for i in first_of.values()], fresh
    )
    outcomes = []
    for index, complaint in enumerate(complaints):
        cid = complaint.complaint_id
        if cid in decided and first_of[cid] == index:
            outcomes.append(decided[cid])
            continue
        known: str | None
        if cid in decided:
            case_id, known = decided[cid].case_id or complaint.case_id, fingerprints[first_of[cid]]
        else:
            case_id, known = seen.get(cid, (complaint.case_id, None))
        if known is not None and known != fingerprints[index]:
            reason = _conflict_reason(submissions[index], cid)
            outcomes.append(Outcome(Status.CONFLICT, cid, case_id, reason=reason, kind="conflict"))
        else:
            outcomes.append(Outcome(Status.DUPLICATE, cid, case_id))
    return outcomes


async def _after_erasures(
    conn: DbConnection,
    schema: str,
    ctx: IntakeContext,
    submissions: Sequence[Submission],
    complaints: list[ComplaintReceived],
) -> list[ComplaintReceived]:
    """A person whose data was erased gets a pseudonym of the next generation, unlinkable to the erased one."""
    privacy = PrivacyStore(schema)
    erased = await privacy.erased_generations(conn, (c.complainant_id for c in complaints))
    if not erased:
        return complaints
    fresh = []
    for submission, complaint in zip(submissions, complaints, strict=True):
        generation, current = 0, complaint.complainant_id
        while current in erased:  # each erasure moves the person one generation on
            generation = erased[current] + 1
            current = pseudonym_of(submission, ctx.pseudonym_secret, generation)
            erased |= await privacy.erased_generations(conn, [current])
        fresh.append(complaint if generation == 0 else complaint.model_copy(update={"complainant_id": current}))
    return fresh


def _location(ctx: IntakeContext, submission: Submission) -> Location:
    """Within the record's own district: compound names and codes repeat across districts."""
    district = submission.district or ctx.default
    return resolve_location(
        district.directory,
        compound_text=submission.compound,
        street_text=submission.street,
        address=submission.address,
    )


_KEY_NAMES = {
    Channel.HOTLINE: "order number",
    Channel.PETITION: "petition number",
    Channel.WEB: "request key",
    Channel.WALK_IN: "registration number",
}


def _conflict_reason(submission: Submission, complaint_id: str) -> str:
    where = f"{submission.dead_letter_ref}: " if submission.dead_letter_ref else ""
    return (
        f"{where}{_KEY_NAMES[submission.channel]} {submission.source_ref} was already received with different "
        f"content; the first version stands as complaint {complaint_id}: send a correction under a new key"
    )


def conflict_rejections(submissions: Sequence[Submission], outcomes: Sequence[Outcome]) -> list[Rejection]:
    """A changed record under a known key, or one that says nothing of its problem, is refused and kept
    like any refusal."""
    return [
        Rejection(
            source=sub.dead_letter_source or f"{sub.channel.value}",
            reason=outcome.reason or str(outcome.kind),
            payload=sub.raw,
            source_ref=sub.dead_letter_ref or sub.source_ref,
            details={
                "kind": outcome.kind or "conflict",
                "complaint_id": outcome.complaint_id,
                "channel": sub.channel.value,
                **sub.dead_letter_details,
            },
        )
        for sub, outcome in zip(submissions, outcomes, strict=True)
        if outcome.status in (Status.CONFLICT, Status.REJECTED)
    ]


def _claim(submission: Submission, complaint: ComplaintReceived, fingerprint: str) -> Claim:
    return Claim(
        complaint.complaint_id,
        complaint.case_id,
        complaint.district,
        complaint.channel.value,
        complaint.source_ref,
        complaint.category.value,
        complaint.received_at,
        submission.raw,
        fingerprint,
    )


async def _record(
    uow: UnitOfWork,
    store: IntakeStore,
    ctx: IntakeContext,
    pairs: Sequence[tuple[Submission, ComplaintReceived]],
    fresh: set[str],
) -> dict[str, Outcome]:
    new = sorted(
        ((s, c) for s, c in pairs if c.complaint_id in fresh),
        key=lambda p: (p[1].received_at, p[1].complaint_id),
    )
    candidates = await _open_cases(uow.conn, store, ctx.merge, [c for _, c in new])
    outcomes: dict[str, Outcome] = {}
    opened: list[NewCase] = []
    merged: dict[str, str] = {}
    counts: dict[str, int] = {}
    people: list[Person] = []
    labels: dict[LabelSeen, tuple[int, int]] = {}  # label -> (seen, sent to triage)
    for submission, complaint in new:
        _count_label(labels, submission, complaint)
        key = merge_key(complaint, ctx.merge)
        decision = decide_merge(complaint, candidates.get(key, []), ctx.merge) if key else None
        event: DomainEvent = complaint
        if decision is not None:
            event = merged_complaint(complaint, decision)
            merged[complaint.complaint_id] = decision.case_id
            counts[decision.case_id] = decision.complainant_count
            outcomes[complaint.complaint_id] = Outcome(
                Status.MERGED,
                complaint.complaint_id,
                decision.case_id,
                decision.reason,
                merge_rule=decision.rule,
                **_decided(complaint),
            )
        else:
            opened.append(
                NewCase(
                    complaint.case_id,
                    complaint.district,
                    complaint.compound_code,
                    complaint.category.value,
                    complaint.received_at,
                )
            )
            if key is not None:
                candidates.setdefault(key, []).append(
                    OpenCase(complaint.case_id, *key, complaint.received_at, 1)
                )
            outcomes[complaint.complaint_id] = Outcome(
                Status.ACCEPTED, complaint.complaint_id, complaint.case_id, **_decided(complaint)
            )
        metadata = EventMetadata(
            correlation_id=complaint.complaint_id,
            actor=submission.actor,
            channel=complaint.channel,
            district=complaint.district,
        )
        uow.start_stream(
            complaint_stream(complaint.complaint_id), [PendingEvent(event, metadata)], publish_to=COMPLAINTS
        )
        if submission.caller_name or submission.caller_phone:
            people.append(
                Person(
                    complaint.complainant_id,
                    submission.caller_name,
                    submission.caller_phone,
                    complaint.district,
                )
            )
    # New cases, the callers' personal data and the label counts go with the outbox rows, in one statement:
    # four tables none of the others reads. The merges go after: they may count a case opened here.
    uow.write_with_flush(
        store.opening(opened),
        PersonalDataStore(store.s).remembering(people, datetime.now(UTC)),
        store.label_counts(labels),
    )
    await uow.flush()
    await store.merge(uow.conn, merged, counts)
    return outcomes


def _decided(complaint: ComplaintReceived) -> dict[str, Any]:
    decision = complaint.category_decision
    return {
        "category": complaint.category.value,
        "needs_triage": decision.needs_triage if decision is not None else None,
        "flags": tuple(flag.value for flag in complaint.flags) or None,
    }


def _count_label(labels: dict[LabelSeen, tuple[int, int]], submission: Submission, complaint: ComplaintReceived) -> None:
    """One more sighting of the complaint's platform label (and one more sent to triage, if it was)."""
    if (seen := _label_seen(submission, complaint)) is not None:
        count, triaged = labels.get(seen, (0, 0))
        uncertain = complaint.category_decision is not None and complaint.category_decision.needs_triage
        labels[seen] = (count + 1, triaged + int(uncertain))


def _label_seen(submission: Submission, complaint: ComplaintReceived) -> LabelSeen | None:
    """The platform label a new complaint came with and what intake made of it (`caseline categories unmapped`)."""
    decision = complaint.category_decision
    if decision is None or not (decision.platform_label or decision.platform_code):
        return None
    label = " ".join(part for part in (decision.platform_label, decision.platform_code) if part)
    return LabelSeen(
        decision.platform or submission.platform,
        complaint.district,
        label[:200],
        decision.source.value,
        decision.category.value,
    )


async def _open_cases(
    conn: DbConnection, store: IntakeStore, policy: MergePolicy, complaints: Sequence[ComplaintReceived]
) -> dict[MergeKey, list[OpenCase]]:
    """Each merge key's open cases that one of its complaints could join (decide_merge picks among them)."""
    windows: dict[MergeKey, tuple[datetime, datetime]] = {}
    for complaint in complaints:
        if (key := merge_key(complaint, policy)) is None:
            continue
        at = complaint.received_at
        earliest, latest = windows.get(key, (at, at))
        windows[key] = (min(earliest, at), max(latest, at))
    if not windows:
        return {}
    await store.lock_merge_keys(conn, sorted(windows))
    found = await store.open_cases(
        conn, {key: (first - policy.window, last + policy.window) for key, (first, last) in windows.items()}
    )
    candidates: dict[MergeKey, list[OpenCase]] = {}
    for case in found:
        candidates.setdefault((case.district, case.compound_code, case.category), []).append(case)
    return candidates


# -- the hotline channel: files, HTTP push, the raw topic ---------------------------------------------


def hotline_submission(
    ctx: IntakeContext,
    order: HotlineOrder,
    record: FileRecord,
    actor: str,
    original: dict[str, Any] | None = None,
    platform: str = DEFAULT_PLATFORM,
    confined_to: str | None = None,
) -> Submission | Rejection:
    """The work order placed in the district it names (所属区), or its refusal when no such district exists
    or the sender's credential serves another district.

    `platform` names whose taxonomy reads its labels (the file's, the pushing platform's)."""
    try:
        district = ctx.district_for(order.district, confined_to)
    except UnknownDistrict as error:
        reason = f"{record.where}: {unknown_district_reason(error, '所属区')}"
        return reject(record, UNKNOWN_DISTRICT, reason, order_no=order.order_no)
    except OutsideDistrict as outside:
        return reject(record, OUTSIDE_DISTRICT, f"{record.where}: {outside}", order_no=order.order_no)
    if original is None:
        original = dict(record.fields) if record.fields is not None else order.model_dump(mode="json")
    # Only the fields a work order has: an extra column (an ID-card number, a second phone) stays in the raw
    # bytes in intake's own store and never reaches a topic.
    original = {key: value for key, value in original.items() if key in _ORDER_FIELDS}
    details = record_details(record)
    return from_hotline_order(
        order,
        actor=actor,
        raw=record.raw,
        original=original,
        now=ctx.clock(),
        platform=platform,
        district=district,
        dead_letter_source=record.source,
        dead_letter_ref=record.where,
        dead_letter_details=details,
    )


_ORDER_FIELDS = frozenset(HotlineOrder.model_fields)


async def receive_hotline_records(
    stores: ServiceStores,
    ctx: IntakeContext,
    records: Sequence[FileRecord],
    *,
    actor: str,
    as_of: datetime | None = None,
    platform: str = DEFAULT_PLATFORM,
    confined_to: str | None = None,
    receive: Callable[..., Awaitable[list[Outcome]]] | None = None,
) -> tuple[FeedSummary, list[Outcome]]:
    """One transaction for a batch of records; outcomes come back in the records' order.

    `receive` commits the submissions (None: receive_submissions; the HTTP push: a group commit, which may
    share the transaction with other requests')."""
    parsed = [
        p
        if isinstance(p, Rejection)
        else hotline_submission(ctx, p[0], record, actor, p[1], platform, confined_to)
        for record in records
        for p in [parse_record(record, as_of=as_of)]
    ]
    rejections = [p for p in parsed if isinstance(p, Rejection)]
    submissions = [p for p in parsed if not isinstance(p, Rejection)]
    received_outcomes = await (receive or receive_submissions)(stores, ctx, submissions, rejections)
    received = iter(received_outcomes)
    outcomes = [
        Outcome(Status.REJECTED, reason=p.reason, kind=str(p.details.get("kind")))
        if isinstance(p, Rejection)
        else next(received)
        for p in parsed
    ]
    refused = [*rejections, *conflict_rejections(submissions, received_outcomes)]
    summary = FeedSummary(rejections=refused)
    summary.rejected.update(str(r.details.get("kind")) for r in refused)
    summary.count(outcomes)
    return summary, outcomes


async def feed_hotline_file(
    stores: ServiceStores,
    ctx: IntakeContext,
    path: Path,
    *,
    batch_size: int = 1000,
    actor: str = "hotline-file",
    on_batch: Callable[[int], None] | None = None,
    as_of: datetime | None = None,
    platform: str = DEFAULT_PLATFORM,
    patience_seconds: float = 60.0,
) -> FeedSummary:
    """Feed a JSON-lines or CSV hotline export; safe to repeat (order numbers already seen are duplicates).

    `as_of` refuses complaint times after it; None skips that check (exports of past periods, samples).
    A batch cut off by a PostgreSQL restart is sent again (its order numbers make that safe; one whose
    commit went through counts as duplicates); PostgreSQL away for longer than `patience_seconds` stops
    the feed with DatabaseUnavailable saying how far it got.
    """
    freeze_long_lived()  # a long feed is mostly collector passes over the process's lasting objects otherwise
    total = FeedSummary()
    for batch in _batches(read_hotline_file(path), batch_size):
        try:
            summary, _ = await retry_while_database_away(
                partial(receive_hotline_records, stores, ctx, batch, actor=actor, as_of=as_of, platform=platform),
                patience_seconds=patience_seconds,
            )
        except DatabaseUnavailable as away:
            done = total.accepted + total.duplicates + total.rejected_total
            raise DatabaseUnavailable(
                f"{away} while feeding {path.name} from {batch[0].unit} {batch[0].line_no}; the {done} "
                "records before it are done. Run the same command again: records already received are "
                "recognised by their order numbers, so nothing is doubled."
            ) from away
        total.add(summary)
        if on_batch:
            on_batch(len(batch))
    log.info(
        "hotline_file_fed",
        file=path.name,
        accepted=total.accepted,
        merged=total.merged,
        duplicates=total.duplicates,
        rejected=total.rejected_total,
    )
    return total


def _batches(records: Iterable[FileRecord], size: int) -> Iterable[list[FileRecord]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


async def handle_raw_hotline_record(ctx: IntakeContext, uow: UnitOfWork, message: InboundMessage) -> None:
    """A work order a hotline platform published on the raw topic: JSON, UTF-8, one order per record."""
    record = FileRecord(f"kafka:{message.topic}", message.offset, message.cloudevent.data)
    order = parse_order(record, as_of=ctx.latest_acceptable_time())
    submission = (
        order
        if isinstance(order, Rejection)
        else hotline_submission(ctx, order, record, f"hotline-topic:{message.topic}")
    )
    if isinstance(submission, Rejection):
        raise MessageRejected(submission.reason.replace(record.where, "record", 1))
    [outcome] = await receive_in(uow, ctx, [submission])
    if outcome.status in (Status.CONFLICT, Status.REJECTED):
        raise MessageRejected((outcome.reason or str(outcome.kind)).replace(record.where, "record", 1))
    district = submission.district.code if submission.district else None
    log.info(
        "hotline_record_received", status=outcome.status.value, case_id=outcome.case_id, district=district
    )


# -- case status, learnt from routing ------------------------------------------------------------------

_STATUS_OF_TYPE = {CaseClosed.cloudevent_type(): "closed", CaseReopened.cloudevent_type(): "open"}


async def handle_case_status_changed(uow: UnitOfWork, message: InboundMessage) -> None:
    """CaseClosed / CaseReopened: the case stops (or starts again) taking co-complainants; Open311 shows it."""
    status = _STATUS_OF_TYPE.get(message.cloudevent.type)
    if status is None:
        return
    case_id = message.cloudevent.subject or str(json.loads(message.cloudevent.data).get("case_id", ""))
    at = datetime.fromisoformat(message.cloudevent.time) if message.cloudevent.time else datetime.now(UTC)
    if not await IntakeStore(uow.store.schema).set_status(uow.conn, case_id, status, at):
        log.warning("case_status_for_unknown_case", case_id=case_id, status=status)


async def handle_case_recategorised(uow: UnitOfWork, message: InboundMessage) -> None:
    """The centre corrected a case's category: merges key on the corrected one from now on, and the
    correction is kept as a labelled example / mapping suggestion (`caseline categories suggestions`)."""
    event = message.event
    if not isinstance(event, CaseRecategorised):
        return
    replaced = event.replaced_decision
    at = datetime.fromisoformat(message.cloudevent.time) if message.cloudevent.time else datetime.now(UTC)
    correction = Correction(
        event.case_id,
        at,
        event.district,
        event.from_category.value,
        event.to_category.value,
        replaced.platform if replaced else None,
        " ".join(p for p in (replaced.platform_label, replaced.platform_code) if p) or None
        if replaced
        else None,
        replaced.source.value if replaced else None,
        event.recategorised_by,
        event.reason,
    )
    if not await IntakeStore(uow.store.schema).recategorise(uow.conn, correction):
        log.warning("recategorisation_for_unknown_case", case_id=event.case_id)
    log.info("case_recategorised", case_id=event.case_id, to_category=event.to_category.value)


async def handle_cases_topic(uow: UnitOfWork, message: InboundMessage) -> None:
    if message.cloudevent.type == CaseRecategorised.cloudevent_type():
        await handle_case_recategorised(uow, message)
    else:
        await handle_case_status_changed(uow, message)
