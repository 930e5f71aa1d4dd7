"""Where a complaint is: the compound from the explicit field or the free-text address, with a confidence.

A messy address never refuses a complaint: without a compound it goes to its street, without a street it
is marked for the centre's manual triage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from district.directory import Compound, Directory, Street, normalise


class Resolution(StrEnum):
    COMPOUND_FIELD = "compound_field"  # the compound field names it exactly (name or code)
    COMPOUND_ALIAS = "compound_alias"  # the compound field gives a known alias
    COMPOUND_FIELD_TEXT = "compound_field_text"  # the compound field contains a name ("锦绣花园东区")
    ADDRESS_NAME = "address_name"  # the address contains the full name
    ADDRESS_ALIAS = "address_alias"  # the address contains a long alias
    ADDRESS_ABBREVIATION = "address_abbreviation"  # a short alias followed by a building ("丰河3号楼")
    STREET_ONLY = "street_only"
    MANUAL_TRIAGE = "manual_triage"


_BASE_CONFIDENCE: dict[Resolution, float] = {
    Resolution.COMPOUND_FIELD: 1.0,
    Resolution.COMPOUND_ALIAS: 0.95,
    Resolution.COMPOUND_FIELD_TEXT: 0.85,
    Resolution.ADDRESS_NAME: 0.85,
    Resolution.ADDRESS_ALIAS: 0.75,
    Resolution.ADDRESS_ABBREVIATION: 0.6,
}
# Evidence against a match lowers the confidence rather than discarding it: a person can still check it.
_STREET_CONFLICT_PENALTY = 0.3
_NO_SUCH_BUILDING_PENALTY = 0.2

_BUILDING = re.compile(r"(\d{1,3})(?:号楼|栋|幢|号院)")
# The two characters before 小区 or a building number (overlapping matches via the lookahead).
_BEFORE_BUILDING = re.compile(r"(?=(..)(?:小区|\d{1,3}(?:号楼|栋|幢|号院|单元)))")


@dataclass(frozen=True)
class Location:
    compound: Compound | None
    street: Street | None
    resolution: Resolution
    confidence: float | None

    @property
    def needs_triage(self) -> bool:
        return self.resolution is Resolution.MANUAL_TRIAGE


def resolve_location(directory: Directory, *, compound_text: str, street_text: str, address: str) -> Location:
    street = directory.find_street(street_text) if street_text else None
    found = _find_compound(directory, compound_text, address)
    if found is None:
        if street is not None:
            return Location(None, street, Resolution.STREET_ONLY, None)
        return Location(None, None, Resolution.MANUAL_TRIAGE, None)
    compound, resolution = found
    confidence = _BASE_CONFIDENCE[resolution]
    if street is not None and street.code != compound.street_code:
        confidence -= _STREET_CONFLICT_PENALTY
    if any(int(n) > compound.buildings for n in _BUILDING.findall(address)):
        confidence -= _NO_SUCH_BUILDING_PENALTY
    return Location(
        compound, directory.street(compound.street_code), resolution, round(max(confidence, 0.1), 2)
    )


def _find_compound(
    directory: Directory, compound_text: str, address: str
) -> tuple[Compound, Resolution] | None:
    if compound_text:
        exact = directory.find_compound(compound_text)
        if exact is not None:
            named = normalise(compound_text) in (normalise(exact.name_zh), normalise(exact.code))
            return exact, Resolution.COMPOUND_FIELD if named else Resolution.COMPOUND_ALIAS
        inside = directory.find_compound_in_address(compound_text)
        if inside is not None:
            return inside, Resolution.COMPOUND_FIELD_TEXT
    if address:
        in_address = directory.find_compound_in_address(address)
        if in_address is not None:
            full = normalise(in_address.name_zh) in normalise(address)
            return in_address, Resolution.ADDRESS_NAME if full else Resolution.ADDRESS_ALIAS
        abbreviated = _abbreviation(directory, address)
        if abbreviated is not None:
            return abbreviated, Resolution.ADDRESS_ABBREVIATION
    return None


def _abbreviation(directory: Directory, address: str) -> Compound | None:
    """A short alias counts only right before 小区 or a building number, where a road name cannot be."""
    aliases = _short_aliases(directory)
    for match in _BEFORE_BUILDING.finditer(normalise(address)):
        before = match.group(1)
        found = aliases.get(before) or aliases.get(before[-1])
        if found is not None:
            return found
    return None


@lru_cache(maxsize=4)
def _short_aliases(directory: Directory) -> dict[str, Compound]:
    return {
        normalise(alias): compound
        for compound in directory.compounds
        for alias in compound.aliases
        if len(normalise(alias)) < 3
    }
