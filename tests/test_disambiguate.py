"""Disambiguation by document context: hand-built ambiguous mentions."""

from __future__ import annotations

import pandas as pd

from kazu_spark.linking.disambiguate import choose_concepts, context_scores
from kazu_spark.linking.spark import resolve_document

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
    context = "Overexpression of MDR1 (P-glycoprotein) causes multidrug resistance in tumour cells."
    assert choose_concepts(MDR1, set(), context, TEXTS, margin=0.05) == (["HGNC:40"], "context")
    context = "MDR1 has a TBC domain and a GRAM domain like other TBC1 family members."
    assert choose_concepts(MDR1, set(), context, TEXTS, margin=0.05) == (["HGNC:21710"], "context")


def test_kept_ambiguous_when_context_does_not_separate_them() -> None:
    assert choose_concepts(MDR1, set(), "MDR1 was measured in serum.", TEXTS, margin=0.05) == (
        sorted(MDR1),
        "unresolved",
    )
    # a small lead below the margin is not enough
    scores = context_scores("multidrug family", [TEXTS[c] for c in MDR1])
    assert 0 < abs(scores[0] - scores[1]) < 0.5
    assert choose_concepts(MDR1, set(), "multidrug family", TEXTS, margin=0.5)[1] == "unresolved"
    assert choose_concepts(MDR1, set(), None, TEXTS, margin=0.0) == (sorted(MDR1), "unresolved")


def test_several_linked_candidates_are_narrowed_then_compared_by_context() -> None:
    texts = {"A": "apple fruit", "B": "banana fruit", "C": "cherry fruit"}
    assert choose_concepts(["A", "B", "C"], {"A", "B"}, "a ripe banana", texts, margin=0.05) == (["B"], "context")
    assert choose_concepts(["A", "B", "C"], {"A", "B"}, "fruit", texts, margin=0.05) == (["A", "B"], "unresolved")


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
            "linked": [["HGNC:40"]] * 4,
            "context": "MDR1 again, and MDR1.",
        }
    )
    out = resolve_document(group, margin=0.05)
    assert sorted(zip(out["entity_id"], out["concept_id"], out["ambiguous"], out["resolution"], strict=True)) == [
        ("e1", "HGNC:40", False, "document"),
        ("e2", "HGNC:40", False, "document"),
    ]
