"""Intake's entrypoint: the FastAPI app with its relay; channels plug in here."""

from __future__ import annotations

from fastapi import FastAPI

from district.directory import load_directory
from eventcore.service import ServiceSpec, build_app
from eventcore.settings import Settings, get_settings
from services.intake.adapters import personal_data_store
from services.intake.handlers import IntakeContext

SERVICE = "intake"
SCHEMA = "intake"
EXTRA_DDL = (personal_data_store.DDL,)


def intake_context(settings: Settings) -> IntakeContext:
    return IntakeContext(directory=load_directory(), pseudonym_secret=settings.pseudonym_secret)


def spec() -> ServiceSpec:
    return ServiceSpec(name=SERVICE, schema=SCHEMA, extra_ddl=EXTRA_DDL)


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_app(spec(), settings or get_settings())
