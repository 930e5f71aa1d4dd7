"""Operator commands configure logging for a terminal, yet a command run in-process (as the tests run them)
leaves structlog re-configurable: a logger first used after the command still reaches capture_logs."""

from __future__ import annotations

from structlog.testing import capture_logs
from typer.testing import CliRunner

from caseline.cli import app
from eventcore.logging import get_logger

log = get_logger("tests.cli_logging")


def test_a_logger_used_between_in_process_commands_is_still_seen_by_capture_logs() -> None:
    # Each command configures structlog again; a logger cached under the first configuration would keep
    # its processors, and capture_logs (which swaps the current configuration's) would see nothing.
    for _ in range(2):
        listed = CliRunner().invoke(app, ["districts", "list"])
        assert listed.exit_code == 0, listed.output
        log.warning("used_under_the_operator_configuration")
    with capture_logs() as captured:
        log.warning("case_status_for_unknown_case", case_id="c-1")
    assert [entry["event"] for entry in captured] == ["case_status_for_unknown_case"]
