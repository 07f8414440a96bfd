"""Resolve a mention that links to several concepts, by the context of its document.

A synonym such as ``MDR1`` (ABCB1 and TBC1D9) or ``ALS`` names more than one concept; the matcher
links the mention to all of them and flags the links ambiguous. Two pieces of evidence narrow the
candidates, in order:

1. **the document's other links**: candidates that the same document also links *unambiguously*
   (another mention, e.g. the full name, pinned that concept) are kept and the others dropped;
2. **TF-IDF over the context**: each remaining candidate's text (default label and synonyms) is
   compared with the document's text by the cosine of word TF-IDF vectors (scikit-learn, fitted on the
   context and the candidates' texts); the best candidate wins when it beats the runner-up by at least
   ``margin``.

When neither separates them, every candidate is kept and the links stay ambiguous.

Example:
    >>> texts = {"HGNC:40": "ABCB1 ATP binding cassette subfamily B member 1 multidrug resistance",
    ...          "HGNC:21710": "TBC1D9 TBC1 domain family member 9"}
    >>> choose_concepts(["HGNC:40", "HGNC:21710"], set(), "MDR1 confers multidrug resistance to tumours",
    ...                 texts, margin=0.05)
    (['HGNC:40'], 'context')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

Resolution = Literal["document", "context", "unresolved"]


def context_scores(context: str, candidate_texts: Sequence[str]) -> np.ndarray:
    """Cosine similarity of ``context`` with each candidate text under word TF-IDF (unigrams and
    bigrams, lower-cased, fitted on these texts only); zeros when they share no word.

    Example:
        >>> context_scores("a cat on the mat", ["cat", "dog"]).round(2).tolist()
        [0.26, 0.0]
    """
    if not candidate_texts:
        return np.zeros(0)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
    try:
        matrix = vectorizer.fit_transform([context, *candidate_texts])
    except ValueError:  # no word at all
        return np.zeros(len(candidate_texts))
    return (matrix[1:] @ matrix[0].T).toarray().ravel()


def choose_concepts(
    candidates: Sequence[str],
    linked_in_document: set[str],
    context: str | None,
    concept_texts: Mapping[str, str],
    margin: float,
) -> tuple[list[str], Resolution]:
    """The candidates to keep for one ambiguous mention and how they were chosen (see the module doc).

    ``linked_in_document``: concepts the document links unambiguously; ``context``: the document's text
    (None skips step 2); ``concept_texts``: candidate -> its label and synonyms. The kept list is sorted.

    Example:
        >>> choose_concepts(["A", "B"], {"B", "C"}, None, {}, margin=0.1)
        (['B'], 'document')
        >>> choose_concepts(["A", "B"], set(), "nothing in common", {"A": "alpha", "B": "beta"}, margin=0.1)
        (['A', 'B'], 'unresolved')
    """
    kept = sorted(set(candidates))
    if len(kept) < 2:
        return kept, "unresolved"
    in_document = [c for c in kept if c in linked_in_document]
    if len(in_document) == 1:
        return in_document, "document"
    if in_document:
        kept = in_document
    if context:
        scores = context_scores(context, [concept_texts.get(c, "") for c in kept])
        order = np.argsort(-scores, kind="stable")
        if scores[order[0]] > 0 and scores[order[0]] - scores[order[1]] >= margin:
            return [kept[order[0]]], "context"
    return kept, "unresolved"
