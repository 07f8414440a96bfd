"""Strict entity-level metrics golden cases."""

from __future__ import annotations

import pytest

from kazu_spark.evaluation.metrics import entity_scores, prf


def test_exact_match():
    scores = entity_scores([[(0, 5, "gene")]], [[(0, 5, "gene")]])
    assert scores["overall"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 1, "fp": 0, "fn": 0}


def test_boundary_mismatch_is_a_false_positive_and_a_false_negative():
    scores = entity_scores([[(0, 13, "disease")]], [[(7, 13, "disease")]])
    assert scores["overall"]["tp"] == 0 and scores["overall"]["fp"] == 1 and scores["overall"]["fn"] == 1
    assert scores["overall"]["f1"] == 0.0


def test_type_mismatch_counts_against_both_classes():
    scores = entity_scores([[(0, 5, "gene")]], [[(0, 5, "drug")]])
    assert scores["per_class"]["gene"] == prf(0, 0, 1)
    assert scores["per_class"]["drug"] == prf(0, 1, 0)


def test_micro_average_over_sentences_and_listed_classes():
    gold = [[(0, 5, "gene"), (6, 9, "gene")], [(0, 4, "species")]]
    pred = [[(0, 5, "gene")], [(0, 4, "species"), (5, 8, "species")]]
    scores = entity_scores(gold, pred, classes=["gene", "species", "cell_line"])
    assert scores["overall"] == prf(2, 1, 1)
    assert scores["overall"]["f1"] == pytest.approx(2 / 3)
    assert scores["per_class"]["cell_line"] == prf(0, 0, 0)
    assert scores["per_class"]["gene"]["recall"] == 0.5


def test_sentence_counts_must_agree():
    with pytest.raises(ValueError, match="1 gold sentences but 2"):
        entity_scores([[]], [[], []])
