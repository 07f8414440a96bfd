"""Decoding golden cases, built by hand."""

from __future__ import annotations

import numpy as np
import pytest

from kazu_spark.ner.decode import Span, decode
from kazu_spark.ner.labels import BIO_LABELS

LABELS = list(BIO_LABELS)


def probs_for(n_tokens: int, tags: dict[tuple[int, str], float]) -> np.ndarray:
    """A [tokens, 13] array of zeros with the given (token, label) probabilities set."""
    probs = np.zeros((n_tokens, len(LABELS)), dtype=np.float32)
    for (token, label), p in tags.items():
        probs[token, LABELS.index(label)] = p
    return probs


def words(text: str) -> np.ndarray:
    """Offsets of the space-separated words of text."""
    offsets, pos = [], 0
    for word in text.split(" "):
        offsets.append((pos, pos + len(word)))
        pos += len(word) + 1
    return np.array(offsets)


TEXT = "the breast cancer gene BRCA1 mutated"


def spans(probs, text=TEXT, threshold=0.5):
    return [(text[s.start : s.end], s.entity_class) for s in decode(probs, words(text), text, LABELS, threshold)]


def test_b_then_i_is_one_span_with_mean_confidence():
    probs = probs_for(6, {(1, "B-disease"): 0.9, (2, "I-disease"): 0.7})
    [span] = decode(probs, words(TEXT), TEXT, LABELS)
    assert span == Span(4, 17, "disease", pytest.approx(0.8))
    assert TEXT[span.start : span.end] == "breast cancer"


def test_i_without_b_starts_a_span():
    assert spans(probs_for(6, {(2, "I-disease"): 0.8})) == [("cancer", "disease")]


def test_two_classes_may_overlap():
    probs = probs_for(6, {(1, "B-disease"): 0.9, (2, "I-disease"): 0.9, (2, "B-gene"): 0.6, (3, "I-gene"): 0.6})
    assert spans(probs) == [("breast cancer", "disease"), ("cancer gene", "gene")]


def test_adjacent_entities_of_one_class_are_split_at_each_b():
    probs = probs_for(6, {(3, "B-gene"): 0.9, (4, "B-gene"): 0.8, (5, "I-gene"): 0.7})
    assert spans(probs) == [("gene", "gene"), ("BRCA1 mutated", "gene")]


def test_b_needs_to_beat_i_else_the_token_continues():
    probs = probs_for(6, {(1, "B-disease"): 0.9, (2, "B-disease"): 0.6, (2, "I-disease"): 0.7})
    assert spans(probs) == [("breast cancer", "disease")]


def test_threshold():
    probs = probs_for(6, {(4, "B-gene"): 0.45})
    assert spans(probs) == []
    assert spans(probs, threshold=0.4) == [("BRCA1", "gene")]


def test_spans_are_trimmed_and_never_empty():
    text = "a  BRCA1 "
    offsets = np.array([[0, 1], [1, 3], [3, 8], [8, 9]])  # token 1 and 3 are only whitespace
    probs = probs_for(4, {(1, "B-gene"): 0.9, (2, "I-gene"): 0.9, (3, "B-drug"): 0.9})
    result = decode(probs, offsets, text, LABELS)
    assert result == [Span(3, 8, "gene", pytest.approx(0.9))]
    assert text[3:8] == "BRCA1"


def test_no_tokens_no_spans():
    assert decode(np.zeros((0, len(LABELS))), np.zeros((0, 2), dtype=int), "", LABELS) == []
