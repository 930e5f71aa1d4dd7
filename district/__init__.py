"""The districts Caseline serves and their directories: where every complaint can be routed."""

from district.directory import (
    Community,
    Compound,
    Directory,
    MemberBureau,
    PropertyCompany,
    Street,
    load_directory,
)
from district.registry import District, Districts, UnknownDistrict, load_districts

__all__ = [
    "Community",
    "Compound",
    "Directory",
    "District",
    "Districts",
    "MemberBureau",
    "PropertyCompany",
    "Street",
    "UnknownDistrict",
    "load_directory",
    "load_districts",
]
