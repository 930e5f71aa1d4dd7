"""Intake's entrypoint: the HTTP channels, the raw hotline topic, case status from routing, and the relay."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from district.registry import load_districts
from eventcore.logging import get_logger
from eventcore.service import ServiceSpec, Subscription, build_app
from eventcore.settings import Settings, get_settings
from schemas.cases import CaseClosed, CaseRecategorised, CaseReopened
from schemas.topics import CASES, HOTLINE_RAW
from services.intake.adapters import intake_store, personal_data_store
from services.intake.adapters.category_files import TaxonomyFiles, categoriser
from services.intake.adapters.http_channels import channel_router
from services.intake.adapters.http_common import Channels
from services.intake.adapters.http_hotline import hotline_router
from services.intake.adapters.open311 import open311_router
from services.intake.domain.classification.decision import ClassificationPolicy
from services.intake.domain.merge import MergePolicy
from services.intake.handlers import IntakeContext, handle_cases_topic, handle_raw_hotline_record
from services.intake.settings import DEVELOPMENT_OPEN311_KEY, IntakeSettings

SERVICE = "intake"
SCHEMA = "intake"
EXTRA_DDL = (personal_data_store.DDL, intake_store.DDL)
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
        pseudonym_secret=settings.pseudonym_secret,
        merge=MergePolicy(intake.merge_window, intake.merge_min_confidence),
        future_tolerance=intake.future_tolerance,
        default_district=settings.default_district,
    )


def spec(settings: Settings | None = None) -> ServiceSpec:
    intake = IntakeSettings()
    ctx = intake_context(settings or get_settings(), intake)
    if DEVELOPMENT_OPEN311_KEY in intake.open311_api_keys:
        log.warning("development_open311_key_in_use", hint="set CASELINE_OPEN311_API_KEY in production")
    channels = Channels(ctx, intake.http_batch_limit)
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
            open311_router(channels, intake.open311_api_keys),
        ],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return build_app(spec(settings), settings)
