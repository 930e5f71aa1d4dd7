""" "This file changed": sent by the file store in the transaction that changes a file's read models.

The payload names the file, its district and every bureau with a task in it (a task reassigned away
included), so a bureau's board hears of a task that left it as well as of one that arrived.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventcore.database import DbConnection
from services.jointmeeting.domain.state import FileState
from webui.live import notify

CHANNEL = "jointmeeting_files"


@dataclass(frozen=True)
class FileChange:
    file_id: str
    district: str
    bureaus: frozenset[str]

    def payload(self) -> str:
        return "\t".join([self.file_id, self.district, *sorted(self.bureaus)])

    @staticmethod
    def parse(payload: str) -> FileChange | None:
        parts = payload.split("\t")
        if len(parts) < 2 or not parts[0]:
            return None
        return FileChange(parts[0], parts[1], frozenset(p for p in parts[2:] if p))


async def announce(conn: DbConnection, state: FileState) -> None:
    change = FileChange(
        state.file_id, state.district, frozenset(t.bureau.value for t in state.tasks.values())
    )
    await notify(conn, CHANNEL, [change.payload()])
