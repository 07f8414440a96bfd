"""Gene phrases a species mention names right before them, in one document (linking.named_species, pure)."""

from __future__ import annotations

import pandas as pd

from kazu_spark.linking.named_species import species_named_before

HUMAN, MOUSE = "NCBITaxon:9606", "NCBITaxon:10090"


def _named(text: str, species: dict[str, str], *genes: str, doc_id: str = "d") -> dict[str, str]:
    rows = [(doc_id, name, taxon) for name, taxon in species.items()] + [(doc_id, gene, None) for gene in genes]
    phrases = pd.DataFrame(rows, columns=["doc_id", "phrase", "taxon"])
    named = species_named_before(phrases, pd.DataFrame({"doc_id": [doc_id], "text": [text]}))
    return dict(zip(named["phrase"], named["taxon"], strict=True))


def test_a_phrase_right_after_a_species_mention_takes_its_taxon() -> None:
    text = "Mice carrying human CD4 and a human-CD8 transgene; murine IL-2 was given."
    assert _named(text, {"human": HUMAN, "murine": MOUSE}, "CD4", "CD8", "IL-2") == {
        "CD4": HUMAN, "CD8": HUMAN, "IL-2": MOUSE
    }  # fmt: skip


def test_only_whole_words_on_both_sides() -> None:
    """``CD4`` is not named in "human CD45", nor by "nonhuman"."""
    assert _named("The human CD45 and nonhuman CD4 cells.", {"human": HUMAN}, "CD4") == {}


def test_a_phrase_named_after_two_taxa_gets_neither() -> None:
    text = "The human TNF and the mouse TNF differ; mouse IL6 does not."
    assert _named(text, {"human": HUMAN, "mouse": MOUSE}, "TNF", "IL6") == {"IL6": MOUSE}


def test_nothing_without_a_text_a_species_or_a_gene() -> None:
    phrases = pd.DataFrame([("d", "human", HUMAN), ("d", "CD4", None)], columns=["doc_id", "phrase", "taxon"])
    assert species_named_before(phrases, pd.DataFrame({"doc_id": ["other"], "text": ["human CD4"]})).empty
    assert _named("human CD4", {}, "CD4") == {}
    assert _named("human CD4", {"human": HUMAN}) == {}
