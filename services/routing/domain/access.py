"""Who acts on a case: a unit (centre, street or community) of one district and the member of its staff who
acted."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.reference import FOUNDING_DISTRICT

CENTRE = "centre"


@dataclass(frozen=True)
class Actor:
    unit_code: str
    staff_id: str
    # Unit codes are district-local (every district has an ST01 and a centre), so a unit is (district, code).
    district: str = FOUNDING_DISTRICT

    @property
    def is_centre(self) -> bool:
        """The centre guides: it sees every case of its district, keeps the triage queue and does callbacks."""
        return self.unit_code == CENTRE

    @property
    def recorded_as(self) -> str:
        """What goes into every event's metadata: unit and person (the district travels in the metadata)."""
        return f"{self.unit_code}/{self.staff_id}"
