"""Fuzzy matching of mentions to synonyms: character n-gram TF-IDF and cosine similarity, top-k.

Mentions that no dictionary key matches (a typo, a word order or inflection the normaliser does not
undo, ``Parkinsons disease``, ``hypertensive``) are compared with every synonym of their entity class
by the cosine of their character 2-3-gram TF-IDF vectors (scikit-learn's ``char_wb`` analyser, word
boundaries padded). A :class:`FuzzyIndex` holds the fitted vectoriser and the L2-normalised sparse
matrix of the distinct synonyms; a query multiplies a block of query vectors with it and keeps the
``k`` best synonyms per query by ``argpartition``, blocks sized so that the dense block of scores stays
under ``max_block_cells`` floats whatever the index size. The index pickles (vectoriser, scipy CSR
matrix, numpy arrays), which is how the Spark glue ships it to executors once.

Example:
    >>> index = FuzzyIndex.build(["parkinson disease", "parkinsonism", "breast cancer"], ["D1", "D2", "D3"])
    >>> [(c.synonym, c.concept_id) for c in index.query(["parkinsons disease"], k=1)[0]]
    [('parkinson disease', 'D1')]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from kazu_spark.config import FuzzyConfig
from kazu_spark.linking.normalise import GREEK_NAMES, NON_ALNUM
from kazu_spark.linking.scores import FUZZY_SCALE
from kazu_spark.linking.variants import SALTS
from kazu_spark.schemas import LINK_MATCH_COLUMNS, column_names

log = logging.getLogger(__name__)

_DIGITS = re.compile(r"\d+")
#: what a synonym may add to a one-word key and still name it (:func:`adds_words`): a number or a letter
_NUMBERED = re.compile(r"^(?:\d+|[a-z])$")
#: a salt, or the word that makes a drug class of an adjective (``antipsychotic agents``)
_OWN_FORMS = SALTS | {"agent"}
#: synonyms a fuzzy lookup asks for per one it keeps: those whose numbers contradict the lookup's drop out
_WIDER = 4
#: words that negate the next one, and prefixes that negate a word (:func:`opposed`)
_NEGATIONS = ("non", "not")
_NEGATING_PREFIXES = ("un", "non", "in", "a", "anti", "dis")
#: prefixes of opposite sense on one stem (hyperglycemia, hypoglycemia), and qualifiers of more and of less
_OPPOSED_PREFIXES = (("hyper", "hypo"), ("over", "under"), ("intra", "extra"), ("pre", "post"))
_MORE = frozenset({"increased", "elevated", "high", "raised", "excessive"})
_LESS = frozenset({"decreased", "reduced", "low", "diminished"})
#: what :func:`class_indexes` keeps per indexed row, to make a link of a candidate
_TERM_FIELDS = ["source", "concept_id", "default_label", "matched_synonym"]


class Candidate(NamedTuple):
    """One fuzzy candidate of a query: the synonym, one concept it names, the cosine score, and the
    position of that (synonym, concept) pair in the arrays the index was built from."""

    synonym: str
    concept_id: str
    score: float
    row: int


class FuzzyIndex:
    """Character n-gram TF-IDF index over the distinct synonyms of one entity class."""

    def __init__(
        self, vectorizer: TfidfVectorizer, matrix, synonyms: np.ndarray, rows: list[np.ndarray], concept_ids: np.ndarray
    ) -> None:
        self.vectorizer = vectorizer
        self.matrix = matrix  # (distinct synonyms x n-grams), CSR, rows L2-normalised
        self.synonyms = synonyms  # distinct synonym strings, one per matrix row
        self.rows = rows  # per distinct synonym: positions in the build input that carry it
        self.concept_ids = concept_ids  # the build input's concept ids

    @classmethod
    def build(cls, synonyms: Sequence[str], concept_ids: Sequence[str], ngram_range: tuple[int, int] = (2, 3)):
        """Fit the index on (synonym, concept) pairs; a synonym shared by several concepts is one row.

        Empty synonyms are ignored. Raises ValueError when nothing is left to index.
        """
        if len(synonyms) != len(concept_ids):
            raise ValueError(f"{len(synonyms)} synonyms but {len(concept_ids)} concept ids")
        keys = np.asarray(synonyms, dtype=object)
        keep = np.flatnonzero(np.asarray([bool(s and s.strip()) for s in keys], dtype=bool))
        if not len(keep):
            raise ValueError("no synonyms to index")
        distinct, inverse = np.unique(keys[keep].astype(str), return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(distinct) + 1))
        rows = [keep[order[bounds[i] : bounds[i + 1]]] for i in range(len(distinct))]
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=ngram_range, dtype=np.float32, sublinear_tf=True)
        matrix = vectorizer.fit_transform(distinct).tocsr()
        return cls(vectorizer, matrix, distinct, rows, np.asarray(concept_ids, dtype=object))

    def __len__(self) -> int:
        return len(self.synonyms)

    def query(
        self, strings: Sequence[str], k: int, min_score: float = 0.0, max_block_cells: int = 20_000_000
    ) -> list[list[Candidate]]:
        """The ``k`` most similar distinct synonyms of each string with a cosine of at least ``min_score``
        (and above 0), best first, each expanded to every concept it names.

        Example:
            >>> index = FuzzyIndex.build(["il 6", "il 6 receptor", "tnf"], ["G1", "G2", "G3"])
            >>> found = index.query(["il 6 receptors", ""], k=2)
            >>> [[(c.concept_id, round(c.score, 2)) for c in candidates] for candidates in found]
            [[('G2', 0.95), ('G1', 0.49)], []]
        """
        vectors = self.vectorizer.transform(list(strings)).tocsr()
        k = max(1, min(k, len(self.synonyms)))
        block = max(1, max_block_cells // len(self.synonyms))
        found: list[list[Candidate]] = []
        for first in range(0, vectors.shape[0], block):
            scores = (vectors[first : first + block] @ self.matrix.T).toarray()
            top = (
                np.argpartition(-scores, k - 1, axis=1)[:, :k]
                if k < scores.shape[1]
                else np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
            )
            for i, cols in enumerate(top):
                best = sorted(((float(scores[i, c]), int(c)) for c in cols), key=lambda p: (-p[0], p[1]))
                found.append(
                    [
                        Candidate(str(self.synonyms[c]), str(self.concept_ids[row]), score, int(row))
                        for score, c in best
                        if score > 0 and score >= min_score
                        for row in self.rows[c]
                    ]
                )
        return found


def indexable(sizes: Mapping[str, int], max_index_terms: int) -> list[str]:
    """The classes whose distinct synonym count (``sizes``) is at most ``max_index_terms``; the others are
    logged as left without fuzzy matching.

    Example:
        >>> indexable({"disease": 9_000, "gene": 2_000_000}, 1_000_000)
        ['disease']
    """
    for entity_class, n in sizes.items():
        if n > max_index_terms:
            log.warning("no fuzzy matching for %s: %d synonyms > max_index_terms", entity_class, n)
    return sorted(c for c, n in sizes.items() if n <= max_index_terms)


def class_indexes(rows: pd.DataFrame) -> dict[str, tuple[FuzzyIndex, pd.DataFrame]]:
    """Per entity class of ``rows`` (:func:`index_rows`): a FuzzyIndex over its normalised synonyms, and per
    indexed row its ``source``, ``concept_id``, ``default_label`` and ``matched_synonym``.

    Example:
        >>> rows = pd.DataFrame({"entity_class": ["disease"], "normalised_synonym": ["asthma"], "source": ["MEDIC"],
        ...                      "concept_id": ["D1"], "default_label": ["Asthma"], "matched_synonym": ["Asthma"]})
        >>> index, fields = class_indexes(rows)["disease"]
        >>> len(index), list(fields.columns)
        (1, ['source', 'concept_id', 'default_label', 'matched_synonym'])
    """
    indexes = {}
    for entity_class, part in rows.groupby("entity_class"):
        part = part.reset_index(drop=True)
        index = FuzzyIndex.build(list(part["normalised_synonym"]), list(part["concept_id"]))
        indexes[entity_class] = (index, part[_TERM_FIELDS])
    return indexes


def numbers_agree(key: str, synonym: str) -> bool:
    """False when both normalised strings have numbers and not the same ones: a fuzzy candidate then names
    another member of a numbered series. Character n-grams barely see a number, and a number is what tells
    ``interleukin 7`` from ``interleukin 6``, ``type 1`` from ``type 2`` diabetes, ``HIV1`` from ``HIV2``
    (Roman numerals are digits once normalised). A number on one side only is no evidence: chemical names
    drop their locants (``5-hydroxyindoleacetic acid``: Hydroxyindoleacetic Acid), a stage or type
    narrows a disease its synonym names without one.

    Example:
        >>> [numbers_agree("dna methyltransferase 3", s) for s in ("dna methyltransferase 1", "dnmt3 alpha 3")]
        [False, True]
        >>> numbers_agree("5 hydroxyindoleacetic acid", "hydroxyindoleacetic acid")
        True
    """
    mine, theirs = set(_DIGITS.findall(key)), set(_DIGITS.findall(synonym))
    return not (mine and theirs) or mine == theirs


def case_kept_apart(key: str, synonym: str) -> bool:
    """True when a lower-case key and an upper-case synonym are the same letters: a word and an acronym.
    :func:`~kazu_spark.linking.normalise.normalise` lower-cases a word (the verb ``hit``) and keeps a symbol's
    case (``HIT``, heparin-induced thrombocytopenia), so the ``normalised`` step told them apart on purpose, and
    the n-grams, which ignore case, must not join them again. Symbols in other cases still meet (``MESNA`` and
    ``Mesna``, ``CSA`` and ``CsA``: BC5CDR links them).

    Example:
        >>> [case_kept_apart("hit", s) for s in ("HIT", "hit", "Hit")], case_kept_apart("MESNA", "mesna")
        ([True, False, False], False)
    """
    return key.islower() and synonym.isupper() and key.upper() == synonym


def adds_words(key: str, synonym: str) -> bool:
    """True when a one-word key is a word of a longer synonym that adds more than a number, a letter, a salt or
    ``agent``: the synonym then names something narrower or other than the key (``bladder`` -> bladder cancer,
    ``damage`` -> renal damage, ``kinase`` -> MAP kinase kinase 2), and the n-grams found it only because all of
    the key's are in it. One-word mentions like these are mostly cut NER spans or generic words, and such links
    were wrong 142 times in 150 on the NER's output over three devel corpora; a numbered, salt or agent form
    is the key's own (``psoriasin`` -> psoriasin 1, ``divalproex`` -> divalproex sodium, ``antipsychotics``).

    Example:
        >>> [adds_words("pulmonary", s) for s in ("disease pulmonary", "pulmonary 2", "pulmonic")]
        [True, False, False]
        >>> [adds_words(k, s) for k, s in (("psoriasin", "psoriasin 1"), ("kidney injury", "acute kidney injury"))]
        [False, False]
    """
    words, theirs = key.split(), synonym.split()
    if len(words) != 1 or len(theirs) < 2 or words[0] not in theirs:
        return False
    return any(not _NUMBERED.match(w) and w not in _OWN_FORMS for w in theirs if w != words[0])


def is_symbol(key: str) -> bool:
    """True when a normalised key is a symbol or acronym: one word, two letters at least, none of them lower case
    (:func:`~kazu_spark.linking.normalise.normalise` keeps a symbol's case and lower-cases a word).

    Example:
        >>> [is_symbol(k) for k in ("PCSM", "NSC34", "CsA", "tumor", "fcd type 2", "5")]
        [True, True, False, False, False, False]
    """
    return " " not in key and not any(c.islower() for c in key) and sum(c.isalpha() for c in key) >= 2


def other_symbol(key: str, synonym: str) -> bool:
    """True when a symbol key (:func:`is_symbol`) and the synonym are not the same letters and digits, case,
    punctuation and a phospho ``p`` before the key aside. The n-gram cosine of two symbols counts the letters they
    share, which says nothing of what they name (``PCSM``, prostate cancer-specific mortality, ~ ``PCS``, a
    chromatid trait; ``IHC``, immunohistochemistry, ~ ``MIHC``; ``NSC34``, a cell line, ~ ``NSC``); a symbol
    written otherwise is still itself (``CSA`` and ``CsA``, ``MESNA`` and ``Mesna``, ``PAKT`` and ``AKT``).

    Example:
        >>> [other_symbol("PCSM", s) for s in ("PCS", "pcsm", "P-CSM")], other_symbol("PAKT", "AKT")
        ([True, False, False], False)
        >>> other_symbol("protein kinase", "protein kinase b")
        False
    """
    if not is_symbol(key):
        return False
    mine, theirs = NON_ALNUM.sub("", key).lower(), NON_ALNUM.sub("", synonym).lower()
    return mine not in (theirs, f"p{theirs}")


def opposed(key: str, synonym: str) -> bool:
    """True when the two say opposite things of one word: one side writes a word of the other with a negating
    prefix (``fractionated`` and ``unfractionated`` heparin, ``typical`` and ``atypical``, ``dependent`` and
    ``independent``), negates it with ``non``/``not`` (``non small cell`` is normalised from ``non-small cell``;
    ``non papillary renal cell carcinoma`` still meets ``renal cell carcinoma``, which does not name the negated
    word, and ``melanoma and non melanoma skin cancer``, which negates it too), gives its stem the opposite prefix
    (``hyperglycemia`` and ``hypoglycemia``, ``intracranial`` and ``extracranial``) or qualifies it the other way
    (``increased cardiac output`` and ``cardiac output, low``). The n-grams of the two are nearly the same, their
    meanings opposite.

    Example:
        >>> [opposed("fractionated heparin", s) for s in ("heparin unfractionated", "heparin")]
        [True, False]
        >>> [opposed(k, "small cell cancer") for k in ("non small cell cancer", "non hodgkin cancer")]
        [True, False]
        >>> opposed("non melanoma skin cancer", "melanoma and non melanoma skin cancer")
        False
        >>> [opposed("antituberculosis", s) for s in ("anti tuberculosis drug", "tuberculosis")]
        [False, True]
        >>> [opposed(k, "cardiac output low") for k in ("increased cardiac output", "low cardiac output")]
        [True, False]
        >>> opposed("hyperglycemia", "hypoglycemia"), opposed("hyperglycemia", "hyperglycemias")
        (True, False)
    """
    mine, theirs = key.lower().split(), synonym.lower().split()
    (my_plain, my_negated), (their_plain, their_negated) = _negated(mine), _negated(theirs)
    if my_negated & (their_plain - their_negated) or their_negated & (my_plain - my_negated):
        return True
    if (_MORE & my_plain and _LESS & their_plain) or (_LESS & my_plain and _MORE & their_plain):
        return True
    my_forms, their_forms = _forms(mine), _forms(theirs)
    negated = any(
        prefix + word in other and prefix + word not in own
        for words, own, other in ((mine, my_forms, their_forms), (theirs, their_forms, my_forms))
        for word in words
        if word not in other
        for prefix in _NEGATING_PREFIXES
    )
    return negated or any(
        one + word[len(other) :] in their_forms
        for word in mine
        for pair in _OPPOSED_PREFIXES
        for other, one in (pair, pair[::-1])
        if word.startswith(other) and len(word) > len(other) + 2
    )


def _negated(words: list[str]) -> tuple[set[str], set[str]]:
    """The words that no ``non``/``not`` negates, and those that one does."""
    pairs = list(zip(["", *words[:-1]], words, strict=True))
    negated = {word for before, word in pairs if before in _NEGATIONS}
    return {word for before, word in pairs if word not in _NEGATIONS and before not in _NEGATIONS}, negated


def _forms(words: list[str]) -> set[str]:
    """The words, and each two neighbours written as one (``anti tuberculosis`` is ``antituberculosis``)."""
    return set(words) | {a + b for a, b in zip(words, words[1:], strict=False)}


def _letter(word: str) -> bool:
    """A single letter or a Greek letter's name: what tells the members of a gene family apart."""
    return (len(word) == 1 and word.isalpha()) or word in GREEK_NAMES


def names_a_member(key: str, synonym: str) -> bool:
    """True when a key without a number, a single letter or a Greek letter meets a synonym that adds a letter or a
    Greek letter: the synonym names one member of the family that the key names (``protein kinase`` -> protein
    kinase B, ``glycoprotein`` -> glycoprotein D, ``AMP-activated protein kinase`` -> its beta subunit), which the
    n-grams find because all of the key's are in it. A number added is still a candidate: papers and BioRED name a
    family by its first member (``psoriasin`` -> psoriasin 1, ``NMDA receptor`` -> its subunit 1). Genes only: a
    drug's letters are locants (``N-formylmethionine``).

    Example:
        >>> [names_a_member("protein kinase", s) for s in ("protein kinase b", "protein kinase", "protein kinase 2")]
        [True, False, False]
        >>> names_a_member("hepatocyte nuclear factor 1 b", "hepatocyte nuclear factor 1 beta")
        False
    """
    words = key.lower().split()
    if any(_letter(w) or any(c.isdigit() for c in w) for w in words):
        return False
    return any(_letter(w) for w in synonym.lower().split() if w not in words)


def _may_name(key: str, synonym: str, entity_class: str) -> bool:
    """A fuzzy candidate ``synonym`` may name ``key``: no contradicting number, acronym, other symbol, opposite
    sense, longer name around it or (genes) member of the key's family."""
    return (
        numbers_agree(key, synonym)
        and not case_kept_apart(key, synonym)
        and not adds_words(key, synonym)
        and not other_symbol(key, synonym)
        and not opposed(key, synonym)
        and not (entity_class == "gene" and names_a_member(key, synonym))
    )


def fuzzy_batch(
    indexes: dict[str, tuple[FuzzyIndex, pd.DataFrame]], batch: pd.DataFrame, cfg: FuzzyConfig
) -> pd.DataFrame:
    """Fuzzy candidate links (``LINK_MATCH``) of a batch of lookups (entity_id, doc_id, via, key,
    entity_class): per lookup the best synonym and those within ``cfg.margin`` of it, at most
    ``cfg.top_k``, one row per (source, concept); ``ambiguous`` when that is more than one concept. A
    synonym whose numbers contradict the lookup's (:func:`numbers_agree`), an acronym of the lookup's letters
    when the lookup is a word (:func:`case_kept_apart`), a longer name around a one-word lookup
    (:func:`adds_words`), another symbol than a symbol lookup (:func:`other_symbol`), a synonym of the opposite
    sense (:func:`opposed`) or, for genes, a member of the family a lookup names (:func:`names_a_member`) is
    no candidate: the next nearest take its place
    (``_WIDER`` times ``cfg.top_k`` are asked for)."""
    records = []
    for entity_class, lookups in batch.groupby("entity_class", sort=False):
        if entity_class not in indexes:
            continue
        index, term_columns = indexes[entity_class]
        found = index.query(list(lookups["key"]), k=cfg.top_k * _WIDER, min_score=cfg.min_score)
        for (entity_id, doc_id, via, key), candidates in zip(
            lookups[["entity_id", "doc_id", "via", "key"]].itertuples(index=False), found, strict=True
        ):
            agreeing = [c for c in candidates if _may_name(key, c.synonym, entity_class)]
            nearest = list(dict.fromkeys(c.synonym for c in agreeing))[: cfg.top_k]
            candidates = [c for c in agreeing if c.synonym in nearest]
            kept = {}
            for candidate in candidates:  # best first: the first row per (source, concept) is its best
                if candidate.score >= candidates[0].score - cfg.margin:
                    term = term_columns.iloc[candidate.row]
                    kept.setdefault((term["source"], candidate.concept_id), (term, candidate.score))
            concepts = {concept for _, concept in kept}
            for (source, concept), (term, score) in kept.items():
                records.append(
                    (entity_id, doc_id, via, concept, source, term["default_label"], term["matched_synonym"],
                     "fuzzy_tfidf", FUZZY_SCALE * score, len(concepts) > 1)
                )  # fmt: skip
    return pd.DataFrame.from_records(records, columns=column_names(LINK_MATCH_COLUMNS))
