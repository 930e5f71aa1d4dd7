"""Where the policy and the calendar overrides are (CASELINE_SLA_POLICY_FILE, CASELINE_SLA_CALENDAR_FILE).

The names keep the SLA prefix they always had; every service that computes with deadlines reads the same
two variables, so the SLA's clocks, the joint meeting's task deadlines and routing's time left never use
two different files.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from deadlines.calendar import WorkingCalendar, load_overrides
from deadlines.policy import load_policies
from deadlines.timing import Timing
from district.registry import Districts


class DeadlineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASELINE_SLA_", extra="ignore")

    policy_file: Path | None = None  # default: deadlines/sla_policy.yaml (and sla_policy.<district>.yaml)
    calendar_file: Path | None = None  # default: deadlines/calendar_overrides.yaml


def load_calendar(settings: DeadlineSettings | None = None) -> WorkingCalendar:
    return WorkingCalendar(load_overrides((settings or DeadlineSettings()).calendar_file))


def load_timing(districts: Districts, settings: DeadlineSettings | None = None) -> Timing:
    """Every served district's policy and the calendar; a bad file of any district refuses, naming it."""
    settings = settings or DeadlineSettings()
    policies = load_policies(districts.codes, settings.policy_file)
    return Timing(policies[districts.founding.code], load_calendar(settings), policies)
