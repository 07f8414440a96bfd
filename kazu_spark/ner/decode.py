"""Decode per-sub-token probabilities into character spans: words pooled from sub-tokens, three decoders.

All decoders read ``probs`` ``[tokens, labels]`` by the model's own column order ``labels`` (e.g.
``["O", "B-gene", "I-gene"]`` in any order), decide each token on its own, and emit spans running from
the first token's start to the last one's end, trimmed of whitespace, so ``text[span.start:span.end]``
is always the non-empty mention. Output is sorted by (start, end, class), one span per (start, end, class).

A token is a word or a sub-token, by ``aggregation``. With ``first``, ``mean`` or ``max`` (the tagger's
default is ``first``), :func:`word_probs` first pools the sub-tokens of each pre-tokenizer word (the
tokenizer splits words at whitespace and punctuation; ``word_ids`` numbers them) into one row: the
probabilities of the word's first sub-token, or their mean or maximum over its sub-tokens; the word
runs from its first sub-token's start to its last one's end. So a span starts and ends on a word
boundary and never splits a word: ``PTEN``, never ``PT`` of it. With ``none`` every sub-token is a
token, as the model sees them, and a span may start or end inside a word. The pooling runs after the
windows are merged, so a word that straddles two windows is still one word.

``sigmoid`` (default; multi-label BIO, independent sigmoid per label; ``p`` probability, ``t`` threshold:
one for every class, or one per class, :data:`Threshold`), per class ``c`` and token, left to right:

- **B** if ``p(B-c) >= t`` and ``p(B-c) >= p(I-c)``: closes any open ``c`` span and opens a new one;
- **I** if ``p(I-c) >= t`` otherwise: continues the open ``c`` span, or opens one (an I with no B
  before it still starts an entity, as in conlleval);
- **O** otherwise: closes the open ``c`` span.

Classes are independent, so spans of different classes may overlap or nest; the ``O`` column is not
read. Confidence: mean over the span's tokens of the probability of the tag that won (B or I).

``softmax`` (Kazu's ``SimpleSpanFinder`` for TinyBERN2, ``use_multilabel: false``): each token
takes its argmax label; ``threshold`` is not used. At most one span is open at a time:

- no span open: ``B-c`` opens a ``c`` span; ``I-c`` and ``O`` are ignored (an I without B starts nothing);
- a span of class ``c`` open, and the label is not ``O`` and the character before the token is
  not one of ``( ) ;``: ``I-c`` extends it; ``B-c`` first emits a copy of the span as it stands
  (the entity that ended just before), then extends it — so ``B I B I`` gives the nested spans
  tokens 0-1 and 0-3, not 0-1 and 2-3 (no new span starts at the inner B: Kazu's code, whatever its
  docstring suggests); a label of another class leaves the span open and unextended and starts
  nothing (that entity is lost, and if the open class resumes the span covers the gap);
- otherwise (``O`` or a breaking character): the open span is emitted, and a ``B-c`` opens a new one.

Confidence: mean softmax probability of the chosen (argmax) labels of the tokens the span took.
Differences from Kazu: Kazu groups sub-tokens into words by the set of their argmax labels, here by
pooling their probabilities (``aggregation``; with ``none`` every sub-token stands alone); Kazu's
per-class suffix stripping (``strip_re``) is not applied.

``io`` (IO tagging, sigmoid): a token is inside class ``c`` if ``p(B-c) + p(I-c) >= t`` (a model
with only ``I-c``: ``p(I-c) >= t``); every maximal run of inside tokens is one span. Limitation:
two adjacent entities of one class cannot be told apart and merge into one span. Confidence: mean
of ``min(1, p(B-c) + p(I-c))`` over the run.

Example:
    >>> labels = ["O", "B-gene", "I-gene"]
    >>> probs = np.array([[0, 0.875, 0.1], [0, 0.2, 0.625], [0, 0.1, 0.1]])
    >>> text = "BRCA 1 is"
    >>> decode(probs, np.array([[0, 4], [5, 6], [7, 9]]), text, labels)
    [Span(start=0, end=6, entity_class='gene', confidence=0.75)]

The same sub-tokens of "PTEN loss" (``PT``, ``EN``, ``loss``), decoded per sub-token and per word:
    >>> text, offsets, word_ids = "PTEN loss", np.array([[0, 2], [2, 4], [5, 9]]), np.array([0, 0, 1])
    >>> probs = np.array([[0, 0.875, 0.1], [0, 0.0, 0.25], [0, 0.0, 0.0]])
    >>> [text[s.start : s.end] for s in decode(probs, offsets, text, labels)]
    ['PT']
    >>> [text[s.start : s.end] for s in decode(probs, offsets, text, labels, word_ids=word_ids, aggregation="first")]
    ['PTEN']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import chain

import numpy as np

from kazu_spark.config import Aggregation, Decoder

DECODERS: tuple[Decoder, ...] = ("sigmoid", "softmax", "io")
AGGREGATIONS: tuple[Aggregation, ...] = ("first", "mean", "max", "none")

#: a sub-token right after one of these characters ends the open span (Kazu's span_breaking_chars)
SPAN_BREAKING_CHARS = frozenset("();")
#: the ``sigmoid``/``io`` decision threshold: one for every class, or per class (a class it lacks gets 0.5)
Threshold = float | Mapping[str, float]


@dataclass(frozen=True)
class Span:
    """An entity mention: code-point offsets ``[start, end)`` into the text, class and confidence."""

    start: int
    end: int
    entity_class: str
    confidence: float


def classes_of(labels: Sequence[str]) -> list[str]:
    """Entity classes named by a B- or I- label, in order of first appearance.

    Example:
        >>> classes_of(["O", "I-gene", "B-drug", "B-gene", "I-drug"])
        ['gene', 'drug']
    """
    return list(dict.fromkeys(label[2:] for label in labels if label[:2] in ("B-", "I-")))


def class_thresholds(threshold: Threshold, classes: Sequence[str]) -> np.ndarray:
    """``[classes]`` thresholds in ``classes`` order: ``threshold`` for each, or its per-class value (0.5 if absent).

    Classes are decoded independently, so each may have its own threshold (tuned on devel:
    :mod:`kazu_spark.evaluation.thresholds`).

    Example:
        >>> classes = ["gene", "drug"]
        >>> class_thresholds(0.4, classes).tolist(), class_thresholds({"drug": 0.75}, classes).tolist()
        ([0.4, 0.4], [0.5, 0.75])
    """
    if isinstance(threshold, Mapping):
        return np.array([threshold.get(cls, 0.5) for cls in classes], dtype=np.float64)
    return np.full(len(classes), threshold, dtype=np.float64)


def check_labels(labels: Sequence[str], decoder: Decoder) -> None:
    """Raise ValueError unless ``decoder`` can decode ``labels`` (the columns each class needs exist).

    ``sigmoid`` needs B- and I- per class, ``softmax`` a B- per class (nothing else opens a span),
    ``io`` an I- per class.

    Example:
        >>> check_labels(["O", "I-gene"], "io")
        >>> check_labels(["O", "I-gene"], "sigmoid")
        Traceback (most recent call last):
        ...
        ValueError: decoder 'sigmoid' needs B-gene and I-gene columns, the model's labels are ['O', 'I-gene'] (an IO-tagged model needs decoder: io)
    """  # noqa: E501
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {', '.join(DECODERS)}; got {decoder!r}")
    tags = {"sigmoid": ("B", "I"), "softmax": ("B",), "io": ("I",)}[decoder]
    for cls in classes_of(labels):
        if any(f"{tag}-{cls}" not in labels for tag in tags):
            needed = " and ".join(f"{tag}-{cls}" for tag in tags)
            hint = " (an IO-tagged model needs decoder: io)" if f"B-{cls}" not in labels else ""
            raise ValueError(f"decoder {decoder!r} needs {needed} columns, the model's labels are {list(labels)}{hint}")


def decode(
    probs: np.ndarray,
    offsets: np.ndarray,
    text: str,
    labels: Sequence[str],
    threshold: Threshold = 0.5,
    decoder: Decoder = "sigmoid",
    *,
    word_ids: np.ndarray | None = None,
    aggregation: Aggregation = "none",
) -> list[Span]:
    """Spans of every class from ``probs`` ``[sub-tokens, labels]`` and ``offsets`` ``[sub-tokens, 2]`` into ``text``.

    ``decoder`` picks :func:`decode_sigmoid`, :func:`decode_softmax` (ignores ``threshold``) or
    :func:`decode_io`; ``labels`` must suit it (:func:`check_labels`). ``aggregation`` other than
    ``none`` decodes words (:func:`word_probs`; needs ``word_ids``, ``[sub-tokens]``). Example: see the
    module docstring.
    """
    words = None if word_ids is None else [word_ids]
    return decode_batch(
        [probs], [offsets], [text], labels, threshold, decoder, word_ids=words, aggregation=aggregation
    )[0]


def decode_batch(
    probs: Sequence[np.ndarray],
    offsets: Sequence[np.ndarray],
    texts: Sequence[str],
    labels: Sequence[str],
    threshold: Threshold = 0.5,
    decoder: Decoder = "sigmoid",
    *,
    word_ids: Sequence[np.ndarray] | None = None,
    aggregation: Aggregation = "none",
) -> list[list[Span]]:
    """:func:`decode` of many texts at once, the same spans per text: :func:`decode_stacked` of their rows stacked.

    Example:
        >>> labels = ["B-gene", "I-gene"]
        >>> probs = [np.array([[0.9, 0.0], [0.0, 0.8]]), np.array([[0.0, 0.7], [0.0, 0.0]])]
        >>> offsets = [np.array([[0, 2], [3, 5]]), np.array([[0, 3], [4, 6]])]
        >>> [[(s.start, s.end) for s in spans] for spans in decode_batch(probs, offsets, ["ab cd", "efg hi"], labels)]
        [[(0, 5)], [(0, 3)]]
    """
    if not texts:
        return []
    words = None if word_ids is None else np.concatenate(word_ids)
    return decode_stacked(
        np.concatenate(probs), np.concatenate(offsets), [len(p) for p in probs], texts, labels, threshold, decoder,
        word_ids=words, aggregation=aggregation,
    )  # fmt: skip


def decode_stacked(
    probs: np.ndarray,
    offsets: np.ndarray,
    sizes: Sequence[int],
    texts: Sequence[str],
    labels: Sequence[str],
    threshold: Threshold = 0.5,
    decoder: Decoder = "sigmoid",
    *,
    word_ids: np.ndarray | None = None,
    aggregation: Aggregation = "none",
) -> list[list[Span]]:
    """:func:`decode_batch` of texts whose rows come stacked: ``probs`` ``[rows, labels]``, ``offsets``
    ``[rows, 2]`` and ``word_ids`` ``[rows]``, text ``t`` owning the next ``sizes[t]`` rows (as the tagger holds them).

    The ``sigmoid`` and ``io`` decoders tag the tokens of the whole batch and find their runs in
    a few numpy calls over the stacked probabilities, instead of a dozen small calls per text and
    class (per-call overhead dominated decoding a batch of abstracts); only the spans found are
    built one by one. ``softmax`` is sequential by nature and runs per text. Words are pooled for
    the whole batch at once too (:func:`word_probs`).

    Example (the texts of :func:`decode_batch`'s example):
        >>> probs, offsets = np.array([[0.9, 0.0], [0.0, 0.8], [0.0, 0.7], [0.0, 0.0]]), np.array([[0, 2], [3, 5], [0, 3], [4, 6]])
        >>> [[(s.start, s.end) for s in spans] for spans in decode_stacked(probs, offsets, [2, 2], ["ab cd", "efg hi"], ["B-gene", "I-gene"])]
        [[(0, 5)], [(0, 3)]]
    """  # noqa: E501
    if aggregation != "none":
        if word_ids is None:
            raise ValueError(f"aggregation {aggregation!r} needs the word_ids of the sub-tokens")
        probs, offsets, sizes = _pool_words(probs, offsets, word_ids, sizes, aggregation)
    if decoder == "softmax":
        cuts = np.cumsum(sizes)[:-1]
        pieces = zip(np.split(probs, cuts), np.split(offsets, cuts), texts, strict=True)
        return [decode_softmax(p, o, t, labels) for p, o, t in pieces]
    if not len(texts):
        return []
    classes = classes_of(labels)
    tag = _io_tags if decoder == "io" else _sigmoid_tags
    is_b, tagged, won = tag(probs, labels, classes, threshold)
    return _batch_spans(texts, offsets, sizes, classes, is_b, tagged, won)


def word_probs(
    probs: Sequence[np.ndarray],
    offsets: Sequence[np.ndarray],
    word_ids: Sequence[np.ndarray],
    aggregation: Aggregation,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per text, ``[words, labels]`` probabilities and ``[words, 2]`` offsets pooled from the sub-tokens'.

    ``word_ids[t][i]`` numbers the word of sub-token ``i`` of text ``t`` (consecutive sub-tokens of one
    word share it, as the tokenizer's ``word_ids()`` give them). A word's row is its first sub-token's
    (``first``), or the mean (``mean``) or maximum (``max``) over its sub-tokens, per label; its offsets
    run from its first sub-token's start to its last one's end. The whole batch is pooled in a few
    numpy calls (``np.add.reduceat``, ``np.maximum.reduceat``), with no Python loop over sub-tokens.

    Example (``PT`` ``EN`` are one word, ``loss`` another):
        >>> probs, offsets = [np.array([[0.8, 0.0], [0.2, 0.5], [0.0, 0.25]])], [np.array([[0, 2], [2, 4], [5, 9]])]
        >>> for how in ("first", "mean", "max"):
        ...     p, o = word_probs(probs, offsets, [np.array([0, 0, 1])], how)
        ...     print(how, p[0].tolist(), o[0].tolist())
        first [[0.8, 0.0], [0.0, 0.25]] [[0, 4], [5, 9]]
        mean [[0.5, 0.25], [0.0, 0.25]] [[0, 4], [5, 9]]
        max [[0.8, 0.5], [0.0, 0.25]] [[0, 4], [5, 9]]
    """
    sizes = [len(p) for p in probs]
    if not sizes:
        return [], []
    pooled, spans, words = _pool_words(
        np.concatenate(probs), np.concatenate(offsets), np.concatenate(word_ids), sizes, aggregation
    )
    cuts = np.cumsum(words)[:-1]
    return np.split(pooled, cuts), np.split(spans, cuts)


def _pool_words(
    probs: np.ndarray, offsets: np.ndarray, word_ids: np.ndarray, sizes: Sequence[int], aggregation: Aggregation
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`word_probs` over stacked rows (text ``t`` owning ``sizes[t]`` rows); also returns the words per text."""
    if aggregation not in ("first", "mean", "max"):
        raise ValueError(f"aggregation must be one of first, mean, max to pool words; got {aggregation!r}")
    sizes = np.asarray(sizes, dtype=np.int64)
    if sizes.sum() == 0:
        return probs, offsets, sizes
    text_of_row = np.repeat(np.arange(len(sizes)), sizes)
    new_word = np.ones(len(word_ids), dtype=bool)  # row i starts a word: another word id, or another text
    new_word[1:] = (word_ids[1:] != word_ids[:-1]) | (text_of_row[1:] != text_of_row[:-1])
    firsts = np.flatnonzero(new_word)
    lasts = np.append(firsts[1:], len(word_ids)) - 1
    if aggregation == "first":
        pooled = probs[firsts]
    elif aggregation == "max":
        pooled = np.maximum.reduceat(probs, firsts, axis=0)
    else:
        sums = np.add.reduceat(probs, firsts, axis=0, dtype=np.float64)
        pooled = (sums / (lasts - firsts + 1)[:, None]).astype(probs.dtype)
    word_offsets = np.stack([offsets[firsts, 0], offsets[lasts, 1]], axis=1)
    return pooled, word_offsets, np.bincount(text_of_row[firsts], minlength=len(sizes))


def decode_sigmoid(
    probs: np.ndarray, offsets: np.ndarray, text: str, labels: Sequence[str], threshold: Threshold = 0.5
) -> list[Span]:
    """Multi-label BIO decoding of sigmoid probabilities (rules in the module docstring).

    Example (a gene and a disease overlapping):
        >>> labels = ["B-gene", "I-gene", "B-disease", "I-disease"]
        >>> p = np.array([[0.9, 0.0, 0.8, 0.0], [0.0, 0.7, 0.0, 0.0]])
        >>> [(s.start, s.end, s.entity_class) for s in decode_sigmoid(p, np.array([[0, 2], [3, 5]]), "ab cd", labels)]
        [(0, 2, 'disease'), (0, 5, 'gene')]
    """
    return decode_batch([probs], [offsets], [text], labels, threshold, "sigmoid")[0]


def _sigmoid_tags(
    probs: np.ndarray, labels: Sequence[str], classes: Sequence[str], threshold: Threshold
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``[tokens, classes]`` is-B, tagged (B or I) and the winning tag's probability, by the sigmoid rules."""
    threshold = class_thresholds(threshold, classes).astype(probs.dtype)  # compared in the probabilities' type
    p_b = probs[:, [labels.index(f"B-{cls}") for cls in classes]]
    p_i = probs[:, [labels.index(f"I-{cls}") for cls in classes]]
    is_b = (p_b >= threshold) & (p_b >= p_i)
    return is_b, is_b | (p_i >= threshold), np.where(is_b, p_b, p_i)


def decode_io(
    probs: np.ndarray, offsets: np.ndarray, text: str, labels: Sequence[str], threshold: Threshold = 0.5
) -> list[Span]:
    """IO decoding: runs of sub-tokens with ``p(B-c) + p(I-c) >= threshold`` (adjacent entities merge).

    Example:
        >>> p = np.array([[0.25, 0.5], [0.0, 0.75], [0.0, 0.0]])  # columns B-gene, I-gene
        >>> decode_io(p, np.array([[0, 2], [3, 5], [6, 8]]), "ab cd ef", ["B-gene", "I-gene"])
        [Span(start=0, end=5, entity_class='gene', confidence=0.75)]
    """
    return decode_batch([probs], [offsets], [text], labels, threshold, "io")[0]


def _io_tags(
    probs: np.ndarray, labels: Sequence[str], classes: Sequence[str], threshold: Threshold
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``[tokens, classes]`` is-B (never), inside (``p(B) + p(I) >= threshold``) and the capped score."""
    score = probs[:, [labels.index(f"I-{cls}") for cls in classes]].astype(np.float64)
    for k, cls in enumerate(classes):
        if f"B-{cls}" in labels:
            score[:, k] += probs[:, labels.index(f"B-{cls}")]
    inside = score >= class_thresholds(threshold, classes)
    return np.zeros_like(inside), inside, np.minimum(score, 1.0)


def decode_softmax(probs: np.ndarray, offsets: np.ndarray, text: str, labels: Sequence[str]) -> list[Span]:
    """Kazu-compatible single-label BIO decoding of softmax probabilities (rules in the module docstring).

    Example (``B I B I`` of one class: the prefix up to the second B, and the whole run):
        >>> labels = ["O", "B-gene", "I-gene"]
        >>> p = np.eye(3)[[1, 2, 1, 2]]
        >>> text = "il 2 r a"
        >>> offs = np.array([[0, 2], [3, 4], [5, 6], [7, 8]])
        >>> [text[s.start : s.end] for s in decode_softmax(p, offs, text, labels)]
        ['il 2', 'il 2 r a']
    """
    chosen = probs.argmax(axis=1)
    won = probs[np.arange(len(probs)), chosen]
    runs: list[tuple[str, list[int]]] = []  # (class, tokens) of every emitted span, in emission order
    open_cls: str | None = None
    taken: list[int] = []
    for i, column in enumerate(chosen):
        label = labels[column]
        tag, cls = label[:1], label[2:]
        start = int(offsets[i][0])
        breaks = start > 0 and text[start - 1] in SPAN_BREAKING_CHARS
        if open_cls is not None and label != "O" and not breaks:
            if cls == open_cls:
                if tag == "B":
                    runs.append((open_cls, list(taken)))
                taken.append(i)
            continue
        if open_cls is not None:
            runs.append((open_cls, taken))
        open_cls, taken = (cls, [i]) if tag == "B" else (None, [])
    if open_cls is not None:
        runs.append((open_cls, taken))
    if not runs:
        return []
    firsts, lasts = (np.array([t[end] for _, t in runs], dtype=np.int64) for end in (0, -1))
    los, his = _outer_bounds(np.asarray(offsets), firsts, lasts, np.zeros(len(offsets), dtype=np.int64))
    spans = (
        _trimmed(text, int(offsets[t[0]][0]), int(offsets[t[-1]][1]), c, float(won[t].mean()), (lo, hi))
        for (c, t), lo, hi in zip(runs, los.tolist(), his.tolist(), strict=True)
    )
    return _finish(text, (s for s in spans if s is not None))


def _run_bounds(is_b: np.ndarray, tagged: np.ndarray, text_of_row: np.ndarray) -> tuple[np.ndarray, ...]:
    """Runs of tagged tokens, split before every B and between texts, in ``[tokens, classes]`` arrays.

    ``text_of_row`` gives the text each row (token) belongs to: the rows are the texts' tokens stacked.
    Returns the runs' class columns, first and last rows (inclusive), ordered by class, then row.

    Example (one class, texts of 4 and 2 tokens; a B at row 2, a text boundary after row 3):
        >>> col = lambda *v: np.array(v, bool)[:, None]
        >>> _run_bounds(col(0, 0, 1, 0, 0, 0), col(1, 1, 1, 1, 1, 0), np.array([0, 0, 0, 0, 1, 1]))
        (array([0, 0, 0]), array([0, 2, 4]), array([1, 3, 4]))
    """
    same_text = (text_of_row[1:] == text_of_row[:-1])[:, None]  # rows i and i+1 are of one text
    before = np.zeros_like(tagged)  # token i-1 tagged, in the same text
    before[1:] = tagged[:-1] & same_text
    after = np.zeros_like(tagged)  # token i+1 tagged, in the same text
    after[:-1] = tagged[1:] & same_text
    next_b = np.zeros_like(is_b)  # token i+1 a B, in the same text
    next_b[:-1] = is_b[1:] & same_text
    classes, firsts = np.nonzero((tagged & (is_b | ~before)).T)
    _, lasts = np.nonzero((tagged & (~after | next_b)).T)
    return classes, firsts, lasts


def _batch_spans(
    texts: Sequence[str],
    offsets: np.ndarray,
    sizes: Sequence[int],
    classes: Sequence[str],
    is_b: np.ndarray,
    tagged: np.ndarray,
    won: np.ndarray,
) -> list[list[Span]]:
    """Per text, one trimmed span per run; its confidence the mean of ``won`` over the run (rows stacked)."""
    text_of_row = np.repeat(np.arange(len(sizes)), sizes)
    columns, firsts, lasts = _run_bounds(is_b, tagged, text_of_row)
    sums = np.zeros((len(won) + 1, won.shape[1]))
    np.cumsum(won, axis=0, dtype=np.float64, out=sums[1:])
    means = (sums[lasts + 1, columns] - sums[firsts, columns]) / (lasts - firsts + 1)
    los, his = _outer_bounds(offsets, firsts, lasts, text_of_row)
    found: list[list[Span]] = [[] for _ in texts]
    rows = zip(text_of_row[firsts].tolist(), columns.tolist(), offsets[firsts, 0].tolist(), offsets[lasts, 1].tolist(),
               means.tolist(), los.tolist(), his.tolist(), strict=True)  # fmt: skip
    for text, column, start, end, mean, lo, hi in rows:
        span = _trimmed(texts[text], start, end, classes[column], mean, (lo, hi))
        if span is not None:
            found[text].append(span)
    return [_finish(texts[i], spans) for i, spans in enumerate(found)]


def _outer_bounds(
    offsets: np.ndarray, firsts: np.ndarray, lasts: np.ndarray, text_of_row: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per run of rows ``firsts..lasts``: the start of the row (word) before it where that row touches it (same text,
    no character between), else the run's own start; and the end of the row after it likewise. A span that starts
    or ends on a joining hyphen grows to these (:func:`_trimmed`), so it still starts and ends on word boundaries.

    Example (words ``15 - Je``; a run of ``- Je`` touches ``15``):
        >>> offs = np.array([[0, 2], [2, 3], [3, 5]])
        >>> _outer_bounds(offs, np.array([1]), np.array([2]), np.zeros(3, dtype=np.int64))
        (array([0]), array([5]))
    """
    starts, ends = offsets[firsts, 0], offsets[lasts, 1]
    before, after = np.maximum(firsts - 1, 0), np.minimum(lasts + 1, len(offsets) - 1)
    touch_before = (firsts > 0) & (text_of_row[before] == text_of_row[firsts]) & (offsets[before, 1] == starts)
    touch_after = (lasts + 1 < len(offsets)) & (text_of_row[after] == text_of_row[lasts]) & (offsets[after, 0] == ends)
    return np.where(touch_before, offsets[before, 0], starts), np.where(touch_after, offsets[after, 1], ends)


#: no entity starts with these (``) cells`` of ``(Tfh) cells``) ...
_NO_START = frozenset(")]},;:")
#: ... or ends with these (``NKT (`` of ``NKT (iNKT) cells``)
_NO_END = frozenset("([{,;:")
#: a hyphen or slash at a span's edge joins the word it is glued to (``grey-crowned``, ``F4/80``), or no entity
_JOINERS = frozenset("-\u2010\u2011/")
#: a head noun alone names no entity of these classes: a cell line is ``HeLa cells`` or ``cell lines``, never ``cells``
#: (JNLPBA, the corpus cell lines are learnt from, marks the two-word ``cell line(s)`` and no bare head noun)
BARE_HEADS: dict[str, frozenset[str]] = {"cell_line": frozenset({"cell", "cells", "line", "lines"})}
#: what a mention of these classes has: a cell line is a name (a capital or a digit: ``HeLa``, ``293``) or a phrase
#: around a cell word (``transformed lymphocyte cultures``); ``transformed``, ``untreated`` or ``samples`` alone is
#: none (no prediction of that shape was right on JNLPBA devel; 2.5 % of JNLPBA train's cell lines have it)
NAME_SHAPES: dict[str, re.Pattern[str]] = {
    "cell_line": re.compile(r"[A-Z0-9]|\b(?:cells?|lines?|clones?|sublines?|subclones?|cultures?)\b")
}
#: what a mention of every other class has: a letter, or three hyphen-joined numbers (the ``14-3-3`` proteins). ``2``
#: of ``TSC1/2`` or ``proteins 1 and 2`` names nothing a knowledge graph can use (71 of the 56,353 gene mentions of
#: the train splits here are such bare parts of a coordination, and no disease, drug or cell type is letterless; a
#: cell line may be: ``293``)
_A_LETTER = re.compile(r"[^\W\d_]|\d-\d+-\d")
#: a cell line's description, then its name (a capital or a digit first): ``human T-cell line Jurkat``
_NAMED_CELL_LINE = re.compile(r"(.*\bcells? lines?)\s+([A-Z0-9].*)", re.DOTALL)
#: a line of text (no mention spans a line break: ``BACKGROUND`` above ``Tuberous sclerosis``)
_LINE = re.compile(r"[^\n]+")
#: function words dropped at a span's edge: none of the 136,705 mentions of the train splits here starts or ends with
#: one (``in`` starts some, ``in situ carcinoma``, so it is dropped at the end only; ``a`` starts some and ends some,
#: ``TNF - a``, an alpha, so it stays). A model that reads a phrase as one name tags them: ``Daudi and`` of ``Daudi and
#: Raji cells``, ``degeneration of``
_FUNCTION_WORDS = ("and", "or", "the", "an", "of", "with", "by", "to", "for", "from", "on", "at")
_EDGE_WORDS = re.compile(
    rf"(?:(?:{'|'.join(_FUNCTION_WORDS)})(?:\s+|$)|in$)*(.*?)(?:\s+(?:{'|'.join((*_FUNCTION_WORDS, 'in'))}))*",
    re.DOTALL,
)


def _trimmed(
    text: str, start: int, end: int, cls: str, confidence: float, outer: tuple[int, int] | None = None
) -> Span | None:
    """The span shrunk to its longest line if it spans a line break, then to exclude surrounding whitespace, a
    leading closing bracket or comma and a trailing opening one, and function words at either edge (``and``, ``of
    the``: :data:`_FUNCTION_WORDS`); None if no letter or digit is left: no entity of any class is punctuation alone
    (``(``, ``-``, ``+/+``), which a model may tag inside a name it reads as one. None too if what is left is a head
    noun that alone names no entity of the class (:data:`BARE_HEADS`: ``cells`` as a cell line), or that lacks the
    shape of the class's mentions (:data:`NAME_SHAPES`: ``transformed`` as a cell line; a letter for the other classes:
    ``2`` of ``TSC1/2`` is no gene).

    A span that starts (ends) on a hyphen or slash joining two letters or digits grows to take in the word it joins,
    ``outer`` (:func:`_outer_bounds`; None: no word to take in): the model read the hyphen as part of the name
    (``-Je-017`` of ``15-Je-017``, ``-crowned babbler`` of ``grey-crowned babbler``). A hyphen or slash that joins
    nothing is trimmed like a bracket (``- 2``, the ``-/-`` of ``Tsc2(-/-)``).

    Example:
        >>> text = "T follicular helper (Tfh) cells of grey-crowned babblers, - 2"
        >>> spans = [(24, 31, None), (0, 21, None), (39, 56, (35, 56)), (57, 61, None)]
        >>> [text[s.start : s.end] for s in (_trimmed(text, a, b, "x", 0.9, outer) for a, b, outer in spans[:3])]
        ['cells', 'T follicular helper', 'grey-crowned babblers']
        >>> kept = _trimmed(text, 57, 61, "cell_line", 0.9)
        >>> _trimmed(text, 57, 61, "gene", 0.9) is None, text[kept.start : kept.end]
        (True, '2')
        >>> _trimmed(text, 20, 21, "gene", 0.9) is None
        True
        >>> _trimmed(text, 25, 31, "cell_line", 0.9) is None, _trimmed(text, 25, 31, "cell_type", 0.9).end
        (True, 31)
        >>> text = "BACKGROUND\\nTuberous sclerosis"
        >>> _trimmed(text, 0, len(text), "disease", 0.9).start
        11
        >>> text = "Daudi and Raji, or CD4+ and degeneration of the liver"
        >>> [text[s.start : s.end] for s in (_trimmed(text, a, b, "x", 0.9) for a, b in [(0, 9), (10, 27), (24, 47)])]
        ['Daudi', 'Raji, or CD4+', 'degeneration']
        >>> _trimmed(text, 6, 9, "x", 0.9) is None
        True
    """
    if text.find("\n", start, end) >= 0:  # a heading above the name, a list: no mention spans a line break
        start, end = max(((m.start(), m.end()) for m in _LINE.finditer(text, start, end)), key=lambda se: se[1] - se[0])
    start, end = _stripped(text, start, end)
    while (inner := _EDGE_WORDS.fullmatch(text, start, end)) is not None and inner.span(1) != (start, end):
        start, end = _stripped(text, *inner.span(1))
    if not any(ch.isalnum() for ch in text[start:end]):
        return None
    lo, hi = outer or (start, end)
    if text[start] in _JOINERS:  # it joins the word before the span (nothing was trimmed there: see _loose)
        start = min(start, lo)
    if text[end - 1] in _JOINERS:
        end = max(end, hi)
    if cls in BARE_HEADS and text[start:end].lower() in BARE_HEADS[cls]:
        return None
    if not NAME_SHAPES.get(cls, _A_LETTER).search(text, start, end):
        return None
    return Span(start, end, cls, confidence)


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    """``start, end`` moved inwards past whitespace, a closing bracket or comma at the start, an opening one at the end,
    and hyphens or slashes that join nothing (:func:`_trimmed`)."""
    while start < end and (text[start].isspace() or text[start] in _NO_START or _loose(text, start)):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in _NO_END or _loose(text, end - 1)):
        end -= 1
    return start, end


def _parts(text: str, span: Span) -> list[Span]:
    """A cell line named after its description (``human T-cell line Jurkat``) as two cell lines, the description and
    the name, as JNLPBA marks them and BioRED marks the name; any other span as it is.

    Example:
        >>> text = "the human T-cell line Jurkat and cell lines studied"
        >>> [text[s.start : s.end] for s in _parts(text, Span(4, 28, "cell_line", 0.9))]
        ['human T-cell line', 'Jurkat']
        >>> [text[s.start : s.end] for s in _parts(text, Span(33, 51, "cell_line", 0.9))]
        ['cell lines studied']
    """
    named = _NAMED_CELL_LINE.fullmatch(text, span.start, span.end) if span.entity_class == "cell_line" else None
    if named is None:
        return [span]
    return [replace(span, start=named.start(1), end=named.end(1)), replace(span, start=named.start(2))]


def _loose(text: str, i: int) -> bool:
    """Whether ``text[i]`` is a hyphen or slash without a letter or digit on both sides."""
    return text[i] in _JOINERS and not (0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum())


def _finish(text: str, spans: Iterable[Span]) -> list[Span]:
    """Each span in its parts (:func:`_parts`), sorted by (start, end, class), keeping the first of each."""
    unique: dict[tuple[int, int, str], Span] = {}
    for span in chain.from_iterable(_parts(text, span) for span in spans):
        unique.setdefault((span.start, span.end, span.entity_class), span)
    return sorted(unique.values(), key=lambda s: (s.start, s.end, s.entity_class))
