"""Disambiguation by document context: hand-built ambiguous mentions."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
from conftest import sample_rows
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from kazu_spark.linking import disambiguate
from kazu_spark.linking.disambiguate import DocumentContext, choose_concepts, resolve_document, spells
from kazu_spark.schemas import LINK_MATCH

#: MDR1 is an alias of ABCB1 (HGNC:40) and of TBC1D9 (HGNC:21710)
MDR1 = ["HGNC:40", "HGNC:21710"]
TEXTS = {
    "HGNC:40": "ABCB1 ATP binding cassette subfamily B member 1 P-glycoprotein multidrug resistance 1",
    "HGNC:21710": "TBC1D9 TBC1 domain family member 9 GRAMD9 KIAA0882",
}


def test_a_concept_linked_elsewhere_in_the_document_wins() -> None:
    assert choose_concepts(MDR1, {"HGNC:21710", "MESH:D009369"}, None, TEXTS, margin=0.05) == (
        ["HGNC:21710"],
        "document",
    )


def test_context_similarity_decides_when_the_document_links_neither() -> None:
    context = DocumentContext("Overexpression of MDR1 (P-glycoprotein) causes multidrug resistance in tumour cells.")
    assert choose_concepts(MDR1, set(), context, TEXTS, margin=0.05) == (["HGNC:40"], "context")
    context = DocumentContext("MDR1 has a TBC domain and a GRAM domain like other TBC1 family members.")
    assert choose_concepts(MDR1, set(), context, TEXTS, margin=0.05) == (["HGNC:21710"], "context")


def test_kept_ambiguous_when_context_does_not_separate_them() -> None:
    assert choose_concepts(MDR1, set(), DocumentContext("MDR1 was measured in serum."), TEXTS, margin=0.05) == (
        sorted(MDR1),
        "unresolved",
    )
    # a small lead below the margin is not enough
    scores = DocumentContext("multidrug family").scores([TEXTS[c] for c in MDR1])
    assert 0 < abs(scores[0] - scores[1]) < 0.5
    assert choose_concepts(MDR1, set(), DocumentContext("multidrug family"), TEXTS, margin=0.5)[1] == "unresolved"
    assert choose_concepts(MDR1, set(), None, TEXTS, margin=0.0) == (sorted(MDR1), "unresolved")


def test_an_acronym_picks_the_one_candidate_whose_name_it_spells() -> None:
    texts = {
        "NCBITaxon:12721": "HIV; Human immunodeficiency virus",
        "NCBITaxon:11676": "HIV; HIV-1; Human immunodeficiency virus 1",
    }
    candidates = sorted(texts)
    spelled = [c for c in candidates if spells("HIV", texts[c])]
    assert spelled == ["NCBITaxon:12721"]
    assert choose_concepts(candidates, set(), None, texts, 0.05, spelled) == (["NCBITaxon:12721"], "acronym")
    # the document's own links come first; a lower-case or over-long synonym is no acronym
    assert choose_concepts(candidates, {"NCBITaxon:11676"}, None, texts, 0.05, spelled)[1] == "document"
    assert not spells("Hiv", "Human immunodeficiency virus") and not spells("HUMANIV", "Human immunodeficiency virus")


def test_several_linked_candidates_are_narrowed_then_compared_by_context() -> None:
    texts = {"A": "apple fruit", "B": "banana fruit", "C": "cherry fruit"}
    linked = {"A", "B"}
    assert choose_concepts(["A", "B", "C"], linked, DocumentContext("a ripe banana"), texts, 0.05) == (["B"], "context")
    assert choose_concepts(["A", "B", "C"], linked, DocumentContext("fruit"), texts, 0.05) == (["A", "B"], "unresolved")


def test_resolve_document_drops_losing_links_and_updates_the_flag() -> None:
    rows = [
        ("e1", "HGNC:40", True),
        ("e1", "HGNC:21710", True),
        ("e2", "HGNC:40", True),
        ("e2", "HGNC:21710", True),
    ]
    group = pd.DataFrame(
        {
            "entity_id": [r[0] for r in rows],
            "doc_id": "d",
            "via": "mention",
            "concept_id": [r[1] for r in rows],
            "source": "HGNC",
            "default_label": None,
            "matched_synonym": "MDR1",
            "strategy": "exact",
            "score": 1.0,
            "ambiguous": [r[2] for r in rows],
            "concept_text": [TEXTS[r[1]] for r in rows],
        }
    )
    document = pd.DataFrame({"doc_id": ["d"], "linked": [["HGNC:40"]], "context": ["MDR1 again, and MDR1."]})
    out = resolve_document(group, document, margin=0.05)
    assert sorted(zip(out["entity_id"], out["concept_id"], out["ambiguous"], out["resolution"], strict=True)) == [
        ("e1", "HGNC:40", False, "document"),
        ("e2", "HGNC:40", False, "document"),
    ]


def test_the_concept_whose_label_was_matched_wins_over_those_it_is_an_alias_of() -> None:
    """``CYP2D6`` is the symbol of NCBI Gene 1565 and an alias of the locus LOC107987479; the document's own
    links and an acronym's expansion come first, and when the synonym is the label of two, the context decides."""
    candidates = ["NCBIGene:1565", "NCBIGene:107987479"]
    group = pd.DataFrame(
        {
            "entity_id": "e",
            "doc_id": "d",
            "via": "mention",
            "concept_id": candidates,
            "source": "NCBIGene",
            "default_label": ["CYP2D6", "LOC107987479"],
            "matched_synonym": "CYP2D6",
            "strategy": "exact",
            "score": 1.0,
            "ambiguous": True,
            "concept_text": ["CYP2D6; cytochrome P450 family 2 subfamily D member 6", "LOC107987479; CYP2D6"],
        }
    )
    nothing = pd.DataFrame({"linked": [None], "context": ["CYP2D6 poor metabolisers"]})
    out = resolve_document(group, nothing, margin=0.05)
    assert out[["concept_id", "ambiguous", "resolution"]].values.tolist() == [["NCBIGene:1565", False, "label"]]
    # a train-split curation's label is its most frequent mention, not a name: no evidence
    assert resolve_document(group, nothing, margin=0.05, curated={"NCBIGene"})["resolution"].tolist() != ["label"]
    fuzzy = group.assign(strategy="fuzzy_tfidf")  # a fuzzy match's synonym is the concept's, not the mention
    assert "label" not in resolve_document(fuzzy, nothing, margin=0.05)["resolution"].tolist()
    pinned = pd.DataFrame({"linked": [["NCBIGene:107987479"]], "context": ["CYP2D6"]})
    assert resolve_document(group, pinned, margin=0.05)["resolution"].tolist() == ["document"]
    both = group.assign(default_label="CYP2D6")  # the label of both: the next evidence decides, else both stay
    assert resolve_document(both, nothing, margin=0.05)["resolution"].tolist() == ["unresolved"] * 2
    silent = pd.DataFrame({"linked": [None], "context": ["poor metabolisers"]})
    assert set(resolve_document(both, silent, margin=0.05)["concept_id"]) == set(candidates)
    assert choose_concepts(candidates, set(), None, {}, 0.05, spelled=[candidates[1]], labelled=[candidates[0]]) == (
        [candidates[1]],
        "acronym",
    )


def test_context_is_read_by_the_words_that_tell_the_candidates_apart() -> None:
    """``MRP1`` is an alias of ABCC1, MDM4 and MSH3: in a paper on multidrug resistance it is ABCC1, not MDM4, whose
    names say ``protein`` three times (a word every candidate has, and the document too, tells none apart)."""
    texts = {
        "MDM4": "MDM4; MRP1; MDM4 regulator of p53; protein Mdm4; MDM4-related protein 1; Mdm4 p53 binding protein",
        "ABCC1": "ABCC1; MRP1; ATP binding cassette subfamily C member 1; multidrug resistance-associated protein 1",
    }
    text = "Proton pump inhibitors reverse multidrug resistance: the protein levels of MRP1 and P-gp in human cells"
    assert choose_concepts(list(texts), set(), DocumentContext(text), texts, margin=0.05) == (["ABCC1"], "context")


def _sklearn_scores(context: str, candidate_texts: list[str]) -> np.ndarray:
    """The scores as a vectoriser fitted on the context and candidates per call computes them, over a vocabulary
    without stop words and, of several candidates, the n-grams every one of them has."""
    options = {"ngram_range": (1, 2), "sublinear_tf": True, "token_pattern": r"(?u)\b\w+\b"}
    analyse = TfidfVectorizer(**options).build_analyzer()
    grams = [set(analyse(text)) for text in candidate_texts]
    everywhere = set.intersection(*grams) if len(grams) > 1 else set()
    words = set(analyse(context)).union(*grams) - everywhere
    vocabulary = sorted(g for g in words if not set(g.split()) <= ENGLISH_STOP_WORDS)
    if not vocabulary:
        return np.zeros(len(candidate_texts))
    matrix = TfidfVectorizer(vocabulary=vocabulary, **options).fit_transform([context, *candidate_texts])
    return (matrix[1:] @ matrix[0].T).toarray().ravel()


def test_document_context_scores_as_a_vectoriser_fitted_per_mention() -> None:
    """The text analysed once scores every candidate set as refitting scikit-learn's TF-IDF on the text did."""
    texts = [f"{r['title']} {r['abstract']}" for r in sample_rows(120)]
    rng = random.Random(7)
    compared = 0
    for i, text in enumerate(texts[:40]):
        context = DocumentContext(" ".join(texts[i : i + 3]) if i % 10 == 0 else text)
        words = context.text.split()
        for _ in range(3):
            candidates = [
                rng.choice([
                    " ".join(rng.sample(words, min(len(words), rng.randint(1, 12)))),
                    " ".join(rng.choice(texts).split()[: rng.randint(1, 20)]),
                    "",
                    "zzz qqq",
                ])
                for _ in range(rng.randint(1, 5))
            ]  # fmt: skip
            before = _sklearn_scores(context.text, candidates)
            assert np.allclose(context.scores(candidates), before, rtol=0, atol=1e-12)
            compared += 1
    assert compared == 120
    for empty in ("", "!!"):
        assert DocumentContext(empty).scores(["a", "!!"]).tolist() == [0.0, 0.0]


def test_a_document_s_text_is_analysed_once_for_all_its_mentions(monkeypatch) -> None:
    """Every ambiguous mention of a document is scored against its text, which is read once (a 2,000,000-character
    document with thousands of ambiguous mentions used to be re-vectorised per mention)."""
    analysed = []
    analyse = disambiguate._ANALYZE
    monkeypatch.setattr(disambiguate, "_ANALYZE", lambda text: analysed.append(text) or analyse(text))
    text = "Overexpression of MDR1 (P-glycoprotein) causes multidrug resistance in tumour cells. " * 500
    group = pd.DataFrame(
        {
            "entity_id": [f"e{i // 2}" for i in range(400)],
            "concept_id": MDR1 * 200,
            "ambiguous": True,
            "concept_text": [TEXTS[c] for c in MDR1] * 200,
        }
    ).reindex(columns=[*LINK_MATCH.fieldNames(), "concept_text"])
    document = pd.DataFrame({"doc_id": ["d"], "linked": [None], "context": [text]})
    out = resolve_document(group, document, margin=0.05)
    assert analysed.count(text) == 1
    assert (len(out), set(out["concept_id"]), set(out["resolution"])) == (200, {"HGNC:40"}, {"context"})


def test_the_ontology_decides_only_between_curations() -> None:
    """``myalgia``: two train splits' curations name two concepts and MEDIC calls one of them so; ``TNF-a``: a
    curation's rat gene (no gene source holds rat genes) beside the human gene of an ontology stays a candidate."""
    group = pd.DataFrame(
        {
            "entity_id": ["m", "m", "t", "t"],
            "doc_id": "d",
            "via": "mention",
            "concept_id": ["MESH:D059352", "MESH:D063806", "NCBIGene:24835", "NCBIGene:7124"],
            "source": ["ncbi-train", "bc5cdr-train", "biored-train", "NCBIGene"],
            "default_label": ["myalgia", "myalgia", "TNF-a", "TNF"],
            "matched_synonym": ["myalgia", "myalgia", "TNF-a", "TNF-a"],
            "strategy": "exact",
            "score": 1.0,
            "ambiguous": True,
            "concept_text": "",
            "ontology_named": [False, True, False, True],
        }
    )
    nothing = pd.DataFrame({"linked": [None], "context": [None]})
    out = resolve_document(group, nothing, margin=0.05, curated={"ncbi-train", "bc5cdr-train", "biored-train"})
    assert out[["entity_id", "concept_id", "ambiguous", "resolution"]].values.tolist() == [
        ["m", "MESH:D063806", False, "ontology"],
        ["t", "NCBIGene:24835", True, "unresolved"],
        ["t", "NCBIGene:7124", True, "unresolved"],
    ]
