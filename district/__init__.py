"""The district directory of Luzhou District: where every complaint can be routed."""

from district.directory import (
    Community,
    Compound,
    Directory,
    MemberBureau,
    PropertyCompany,
    Street,
    load_directory,
)

__all__ = [
    "Community",
    "Compound",
    "Directory",
    "MemberBureau",
    "PropertyCompany",
    "Street",
    "load_directory",
]
