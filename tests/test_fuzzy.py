"""Fuzzy TF-IDF matching: the index, and the fuzzy candidate links of a batch of lookups."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

from kazu_spark.config import FuzzyConfig
from kazu_spark.linking.fuzzy import FuzzyIndex, fuzzy_batch
from kazu_spark.linking.scores import FUZZY_SCALE

SYNONYMS = ["parkinson disease", "parkinsonism", "breast cancer", "breast neoplasm", "cold", "cold"]
CONCEPTS = ["D010300", "D010302", "D001943", "D001943", "D003139", "D023341"]


@pytest.fixture(scope="module")
def index() -> FuzzyIndex:
    return FuzzyIndex.build(SYNONYMS, CONCEPTS)


def test_misspellings_and_inflections_find_their_synonym(index: FuzzyIndex) -> None:
    found = index.query(["parkinsons disease", "brest cancers", "parkinsonisms"], k=1)
    assert [[c.concept_id for c in candidates] for candidates in found] == [["D010300"], ["D001943"], ["D010302"]]
    assert all(0.7 < candidates[0].score < 1 for candidates in found)


def test_identical_string_scores_one_and_ranks_first(index: FuzzyIndex) -> None:
    [candidates] = index.query(["breast cancer"], k=2)
    assert candidates[0].synonym == "breast cancer" and candidates[0].score == pytest.approx(1.0)
    assert candidates[1].synonym == "breast neoplasm" and candidates[1].score < 0.6


def test_a_synonym_of_several_concepts_yields_each_with_its_build_row(index: FuzzyIndex) -> None:
    [candidates] = index.query(["colds"], k=1)
    assert {(c.concept_id, c.row) for c in candidates} == {("D003139", 4), ("D023341", 5)}
    assert candidates[0].score == candidates[1].score


def test_min_score_and_unmatchable_strings(index: FuzzyIndex) -> None:
    assert index.query(["flux capacitor", "", "zzzz"], k=3, min_score=0.5) == [[], [], []]
    assert index.query(["parkinsons disease"], k=3, min_score=0.99) == [[]]


def test_blocking_does_not_change_results_and_the_index_pickles(index: FuzzyIndex) -> None:
    strings = ["parkinsons disease", "brest cancer", "cold", "parkinson"]
    expected = index.query(strings, k=2)
    assert index.query(strings, k=2, max_block_cells=1) == expected  # one query per block
    assert pickle.loads(pickle.dumps(index)).query(strings, k=2) == expected


def test_build_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="2 synonyms but 1 concept ids"):
        FuzzyIndex.build(["a b", "c d"], ["X"])
    with pytest.raises(ValueError, match="no synonyms"):
        FuzzyIndex.build(["", "  "], ["X", "Y"])


def test_fuzzy_batch_keeps_the_best_and_near_ties_per_concept(index: FuzzyIndex) -> None:
    terms = pd.DataFrame(
        {
            "source": ["MEDIC"] * len(SYNONYMS),
            "concept_id": CONCEPTS,
            "default_label": [
                "Parkinson Disease",
                "Parkinsonism",
                "Breast Neoplasms",
                "Breast Neoplasms",
                "Cold",
                "Colds",
            ],
            "matched_synonym": SYNONYMS,
        }
    )
    batch = pd.DataFrame(
        {
            "entity_id": ["e1", "e2", "e3", "e4"],
            "doc_id": ["d"] * 4,
            "via": ["mention"] * 4,
            "key": ["parkinsons disease", "colds", "flux capacitor", "brca"],
            "entity_class": ["disease", "disease", "disease", "gene"],  # no gene index: e4 is skipped
        }
    )
    out = fuzzy_batch({"disease": (index, terms)}, batch, FuzzyConfig(min_score=0.6, top_k=3, margin=0.02))
    by_entity = {e: rows for e, rows in out.groupby("entity_id")}
    assert set(by_entity) == {"e1", "e2"}
    [park] = by_entity["e1"].to_dict("records")
    assert (park["concept_id"], park["strategy"], park["ambiguous"]) == ("D010300", "fuzzy_tfidf", False)
    assert park["default_label"] == "Parkinson Disease" and park["matched_synonym"] == "parkinson disease"
    assert park["score"] == pytest.approx(FUZZY_SCALE * index.query(["parkinsons disease"], k=1)[0][0].score)
    assert set(by_entity["e2"]["concept_id"]) == {"D003139", "D023341"} and by_entity["e2"]["ambiguous"].all()


def test_a_synonym_with_other_numbers_is_no_fuzzy_candidate() -> None:
    """n-grams barely see a digit: ``dna methyltransferase 3`` is nearest to DNMT1's name, not DNMT3A's; a number
    on one side only is no contradiction (chemical names drop their locants)."""
    synonyms = ["dna methyltransferase 1", "dna methyltransferase 3 alpha", "interleukin 6", "hydroxyindoleacetic acid"]
    index = FuzzyIndex.build(synonyms, ["G1786", "G1788", "G3569", "D006897"])
    assert index.query(["dna methyltransferase 3"], k=1)[0][0].concept_id == "G1786"  # the n-grams' choice
    terms = pd.DataFrame(
        {"source": "NCBIGene", "concept_id": ["G1786", "G1788", "G3569", "D006897"], "matched_synonym": synonyms,
         "default_label": ["DNMT1", "DNMT3A", "IL6", "Hydroxyindoleacetic Acid"]}
    )  # fmt: skip
    batch = pd.DataFrame(
        {"entity_id": ["e1", "e2", "e3"], "doc_id": "d", "via": "mention", "entity_class": "gene",
         "key": ["dna methyltransferase 3", "interleukin 7", "5 hydroxyindoleacetic acid"]}
    )  # fmt: skip
    out = fuzzy_batch({"gene": (index, terms)}, batch, FuzzyConfig(min_score=0.5, top_k=3, margin=0.02))
    kept = out[["entity_id", "concept_id"]].values.tolist()
    assert kept == [["e1", "G1788"], ["e3", "D006897"]]  # IL6 is no interleukin 7


def test_a_symbol_is_no_fuzzy_candidate_of_the_same_letters_as_a_word() -> None:
    """The normalised keys keep a symbol's case (``HIT``, heparin-induced thrombocytopenia) and lower-case a word
    (the verb ``hit``): the n-grams ignore case, so without the rule the verb links the disease; a misspelt
    word still finds its synonym."""
    synonyms = ["HIT", "thrombocytopenia"]
    index = FuzzyIndex.build(synonyms, ["D013921", "D013921"])
    terms = pd.DataFrame(
        {"source": "BC5CDR", "concept_id": "D013921", "matched_synonym": synonyms, "default_label": "Thrombocytopenia"}
    )
    batch = pd.DataFrame(
        {"entity_id": ["e1", "e2", "e3"], "doc_id": "d", "via": "mention", "entity_class": "disease",
         "key": ["hit", "HIT", "thrombocytopenias"]}
    )  # fmt: skip
    out = fuzzy_batch({"disease": (index, terms)}, batch, FuzzyConfig(min_score=0.5, top_k=3, margin=0.02))
    assert out[["entity_id", "matched_synonym"]].values.tolist() == [["e2", "HIT"], ["e3", "thrombocytopenia"]]


def test_a_one_word_mention_is_no_fuzzy_candidate_of_a_longer_name_around_it() -> None:
    """A cut span (``bladder`` of "bladder cancer", ``damage`` of "liver damage") is not linked to a longer
    synonym that holds its word, whose n-grams it shares; a number, a salt or ``agent`` added is still its name,
    a misspelt word still finds its synonym, and a longer mention keeps its nearest longer synonym."""
    synonyms = ["bladder cancer", "renal damage", "psoriasin 1", "divalproex sodium", "antipsychotic agent",
                "acute kidney injury", "thrombocytopenia"]  # fmt: skip
    concepts = ["D001749", "D007674", "G6278", "D014635", "D014150", "D058186", "D013921"]
    index = FuzzyIndex.build(synonyms, concepts)
    terms = pd.DataFrame({"source": "S", "concept_id": concepts, "matched_synonym": synonyms, "default_label": "x"})
    keys = ["bladder", "damage", "psoriasin", "divalproex", "antipsychotic", "kidney injury", "thrombocytopenias"]
    batch = pd.DataFrame({"entity_id": keys, "doc_id": "d", "via": "mention", "entity_class": "disease", "key": keys})
    out = fuzzy_batch({"disease": (index, terms)}, batch, FuzzyConfig(min_score=0.5, top_k=3, margin=0.02))
    assert out[["entity_id", "concept_id"]].values.tolist() == [
        ["psoriasin", "G6278"], ["divalproex", "D014635"], ["antipsychotic", "D014150"],
        ["kidney injury", "D058186"], ["thrombocytopenias", "D013921"],
    ]  # fmt: skip


def test_a_symbol_is_no_fuzzy_candidate_of_another_symbol() -> None:
    """Two symbols' n-grams share letters, not meaning: ``PCSM`` (prostate cancer-specific mortality) is not the
    chromatid trait ``PCS`` and ``IHC`` (immunohistochemistry) not the gene alias ``MIHC``; the same symbol in
    another case or with a phospho ``p`` still finds its synonym, and so does a misspelt word."""
    synonyms = ["PCS", "MIHC", "CsA", "AKT", "thrombocytopenia"]
    concepts = ["OMIM:176430", "G330", "D016572", "G207", "D013921"]
    index = FuzzyIndex.build(synonyms, concepts)
    terms = pd.DataFrame({"source": "S", "concept_id": concepts, "matched_synonym": synonyms, "default_label": "x"})
    keys = ["PCSM", "IHC", "CSA", "PAKT", "thrombocytopenias"]
    batch = pd.DataFrame({"entity_id": keys, "doc_id": "d", "via": "mention", "entity_class": "disease", "key": keys})
    out = fuzzy_batch({"disease": (index, terms)}, batch, FuzzyConfig(min_score=0.5, top_k=3, margin=0.02))
    assert out[["entity_id", "concept_id"]].values.tolist() == [
        ["CSA", "D016572"], ["PAKT", "G207"], ["thrombocytopenias", "D013921"]
    ]  # fmt: skip


def test_a_synonym_that_negates_a_word_of_the_mention_is_no_fuzzy_candidate() -> None:
    """``fractionated heparin`` (the sample's ``FH``) is not unfractionated heparin, an atypical antipsychotic not a
    typical one: the n-grams of a word and its negation are nearly the same. The negated synonym stays a candidate
    of a mention that negates the same word."""
    synonyms = ["heparin unfractionated", "heparin low molecular weight", "atypical antipsychotic", "heparin"]
    concepts = ["D006493", "D006495", "D014150", "D006493"]
    index = FuzzyIndex.build(synonyms, concepts)
    terms = pd.DataFrame({"source": "S", "concept_id": concepts, "matched_synonym": synonyms, "default_label": "x"})
    keys = ["fractionated heparin", "typical antipsychotic", "unfractionated heparins"]
    batch = pd.DataFrame({"entity_id": keys, "doc_id": "d", "via": "mention", "entity_class": "drug", "key": keys})
    out = fuzzy_batch({"drug": (index, terms)}, batch, FuzzyConfig(min_score=0.6, top_k=1, margin=0.0))
    assert out[["entity_id", "concept_id", "matched_synonym"]].values.tolist() == [
        ["unfractionated heparins", "D006493", "heparin unfractionated"]
    ]


def test_a_synonym_of_the_opposite_sense_is_no_fuzzy_candidate() -> None:
    """``hyperglycaemias`` is not hypoglycemia nor ``increased cardiac output`` a low one: an opposite prefix on one
    stem, or the other qualifier, leaves most n-grams shared. The synonym of the same sense is found."""
    synonyms = ["hypoglycemia", "hyperglycemia", "cardiac output low", "cardiac output high", "intracranial bleed"]
    concepts = ["D007003", "D006943", "D002303", "D016534", "D020300"]
    index = FuzzyIndex.build(synonyms, concepts)
    terms = pd.DataFrame({"source": "S", "concept_id": concepts, "matched_synonym": synonyms, "default_label": "x"})
    keys = ["hyperglycaemias", "increased cardiac output", "extracranial bleed"]
    batch = pd.DataFrame({"entity_id": keys, "doc_id": "d", "via": "mention", "entity_class": "disease", "key": keys})
    out = fuzzy_batch({"disease": (index, terms)}, batch, FuzzyConfig(min_score=0.5, top_k=1, margin=0.0))
    assert out[["entity_id", "concept_id"]].values.tolist() == [
        ["hyperglycaemias", "D006943"], ["increased cardiac output", "D016534"]
    ]  # fmt: skip


def test_a_gene_family_is_no_fuzzy_candidate_of_a_lettered_member() -> None:
    """A gene mention that names a family (``protein kinase``, ``glycoprotein``) is not linked to the member whose
    name adds a letter (protein kinase B, glycoprotein D); a numbered first member is still its name (BioRED's
    ``psoriasin``: psoriasin 1), a lettered mention still finds its Greek-lettered synonym, and a drug's letter is a
    locant, not a member (``formylmethionyl leucyl phenylalanine``: N-formyl...)."""
    synonyms = ["protein kinase b", "glycoprotein d", "psoriasin 1", "hepatocyte nuclear factor 1 beta",
                "n formylmethionyl leucyl phenylalanine"]  # fmt: skip
    concepts = ["G207", "G2036", "G6278", "G6928", "D009240"]
    index = FuzzyIndex.build(synonyms, concepts)
    terms = pd.DataFrame({"source": "S", "concept_id": concepts, "matched_synonym": synonyms, "default_label": "x"})
    keys = ["protein kinase", "glycoprotein", "psoriasin", "hepatocyte nuclear factor 1 b"]
    drug = "formylmethionyl leucyl phenylalanine"
    batch = pd.DataFrame(
        {"entity_id": [*keys, drug], "doc_id": "d", "via": "mention", "entity_class": ["gene"] * 4 + ["drug"],
         "key": [*keys, drug]}
    )  # fmt: skip
    indexes = {"gene": (index, terms), "drug": (index, terms)}
    out = fuzzy_batch(indexes, batch, FuzzyConfig(min_score=0.5, top_k=3, margin=0.02))
    assert out[["entity_id", "concept_id"]].values.tolist() == [
        ["psoriasin", "G6278"], ["hepatocyte nuclear factor 1 b", "G6928"], [drug, "D009240"]
    ]  # fmt: skip
