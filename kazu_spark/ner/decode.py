"""Decode per-sub-token sigmoid probabilities into character spans, one entity class at a time.

Rules, per class ``c`` and sub-token, left to right (``p`` is the probability, ``t`` the threshold):

- **B** if ``p(B-c) >= t`` and ``p(B-c) >= p(I-c)``: closes any open ``c`` span and opens a new one;
- **I** if ``p(I-c) >= t`` otherwise: continues the open ``c`` span, or opens one (an I with no B
  before it still starts an entity, as in conlleval);
- **O** otherwise: closes the open ``c`` span.

Classes are decoded independently, so spans of different classes may overlap or nest; the ``O``
column is not read (O means "no tag above the threshold"). Sub-tokens are decided on their own — a
span may start or end inside a word if the model says so; no word-level vote is applied. A span's
confidence is the mean, over its sub-tokens, of the probability of the tag that won (B or I). Its
character range runs from its first sub-token's start to its last sub-token's end, trimmed of
whitespace, so ``text[span.start:span.end]`` is always the non-empty mention.

Example:
    >>> labels = ["O", "B-gene", "I-gene"]
    >>> probs = np.array([[0, 0.875, 0.1], [0, 0.2, 0.625], [0, 0.1, 0.1]])
    >>> text = "BRCA 1 is"
    >>> decode(probs, np.array([[0, 4], [5, 6], [7, 9]]), text, labels)
    [Span(start=0, end=6, entity_class='gene', confidence=0.75)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Span:
    """An entity mention: code-point offsets ``[start, end)`` into the text, class and confidence."""

    start: int
    end: int
    entity_class: str
    confidence: float


def classes_of(labels: Sequence[str]) -> list[str]:
    """Entity classes that have both a B- and an I- column, in label order.

    Example:
        >>> classes_of(["O", "B-gene", "I-gene", "B-drug", "I-drug"])
        ['gene', 'drug']
    """
    return [lab[2:] for lab in labels if lab.startswith("B-") and f"I-{lab[2:]}" in labels]


def decode(
    probs: np.ndarray, offsets: np.ndarray, text: str, labels: Sequence[str], threshold: float = 0.5
) -> list[Span]:
    """Spans of every class from ``probs`` ``[tokens, labels]`` and ``offsets`` ``[tokens, 2]`` into ``text``.

    Spans are sorted by (start, end, class). Example: see the module docstring.
    """
    spans: list[Span] = []
    for cls in classes_of(labels):
        p_b = probs[:, labels.index(f"B-{cls}")]
        p_i = probs[:, labels.index(f"I-{cls}")]
        is_b = (p_b >= threshold) & (p_b >= p_i)
        is_i = ~is_b & (p_i >= threshold)
        tagged = is_b | is_i
        for first, last in _runs(is_b, tagged):
            won = np.where(is_b[first : last + 1], p_b[first : last + 1], p_i[first : last + 1])
            span = _trimmed(text, int(offsets[first][0]), int(offsets[last][1]), cls, float(won.mean()))
            if span is not None:
                spans.append(span)
    return sorted(spans, key=lambda s: (s.start, s.end, s.entity_class))


def _runs(is_b: np.ndarray, tagged: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` token ranges: a run of tagged tokens, split before every B."""
    runs: list[tuple[int, int]] = []
    first = None
    for i, (b, t) in enumerate(zip(is_b, tagged, strict=True)):
        if first is not None and (b or not t):
            runs.append((first, i - 1))
            first = None
        if t and first is None:
            first = i
    if first is not None:
        runs.append((first, len(tagged) - 1))
    return runs


def _trimmed(text: str, start: int, end: int, cls: str, confidence: float) -> Span | None:
    """The span shrunk to exclude surrounding whitespace; None if nothing is left."""
    mention = text[start:end]
    stripped = mention.strip()
    if not stripped:
        return None
    start += len(mention) - len(mention.lstrip())
    return Span(start, start + len(stripped), cls, confidence)
