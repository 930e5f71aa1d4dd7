"""Intake's entrypoint: the HTTP channels, the raw hotline topic, case status from routing, and the relay."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from district.registry import load_districts
from district.unit_tokens import unit_tokens
from eventcore.auth import MIN_TOKEN_LENGTH, Authenticator
from eventcore.http import BodyPolicy
from eventcore.logging import get_logger
from eventcore.production import production_checks
from eventcore.service import FetchGathering, ServiceSpec, Subscription, build_app
from eventcore.settings import Settings, get_settings
from schemas.cases import CaseClosed, CaseRecategorised, CaseReopened
from schemas.topics import CASES, HOTLINE_RAW
from services.intake.adapters import intake_store, personal_data_store, privacy_store
from services.intake.adapters.category_files import TaxonomyFiles, categoriser
from services.intake.adapters.credentials import Open311Keys, channel_tokens
from services.intake.adapters.group_commit import GroupCommit
from services.intake.adapters.http_channels import channel_router
from services.intake.adapters.http_common import MAX_BODY_BYTES, Channels, intake_error_body
from services.intake.adapters.http_contact import contact_router
from services.intake.adapters.http_hotline import hotline_router
from services.intake.adapters.open311 import open311_router
from services.intake.adapters.rate_limit import ClientLimits
from services.intake.domain.classification.decision import ClassificationPolicy
from services.intake.domain.merge import MergePolicy
from services.intake.handlers import IntakeContext, handle_cases_topic, handle_raw_hotline_record
from services.intake.settings import IntakeSettings

SERVICE = "intake"
SCHEMA = "intake"
EXTRA_DDL = (personal_data_store.DDL, intake_store.DDL, privacy_store.DDL)
log = get_logger(__name__)


def intake_context(settings: Settings, intake: IntakeSettings | None = None) -> IntakeContext:
    intake = intake or IntakeSettings()
    districts = load_districts(settings.districts_file)
    taxonomies = TaxonomyFiles()
    taxonomies.check(districts.codes)  # a broken mapping file stops intake at start, naming its lines
    policy = ClassificationPolicy(
        intake.classifier_min_confidence, intake.classifier_contradiction_confidence
    )
    return IntakeContext(
        districts=districts,
        categories=categoriser(policy, taxonomies),
        pseudonym_secret=intake.pseudonym_secret,
        merge=MergePolicy(intake.merge_window, intake.merge_min_confidence),
        future_tolerance=intake.future_tolerance,
        default_district=settings.default_district,
    )


def spec(settings: Settings | None = None) -> ServiceSpec:
    settings = settings or get_settings()
    intake = IntakeSettings()
    ctx = intake_context(settings, intake)
    checks = production_checks(settings, SERVICE)
    if checks is not None:
        checks.secret("CASELINE_PSEUDONYM_SECRET", intake.pseudonym_secret)
        if len(intake.pseudonym_secret) < MIN_TOKEN_LENGTH:
            checks.problem(f"CASELINE_PSEUDONYM_SECRET must have at least {MIN_TOKEN_LENGTH} characters")
    # Channel principals, and the units whose centre reads numbers for its callbacks (http_contact).
    tokens = channel_tokens(ctx.districts, intake, checks).merged(unit_tokens(ctx.districts, checks=checks))
    auth = Authenticator(SERVICE, tokens)
    open311 = Open311Keys.configured(intake, checks)
    if checks is not None:
        checks.raise_if_any()
    if open311.verifier.development:
        log.warning("development_open311_key_in_use", hint="set CASELINE_OPEN311_API_KEY in production")
    group_commit = GroupCommit(
        transactions=settings.group_commit_transactions, max_submissions=intake.http_batch_limit
    )
    channels = Channels(
        ctx, intake.http_batch_limit, auth, ClientLimits(intake.web_rate_limit), open311, group_commit
    )
    return ServiceSpec(
        name=SERVICE,
        schema=SCHEMA,
        extra_ddl=EXTRA_DDL,
        subscriptions=[
            Subscription(HOTLINE_RAW, partial(handle_raw_hotline_record, ctx), raw=True),
            Subscription(CASES, handle_cases_topic, (CaseClosed, CaseReopened, CaseRecategorised)),
        ],
        routers=[
            hotline_router(channels),
            channel_router(channels),
            open311_router(channels),
            contact_router(channels),
        ],
        authenticator=auth,
        # Its consumers update what intake knows of cases (closed, reopened, recategorised) and take raw
        # hotline records: nobody waits on either within a second.
        patient_consumer_ms=200,
        gathering=FetchGathering(),
        # Intake reads its JSON itself, so what it refuses is kept as a dead letter with its reason.
        body=BodyPolicy(
            max_bytes=MAX_BODY_BYTES,
            form_paths=frozenset({"/open311/"}),
            check_json=False,
            error_body=intake_error_body,
        ),
        http_port=intake.intake_port,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return build_app(spec(settings), settings)
