"""The text classifier on its evaluation set: per-category precision and recall, top-1 and top-3 accuracy, a
confusion matrix, the training time, and how the triage threshold trades coverage for accuracy.

    .venv/bin/python bench/classifier.py [--cv]

Trains on services/intake/corpus/train.yaml exactly as intake does at start-up and scores
services/intake/corpus/eval.yaml, which was written separately in other registers (residents' speech,
typos, addresses mixed in, web-form titles). `--cv` also prints 5-fold cross-validation on the training
corpus alone, which is how the model settings and thresholds were chosen (never on the evaluation set).
Writes bench/out/classifier.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from schemas.reference import Category
from services.intake.adapters.category_files import EVALUATION_SET, TRAINING_CORPUS, read_corpus
from services.intake.domain.classification.classifier import TextClassifier
from services.intake.domain.classification.decision import ClassificationPolicy

OUT = Path(__file__).resolve().parent / "out" / "classifier.json"


def evaluate(model: TextClassifier, examples: dict[Category, list[str]]) -> dict[str, Any]:
    texts = [text for category in examples for text in examples[category]]
    truth = [category for category in examples for _ in examples[category]]
    predictions = model.predict_many(texts, evidence=[False] * len(texts))
    confusion = {t.value: {p.value: 0 for p in Category} for t in Category}
    top1 = top3 = 0
    for expected, prediction in zip(truth, predictions, strict=True):
        confusion[expected.value][prediction.category.value] += 1
        top1 += prediction.category is expected
        top3 += expected in [c for c, _ in prediction.top[:3]]
    per_category = {}
    for category in Category:
        tp = confusion[category.value][category.value]
        predicted = sum(row[category.value] for row in confusion.values())
        actual = sum(confusion[category.value].values())
        per_category[category.value] = {
            "precision": round(tp / predicted, 3) if predicted else 0.0,
            "recall": round(tp / actual, 3) if actual else 0.0,
            "support": actual,
        }
    policy = ClassificationPolicy()
    thresholds = {}
    for threshold in (0.3, 0.45, 0.6, 0.8):
        kept = [(a, p) for a, p in zip(truth, predictions, strict=True) if p.confidence >= threshold]
        thresholds[str(threshold)] = {
            "decided_without_triage": round(len(kept) / len(truth), 3),
            "top1_of_those": round(sum(p.category is a for a, p in kept) / len(kept), 3) if kept else None,
        }
    return {
        "examples": len(truth),
        "top1": round(top1 / len(truth), 4),
        "top3": round(top3 / len(truth), 4),
        "per_category": per_category,
        "confusion": confusion,
        "triage_threshold": policy.min_confidence,
        "by_threshold": thresholds,
    }


def cross_validate(corpus: dict[Category, list[str]], folds: int = 5) -> float:
    hits = total = 0
    for fold in range(folds):
        train = {c: [t for i, t in enumerate(ts) if i % folds != fold] for c, ts in corpus.items()}
        test = {c: [t for i, t in enumerate(ts) if i % folds == fold] for c, ts in corpus.items()}
        result = evaluate(TextClassifier(train), test)
        hits += round(result["top1"] * result["examples"])
        total += result["examples"]
    return hits / total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cv", action="store_true", help="also 5-fold cross-validation on the training corpus"
    )
    args = parser.parse_args(argv)
    corpus = read_corpus(TRAINING_CORPUS)
    started = time.perf_counter()
    model = TextClassifier(corpus)
    trained = time.perf_counter() - started
    result = evaluate(model, read_corpus(EVALUATION_SET))
    result |= {
        "training_examples": model.examples,
        "training_seconds": round(trained, 2),
        "version": model.version,
    }
    print(f"trained on {model.examples} examples in {trained:.2f} s ({model.version})")
    print(
        f"evaluation set: {result['examples']} examples; top-1 {result['top1']:.1%}, top-3 {result['top3']:.1%}"
    )
    print(f"{'category':<24}{'precision':>10}{'recall':>8}{'n':>5}")
    for name, row in result["per_category"].items():
        print(f"{name:<24}{row['precision']:>10.2f}{row['recall']:>8.2f}{row['support']:>5}")
    print("confusion (rows: true, columns: predicted, in category order)")
    for name, row in result["confusion"].items():
        print(f"{name[:22]:<24}" + " ".join(f"{n:>2}" for n in row.values()))
    for threshold, row in result["by_threshold"].items():
        print(
            f"confidence >= {threshold}: {row['decided_without_triage']:.0%} decided, top-1 of those {row['top1_of_those']}"
        )
    if args.cv:
        result["cross_validation_top1"] = round(cross_validate(corpus), 4)
        print(f"5-fold cross-validation on the training corpus: top-1 {result['cross_validation_top1']:.1%}")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
