"""Structured logging: JSON off a terminal, with service, case, event and correlation ids bound."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from structlog.contextvars import bind_contextvars, bound_contextvars, clear_contextvars

from schemas.personal_data import mask_contacts

__all__ = ["bind_contextvars", "bound_contextvars", "clear_contextvars", "configure_logging", "get_logger"]


def configure_logging(
    service: str, *, json: bool | None = None, level: str = "INFO", cache_loggers: bool = True
) -> None:
    """`cache_loggers=False` for a configuration that may not be the process's last (a CLI command run
    in-process by a test): a cached logger would keep these processors after structlog is configured again,
    e.g. by `structlog.testing.capture_logs`."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_StderrLogger,
        cache_logger_on_first_use=cache_loggers,
    )
    # Libraries (aiokafka, uvicorn) log through stdlib; keep them quiet unless something is wrong.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    clear_contextvars()
    bind_contextvars(service=service)


def mask_personal_data(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """Phone numbers, ID-card numbers and e-mail addresses never reach a log line, whoever logged them
    (a reason quoting a record, an exception message, a library's text)."""
    return {key: _masked(value) for key, value in event_dict.items()}


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_contacts(value)
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    return value


class _StderrLogger:
    """Writes each line to whatever sys.stderr is *now*.

    structlog's PrintLogger keeps the stream it was built with; when a command ran under a captured
    stream (a test runner, an embedding tool) that stream may be closed by the time the next line comes.
    """

    def __init__(self, *_: Any) -> None:
        pass

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
