"""The district directory: streets and towns, communities, compounds, property companies, member bureaus.

The data file `district/data/luzhou.json` is produced by `python -m district.generate`; this module only
reads it. Routing and intake look places up here, so the loader refuses a file whose references do not
hold together: a broken reference found at load time is a clear error, found at routing time it is a
case sent nowhere.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.reference import Bureau, Management

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "luzhou.json"

# Callers say "英雄中路" for 英雄中路街道 and "马厂" for 马厂镇.
STREET_SUFFIXES: tuple[str, ...] = ("街道", "镇", "乡")

# Two-character aliases such as 和平 or 锦绣 also occur in road names (和平路, 锦绣街), so in free-text
# addresses only needles of at least this length count; find_compound still accepts the short ones.
MIN_ADDRESS_NEEDLE = 3

# How many problems a refusal lists before it says "and N more": enough to fix a file, short enough to read.
_MAX_REPORTED_PROBLEMS = 10


class _Record(BaseModel):
    # Frozen so that records can be shared by every index; extra fields forbidden so that a typo in the
    # data file is an error instead of a silently missing value.
    model_config = ConfigDict(frozen=True, extra="forbid")


class Street(_Record):
    """A street (街道) or town (镇/乡), each with its own property service centre."""

    code: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)

    @property
    def short_name(self) -> str:
        """The name as people say it, without 街道/镇/乡."""
        return _strip_street_suffix(self.name_zh)


class Community(_Record):
    """A community (社区); its environment and property management committee handles cases."""

    code: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)
    street_code: str = Field(min_length=1)


class PropertyCompany(_Record):
    """A property company with projects in the district, regulated by the centre."""

    code: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)
    has_party_org: bool
    appointed_for_unmanaged: bool
    rating: int = Field(ge=1, le=5)


class Compound(_Record):
    """A residential compound (小区)."""

    code: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    community_code: str = Field(min_length=1)
    street_code: str = Field(min_length=1)
    management: Management
    company_code: str | None
    buildings: int = Field(ge=1)


class MemberBureau(_Record):
    """A member of the district property-management joint meeting."""

    code: Bureau
    name_zh: str = Field(min_length=1)


class DirectoryFile(_Record):
    """The layout of the data file; `meta` is free-form provenance."""

    meta: dict[str, object]
    streets: tuple[Street, ...]
    communities: tuple[Community, ...]
    companies: tuple[PropertyCompany, ...]
    compounds: tuple[Compound, ...]
    bureaus: tuple[MemberBureau, ...]


def normalise(text: str) -> str:
    """Fold the differences that do not change meaning: full-width forms, any whitespace, letter case."""
    return "".join(unicodedata.normalize("NFKC", text).split()).upper()


def _strip_street_suffix(name: str) -> str:
    for suffix in STREET_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


_Coded = TypeVar("_Coded", Street, Community, PropertyCompany, Compound)


def _index_by_code(records: Iterable[_Coded], kind: str, problems: list[str]) -> dict[str, _Coded]:
    index: dict[str, _Coded] = {}
    for record in records:
        if record.code in index:
            problems.append(f"duplicate {kind} code {record.code!r}")
        index[record.code] = record
    return index


class Directory:
    """Every place and organisation a case can be routed to, with lookup indexes built once."""

    def __init__(
        self,
        *,
        streets: Iterable[Street],
        communities: Iterable[Community],
        companies: Iterable[PropertyCompany],
        compounds: Iterable[Compound],
        bureaus: Iterable[MemberBureau],
        meta: Mapping[str, object] | None = None,
    ) -> None:
        problems: list[str] = []
        self._streets = _index_by_code(streets, "street", problems)
        self._communities = _index_by_code(communities, "community", problems)
        self._companies = _index_by_code(companies, "company", problems)
        self._compounds = _index_by_code(compounds, "compound", problems)
        self._bureaus = self._index_bureaus(bureaus, problems)
        self.meta: Mapping[str, object] = dict(meta or {})
        problems.extend(self._reference_problems())
        self._street_keys = self._build_street_keys(problems)
        self._compound_keys = self._build_compound_keys(problems)
        if problems:
            raise ValueError(_summarise(problems))
        self._address_needles = self._build_address_needles()

    # -- building -------------------------------------------------------------------------------------

    @staticmethod
    def _index_bureaus(bureaus: Iterable[MemberBureau], problems: list[str]) -> dict[Bureau, MemberBureau]:
        index: dict[Bureau, MemberBureau] = {}
        for bureau in bureaus:
            if bureau.code in index:
                problems.append(f"duplicate bureau {bureau.code.value!r}")
            index[bureau.code] = bureau
        missing = [b.value for b in Bureau if b not in index]
        if missing:
            problems.append(f"joint meeting members missing: {', '.join(missing)}")
        return index

    def _reference_problems(self) -> list[str]:
        problems = [
            f"community {c.code!r} points at unknown street {c.street_code!r}"
            for c in self._communities.values()
            if c.street_code not in self._streets
        ]
        for compound in self._compounds.values():
            problems.extend(self._compound_problems(compound))
        return problems

    def _compound_problems(self, compound: Compound) -> list[str]:
        where = f"compound {compound.code!r}"
        problems: list[str] = []
        community = self._communities.get(compound.community_code)
        if compound.street_code not in self._streets:
            problems.append(f"{where} points at unknown street {compound.street_code!r}")
        if community is None:
            problems.append(f"{where} points at unknown community {compound.community_code!r}")
        elif community.street_code != compound.street_code:
            problems.append(
                f"{where} is in street {compound.street_code!r} but its community "
                f"{community.code!r} is in street {community.street_code!r}"
            )
        problems.extend(self._management_problems(compound, where))
        return problems

    def _management_problems(self, compound: Compound, where: str) -> list[str]:
        # Who manages a compound decides who answers for it, so the company must match the management type.
        code = compound.company_code
        if compound.management is Management.SELF_MANAGED:
            return [] if code is None else [f"{where} is self-managed but names company {code!r}"]
        if code is None:
            return [f"{where} is {compound.management.value} but names no company"]
        company = self._companies.get(code)
        if company is None:
            return [f"{where} points at unknown company {code!r}"]
        if compound.management is Management.FORMERLY_UNMANAGED and not company.appointed_for_unmanaged:
            return [f"{where} is formerly unmanaged but company {code!r} is not appointed for such compounds"]
        return []

    def _build_street_keys(self, problems: list[str]) -> dict[str, Street]:
        keys: dict[str, Street] = {}
        for street in self._streets.values():
            for key in {normalise(street.code), normalise(street.name_zh), normalise(street.short_name)}:
                _claim(keys, key, street, "street", problems)
        return keys

    def _build_compound_keys(self, problems: list[str]) -> dict[str, Compound]:
        keys: dict[str, Compound] = {}
        for compound in self._compounds.values():
            for key in {
                normalise(compound.code),
                normalise(compound.name_zh),
                *map(normalise, compound.aliases),
            }:
                _claim(keys, key, compound, "compound", problems)
        return keys

    def _build_address_needles(self) -> dict[int, dict[str, tuple[bool, Compound]]]:
        """Needles grouped by length, each mapped to (is_alias, compound), for longest-first matching."""
        by_length: dict[int, dict[str, tuple[bool, Compound]]] = {}
        for compound in self._compounds.values():
            needles = [(normalise(compound.name_zh), False)]
            needles += [(normalise(alias), True) for alias in compound.aliases]
            for needle, is_alias in needles:
                if len(needle) >= MIN_ADDRESS_NEEDLE or not is_alias:
                    by_length.setdefault(len(needle), {})[needle] = (is_alias, compound)
        return dict(sorted(by_length.items(), reverse=True))

    # -- lookups by code ------------------------------------------------------------------------------

    def street(self, code: str) -> Street | None:
        return self._streets.get(code)

    def community(self, code: str) -> Community | None:
        return self._communities.get(code)

    def company(self, code: str) -> PropertyCompany | None:
        return self._companies.get(code)

    def compound(self, code: str) -> Compound | None:
        return self._compounds.get(code)

    def bureau(self, code: Bureau) -> MemberBureau:
        # Every member is present: the constructor refuses a directory that lacks one.
        return self._bureaus[code]

    # -- lookups by what people write -----------------------------------------------------------------

    def find_street(self, name_or_code: str) -> Street | None:
        """A street by code, Chinese name, or name without 街道/镇/乡 ("英雄中路", "马厂")."""
        return self._street_keys.get(normalise(name_or_code))

    def find_compound(self, text: str) -> Compound | None:
        """A compound by exact code, Chinese name or alias, ignoring whitespace and full-width forms."""
        return self._compound_keys.get(normalise(text))

    def find_compound_in_address(self, address: str) -> Compound | None:
        """The compound whose name or alias is the longest one contained in a free-text address.

        Ties of equal length go to a full name over an alias, then to the earliest position in the
        address, then to the smaller compound code, so the answer never depends on dictionary order.
        """
        text = normalise(address)
        for length, needles in self._address_needles.items():
            hits = _hits(text, length, needles)
            if hits:
                return min(hits, key=lambda hit: hit[:3])[3]
        return None

    # -- collections and counts -----------------------------------------------------------------------

    @property
    def streets(self) -> tuple[Street, ...]:
        return tuple(self._streets.values())

    @property
    def communities(self) -> tuple[Community, ...]:
        return tuple(self._communities.values())

    @property
    def companies(self) -> tuple[PropertyCompany, ...]:
        return tuple(self._companies.values())

    @property
    def compounds(self) -> tuple[Compound, ...]:
        return tuple(self._compounds.values())

    @property
    def bureaus(self) -> tuple[MemberBureau, ...]:
        return tuple(self._bureaus.values())

    def communities_in_street(self, street_code: str) -> tuple[Community, ...]:
        return tuple(c for c in self._communities.values() if c.street_code == street_code)

    def compounds_in_street(self, street_code: str) -> tuple[Compound, ...]:
        return tuple(c for c in self._compounds.values() if c.street_code == street_code)

    def compounds_in_community(self, community_code: str) -> tuple[Compound, ...]:
        return tuple(c for c in self._compounds.values() if c.community_code == community_code)

    def compounds_of_company(self, company_code: str) -> tuple[Compound, ...]:
        return tuple(c for c in self._compounds.values() if c.company_code == company_code)

    def appointed_companies(self) -> tuple[PropertyCompany, ...]:
        """The companies selected to take over the compounds nobody managed."""
        return tuple(c for c in self._companies.values() if c.appointed_for_unmanaged)

    def appointed_company_for_street(self, street_code: str) -> PropertyCompany | None:
        """The company appointed to a street's formerly unmanaged compounds, if it has any."""
        codes = sorted(
            {
                c.company_code
                for c in self.compounds_in_street(street_code)
                if c.management is Management.FORMERLY_UNMANAGED and c.company_code is not None
            }
        )
        return self._companies.get(codes[0]) if codes else None

    def count_by_management(self) -> dict[Management, int]:
        counted = Counter(c.management for c in self._compounds.values())
        return {management: counted[management] for management in Management}

    def count_companies_with_party_org(self) -> int:
        return sum(1 for c in self._companies.values() if c.has_party_org)

    def counts(self) -> dict[str, int]:
        """Sizes of every collection, for health checks and reports."""
        return {
            "streets": len(self._streets),
            "communities": len(self._communities),
            "companies": len(self._companies),
            "compounds": len(self._compounds),
            "bureaus": len(self._bureaus),
        }


_Hit = tuple[bool, int, str, Compound]


def _hits(text: str, length: int, needles: Mapping[str, tuple[bool, Compound]]) -> list[_Hit]:
    """Every needle of one length found in `text`, as (is_alias, position, code, compound)."""
    hits: list[_Hit] = []
    for start in range(len(text) - length + 1):
        found = needles.get(text[start : start + length])
        if found is not None:
            is_alias, compound = found
            hits.append((is_alias, start, compound.code, compound))
    return hits


def _claim(keys: dict[str, _Coded], key: str, record: _Coded, kind: str, problems: list[str]) -> None:
    # A name that points at two records would make lookups depend on load order, so it is refused.
    holder = keys.setdefault(key, record)
    if holder.code != record.code:
        problems.append(f"{kind} name or code {key!r} is used by both {holder.code!r} and {record.code!r}")


def _summarise(problems: list[str]) -> str:
    shown = problems[:_MAX_REPORTED_PROBLEMS]
    more = len(problems) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more else "")


def directory_from_file(data: DirectoryFile) -> Directory:
    return Directory(
        streets=data.streets,
        communities=data.communities,
        companies=data.companies,
        compounds=data.compounds,
        bureaus=data.bureaus,
        meta=data.meta,
    )


def _read(path: Path) -> Directory:
    try:
        text = path.read_text(encoding="utf-8")
        return directory_from_file(DirectoryFile.model_validate(json.loads(text)))
    except FileNotFoundError as exc:
        raise ValueError(f"district directory {path}: file not found") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"district directory {path}: not valid UTF-8 JSON: {exc}") from exc
    except ValidationError as exc:
        raise ValueError(f"district directory {path}: wrong layout: {_describe(exc)}") from exc
    except ValueError as exc:
        raise ValueError(f"district directory {path}: broken references: {exc}") from exc


def _describe(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
        for error in exc.errors()
    ]
    return _summarise(problems)


@lru_cache(maxsize=1)
def _default_directory() -> Directory:
    return _read(DEFAULT_PATH)


def load_directory(path: Path | None = None) -> Directory:
    """The directory from `path`, or the checked-in Luzhou directory (read once per process) if None."""
    if path is None:
        return _default_directory()
    return _read(Path(path))
