"""The text classifier: TF-IDF over character n-grams and a multinomial logistic regression (scikit-learn).

Chinese has no spaces, and residents' spelling varies (垃级 for 垃圾, 电悌 for 电梯): character 1-2-grams
need no segmenter and degrade gracefully on a wrong character. The model is trained at start-up from the
labelled corpus shipped in the repo (deterministic: the solver is exact and seeded, so the same corpus gives
the same model; well under a second), never loaded from a pickle. Evidence is read off the model itself: the
n-grams of the text whose weights pushed hardest towards the winning category, merged back into the spans of
the text they came from.
"""

from __future__ import annotations

import hashlib
import operator
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from schemas.categorisation import CategoryCandidate
from schemas.reference import Category
from services.intake.domain.classification.text import normalise

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

NGRAMS = (1, 2)
REGULARISATION = 30.0  # chosen by cross-validation on the training corpus (bench/classifier.py --cv)
SEED = 12345
EVIDENCE_WORDS = 4  # spans shown
EVIDENCE_GRAMS = 6  # the strongest n-grams those spans are made of
_PUNCTUATION = re.compile(r"[\s\W\d_]")
# Texts whose scores (and evidence, once asked for) are kept: residents and call-takers repeat the same
# descriptions, and a text's scores do not depend on the texts scored with it, so each is scored once.
# Bounded, the oldest going first: some 5 MiB at most.
TEXTS_KEPT = 5_000


@dataclass(frozen=True)
class Prediction:
    top: tuple[tuple[Category, float], ...]  # the three most probable categories, best first
    scores: Sequence[float]  # every category's probability, in `columns` order
    columns: Mapping[Category, int]
    evidence: tuple[str, ...]  # spans of the text that decided the top category, strongest first

    @property
    def category(self) -> Category:
        return self.top[0][0]

    @property
    def confidence(self) -> float:
        return self.top[0][1]

    def probability(self, category: Category) -> float:
        return self.scores[self.columns[category]]

    def candidates(self, count: int = 3) -> list[CategoryCandidate]:
        return [CategoryCandidate(category=c, score=round(p, 4)) for c, p in self.top[:count]]


@dataclass
class _Scored:
    """One normalised text's scores, and its evidence once some caller asked for it."""

    top: tuple[tuple[Category, float], ...]
    scores: tuple[float, ...]
    evidence: tuple[str, ...] | None = None


class TextClassifier:
    """Trained once per process from labelled examples; scores many texts in one call."""

    def __init__(self, examples: Mapping[Category, Sequence[str]]) -> None:
        texts = [normalise(text) for category in examples for text in examples[category]]
        labels = [category.value for category in examples for _ in examples[category]]
        missing = sorted(c.value for c in Category if not examples.get(c))
        if missing:
            raise ValueError(f"the training corpus has no examples of {', '.join(missing)}")
        # Imported here, not at the top: scikit-learn (with SciPy's statistics) takes about a second to import,
        # which every `caseline` command and every service that never classifies would otherwise pay.
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectoriser = TfidfVectorizer(analyzer="char", ngram_range=NGRAMS, sublinear_tf=True)
        features = self.vectoriser.fit_transform(texts)
        self.model = LogisticRegression(
            C=REGULARISATION, solver="newton-cg", max_iter=1000, random_state=SEED
        )
        self.model.fit(features, labels)
        self.categories = [Category(name) for name in self.model.classes_]
        self._columns = {category: i for i, category in enumerate(self.categories)}
        self.vocabulary = self.vectoriser.get_feature_names_out()
        self._vocabulary: dict[str, int] = dict(self.vectoriser.vocabulary_)
        self._idf: NDArray[np.float64] = self.vectoriser.idf_
        self.version = _digest(texts, labels)
        self.examples = len(texts)
        self._kept: dict[str, _Scored] = {}  # normalised text -> its scores, oldest first (TEXTS_KEPT)

    def predict_many(
        self, texts: Sequence[str], *, evidence: Sequence[bool] | None = None
    ) -> list[Prediction]:
        """One prediction per text; evidence only where asked (it costs more than the scores). A text seen
        before (normalised) is not scored again: its row of scores is the same whatever it is scored with."""
        if not texts:
            return []
        normalised = [normalise(text) for text in texts]
        wanted = [True] * len(texts) if evidence is None else list(evidence)
        kept = self._kept
        scored = {text: entry for text in normalised if (entry := kept.get(text)) is not None}
        new = list(dict.fromkeys(text for text in normalised if text not in scored))
        explain = {text for text, asked in zip(normalised, wanted, strict=True) if asked}
        if new:
            scored.update(self._score(new, explain))
        unexplained = [text for text in dict.fromkeys(explain) if scored[text].evidence is None]
        if unexplained:
            self._explain(unexplained, scored)
        self._keep(scored)
        columns = self._columns
        return [
            Prediction(entry.top, entry.scores, columns, (entry.evidence or ()) if asked else ())
            for text, asked in zip(normalised, wanted, strict=True)
            for entry in [scored[text]]
        ]

    def _score(self, normalised: Sequence[str], explain: set[str]) -> dict[str, _Scored]:
        """Scores of distinct texts in one call, with evidence for those in `explain`."""
        features = self.features(normalised)
        probabilities: NDArray[np.float64] = self.model.predict_proba(features)
        best = np.argsort(-probabilities, axis=1)[:, :3].tolist()
        rows = probabilities.tolist()
        categories = self.categories
        scored = {}
        for row, text in enumerate(normalised):
            scores = rows[row]
            top = tuple((categories[i], scores[i]) for i in best[row])
            words = self._evidence(features, row, best[row][0], text) if text in explain else None
            scored[text] = _Scored(top, tuple(scores), words)
        return scored

    def _explain(self, normalised: Sequence[str], scored: dict[str, _Scored]) -> None:
        """Evidence for texts scored earlier without it."""
        features = self.features(normalised)
        for row, text in enumerate(normalised):
            entry = scored[text]
            entry.evidence = self._evidence(features, row, self._columns[entry.top[0][0]], text)

    def _keep(self, scored: dict[str, _Scored]) -> None:
        kept = self._kept
        kept.update(scored)
        for oldest in list(islice(kept, max(0, len(kept) - TEXTS_KEPT))):
            del kept[oldest]

    def features(self, normalised: Sequence[str]) -> csr_matrix:
        """What the fitted vectoriser's transform() computes (char 1-2-grams, sublinear tf, idf, l2), without
        its general machinery: it is intake's hottest path. tests/test_intake_classification.py checks that
        both agree."""
        from scipy.sparse import csr_matrix  # loaded by the training already; see __init__
        from sklearn.preprocessing import normalize

        vocabulary = self._vocabulary
        indptr, indices, counts = [0], [], []
        for text in normalised:
            grams = Counter(text)
            grams.update(map(operator.add, text, text[1:]))
            for gram, count in grams.items():
                column = vocabulary.get(gram)
                if column is not None:
                    indices.append(column)
                    counts.append(count)
            indptr.append(len(indices))
        columns = np.asarray(indices, dtype=np.int32)
        values = (1.0 + np.log(np.asarray(counts, dtype=np.float64))) * self._idf[columns]
        matrix = csr_matrix((values, columns, np.asarray(indptr)), shape=(len(normalised), len(self._idf)))
        normalized: csr_matrix = normalize(matrix, norm="l2", copy=False)
        return normalized

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]

    def _evidence(self, features: object, row: int, winner: int, text: str) -> tuple[str, ...]:
        """The text's spans behind the n-grams that pushed hardest towards the winner."""
        start, end = features.indptr[row], features.indptr[row + 1]  # type: ignore[attr-defined]
        columns = features.indices[start:end]  # type: ignore[attr-defined]
        weights = features.data[start:end] * self.model.coef_[winner, columns]  # type: ignore[attr-defined]
        ranked = sorted(zip(weights, columns, strict=True), reverse=True)
        strongest = [
            (float(weight), gram)
            for weight, column in ranked
            if weight > 0 and len(gram := str(self.vocabulary[column])) > 1 and not _PUNCTUATION.search(gram)
        ][:EVIDENCE_GRAMS]
        floor = strongest[0][0] * 0.25 if strongest else 0.0
        return _spans(text, [(weight, gram) for weight, gram in strongest if weight >= floor])


def _spans(text: str, grams: list[tuple[float, str]]) -> tuple[str, ...]:
    """Merge the n-grams' occurrences in the text into spans, ranked by the weight they carry."""
    marked: list[float] = [0.0] * len(text)
    for weight, gram in grams:
        at = text.find(gram)
        while at >= 0:
            for i in range(at, at + len(gram)):
                marked[i] = max(marked[i], weight)
            at = text.find(gram, at + 1)
    spans: list[tuple[float, str]] = []
    i = 0
    while i < len(text):
        if marked[i] <= 0:
            i += 1
            continue
        j = i
        while j < len(text) and marked[j] > 0:
            j += 1
        spans.append((sum(marked[i:j]), text[i:j].strip()))
        i = j
    ranked = sorted((span for span in spans if span[1]), key=lambda span: -span[0])
    seen: list[str] = []
    for _, span in ranked:
        if span not in seen:
            seen.append(span)
    return tuple(seen[:EVIDENCE_WORDS])


def _digest(texts: Sequence[str], labels: Sequence[str]) -> str:
    digest = hashlib.blake2b(digest_size=6)
    digest.update(f"char{NGRAMS}:C={REGULARISATION}".encode())
    for text, label in zip(texts, labels, strict=True):
        digest.update(f"{label}\x1f{text}\x1e".encode())
    return f"tfidf-lr-{digest.hexdigest()}"
