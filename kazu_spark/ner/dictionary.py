"""Dictionary NER: find ontology synonyms in text with Aho–Corasick, as a second entity source.

The model misses names it never saw in training; a curated dictionary finds exactly those, at the cost
of matching words that are names only sometimes. :class:`DictionaryMatcher` holds two pyahocorasick
automata over the configured sources' synonyms (``ner.dictionary``): *symbolic* synonyms (``BRCA1``,
``CAT``, ``MS``; :func:`~kazu_spark.linking.normalise.is_symbolic`) are matched case-sensitively, noun
phrases (``breast cancer``) case-insensitively. A hit counts only on word boundaries (no letter or
digit just before or after it), and per entity class the longest of overlapping hits wins (then the
leftmost). Synonyms shorter than ``min_length`` or on the ``blocklist`` are never searched.

:func:`entities_for_batch` gives a batch's entity rows with ``model`` = ``dictionary:<source>`` and
confidence 1.0; :func:`kazu_spark.ner.spark.dictionary_entities` runs it over documents on Spark as the
``dictionary`` step of ``ner.steps`` (the matcher pickled and broadcast once).

Example:
    >>> matcher = DictionaryMatcher.build([("breast cancer", "disease", "MEDIC"), ("BRCA1", "gene", "HGNC"),
    ...                                    ("cancer", "disease", "MEDIC"), ("CAT", "gene", "HGNC")])
    >>> [tuple(hit) for hit in matcher.find("Breast cancer and BRCA1; brca1, the cat and cancers.")]
    [(0, 13, 'disease', 'MEDIC'), (18, 23, 'gene', 'HGNC')]
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import ahocorasick
import pandas as pd

from kazu_spark.linking.normalise import is_symbolic
from kazu_spark.ner.spans import Found, entity_rows


class Hit(NamedTuple):
    """A dictionary match: code-point span, entity class and the source of the synonym."""

    start: int
    end: int
    entity_class: str
    source: str


def _lower_same_length(text: str) -> str:
    """``text.lower()``, except characters whose lower case has another length stay as they are, so
    offsets into the result are offsets into ``text``."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def match_key(text: str) -> tuple[bool, str]:
    """How the matcher files a synonym: whether it is a symbol (matched case-sensitively, as written) and its key
    (the symbol, or the lower-cased noun phrase).

    Example:
        >>> match_key("Breast Cancer"), match_key("BRCA1")
        ((False, 'breast cancer'), (True, 'BRCA1'))
    """
    symbolic = is_symbolic(text)
    return symbolic, text if symbolic else _lower_same_length(text)


class DictionaryMatcher:
    """Two Aho–Corasick automata (case-sensitive symbols, lower-cased noun phrases) over synonyms."""

    def __init__(self, sensitive: ahocorasick.Automaton, insensitive: ahocorasick.Automaton) -> None:
        self.sensitive = sensitive
        self.insensitive = insensitive

    @classmethod
    def build(
        cls, entries: Iterable[tuple[str, str, str]], min_length: int = 1, blocklist: Iterable[str] = ()
    ) -> DictionaryMatcher:
        """Automata over ``(synonym, entity_class, source)`` entries; a key shared by several entries
        keeps one (class, source) per class, the smallest source name."""
        blocked = {word.lower() for word in blocklist}
        values: dict[tuple[bool, str], dict[str, str]] = {}
        for synonym, entity_class, source in entries:
            synonym = synonym.strip()
            if len(synonym) < min_length or synonym.lower() in blocked:
                continue
            per_class = values.setdefault(match_key(synonym), {})
            per_class[entity_class] = min(per_class.get(entity_class, source), source)
        sensitive, insensitive = ahocorasick.Automaton(), ahocorasick.Automaton()
        for (symbolic, key), per_class in values.items():
            (sensitive if symbolic else insensitive).add_word(key, (len(key), tuple(sorted(per_class.items()))))
        for automaton in (sensitive, insensitive):
            if len(automaton):
                automaton.make_automaton()
        return cls(sensitive, insensitive)

    def find(self, text: str) -> list[Hit]:
        """Hits in ``text`` on word boundaries; per class the longest (then leftmost) of overlapping ones, and of
        hits of one span and class (a symbol and a noun phrase, ``BAD`` and ``Bad``) the one of the smallest source,
        as :meth:`build` keeps one source per key: before, the order of a set (string hashes, so each process's own)
        chose, and a known name's confidence differed from run to run."""
        hits = []
        for automaton, haystack in ((self.sensitive, text), (self.insensitive, _lower_same_length(text))):
            if not len(automaton):
                continue
            for last, (length, per_class) in automaton.iter(haystack):
                start, end = last - length + 1, last + 1
                if (start > 0 and text[start - 1].isalnum()) or (end < len(text) and text[end].isalnum()):
                    continue
                hits.extend(Hit(start, end, entity_class, source) for entity_class, source in per_class)
        kept: list[Hit] = []
        spans: dict[str, tuple[list[int], list[int]]] = {}  # per class the kept spans' starts and ends, sorted
        for hit in sorted(set(hits), key=lambda h: (h.start - h.end, h.start, h.entity_class, h.source)):
            starts, ends = spans.setdefault(hit.entity_class, ([], []))
            before = bisect_left(starts, hit.end)  # kept spans that start before this hit ends; being disjoint,
            if before and ends[before - 1] > hit.start:  # the last of them ends last: does it reach into the hit?
                continue
            starts.insert(before, hit.start)
            ends.insert(before, hit.end)
            kept.append(hit)
        return sorted(kept)


def entities_for_batch(matcher: DictionaryMatcher, docs: pd.DataFrame) -> pd.DataFrame:
    """Dictionary entities (``ENTITY_ROWS``) of one pandas batch of documents (``NER_INPUT`` columns)."""

    def find(texts: list[str]) -> Iterator[list[Found]]:
        for text in texts:
            yield [Found(h.start, h.end, h.entity_class, 1.0, f"dictionary:{h.source}") for h in matcher.find(text)]

    return entity_rows(docs, find)
