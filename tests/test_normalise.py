"""The string normaliser: a table of spelling variants that must (or must not) share a key."""

from __future__ import annotations

import pytest

from kazu_spark.linking.normalise import is_symbolic, normalise


@pytest.mark.parametrize(
    ("text", "entity_class", "expected"),
    [
        # noun phrases: lower case, punctuation and hyphens become single spaces
        ("Breast  Cancer", "disease", "breast cancer"),
        ("Diabetes Mellitus, Type 2", "disease", "diabetes mellitus type 2"),
        ("B-lymphocytes", "cell_type", "b lymphocyte"),
        ("Café-au-lait spots", "disease", "cafe au lait spot"),
        # possessives anywhere, plural of the last word only
        ("Alzheimer's disease", "disease", "alzheimer disease"),
        ("Crohn’s Diseases", "disease", "crohn disease"),
        ("Hodgkin lymphomas", "disease", "hodgkin lymphoma"),
        ("therapies", "drug", "therapy"),
        ("viruses", "species", "virus"),
        ("nude mice", "species", "nude mouse"),  # irregular: meets the species' "mouse", not only the genus' "mice"
        ("Humans", "species", "human"),
        ("Diabetes", "disease", "diabetes"),
        ("sepsis", "disease", "sepsis"),
        ("species", "species", "species"),
        # Greek letters spelled out, symbol or spelled, the same key
        ("α-synuclein", "gene", "alpha synuclein"),
        ("β-cells", "cell_type", "beta cell"),
        ("γδ T cells", "cell_type", "gamma delta t cell"),
        ("NF-κB", "gene", "NFKAPPAB"),
        ("NF-kappaB", "gene", "NFKAPPAB"),
        ("TNF alpha", "gene", "TNFALPHA"),
        # Roman numerals: multi-letter ones always, I/V/X only after type/class/factor/...
        ("type II diabetes", "disease", "type 2 diabetes"),
        ("Type I diabetes", "disease", "type 1 diabetes"),
        ("factor VIII deficiency", "disease", "factor 8 deficiency"),
        ("Factor VIII", "gene", "factor 8"),  # the numeral does not make it a symbol
        ("Type II", "disease", "type 2"),
        ("X chromosome", "disease", "x chromosome"),
        ("X-linked", "disease", "x linked"),
        ("Factor X", "drug", "factor 10"),
        ("multiple sclerosis", "disease", "multiple sclerosis"),
        ("diabetes insipidus", "disease", "diabetes insipidus"),
        ("vitamin E", "drug", "vitamin e"),
        # symbols: punctuation removed, case kept -- except genes, which are upper-cased
        ("IL-6", "gene", "IL6"),
        ("Tsc1", "gene", "TSC1"),
        ("p53", "gene", "P53"),
        ("HeLa", "cell_line", "HeLa"),
        ("MCF-7", "cell_line", "MCF7"),
        ("COVID-19", "disease", "COVID19"),
        ("mRNA", "drug", "mRNA"),
        # nothing left
        ("--", "disease", ""),
        ("", "gene", ""),
    ],
)
def test_normalise(text: str, entity_class: str, expected: str) -> None:
    assert normalise(text, entity_class) == expected


@pytest.mark.parametrize(
    ("a", "b", "entity_class"),
    [
        # the documented decision: Roman and Arabic numerals after "type" are the same name
        ("type II diabetes mellitus", "Type 2 Diabetes Mellitus", "disease"),
        ("17-Beta Hydroxysteroid Dehydrogenase III Deficiency", "17-beta hydroxysteroid dehydrogenase 3 deficiency",
         "disease"),
        ("TNF-α", "TNFalpha", "gene"),
        ("IL-1β", "IL-1beta", "gene"),
        ("Abcd-1", "ABCD1", "gene"),
        ("TNF-alpha", "TNF-α", "gene"),
        # an eponym's possessive, with or without the apostrophe
        ("Crohn's disease", "Crohns disease", "disease"),
        ("Crohns disease", "Crohn disease", "disease"),
        ("Graves' disease", "Grave's disease", "disease"),
        ("Hodgkins lymphoma", "Hodgkin lymphoma", "disease"),
        # British spellings as MeSH spells them
        ("tumours", "tumor", "disease"),
        ("Anaemia", "anemia", "disease"),
        ("haemorrhagic cystitis", "hemorrhagic cystitis", "disease"),
        ("ischaemic heart disease", "ischemic heart disease", "disease"),
        ("oesophageal cancer", "esophageal cancer", "disease"),
    ],
)  # fmt: skip
def test_variants_share_a_key(a: str, b: str, entity_class: str) -> None:
    assert normalise(a, entity_class) == normalise(b, entity_class)


@pytest.mark.parametrize(
    ("a", "b", "entity_class"),
    [
        ("X chromosome", "10 chromosome", "disease"),  # X is not read as a numeral without context
        ("CAT", "cat", "species"),  # symbol case is kept outside genes
        ("type 1 diabetes", "type 2 diabetes", "disease"),
        ("TNFa", "TNF-alpha", "gene"),  # a bare a is not alpha (IgA, HbA)
        ("Vitamin A", "Vitamin alpha", "drug"),
        ("infectious diseases", "infectiou disease", "disease"),  # -ous is no plural
        ("abscess", "absces", "disease"),  # nor -ss
        ("status epilepticus", "statu epilepticu", "disease"),
        ("psoriasis", "psoriasi", "disease"),
        ("four hours", "for hours", "disease"),  # only listed -our words are British spellings
    ],
)
def test_different_names_stay_apart(a: str, b: str, entity_class: str) -> None:
    assert normalise(a, entity_class) != normalise(b, entity_class)


@pytest.mark.parametrize(
    ("text", "symbolic"),
    [
        ("BRCA1", True),
        ("p53", True),
        ("tsc1", True),
        ("HeLa", True),
        ("NF-κB", True),
        ("breast cancer", False),
        ("X chromosome", False),
        ("alpha-synuclein", False),
        ("CD4-positive, alpha-beta T cell", False),
        ("A VERY LONG UPPER CASE NAME", False),
    ],
)
def test_is_symbolic(text: str, symbolic: bool) -> None:
    assert is_symbolic(text) is symbolic


def test_normalise_is_idempotent_on_noun_phrases() -> None:
    once = normalise("Crohn's Diseases of the Colon", "disease")
    assert normalise(once, "disease") == once
