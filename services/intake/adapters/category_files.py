"""The data behind intake's category decisions, read from the repo: the platforms' taxonomy files and the
classifier's labelled corpus. The classifier is trained once per process, on first use."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from threading import Lock

import yaml

from district.registry import district_policy_path
from schemas.reference import Category
from services.intake.domain.classification.categoriser import Categoriser
from services.intake.domain.classification.classifier import TextClassifier
from services.intake.domain.classification.decision import ClassificationPolicy
from services.intake.domain.classification.taxonomy import Taxonomy, parse_taxonomy

INTAKE_DIR = Path(__file__).resolve().parent.parent
TAXONOMY_DIR = INTAKE_DIR / "taxonomies"
CORPUS_DIR = INTAKE_DIR / "corpus"
TRAINING_CORPUS = CORPUS_DIR / "train.yaml"
EVALUATION_SET = CORPUS_DIR / "eval.yaml"
DEFAULT_PLATFORM = "12345-default"
_PLATFORM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def read_taxonomy(path: Path) -> Taxonomy:
    """A taxonomy file; TaxonomyError (every problem with its line) or OSError."""
    return parse_taxonomy(path.read_text(encoding="utf-8"), str(path))


class TaxonomyFiles:
    """Each platform's taxonomy (<platform>.yaml; per district <platform>.<district>.yaml), read once.

    A platform without a file of its own reads with the default platform's taxonomy.
    """

    def __init__(self, directory: Path = TAXONOMY_DIR, default_platform: str = DEFAULT_PLATFORM) -> None:
        self.directory, self.default_platform = directory, default_platform
        self._read: dict[Path, Taxonomy] = {}
        self._chosen: dict[tuple[str, str], Taxonomy] = {}  # (platform, district) -> taxonomy, once looked up
        self._lock = Lock()

    def path_for(self, platform: str, district: str) -> Path:
        own = self.directory / f"{platform}.yaml" if _PLATFORM_NAME.match(platform) else None
        base = own if own is not None and own.is_file() else self.directory / f"{self.default_platform}.yaml"
        return district_policy_path(base, district)

    def __call__(self, platform: str, district: str) -> Taxonomy:
        chosen = self._chosen.get((platform, district))
        if chosen is not None:
            return chosen
        path = self.path_for(platform, district)
        with self._lock:
            if path not in self._read:
                self._read[path] = read_taxonomy(path)
            self._chosen[(platform, district)] = self._read[path]
            return self._read[path]

    def check(self, districts: Iterable[str]) -> list[Path]:
        """Read every platform's file and every district's variant now: a broken one stops the start."""
        paths = sorted(p for p in self.directory.glob("*.yaml"))
        for path in paths:
            with self._lock:
                self._read.setdefault(path, read_taxonomy(path))
        for district in districts:
            self(self.default_platform, district)
        return paths


def read_corpus(path: Path) -> dict[Category, list[str]]:
    """category -> texts, from a YAML mapping; ValueError naming the file and the unknown category."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    corpus: dict[Category, list[str]] = {}
    for name, texts in document.items():
        try:
            category = Category(name)
        except ValueError:
            raise ValueError(f"{path}: unknown category {name!r}") from None
        corpus[category] = [str(text) for text in texts or []]
    return corpus


@cache
def trained_classifier(corpus: Path = TRAINING_CORPUS) -> TextClassifier:
    """The classifier trained on the shipped corpus: once per process, then shared."""
    return TextClassifier(read_corpus(corpus))


def categoriser(
    policy: ClassificationPolicy | None = None, taxonomies: TaxonomyFiles | None = None
) -> Categoriser:
    return Categoriser(
        taxonomies or _default_taxonomies(), trained_classifier(), policy or ClassificationPolicy()
    )


@cache
def _default_taxonomies() -> TaxonomyFiles:
    return TaxonomyFiles()
