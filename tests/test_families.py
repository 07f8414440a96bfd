"""Gene family mentions and their members in a document (linking.families, pure)."""

from __future__ import annotations

import pandas as pd

from kazu_spark.linking.families import family_members


def _pairs(*mentions: str, doc_id: str = "d", entity_class: str = "gene") -> set[tuple[str, str]]:
    rows = pd.DataFrame({"doc_id": doc_id, "mention": list(mentions), "entity_class": entity_class})
    return set(family_members(rows)[["mention", "member"]].itertuples(index=False, name=None))


def test_members_add_a_number_or_a_greek_letter_to_the_family_s_symbol() -> None:
    assert _pairs("MMPs", "MMP-2", "MMP-9", "MMP-12") == {("MMPs", "MMP-2"), ("MMPs", "MMP-9"), ("MMPs", "MMP-12")}
    assert _pairs("PI3K", "PI3Kbeta") == {("PI3K", "PI3Kbeta")}
    assert _pairs("FGFR", "FGFR-4", "FGFR3b") == {("FGFR", "FGFR-4"), ("FGFR", "FGFR3b")}


def test_after_a_digit_only_a_letter_makes_a_member() -> None:
    """CD31 is PECAM1, not a CD3 chain; IL10 is no IL1."""
    assert _pairs("CD3", "CD31", "CD3e") == {("CD3", "CD3e")}
    assert _pairs("IL-1", "IL-10", "IL-1beta") == {("IL-1", "IL-1beta")}


def test_no_family_without_a_symbol_stem_of_three_characters() -> None:
    assert _pairs("fibroblast growth factors", "fibroblast growth factor 2") == set()  # noun phrases
    assert _pairs("IL", "IL6") == set()
    assert _pairs("PARs", "PARP1") == set()  # more than a member's suffix


def test_members_are_of_the_same_document_and_class_and_rows_may_come_in_any_order() -> None:
    rows = pd.DataFrame(
        {
            "doc_id": ["b", "a", "a", "a", "a"],
            "mention": ["PAR1", "PAR2", None, "PARs", "PAR1"],
            "entity_class": ["gene", "gene", "gene", "gene", "drug"],
        }
    )
    got = family_members(rows)
    assert got.values.tolist() == [["a", "PARs", "gene", "PAR2"]]
    assert family_members(rows.iloc[::-1]).equals(got)
