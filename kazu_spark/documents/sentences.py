"""Sentence spans of a text: the pure splitter behind the ``CO_OCCURS_SENTENCE`` edges and PubTator training text.

A deliberately simple heuristic, good enough for co-occurrence counts over abstracts and for cutting a labelled
abstract into training sentences (:mod:`kazu_spark.documents.labelled`): see :func:`split_sentences`.
"""

from __future__ import annotations

import re

#: lower-cased words ending in "." after which a sentence goes on ("et al." is caught by "al.")
ABBREVIATIONS = frozenset(
    {"e.g.", "i.e.", "al.", "fig.", "figs.", "vs.", "cf.", "ca.", "approx.", "no.", "eq.", "ref.", "refs.", "sp."}
)
# ". ", "? " or "! " before an uppercase letter or digit, or a blank line (title | body)
_BOUNDARY = re.compile(r"[.?!]\s+(?=[A-Z0-9])|\n\s*\n")
_INITIAL = re.compile(r"[A-Z]\.")


def _ends_with_abbreviation(text: str, dot: int) -> bool:
    """Whether the word ending at ``text[dot] == "."`` is a known abbreviation or an initial ("J.")."""
    word = text[max(0, dot - 20) : dot + 1].split()[-1].lstrip("([{\"'")
    return word.lower() in ABBREVIATIONS or _INITIAL.fullmatch(word) is not None


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text``, whitespace between sentences left out.

    A sentence ends at ".", "?" or "!" followed by whitespace and an uppercase ASCII letter or digit,
    unless the word before a "." is an abbreviation (``ABBREVIATIONS``: "e.g.", "i.e.", "et al.",
    "Fig.", ...) or an initial; a blank line (between title and body) always ends one. It is a
    heuristic: good enough for co-occurrence counts over abstracts, not a linguistic tool.

    Example:
        >>> text = "BRCA1 (e.g. in Fig. 2) is mutated. Smith et al. saw it! 3 cases?"
        >>> [text[s:e] for s, e in split_sentences(text)]
        ['BRCA1 (e.g. in Fig. 2) is mutated.', 'Smith et al. saw it!', '3 cases?']
    """
    spans, start = [], 0
    for m in _BOUNDARY.finditer(text):
        if m.group()[0] == "." and _ends_with_abbreviation(text, m.start()):
            continue
        end = start + len(text[start : m.start() + 1].rstrip())
        if end > start:
            spans.append((start, end))
        start = m.end()
    end = start + len(text[start:].rstrip())
    if end > start:
        spans.append((start, end))
    return spans
