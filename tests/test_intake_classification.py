"""Deciding categories: the platform taxonomies (matching, checking a mapping file before it is deployed)
and the text classifier (trained from the shipped corpus, evaluated on a set written apart from it)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from district import platform_export
from schemas.categorisation import CategorySource
from schemas.reference import Category
from services.intake.adapters.category_files import (
    EVALUATION_SET,
    TAXONOMY_DIR,
    TRAINING_CORPUS,
    TaxonomyFiles,
    read_corpus,
    read_taxonomy,
    trained_classifier,
)
from services.intake.domain.classification import classifier
from services.intake.domain.classification.classifier import TextClassifier
from services.intake.domain.classification.taxonomy import TaxonomyError, parse_taxonomy
from services.intake.domain.classification.text import normalise

DEFAULT = read_taxonomy(TAXONOMY_DIR / "12345-default.yaml")


def test_the_most_specific_level_of_a_path_decides_and_generic_levels_are_skipped() -> None:
    assert DEFAULT.match("城乡建设 › 物业管理 › 电梯故障").category is Category.ELEVATOR_EQUIPMENT  # type: ignore[union-attr]
    assert DEFAULT.match("住房保障/维修基金").category is Category.MAINTENANCE_FUND  # type: ignore[union-attr]
    assert DEFAULT.match("城乡建设>物业管理>其他") is None
    assert DEFAULT.match("物业管理") is None  # says nothing about which problem


def test_full_width_forms_spacing_and_bracketed_notes_do_not_hide_a_label() -> None:
    for written in (
        "城乡建设＞物业管理＞电梯 困人",
        "电梯困人（高层）",
        "１１０２１３０１",
        "  电梯困人 ",
    ):
        found = DEFAULT.match(written)
        assert found is not None and found.category is Category.ELEVATOR_EQUIPMENT, written


def test_an_ambiguous_last_level_is_settled_by_its_full_path() -> None:
    assert DEFAULT.match("价格监管 › 物业收费").category is Category.UNREASONABLE_FEES  # type: ignore[union-attr]
    assert DEFAULT.match("物业管理/收费问题").category is Category.PROPERTY_FEES  # type: ignore[union-attr]


def test_caseline_codes_and_labels_are_the_platform_label_whatever_the_file_says() -> None:
    found = DEFAULT.match("fire_hazard")
    assert found is not None and found.source is CategorySource.PLATFORM_LABEL


def test_the_default_mapping_covers_every_category_with_many_labels_and_the_sample_catalogue() -> None:
    per_category = {c: sum(1 for cat, _ in DEFAULT.labels.values() if cat is c) for c in Category}
    assert min(per_category.values()) >= 10, per_category
    for leaves in platform_export.CATALOGUE.values():
        for second, leaf, code in leaves:
            assert DEFAULT.match(f"城乡建设 › {second} › {leaf}") is not None, leaf
            assert DEFAULT.match(code) is not None, code


BAD_MAPPING = """platform: test-platform
version: "1"
categories:
  elevator_equipment:
    labels: [电梯故障, 电梯困人]
  lift_problems:
    labels: [电梯]
  sanitation:
    labels: [垃圾清运, 电梯困人]
    colour: blue
"""


def test_a_bad_mapping_names_every_problem_with_its_line() -> None:
    with pytest.raises(TaxonomyError) as refused:
        parse_taxonomy(BAD_MAPPING, "bad.yaml")
    problems = [str(p) for p in refused.value.problems]
    assert any(p.startswith("line 6: categories.lift_problems: unknown Caseline category") for p in problems)
    assert any(
        p.startswith("line 9: categories.sanitation.labels[1]: '电梯困人' maps to sanitation, but")
        and "(line 5) maps it to elevator_equipment" in p
        for p in problems
    ), problems
    assert any(p.startswith("line 10: categories.sanitation.colour: unknown key") for p in problems)


def test_a_mapping_that_is_not_yaml_is_refused_with_its_line() -> None:
    with pytest.raises(TaxonomyError) as refused:
        parse_taxonomy("platform: x\ncategories:\n  sanitation: [\n", "broken.yaml")
    assert refused.value.problems[0].line >= 3 and "not valid YAML" in str(refused.value)


def test_caseline_categories_check_fails_on_a_bad_file_and_passes_the_shipped_ones(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_MAPPING, encoding="utf-8")
    refused = _cli("categories", "check", str(bad))
    assert refused.returncode == 1 and "line 6" in refused.stdout and "lift_problems" in refused.stdout
    for shipped in sorted(TAXONOMY_DIR.glob("*.yaml")):
        passed = _cli("categories", "check", str(shipped))
        assert passed.returncode == 0 and "OK" in passed.stdout, passed.stdout


def test_a_platform_without_a_file_of_its_own_reads_with_the_default_and_a_district_file_replaces_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "12345-default.yaml").write_text(
        (TAXONOMY_DIR / "12345-default.yaml").read_text(encoding="utf-8")
    )
    (tmp_path / "12345-default.shangdang.yaml").write_text(
        'platform: 12345-default\nversion: "sd-1"\ncategories:\n  sanitation:\n    labels: [旱厕清掏]\n',
        encoding="utf-8",
    )
    files = TaxonomyFiles(tmp_path)
    assert files("some-other-platform", "luzhou").version == DEFAULT.version
    assert files("12345-default", "shangdang").match("旱厕清掏") is not None
    assert files("12345-default", "luzhou").match("旱厕清掏") is None


# -- the classifier --------------------------------------------------------------------------------


def test_training_is_deterministic_and_versioned_by_its_corpus() -> None:
    corpus = read_corpus(TRAINING_CORPUS)
    first, second = TextClassifier(corpus), TextClassifier(corpus)
    text = "楼下饭店油烟直排，熏得没法开窗"
    assert first.version == second.version and first.predict(text).top == second.predict(text).top
    smaller = TextClassifier({c: texts[:-1] for c, texts in corpus.items()})
    assert smaller.version != first.version


def test_the_fast_features_are_exactly_the_fitted_vectorisers() -> None:
    model = trained_classifier()
    texts = [normalise(t) for texts in read_corpus(EVALUATION_SET).values() for t in texts][:80]
    assert np.allclose(model.features(texts).toarray(), model.vectoriser.transform(texts).toarray())


def _normalised_texts(path: Path) -> set[str]:
    return {normalise(t).replace(" ", "") for texts in read_corpus(path).values() for t in texts}


def test_the_evaluation_set_and_the_sample_descriptions_are_not_in_the_training_corpus() -> None:
    train, evaluation = _normalised_texts(TRAINING_CORPUS), _normalised_texts(EVALUATION_SET)
    assert not train & evaluation
    sample = {normalise(t).replace(" ", "") for ts in platform_export.DESCRIPTIONS.values() for t in ts}
    assert not sample & (train | evaluation)
    corpus, held_out = read_corpus(TRAINING_CORPUS), read_corpus(EVALUATION_SET)
    assert min(len(corpus[c]) for c in Category) >= 40 and min(len(held_out[c]) for c in Category) >= 20


def test_the_classifier_holds_its_figures_on_the_evaluation_set() -> None:
    """A regression guard; bench/classifier.py prints the full figures (quoted in the README)."""
    model = trained_classifier()
    examples = read_corpus(EVALUATION_SET)
    texts = [t for c in Category for t in examples[c]]
    truth = [c for c in Category for _ in examples[c]]
    predictions = model.predict_many(texts, evidence=[False] * len(texts))
    top1 = sum(p.category is t for p, t in zip(predictions, truth, strict=True)) / len(truth)
    top3 = sum(t in [c for c, _ in p.top] for p, t in zip(predictions, truth, strict=True)) / len(truth)
    assert top1 >= 0.9 and top3 >= 0.98, (top1, top3)


def test_a_text_seen_before_is_not_scored_again_and_gets_the_prediction_it_got_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    corpus, held_out = read_corpus(TRAINING_CORPUS), read_corpus(EVALUATION_SET)
    texts = [t for c in Category for t in held_out[c]][:120]
    model = TextClassifier(corpus)
    first = model.predict_many(texts)
    featurised: list[str] = []
    features = model.features

    def counted(normalised: Sequence[str]) -> csr_matrix:
        featurised.extend(normalised)
        return features(normalised)

    monkeypatch.setattr(model, "features", counted)

    unseen = "小区门口的路灯坏了半个月没人修"
    again = model.predict_many([*reversed(texts), unseen])

    assert featurised == [normalise(unseen)]
    assert again[-2::-1] == first
    assert again[-1] == TextClassifier(corpus).predict(unseen)


def test_evidence_asked_for_a_text_scored_without_it_is_the_evidence_it_would_have_had() -> None:
    corpus = read_corpus(TRAINING_CORPUS)
    texts = ["业委会换届选举不公开，候选人名单都不公示", "电梯经常困人，物业不管", "电梯经常困人，物业不管"]
    model = TextClassifier(corpus)
    without = model.predict_many(texts, evidence=[False, True, False])
    assert without[0].evidence == () and without[1].evidence and without[2].evidence == ()
    assert model.predict_many(texts) == TextClassifier(corpus).predict_many(texts)


def test_the_texts_kept_are_bounded_and_a_forgotten_one_is_scored_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier, "TEXTS_KEPT", 10)
    corpus, held_out = read_corpus(TRAINING_CORPUS), read_corpus(EVALUATION_SET)
    texts = [t for c in Category for t in held_out[c]][:40]
    model = TextClassifier(corpus)
    first = model.predict_many(texts)
    assert len(model._kept) == 10
    assert model.predict_many(texts) == first


def test_a_label_normalised_before_is_looked_up_and_reads_as_it_did() -> None:
    label = "  物业管理＞电梯  故障（困人） "
    first = normalise(label)
    hits = normalise.cache_info().hits
    assert normalise(label) == first == normalise.__wrapped__(label) == "物业管理>电梯 故障(困人)"
    assert normalise.cache_info().hits == hits + 1


def test_evidence_is_made_of_the_texts_own_words() -> None:
    prediction = trained_classifier().predict("业委会换届选举不公开，候选人名单都不公示")
    assert prediction.category is Category.OWNERS_COMMITTEE
    assert prediction.evidence and all(
        word in "业委会换届选举不公开，候选人名单都不公示" for word in prediction.evidence
    )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "caseline", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


def test_caseline_classify_shows_category_confidence_evidence_and_candidates() -> None:
    shown = _cli("classify", "小区电梯又困人了，物业半小时都没来")
    assert shown.returncode == 0, shown.stderr
    assert "elevator_equipment" in shown.stdout and "confidence" in shown.stdout and "1. " in shown.stdout
    assert "电梯" in shown.stdout


def test_only_what_trains_the_classifier_loads_scikit_learn_so_the_cli_and_other_services_start_light() -> None:
    probe = (
        "import sys; import caseline.cli, services.routing.app, services.sla.app, services.jointmeeting.app; "
        "print('sklearn' in sys.modules); "
        "from services.intake.adapters.category_files import categoriser; categoriser(); "
        "print('sklearn' in sys.modules)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert loaded == ["False", "True"]
