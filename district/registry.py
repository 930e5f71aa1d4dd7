"""The district registry: which districts (tenants) this deployment serves, and each one's directory.

Read from `district/districts.yaml` (or CASELINE_DISTRICTS_FILE). Directories are loaded on first use
and kept, so a service that only ever sees one district never reads the others.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache, cached_property
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from district.directory import Directory, load_directory, normalise
from schemas.reference import DistrictCode

DEFAULT_REGISTRY = Path(__file__).resolve().parent / "districts.yaml"
REGISTRY_ENV = "CASELINE_DISTRICTS_FILE"

_Policy = TypeVar("_Policy")


class UnknownDistrict(LookupError):
    """A district code or name that the registry does not list; the message names the ones it does."""


class DistrictEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    directory: Path = Field(description="The directory JSON, relative to the registry file")
    id_prefix: str = Field(pattern=r"^([a-z][a-z0-9_]*/)?$")


class RegistryFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    founding: DistrictCode
    districts: dict[DistrictCode, DistrictEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _founding_is_listed_and_prefixes_are_unique(self) -> RegistryFile:
        if self.founding not in self.districts:
            raise ValueError(f"founding district {self.founding!r} is not listed under districts")
        prefixes = [entry.id_prefix for entry in self.districts.values()]
        if len(set(prefixes)) != len(prefixes):
            raise ValueError("two districts share an id_prefix: their complaint ids could collide")
        return self


class District:
    """One tenant: its code, names, id prefix and (loaded on first use) directory."""

    def __init__(self, code: str, entry: DistrictEntry, base: Path) -> None:
        self.code = code
        self.name_zh = entry.name_zh
        self.name_en = entry.name_en
        self.id_prefix = entry.id_prefix
        self.directory_path = (base / entry.directory).resolve()

    @cached_property
    def directory(self) -> Directory:
        return load_directory(self.directory_path)

    def scoped_id(self, local_id: str) -> str:
        """An id unique across districts, made from one unique within the district."""
        return f"{self.id_prefix}{local_id}"


class Districts:
    """Every district of the deployment, looked up by code or by the name people write (上党区, 上党)."""

    def __init__(self, founding: str, districts: Mapping[str, District]) -> None:
        self._by_code = dict(districts)
        self.founding = self._by_code[founding]
        self._by_name: dict[str, District] = {}
        for district in self._by_code.values():
            for key in (
                district.code,
                district.name_zh,
                district.name_zh.removesuffix("区"),
                district.name_en,
            ):
                self._by_name[normalise(key)] = district

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self._by_code)

    def __iter__(self) -> Iterator[District]:
        return iter(self._by_code.values())

    def get(self, code: str) -> District:
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownDistrict(self._unknown(code)) from None

    def find(self, code_or_name: str) -> District:
        """A district by code or name as an outside system writes it; UnknownDistrict if none matches."""
        found = self._by_name.get(normalise(code_or_name))
        if found is None:
            raise UnknownDistrict(self._unknown(code_or_name))
        return found

    def directory(self, code: str) -> Directory:
        return self.get(code).directory

    def _unknown(self, given: str) -> str:
        return f"unknown district {given!r}: this deployment serves {', '.join(self.codes)}"


def read_registry(path: Path) -> Districts:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = RegistryFile.model_validate(document)
    except FileNotFoundError as exc:
        raise ValueError(f"district registry {path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"district registry {path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        raise ValueError(f"district registry {path}: {exc}") from exc
    base = path.resolve().parent
    return Districts(
        parsed.founding, {code: District(code, entry, base) for code, entry in parsed.districts.items()}
    )


@cache
def _registry_at(path: Path) -> Districts:
    return read_registry(path)


def load_districts(path: Path | None = None) -> Districts:
    """The registry at `path`, CASELINE_DISTRICTS_FILE, or the checked-in one; read once per process."""
    chosen = path or Path(os.environ.get(REGISTRY_ENV) or DEFAULT_REGISTRY)
    return _registry_at(Path(chosen))


def district_policy_path(default: Path, district: str) -> Path:
    """The district's own policy file when present, else the service's default.

    The one convention every service follows: `<stem>.<district><suffix>` beside the default file
    (`sla_policy.shangdang.yaml` beside `sla_policy.yaml`) replaces it, whole, for that district.
    """
    own = default.with_name(f"{default.stem}.{district}{default.suffix}")
    return own if own.is_file() else default


def stray_policy_files(default: Path, districts: Iterable[str]) -> dict[Path, str]:
    """Per-district files beside `default` that name no served district (a typo, or another deployment's),
    each with the district its name gives: they are never read, and whoever wrote one expects otherwise."""
    served = set(districts)
    stray: dict[Path, str] = {}
    for path in sorted(default.parent.glob(f"{default.stem}.*{default.suffix}")):
        district = path.name.removeprefix(f"{default.stem}.").removesuffix(default.suffix)
        if district not in served:
            stray[path] = district
    return stray


def load_per_district(
    load: Callable[[Path], _Policy], default: Path, districts: Iterable[str]
) -> dict[str, _Policy]:
    """Every district's policy, each file read once, all at start: a bad file refuses the start, naming
    itself, instead of failing the first case that needs it."""
    loaded: dict[Path, _Policy] = {default: load(default)}
    chosen: dict[str, _Policy] = {}
    for district in districts:
        path = district_policy_path(default, district)
        if path not in loaded:
            loaded[path] = load(path)
        chosen[district] = loaded[path]
    return chosen
