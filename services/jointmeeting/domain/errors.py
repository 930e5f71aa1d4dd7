"""Why a command was refused; adapters turn these into HTTP answers or dead letters."""

from __future__ import annotations


class CommandRefused(Exception):
    """Base: the command does not fit the file's current state or names something wrong."""


class Conflict(CommandRefused):
    """The file's state does not allow this (stale or out-of-order command)."""


class NotFound(CommandRefused):
    """The file, meeting or task named does not exist."""


class WrongBureau(CommandRefused):
    """A bureau acted on a task that is not its own."""


class InvalidCommand(CommandRefused):
    """The command itself is wrong (a deadline in the past, a decision with no bureau)."""


class StaleFile(Conflict):
    """The command was decided on an older version of the file than the stored one."""

    def __init__(self, file_id: str, expected: int, current: int) -> None:
        self.file_id, self.expected, self.current = file_id, expected, current
        super().__init__(
            f"file {file_id} is at version {current}, the command was based on version {expected}: "
            "reload the file and decide again"
        )
