"""Who acts on a case: a unit (centre, street or community) and the member of its staff who acted."""

from __future__ import annotations

from dataclasses import dataclass

CENTRE = "centre"


@dataclass(frozen=True)
class Actor:
    unit_code: str
    staff_id: str

    @property
    def is_centre(self) -> bool:
        """The centre guides: it sees every case, keeps the triage queue and does callbacks."""
        return self.unit_code == CENTRE

    @property
    def recorded_as(self) -> str:
        """What goes into every event's metadata: unit and person."""
        return f"{self.unit_code}/{self.staff_id}"
