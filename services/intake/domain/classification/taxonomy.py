"""A hotline platform's taxonomy: its labels, codes and category paths, mapped to Caseline categories.

One YAML document per platform (services/intake/taxonomies/<platform>.yaml, per district
<platform>.<district>.yaml). Matching a label as the platform sent it, in this order:

1. a Caseline category code or Chinese label (`platform_label`): the platform already speaks Caseline;
2. the whole text as one of the taxonomy's codes, then as one of its full paths;
3. the levels of a path, most specific first, each as a label or code (generic levels such as 城乡建设 or
   物业管理 are skipped: they say nothing about the category), then each without a bracketed note;
4. nothing: the label is unmapped and the text classifier decides.

Text is compared after NFKC (full-width forms), with spacing and case ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from schemas.categorisation import CategorySource
from schemas.reference import CATEGORY_LABELS_ZH, Category
from services.intake.domain.classification.text import compact, path_segments, without_brackets

_CASELINE: dict[str, Category] = {compact(c.value): c for c in Category} | {
    compact(label): c for c, label in CATEGORY_LABELS_ZH.items()
}
_ENTRY_KEYS = ("labels", "codes", "paths")
_TOP_KEYS = ("platform", "version", "name", "generic", "categories")


@dataclass(frozen=True)
class LabelMatch:
    category: Category
    source: CategorySource  # PLATFORM_LABEL or MAPPING
    matched: str  # the label, code, path or level that matched, as the taxonomy writes it


@dataclass(frozen=True)
class Taxonomy:
    platform: str
    version: str
    labels: Mapping[str, tuple[Category, str]] = field(
        default_factory=dict
    )  # compact label -> (category, as written)
    codes: Mapping[str, tuple[Category, str]] = field(default_factory=dict)
    paths: Mapping[str, tuple[Category, str]] = field(default_factory=dict)  # "/"-joined compact levels
    generic: frozenset[str] = frozenset()

    def match(self, label: str) -> LabelMatch | None:
        """The category a label, code or path maps to, or None when the taxonomy does not know it."""
        whole = compact(label)
        if not whole:
            return None
        if whole in _CASELINE:
            return LabelMatch(_CASELINE[whole], CategorySource.PLATFORM_LABEL, label.strip())
        for table, key in ((self.codes, whole), (self.paths, "/".join(path_segments(label)))):
            if key in table:
                category, written = table[key]
                return LabelMatch(category, CategorySource.MAPPING, written)
        return self._match_levels(path_segments(label))

    def _match_levels(self, levels: list[str]) -> LabelMatch | None:
        specific_first = [level for level in reversed(levels) if level not in self.generic]
        for candidates in (specific_first, [without_brackets(level) for level in specific_first]):
            for level in candidates:
                if level in _CASELINE:
                    return LabelMatch(_CASELINE[level], CategorySource.PLATFORM_LABEL, level)
                for table in (self.labels, self.codes):
                    if level in table:
                        category, written = table[level]
                        return LabelMatch(category, CategorySource.MAPPING, written)
        return None

    def meaningful_levels(self, label: str) -> list[str]:
        """The label's levels that say something (not generic): words the classifier may read."""
        return [level for level in path_segments(label) if level not in self.generic]

    @property
    def size(self) -> int:
        return len(self.labels) + len(self.codes) + len(self.paths)


# -- reading and checking a taxonomy document ----------------------------------------------------------


@dataclass(frozen=True)
class TaxonomyProblem:
    line: int  # 1-based; 0 when the document has no position for it
    entry: str  # what is wrong, e.g. "categories.elevator_equipment.labels[3]"
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.entry}: {self.message}"


class TaxonomyError(ValueError):
    """A taxonomy document that cannot be used; `problems` names each entry and its line."""

    def __init__(self, source: str, problems: list[TaxonomyProblem]) -> None:
        self.source, self.problems = source, problems
        listed = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the category mapping:\n{listed}")


def parse_taxonomy(text: str, source: str = "taxonomy") -> Taxonomy:
    """The taxonomy a YAML document describes; TaxonomyError naming every problem (with its line) otherwise."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise TaxonomyError(
            source, [TaxonomyProblem(line, "document", f"not valid YAML: {error}")]
        ) from error
    reader = _Reader()
    taxonomy = reader.read(root)
    if reader.problems or taxonomy is None:
        raise TaxonomyError(source, reader.problems or [TaxonomyProblem(0, "document", "empty document")])
    return taxonomy


class _Reader:
    """Walks the YAML nodes (which know their lines) and collects every problem instead of stopping at one."""

    def __init__(self) -> None:
        self.problems: list[TaxonomyProblem] = []
        # compact text -> (category, as written, line, entry) per table, to find labels mapped twice
        self.seen: dict[str, dict[str, tuple[Category, str, int, str]]] = {key: {} for key in _ENTRY_KEYS}

    def problem(self, node: yaml.Node | None, entry: str, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 0
        self.problems.append(TaxonomyProblem(line, entry, message))

    def read(self, root: yaml.Node | None) -> Taxonomy | None:
        if not isinstance(root, yaml.MappingNode):
            self.problem(root, "document", "must be a mapping with platform, version and categories")
            return None
        top = self.mapping(root, "document")
        for key, (key_node, _) in top.items():
            if key not in _TOP_KEYS:
                self.problem(key_node, key, f"unknown key; expected one of {', '.join(_TOP_KEYS)}")
        platform = self.scalar(top, "platform", required=True)
        version = self.scalar(top, "version", required=True)
        generic = frozenset(compact(text) for text, _ in self.strings(top.get("generic"), "generic"))
        categories = top.get("categories")
        if categories is None or not isinstance(categories[1], yaml.MappingNode):
            self.problem(
                categories[1] if categories else root,
                "categories",
                "a mapping of category -> entries is required",
            )
            return None
        for name, (key_node, value) in self.mapping(categories[1], "categories").items():
            self.category_entry(name, key_node, value, generic)
        tables = {
            key: {text: (c, written) for text, (c, written, _, _) in seen.items()}
            for key, seen in self.seen.items()
        }
        return Taxonomy(platform, version, tables["labels"], tables["codes"], tables["paths"], generic)

    def category_entry(
        self, name: str, key_node: yaml.Node, value: yaml.Node, generic: frozenset[str]
    ) -> None:
        entry = f"categories.{name}"
        try:
            category = Category(name)
        except ValueError:
            known = ", ".join(c.value for c in Category)
            self.problem(key_node, entry, f"unknown Caseline category {name!r}; known: {known}")
            return
        if not isinstance(value, yaml.MappingNode):
            self.problem(value, entry, "must be a mapping with labels, codes and/or paths")
            return
        fields = self.mapping(value, entry)
        for key, (node, _) in fields.items():
            if key not in _ENTRY_KEYS:
                self.problem(node, f"{entry}.{key}", f"unknown key; expected {', '.join(_ENTRY_KEYS)}")
        if not any(key in fields for key in _ENTRY_KEYS):
            self.problem(key_node, entry, "maps nothing: give labels, codes or paths")
        for key in _ENTRY_KEYS:
            for index, (written, node) in enumerate(self.strings(fields.get(key), f"{entry}.{key}")):
                self.add(key, category, written, node, f"{entry}.{key}[{index}]", generic)

    def add(
        self,
        table: str,
        category: Category,
        written: str,
        node: yaml.Node,
        entry: str,
        generic: frozenset[str],
    ) -> None:
        key = "/".join(path_segments(written)) if table == "paths" else compact(written)
        if not key:
            self.problem(node, entry, "is empty")
            return
        if table == "labels" and key in generic:
            self.problem(node, entry, f"{written!r} is also listed as generic (a level that decides nothing)")
        if table == "labels" and key in _CASELINE and _CASELINE[key] is not category:
            self.problem(node, entry, f"{written!r} is Caseline's own label of {_CASELINE[key].value}")
        earlier = self.seen[table].get(key)
        if earlier is not None and earlier[0] is not category:
            self.problem(
                node,
                entry,
                f"{written!r} maps to {category.value}, but {earlier[3]} (line {earlier[2]}) maps it to "
                f"{earlier[0].value}",
            )
            return
        if earlier is None:
            self.seen[table][key] = (category, written, node.start_mark.line + 1, entry)

    def mapping(self, node: yaml.MappingNode, entry: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        found: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in found:
                self.problem(key_node, f"{entry}.{key}", "appears twice; merge the two entries")
            found[key] = (key_node, value_node)
        return found

    def scalar(self, fields: dict[str, tuple[yaml.Node, yaml.Node]], key: str, *, required: bool) -> str:
        pair = fields.get(key)
        if pair is None or not isinstance(pair[1], yaml.ScalarNode) or not str(pair[1].value).strip():
            if required:
                self.problem(pair[1] if pair else None, key, "is required (a non-empty text)")
            return ""
        return str(pair[1].value).strip()

    def strings(
        self, pair: tuple[yaml.Node, yaml.Node] | None, entry: str
    ) -> Iterable[tuple[str, yaml.Node]]:
        if pair is None:
            return []
        node = pair[1]
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, entry, "must be a list")
            return []
        items: list[tuple[str, yaml.Node]] = []
        for index, item in enumerate(node.value):
            if not isinstance(item, yaml.ScalarNode):
                self.problem(item, f"{entry}[{index}]", "must be a text")
                continue
            items.append((str(item.value), item))
        return items


def taxonomy_from_data(data: Mapping[str, Any], source: str = "taxonomy") -> Taxonomy:
    """For tests and tools that build a taxonomy in code: the same checks as a file."""
    return parse_taxonomy(yaml.safe_dump(dict(data), allow_unicode=True), source)
