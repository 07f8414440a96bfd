"""Resolve a mention that links to several concepts, by the context of its document.

A synonym such as ``MDR1`` (ABCB1 and TBC1D9) or ``ALS`` names more than one concept; the matcher
links the mention to all of them and flags the links ambiguous. Four pieces of evidence narrow the
candidates, in order:

1. **the document's other links**: candidates that the same document also links *unambiguously*
   (another mention, e.g. the full name, pinned that concept) are kept and the others dropped;
2. **the acronym's expansion**: when the matched synonym is an acronym (``HIV``, both the *Human
   immunodeficiency virus* and its type 1 list it) and the initials of exactly one candidate's label or
   synonym spell it, that candidate wins;
3. **the concept's own name**: when the mention matched by name (not by a fuzzy or embedding similarity) a
   synonym that is the label of exactly one candidate and only a synonym of the others, that candidate
   wins (``CYP2D6`` is the symbol of NCBI Gene 1565 and an alias of the locus ``LOC107987479``; a MeSH
   heading over another descriptor's entry term);
4. **TF-IDF over the context**: each remaining candidate's text (default label and synonyms) is
   compared with the document's text by the cosine of word TF-IDF vectors (as scikit-learn's
   ``TfidfVectorizer`` fitted on the context and the candidates' texts computes them), over the words and
   word pairs that tell the candidates apart: not one that every candidate's text has (the matched synonym
   itself, ``protein``) nor English stop words (``of``); the best candidate wins when it beats the runner-up by
   at least ``margin``. ``MRP1`` (ABCC1, MDM4 and MSH3 list it) in a paper on multidrug resistance is ABCC1,
   *multidrug resistance-associated protein 1*, not MDM4, whose names say ``protein`` three times;
5. **the ontology, over disagreeing curations**: corpus curations (``pubtator`` sources) may give one
   text different concepts (``myalgia``: NCBI-disease train says *Musculoskeletal Pain*, BC5CDR train
   *Myalgia*, annotated under two MeSH versions). When the document does not decide and every candidate
   comes from a curation, the candidates that an ontology source itself names by the matched synonym, case
   aside, are kept (``ontology_named``; MEDIC lists ``Myalgia`` only as D063806). Not for genes, whose
   document's species decides: a curation may hold the one rat gene that no gene source has.

When none separates them, every candidate is kept and the links stay ambiguous.

The document's text is read once (:class:`DocumentContext`), whatever the number of its ambiguous
mentions: refitting a vectoriser on the whole text per mention made a document's cost its length
times its mentions (a 2,000,000-character document has tens of thousands of them).

Example:
    >>> texts = {"HGNC:40": "ABCB1 ATP binding cassette subfamily B member 1 multidrug resistance",
    ...          "HGNC:21710": "TBC1D9 TBC1 domain family member 9"}
    >>> context = DocumentContext("MDR1 confers multidrug resistance to tumours")
    >>> choose_concepts(["HGNC:40", "HGNC:21710"], set(), context, texts, margin=0.05)
    (['HGNC:40'], 'context')
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from kazu_spark.linking.normalise import WORD
from kazu_spark.linking.scores import LOOSE_STRATEGIES
from kazu_spark.schemas import LINK_MATCH_COLUMNS, column_names

Resolution = Literal["document", "acronym", "label", "context", "ontology", "unresolved"]

#: word unigrams and bigrams, lower-cased, one-character words included (scikit-learn's analyser)
_ANALYZE = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b").build_analyzer()


def _stop_words(term: str) -> bool:
    """True when every word of an n-gram is an English stop word (scikit-learn's list): ``of``, ``of the``."""
    return all(word in ENGLISH_STOP_WORDS for word in term.split())


def _sublinear_tf(text: str) -> dict[str, float]:
    """Each n-gram of ``text`` with ``1 + ln(count)``."""
    return {term: 1.0 + np.log(count) for term, count in Counter(_ANALYZE(text)).items()}


class DocumentContext:
    """A document's text for context similarity: its n-gram counts are computed once, on first use, and
    each :meth:`scores` call reads only the candidates' n-grams.

    Example:
        >>> DocumentContext("a cat on the mat").scores(["cat", "dog"]).round(2).tolist()
        [0.36, 0.0]
    """

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def _terms(self) -> tuple[dict[str, float], float]:
        """The text's sublinear term frequencies and the sum of their squares, stop words left out."""
        tf = {term: value for term, value in _sublinear_tf(self.text).items() if not _stop_words(term)}
        return tf, float(sum(value * value for value in tf.values()))

    def scores(self, candidate_texts: Sequence[str]) -> np.ndarray:
        """Cosine similarity of the text with each candidate text under word TF-IDF (unigrams and bigrams,
        sublinear tf, smoothed idf over the text and these candidates only), as scikit-learn's
        ``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)`` fitted on them gives it, with a vocabulary
        without the n-grams that every one of several candidates has or that are only stop words (module doc);
        zeros when they share no word."""
        if not candidate_texts:
            return np.zeros(0)
        context, context_sum = self._terms
        candidates = [_sublinear_tf(text) for text in candidate_texts]
        everywhere = set.intersection(*map(set, candidates)) if len(candidates) > 1 else set()
        candidates = [{t: v for t, v in tf.items() if t not in everywhere and not _stop_words(t)} for tf in candidates]
        shared = Counter(term for tf in candidates for term in tf)  # document frequency among the candidates
        documents = len(candidates) + 1
        idf = {term: np.log((documents + 1) / (n + (term in context) + 1)) + 1 for term, n in shared.items()}
        alone = np.log((documents + 1) / 2) + 1  # the idf of a term of the text that no candidate has
        overlap = [term for term in shared if term in context]
        squares = sum(context[t] ** 2 for t in overlap) + sum(context.get(t, 0.0) ** 2 for t in everywhere)
        context_norm2 = alone**2 * (context_sum - squares) + sum((context[t] * idf[t]) ** 2 for t in overlap)
        out = np.zeros(len(candidates))
        for i, tf in enumerate(candidates):
            norm2 = sum((value * idf[term]) ** 2 for term, value in tf.items())
            dot = sum(value * context[term] * idf[term] ** 2 for term, value in tf.items() if term in context)
            if dot > 0:
                out[i] = dot / np.sqrt(context_norm2 * norm2)
        return out


#: joins a concept's label and synonyms into its ``concept_text`` (word TF-IDF ignores it; ``spells`` splits by it)
CONCEPT_TEXT_SEPARATOR = "; "
#: an acronym: two to six capitals
_ACRONYM = re.compile(r"[A-Z]{2,6}")


def spells(acronym: str | None, concept_text: str | None) -> bool:
    """Whether ``acronym`` (two to six capitals) is the initials of the words of one of the names in
    ``concept_text`` (a concept's label and synonyms, ``CONCEPT_TEXT_SEPARATOR``-joined).

    Example:
        >>> spells("HIV", "HIV; Human immunodeficiency virus"), spells("HIV", "HIV-1; Human immunodeficiency virus 1")
        (True, False)
    """
    if not isinstance(acronym, str) or not isinstance(concept_text, str) or not _ACRONYM.fullmatch(acronym):
        return False  # also a missing (NaN) synonym or text
    names = concept_text.split(CONCEPT_TEXT_SEPARATOR)
    return any("".join(word[0] for word in WORD.findall(name)).upper() == acronym for name in names)


def choose_concepts(
    candidates: Sequence[str],
    linked_in_document: set[str],
    context: DocumentContext | None,
    concept_texts: Mapping[str, str],
    margin: float,
    spelled: Collection[str] = (),
    labelled: Collection[str] = (),
    named: Collection[str] | None = None,
) -> tuple[list[str], Resolution]:
    """The candidates to keep for one ambiguous mention and how they were chosen (see the module doc).

    ``linked_in_document``: concepts the document links unambiguously; ``context``: the document's text
    (None skips step 4); ``concept_texts``: candidate -> its label and synonyms; ``spelled``: the candidates
    whose label the matched acronym spells (``spells``); ``labelled``: the candidates whose label is the
    matched synonym; ``named``: the candidates an ontology source names by the mention (None: all). The kept
    list is sorted.

    Example:
        >>> choose_concepts(["A", "B"], {"B", "C"}, None, {}, margin=0.1)
        (['B'], 'document')
        >>> choose_concepts(["A", "B"], set(), None, {}, margin=0.1, labelled={"A"})
        (['A'], 'label')
        >>> nothing = DocumentContext("nothing in common")
        >>> choose_concepts(["A", "B"], set(), nothing, {"A": "alpha", "B": "beta"}, margin=0.1)
        (['A', 'B'], 'unresolved')
        >>> choose_concepts(["A", "B"], set(), nothing, {"A": "alpha", "B": "beta"}, margin=0.1, named={"B"})
        (['B'], 'ontology')
    """
    kept = sorted(set(candidates))
    if len(kept) < 2:
        return kept, "unresolved"
    in_document = [c for c in kept if c in linked_in_document]
    if len(in_document) == 1:
        return in_document, "document"
    if in_document:
        kept = in_document
    by_acronym = [c for c in kept if c in spelled]
    if len(by_acronym) == 1:
        return by_acronym, "acronym"
    by_label = [c for c in kept if c in labelled]
    if len(by_label) == 1:
        return by_label, "label"
    if context is not None and context.text:
        scores = context.scores([concept_texts.get(c, "") for c in kept])
        order = np.argsort(-scores, kind="stable")
        if scores[order[0]] > 0 and scores[order[0]] - scores[order[1]] >= margin:
            return [kept[order[0]]], "context"
    by_ontology = [c for c in kept if named is None or c in named]
    if len(by_ontology) == 1:
        return by_ontology, "ontology"
    return by_ontology or kept, "unresolved"


def resolve_document(
    links: pd.DataFrame, document: pd.DataFrame, margin: float, curated: Collection[str] = ()
) -> pd.DataFrame:
    """Disambiguate one document's ambiguous candidate links (``links``: ``LINK_MATCH`` columns plus
    ``concept_text``) by the document (``document``, one row: ``linked``, its unambiguous concepts, and
    ``context``, its text or None): the kept rows, with ``ambiguous`` updated and ``resolution`` (document,
    acronym, label, context or unresolved). The text is analysed once for all the document's mentions.
    ``curated``: sources whose labels are a corpus's most frequent mention, not the concept's name
    (:meth:`~kazu_spark.config.LinkingConfig.curated_sources`), left out of step 3. An ``ontology_named``
    column (:func:`ontology_named`), where present, is step 5's evidence.

    Example:
        >>> columns = [*column_names(LINK_MATCH_COLUMNS), "concept_text"]
        >>> links = pd.DataFrame({"entity_id": "e", "concept_id": ["A", "B"], "ambiguous": True,
        ...                       "concept_text": ["alpha", "beta"]}).reindex(columns=columns)
        >>> document = pd.DataFrame({"linked": [["B"]], "context": ["alpha and beta"]})
        >>> resolve_document(links, document, 0.05)[["concept_id", "ambiguous", "resolution"]].values.tolist()
        [['B', False, 'document']]
    """
    linked = set(document["linked"].iloc[0]) if document["linked"].iloc[0] is not None else set()
    text = document["context"].iloc[0]
    context = DocumentContext(text) if isinstance(text, str) else None
    concepts, texts = links["concept_id"].to_numpy(), links["concept_text"].fillna("").to_numpy()
    spelled = [spells(synonym, text) for synonym, text in zip(links["matched_synonym"], texts, strict=True)]
    # a fuzzy match's synonym is not the mention's; a curation's label is only its most frequent mention
    by_name = ~links["strategy"].isin(LOOSE_STRATEGIES) & ~links["source"].isin(curated)
    labelled = (by_name & (links["matched_synonym"] == links["default_label"])).to_numpy()
    named = links["ontology_named"].astype(bool).to_numpy() if "ontology_named" in links else np.ones(len(links), bool)
    from_curation = links["source"].isin(curated).to_numpy()
    keep = np.zeros(len(links), dtype=bool)
    ambiguous = np.zeros(len(links), dtype=bool)
    resolution = np.empty(len(links), dtype=object)
    for rows in links.groupby("entity_id", sort=False).indices.values():  # one entity's rows
        candidates = list(concepts[rows])
        concept_texts = dict(zip(candidates, texts[rows], strict=True))
        acronym_of = {c for c, row in zip(candidates, rows, strict=True) if spelled[row]}
        label_of = {c for c, row in zip(candidates, rows, strict=True) if labelled[row]}
        # only between curations: beside an ontology's candidate, a curation may be the one source of the
        # right concept (a rat gene that no gene source holds)
        named_of = (
            {c for c, row in zip(candidates, rows, strict=True) if named[row]} if from_curation[rows].all() else None
        )
        chosen, how = choose_concepts(
            candidates, linked, context, concept_texts, margin, acronym_of, label_of, named_of
        )
        keep[rows] = [c in chosen for c in candidates]
        ambiguous[rows], resolution[rows] = len(chosen) > 1, how
    kept = links.assign(ambiguous=ambiguous, resolution=resolution)[keep]
    return kept[[*column_names(LINK_MATCH_COLUMNS), "resolution"]]


def ontology_named(
    links: pd.DataFrame, terms: pd.DataFrame, curated: Collection[str], judged: Collection[str]
) -> np.ndarray:
    """Per row of ``links`` (LINK_MATCH columns): whether an ontology names its concept by the mention, i.e. its
    source is not one of the ``judged`` curations (``LinkingConfig.ontology_judged_sources``), or a source that
    is not ``curated`` lists the concept with the curation's matched synonym, case aside (``terms``:
    ONTOLOGY_TERMS rows of the links' concepts, every source). Case, not the normalised key: ``alcohol`` would
    otherwise be a name of MeSH's class *Alcohols*, not of *Ethanol*.

    Example (two curations disagree on "myalgia"; the ontology calls only D063806 so):
        >>> terms = pd.DataFrame({"source": ["C1", "C2", "MEDIC", "MEDIC"],
        ...     "concept_id": ["D059352", "D063806", "D063806", "D059352"],
        ...     "synonym": ["myalgia", "myalgia", "Myalgia", "Musculoskeletal Pain"]})
        >>> links = pd.DataFrame({"source": ["C1", "C2"], "concept_id": ["D059352", "D063806"],
        ...     "matched_synonym": "myalgia"})
        >>> ontology_named(links, terms, {"C1", "C2"}, {"C1", "C2"}).tolist()
        [False, True]
    """
    judge = links["source"].isin(judged).to_numpy()
    if not judge.any():
        return np.ones(len(links), dtype=bool)
    names = terms[~terms["source"].isin(curated)]
    named = set(zip(names["concept_id"], names["synonym"].str.lower(), strict=True))
    pairs = zip(links["concept_id"], links["matched_synonym"].str.lower(), strict=True)
    return ~judge | np.array([pair in named for pair in pairs], dtype=bool)
