"""Text as outside systems write it, made comparable: full-width forms, spacing, case, path separators."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# The separators real 12345 exports put between the levels of a category path (after NFKC, ＞ is >).
PATH_SEPARATORS = ("›", ">", "/", "-", "|", "\\", "»", "→", "—", "、")
_SPACE = re.compile(r"\s+")
_BRACKETED = re.compile(r"[(\[【〔（][^)\]】〕）]*[)\]】〕）]")


@lru_cache(maxsize=4096)  # labels and many descriptions repeat; NFKC costs some microseconds a text
def normalise(text: str) -> str:
    """NFKC (full-width letters, digits and punctuation become their ASCII forms), one space, lower case."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def compact(text: str) -> str:
    """normalise() without any spaces: '电梯 故障' and '电梯故障' are one label."""
    return normalise(text).replace(" ", "")


def without_brackets(text: str) -> str:
    """'电梯故障(困人)' -> '电梯故障': platforms append notes in brackets to their labels."""
    return _BRACKETED.sub("", text).strip()


_SPLIT = re.compile("|".join(re.escape(separator) for separator in PATH_SEPARATORS))


def path_segments(text: str) -> list[str]:
    """The levels of a category path, outermost first, each compacted; empty levels dropped."""
    return [segment for part in _SPLIT.split(normalise(text)) if (segment := part.strip().replace(" ", ""))]
