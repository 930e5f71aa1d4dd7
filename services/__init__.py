"""Caseline's four services. Each is a package of its own (domain, handlers, adapters, app) that imports no
other service; they meet only on the topics (schemas.topics) and in the CLI's composition root (caseline/).
"""

from __future__ import annotations

from enum import StrEnum


class ServiceName(StrEnum):
    """The services `caseline service NAME` runs; each is also its schema and its consumer group."""

    INTAKE = "intake"
    ROUTING = "routing"
    JOINTMEETING = "jointmeeting"
    SLA = "sla"


SERVICE_NAMES: tuple[str, ...] = tuple(name.value for name in ServiceName)
