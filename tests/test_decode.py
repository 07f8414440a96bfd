"""Decoding golden cases, built by hand."""

from __future__ import annotations

import re

import numpy as np
import pytest

from kazu_spark.ner.decode import Span, check_labels, decode, decode_batch
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


def test_a_run_of_punctuation_alone_is_no_entity():
    """A tag on ``-`` or ``(-/-)`` alone (a model that reads the name around it) gives no span; a name with a hyphen
    still does."""
    text = "Tsc2 (-/-) cells and NIH - 3T3 cells"
    probs = probs_for(
        8,
        {(1, "B-cell_line"): 0.9, (5, "B-gene"): 0.8, (4, "B-cell_line"): 0.9, (5, "I-cell_line"): 0.8,
         (6, "I-cell_line"): 0.8},
    )  # fmt: skip
    assert spans(probs, text) == [("NIH - 3T3", "cell_line")]


def test_a_span_neither_starts_on_a_closing_bracket_nor_ends_on_an_opening_one():
    """``NKT (`` and ``) cells`` of ``NKT ( iNKT ) cells``: the bracket is cut off, the words stay."""
    text = "NKT ( iNKT ) cells , DCs"
    probs = probs_for(
        7, {(0, "B-cell_type"): 0.9, (1, "I-cell_type"): 0.8, (3, "B-cell_type"): 0.7, (4, "I-cell_type"): 0.7,
            (5, "B-gene"): 0.6, (6, "I-gene"): 0.6},
    )  # fmt: skip
    assert spans(probs, text) == [("NKT", "cell_type"), ("cells", "cell_type"), ("DCs", "gene")]


def test_a_span_on_a_glued_hyphen_takes_in_the_word_and_a_loose_hyphen_is_cut_off():
    """``-crowned babblers`` of ``grey-crowned babblers`` and ``B-`` of ``B-cell``: the model read the hyphen as
    part of the name, so the span grows to the hyphenated word; ``- 293`` (a hyphen glued to nothing) loses it."""
    text = "grey-crowned babblers , B-cell lines , HEK - 293"
    offsets = np.array([m.span() for m in re.finditer(r"\w+|[^\w\s]", text)])  # words and punctuation, as BERT's
    probs = probs_for(
        len(offsets), {(1, "B-species"): 0.9, (2, "I-species"): 0.9, (3, "I-species"): 0.9, (5, "B-cell_type"): 0.8,
                       (6, "I-cell_type"): 0.8, (11, "B-cell_line"): 0.7, (12, "I-cell_line"): 0.7},
    )  # fmt: skip
    found = [(text[s.start : s.end], s.entity_class) for s in decode(probs, offsets, text, LABELS, 0.5)]
    assert found == [("grey-crowned babblers", "species"), ("B-cell", "cell_type"), ("293", "cell_line")]


def test_a_span_without_a_letter_is_no_entity_but_a_cell_line_may_be_a_number():
    """``2`` of ``TSC1/2`` names nothing a knowledge graph can use; ``293`` is a cell line, ``IL-2`` and ``14-3-3``
    genes."""
    text = "TSC1 / 2 , 293 cells , IL-2 , p53 , 14-3-3"
    offsets = np.array([m.span() for m in re.finditer(r"\w+|[^\w\s]", text)])
    tags = {(0, "B-gene"): 0.9, (2, "B-gene"): 0.9, (4, "B-cell_line"): 0.9, (4, "B-drug"): 0.9}
    tags |= {(7, "B-gene"): 0.9, (8, "I-gene"): 0.9, (9, "I-gene"): 0.9, (11, "B-gene"): 0.9, (13, "B-gene"): 0.9}
    tags |= {(14, "I-gene"): 0.9, (15, "I-gene"): 0.9, (16, "I-gene"): 0.9, (17, "I-gene"): 0.9}
    found = [
        (text[s.start : s.end], s.entity_class)
        for s in decode(probs_for(len(offsets), tags), offsets, text, LABELS, 0.5)
    ]
    assert found == [("TSC1", "gene"), ("293", "cell_line"), ("IL-2", "gene"), ("p53", "gene"), ("14-3-3", "gene")]


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


def test_threshold_is_inclusive():
    probs = probs_for(6, {(4, "B-gene"): 0.5})
    assert spans(probs) == [("BRCA1", "gene")]
    assert spans(probs, threshold=0.5001) == []


def decoded(probs, decoder, text=TEXT, labels=LABELS, threshold=0.5):
    """(mention, class) of every span decoded with ``decoder``."""
    found = decode(probs, words(text), text, labels, threshold, decoder)
    return [(text[s.start : s.end], s.entity_class) for s in found]


# softmax (Kazu's SimpleSpanFinder, per sub-token); unset rows are all zero, so their argmax is column 0, "O"


def test_softmax_b_then_i_offsets_and_mean_confidence():
    probs = probs_for(6, {(1, "B-disease"): 0.9, (2, "I-disease"): 0.6, (2, "B-disease"): 0.3})
    assert decode(probs, words(TEXT), TEXT, LABELS, decoder="softmax") == [Span(4, 17, "disease", pytest.approx(0.75))]


def test_softmax_b_inside_an_open_span_emits_the_prefix_and_the_outer_span_goes_on():
    # "breast cancer gene BRCA1": B I B I -> tokens 1-2 (closed copy at the second B) and 1-4 (outer span)
    probs = probs_for(6, {(1, "B-gene"): 0.9, (2, "I-gene"): 0.9, (3, "B-gene"): 0.9, (4, "I-gene"): 0.9})
    assert decoded(probs, "softmax") == [("breast cancer", "gene"), ("breast cancer gene BRCA1", "gene")]


def test_softmax_adjacent_bs_give_the_first_entity_and_the_merged_run():
    probs = probs_for(6, {(3, "B-gene"): 0.9, (4, "B-gene"): 0.8})
    assert decoded(probs, "softmax") == [("gene", "gene"), ("gene BRCA1", "gene")]


def test_softmax_ignores_i_without_b():
    probs = probs_for(6, {(1, "I-disease"): 0.9, (2, "I-disease"): 0.9, (4, "B-gene"): 0.9})
    assert decoded(probs, "softmax") == [("BRCA1", "gene")]


def test_softmax_another_class_inside_a_span_is_lost_and_the_span_covers_it():
    probs = probs_for(6, {(1, "B-disease"): 0.9, (2, "B-gene"): 0.9, (3, "I-disease"): 0.9})
    assert decoded(probs, "softmax") == [("breast cancer gene", "disease")]


def test_softmax_o_closes_and_a_breaking_character_splits():
    text = "a b (c d) e"
    offsets = np.array([[0, 1], [2, 3], [5, 6], [7, 8], [10, 11]])  # "(" and ")" are not tokens here
    probs = probs_for(5, {(0, "B-drug"): 0.9, (1, "I-drug"): 0.9, (2, "I-drug"): 0.9, (3, "B-drug"): 0.9})
    found = decode(probs, offsets, text, LABELS, decoder="softmax")
    # "c" follows "(": "a b" is closed and the I-drug on "c" opens nothing; "d" opens a new span
    assert [(text[s.start : s.end], s.entity_class) for s in found] == [("a b", "drug"), ("d", "drug")]


def test_softmax_trims_whitespace_and_ignores_the_threshold():
    text = "a  BRCA1 "
    offsets = np.array([[0, 1], [1, 3], [3, 8], [8, 9]])
    probs = probs_for(4, {(1, "B-gene"): 0.3, (2, "I-gene"): 0.3})
    assert decode(probs, offsets, text, LABELS, threshold=0.9, decoder="softmax") == [
        Span(3, 8, "gene", pytest.approx(0.3))
    ]


def test_softmax_reads_the_model_label_order():
    labels = ["B-gene", "I-gene", "O", "B-drug", "I-drug"]
    probs = np.zeros((6, 5))
    probs[:, 2] = 0.5  # O everywhere but token 4
    probs[4, 3] = 0.9
    assert decoded(probs, "softmax", labels=labels) == [("BRCA1", "drug")]


# io


def test_io_merges_adjacent_entities_of_one_class():
    probs = probs_for(6, {(3, "B-gene"): 0.9, (4, "B-gene"): 0.8, (5, "I-gene"): 0.7})
    assert decoded(probs, "io") == [("gene BRCA1 mutated", "gene")]
    assert decoded(probs, "sigmoid") == [("gene", "gene"), ("BRCA1 mutated", "gene")]


def test_io_sums_b_and_i_at_an_inclusive_threshold_and_caps_confidence():
    probs = probs_for(
        6, {(1, "B-disease"): 0.25, (1, "I-disease"): 0.25, (2, "B-disease"): 0.75, (2, "I-disease"): 0.75}
    )
    assert decode(probs, words(TEXT), TEXT, LABELS, decoder="io") == [Span(4, 17, "disease", pytest.approx(0.75))]
    assert decoded(probs, "io", threshold=0.51) == [("cancer", "disease")]


def test_io_with_i_only_labels():
    labels = ["O", "I-gene", "I-disease"]
    probs = np.zeros((6, 3))
    probs[[3, 4], 1] = 0.9
    probs[4, 2] = 0.6
    assert decoded(probs, "io", labels=labels) == [("gene BRCA1", "gene"), ("BRCA1", "disease")]


def test_check_labels_per_decoder():
    check_labels(["O", "B-gene", "I-gene"], "sigmoid")
    check_labels(["O", "B-gene"], "softmax")
    with pytest.raises(ValueError, match="decoder: io"):
        check_labels(["O", "I-gene"], "softmax")
    with pytest.raises(ValueError, match="needs I-gene"):
        check_labels(["O", "B-gene"], "io")
    with pytest.raises(ValueError, match="decoder must be one of sigmoid, softmax, io"):
        check_labels(["O"], "crf")  # type: ignore[arg-type]


def test_a_batch_never_joins_a_span_across_texts():
    first, second = "gene BRCA1", "BRCA2 gene"  # text 1 ends inside a gene, text 2 starts inside one
    probs = [probs_for(2, {(1, "B-gene"): 0.9}), probs_for(2, {(0, "I-gene"): 0.8})]
    found = decode_batch(probs, [words(first), words(second)], [first, second], LABELS)
    assert [[(s.start, s.end) for s in spans] for spans in found] == [[(5, 10)], [(0, 5)]]


@pytest.mark.parametrize("decoder", ["sigmoid", "io", "softmax"])
def test_a_batch_decodes_each_text_as_if_alone(decoder):
    rng = np.random.default_rng(3)
    texts = [" ".join(["ab"] * n) for n in (6, 0, 1, 15, 4, 0, 9, 2)]
    offsets = [words(t) if t else np.zeros((0, 2), dtype=np.int64) for t in texts]
    fires = [rng.random((len(o), len(LABELS))) < 0.3 for o in offsets]  # dense tags: runs meet every boundary
    probs = [np.where(f, rng.uniform(0.5, 1.0, f.shape), rng.uniform(0.0, 0.4, f.shape)) for f in fires]

    def rows(spans):
        return [(s.start, s.end, s.entity_class, round(s.confidence, 9)) for s in spans]

    batch = decode_batch(probs, offsets, texts, LABELS, 0.5, decoder)
    alone = [decode(p, o, t, LABELS, 0.5, decoder) for p, o, t in zip(probs, offsets, texts, strict=True)]
    assert [rows(b) for b in batch] == [rows(a) for a in alone]
    assert sum(map(len, batch)) >= 5 and batch[1] == batch[5] == []


def test_a_bare_head_noun_is_no_cell_line_but_may_be_a_cell_type():
    text = "HeLa cells , cells , cell lines and Cells"
    tags = {(0, "B-cell_line"): 0.9, (1, "I-cell_line"): 0.9, (3, "B-cell_line"): 0.9, (5, "B-cell_line"): 0.9}
    tags |= {(6, "I-cell_line"): 0.9, (8, "B-cell_line"): 0.9, (3, "B-cell_type"): 0.9}
    found = spans(probs_for(9, tags), text=text)
    assert found == [("HeLa cells", "cell_line"), ("cells", "cell_type"), ("cell lines", "cell_line")]


def test_no_span_starts_or_ends_on_a_function_word():
    """A model reading ``Daudi and Raji cells`` as one coordination tags ``Daudi and``; no corpus's mention ends so,
    nor starts or ends with ``of`` or ``the``; ``in`` starts some (``in situ``), and ``a`` ends some (``TNF - a``)."""
    text = "Daudi and Raji cells , and or IL - 2 or in degeneration of the in situ carcinoma TNF - a"
    tags = {(0, "B-cell_line"): 0.9, (1, "I-cell_line"): 0.9, (2, "B-cell_line"): 0.9, (3, "I-cell_line"): 0.9}
    tags |= {(6, "B-gene"): 0.9, (7, "I-gene"): 0.9, (8, "I-gene"): 0.9, (9, "I-gene"): 0.9, (10, "I-gene"): 0.9}
    tags |= {(5, "B-drug"): 0.9, (11, "B-drug"): 0.9, (12, "B-disease"): 0.9, (13, "I-disease"): 0.9}
    tags |= {(14, "I-disease"): 0.9, (15, "B-disease"): 0.9, (16, "I-disease"): 0.9, (17, "I-disease"): 0.9}
    tags |= {(18, "B-gene"): 0.9, (19, "I-gene"): 0.9, (20, "I-gene"): 0.9}
    found = spans(probs_for(21, tags), text=text)
    assert found == [
        ("Daudi", "cell_line"),
        ("Raji cells", "cell_line"),
        ("IL - 2", "gene"),
        ("degeneration", "disease"),
        ("in situ carcinoma", "disease"),
        ("TNF - a", "gene"),
    ]


def test_a_span_across_a_line_break_keeps_its_longest_line():
    """A structured abstract's heading above a name (``BACKGROUND`` then ``Tuberous sclerosis``)."""
    text = "BACKGROUND\nTuberous sclerosis is rare"
    offsets = np.array([(0, 10), (11, 19), (20, 29), (30, 32), (33, 37)])
    probs = probs_for(5, {(0, "B-disease"): 0.9, (1, "I-disease"): 0.9, (2, "I-disease"): 0.9})
    [span] = decode(probs, offsets, text, LABELS)
    assert text[span.start : span.end] == "Tuberous sclerosis"


def test_a_cell_line_named_after_its_description_is_two_cell_lines():
    """JNLPBA marks ``human T-cell line`` and ``Jurkat`` apart, BioRED marks ``Jurkat``: a span over both is split;
    ``cell lines studied`` (no name after) and a cell type over the same words are not."""
    text = "human T-cell line Jurkat and cell lines studied"
    offsets = np.array([m.span() for m in re.finditer(r"\w+|[^\w\s]", text)])  # human T - cell line Jurkat and ...
    tags = {(0, "B-cell_line"): 0.9, **{(i, "I-cell_line"): 0.9 for i in range(1, 6)}, (0, "B-cell_type"): 0.8}
    tags |= {(i, "I-cell_type"): 0.8 for i in range(1, 6)} | {(7, "B-cell_line"): 0.9, (8, "I-cell_line"): 0.9}
    tags |= {(9, "I-cell_line"): 0.9}
    found = [(text[s.start : s.end], s.entity_class) for s in decode(probs_for(10, tags), offsets, text, LABELS)]
    assert sorted(found) == [("Jurkat", "cell_line"), ("cell lines studied", "cell_line"),
                             ("human T-cell line", "cell_line"), ("human T-cell line Jurkat", "cell_type")]  # fmt: skip


def test_a_cell_line_is_a_name_or_a_phrase_around_a_cell_word():
    """``transformed`` alone is no cell line (nor ``et al``); ``Jurkat``, ``293`` and ``lymphocyte cultures`` are; a
    cell type needs no capital."""
    text = "transformed Jurkat 293 lymphocyte cultures et al"
    tags = {(i, "B-cell_line"): 0.9 for i in (0, 1, 2, 3, 5)} | {(4, "I-cell_line"): 0.9, (6, "I-cell_line"): 0.9}
    found = spans(probs_for(7, tags | {(0, "B-cell_type"): 0.9}), text=text)
    assert found == [("transformed", "cell_type"), ("Jurkat", "cell_line"), ("293", "cell_line"),
                     ("lymphocyte cultures", "cell_line")]  # fmt: skip
