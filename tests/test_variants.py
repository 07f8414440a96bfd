"""Variant lookup keys of dictionary misses: a table of mentions and the synonym keys they must reach."""

from __future__ import annotations

import pytest

from kazu_spark.linking.normalise import normalise
from kazu_spark.linking.variants import conjuncts, gene_cores, variant_keys


@pytest.mark.parametrize(
    ("mention", "parts"),
    [
        ("breast and ovarian cancer", ["breast cancer", "ovarian cancer"]),
        ("brain, breast, and prostate cancer", ["brain cancer", "breast cancer", "prostate cancer"]),
        ("breast and/or ovarian cancer", ["breast cancer", "ovarian cancer"]),
        ("breast/ovarian cancer", ["breast cancer", "ovarian cancer"]),
        ("colon cancer or leukemia", ["colon cancer", "leukemia"]),
        ("colon cancer or lung cancer", ["colon cancer", "lung cancer"]),
        ("colon cancer and lung cancers", ["colon cancer", "lung cancers"]),
        ("hereditary breast and ovarian cancer", ["hereditary breast cancer", "ovarian cancer"]),
        ("C5 or C6 deficiency", ["C5 deficiency", "C6 deficiency"]),
        ("breast cancer", []),
        ("Andersen syndrome", []),  # "and" inside a word is no conjunction
        # bare numbers take the stem of the named part before them (BioRED's composite gene mentions)
        ("caspase-3/7", ["caspase-3", "caspase-7"]),
        ("MMP-1, -2, -9, and -12", ["MMP-1", "MMP-2", "MMP-9", "MMP-12"]),
        ("TIM-1 and 3", ["TIM-1", "TIM-3"]),
        (
            "Tuberous Sclerosis Complex proteins 1 and 2",
            ["Tuberous Sclerosis Complex proteins 1", "Tuberous Sclerosis Complex proteins 2"],
        ),  # not a bare "2"
        ("type I and 2", []),  # the named part ends in no number: no stem
        # a part of one letter names nothing: a genotype, or a letter whose stem the mention does not write
        ("Tsc1 Δ/Δ", []),
        ("Δ/Δ", []),
        ("TCF-4J and K", []),
    ],
)
def test_conjuncts(mention: str, parts: list[str]) -> None:
    assert conjuncts(mention) == parts


@pytest.mark.parametrize(
    ("mention", "synonym"),
    [
        # the first conjunct is tried first: the mention links to it
        ("breast and ovarian cancers", "Breast Cancer"),
        ("hereditary breast and ovarian cancer", "Hereditary breast cancer"),
        # adjectives to the nouns MEDIC names
        ("hypertensive", "Hypertension"),
        ("hypotensive", "Hypotension"),
        ("epileptic", "Epilepsy"),
        ("diabetic", "Diabetes"),
        ("psychotic", "psychosis"),
        ("anemic", "Anemia"),
        ("nephrotoxic", "nephrotoxicity"),
        ("dyskinetic", "Dyskinesias"),
        ("edematous", "Edema"),
        ("granulomatous", "Granuloma"),
        ("convulsive", "Convulsions"),
        ("depressed", "Depression"),
        ("neurological disease", "Neurologic disease"),
        # word order, parentheses, leading qualifiers
        ("deficiency of C2", "C2 deficiency"),
        ("cancer of the breast", "breast cancer"),
        ("glucose-6-phosphate dehydrogenase (G6PD) deficiency", "Glucose-6-phosphate dehydrogenase deficiency"),
        ("familial gastric cancer", "gastric cancer"),
        ("sporadic renal cell carcinomas", "Renal Cell Carcinoma"),
        # a course, extent, stage, cause or marker before a disease name
        ("metastatic breast cancer", "breast cancer"),
        ("bilateral sporadic aniridia", "Aniridia"),
        ("posttransplant lymphoproliferative disorders", "Lymphoproliferative Disorders"),
        ("post-transplant lymphoproliferative disorder", "Lymphoproliferative Disorders"),
        ("stage II colorectal carcinomas", "colorectal carcinoma"),
        ("grade IV glioma", "Glioma"),
        ("ribavirin-induced hemolytic anemia", "Hemolytic Anemia"),
        ("Swallowing-induced atrial tachyarrhythmia", "atrial tachyarrhythmia"),
        ("estrogen receptor-positive breast carcinomas", "Breast Neoplasms"),
        ("transplantation-associated microangiopathy", "microangiopathy"),
        # one name of a neoplasm for another: MeSH's "<organ> Neoplasms" and their "<organ> Cancer" synonyms
        ("prostate carcinomas", "Prostate Neoplasms"),
        ("liver tumors", "Liver Neoplasms"),
        ("parathyroid tumour", "Parathyroid Neoplasms"),
        ("jaw tumor", "Jaw Cancer"),
    ],
)
def test_variant_reaches_synonym(mention: str, synonym: str) -> None:
    keys = variant_keys(mention, "disease")
    assert normalise(synonym, "disease") in keys
    if " and " in mention:
        assert keys[0] == normalise(synonym, "disease")


@pytest.mark.parametrize("mention", ["breast cancer", "Hypertension", "BRCA1", "", "  "])
def test_no_variant_repeats_the_mention(mention: str) -> None:
    assert normalise(mention, "disease") not in variant_keys(mention, "disease")
    assert "" not in variant_keys(mention, "disease")


def test_neoplasm_names_are_swapped_only_after_a_qualifying_word_and_only_for_diseases() -> None:
    assert variant_keys("tumors", "disease") == []  # a bare head noun has no organ to keep
    assert variant_keys("tumor suppressor", "disease") == []  # "tumor" not the head
    assert variant_keys("liver tumors", "gene") == []


def test_symbols_keep_their_case() -> None:
    assert variant_keys("IL-6 and IL-8", "gene") == ["IL6", "IL8"]


@pytest.mark.parametrize(
    ("mention", "synonym"),
    [
        ("HIV-1 strain NL4-3", "HIV-1"),  # a strain after the species
        ("B. bacteriovorus HD100", "B. bacteriovorus"),  # an abbreviated binomial, then the strain's code
        ("Spodoptera litura Fabricius", "Spodoptera litura"),  # the authority
        ("Escherichia coli strains K-12", "Escherichia coli"),
        ("nude mice", "mouse"),  # a common name after its strain or model
        ("Wistar rats", "rat"),
    ],
)
def test_a_species_variant_drops_its_strain_or_authority(mention: str, synonym: str) -> None:
    assert normalise(synonym, "species") in variant_keys(mention, "species")
    assert normalise(synonym, "disease") not in variant_keys(mention, "disease")  # species only


def test_a_dropped_qualifier_leaves_a_name_not_a_bare_head_noun() -> None:
    assert variant_keys("cancer-associated diseases", "disease") == []  # not the catch-all "disease"
    assert variant_keys("stage III disease", "disease") == []
    assert variant_keys("advanced disease", "disease") == []
    assert variant_keys("ribavirin-induced hemolytic anemia", "gene") == []  # diseases only
    assert variant_keys("metastatic breast cancer", "drug") == []


@pytest.mark.parametrize(
    ("mention", "drug"),
    [("metformin hydrochloride", "Metformin"), ("Unfractionated heparin sodium", "unfractionated heparin")],
)
def test_a_drug_s_salt_is_looked_up_by_the_drug(mention: str, drug: str) -> None:
    assert variant_keys(mention, "drug")[0] == normalise(drug, "drug")
    assert variant_keys("sodium", "drug") == [] and variant_keys(mention, "disease") == []
    assert variant_keys("pregnenolone sulfate", "drug") == []  # an ester, a compound of its own


@pytest.mark.parametrize(
    ("mention", "descriptor"),
    [
        ("tiapride", "Tiapride Hydrochloride"),
        ("Methacholine", "Methacholine Chloride"),
        ("vecuronium", "Vecuronium Bromide"),
    ],
)
def test_a_drug_mesh_files_under_its_salt_is_looked_up_with_the_salt(mention: str, descriptor: str) -> None:
    assert normalise(descriptor, "drug") in variant_keys(mention, "drug")
    assert variant_keys(mention, "disease") == []  # drugs only


def test_a_number_in_parentheses_after_a_letter_is_kept_before_the_parentheses_are_dropped() -> None:
    """``histamine H(3)-receptor`` is the H3 receptor: dropping ``(3)`` alone would leave another receptor's key."""
    keys = variant_keys("histamine H(3)-receptor", "gene")
    assert keys[0] == normalise("histamine H3 receptor", "gene")
    assert normalise("histamine H receptor", "gene") in keys[1:]  # the dropped form still comes, after it
    assert variant_keys("interleukin (IL)-6", "gene")[0] == normalise("interleukin-6", "gene")  # no letter before


@pytest.mark.parametrize(
    ("mention", "symbol"),
    [("FGF receptor 4", "FGFR4"), ("D2 receptor", "D2R"), ("H3-receptor", "H3R"), ("IL-6 receptor", "IL-6R")],
)
def test_a_receptor_named_by_its_ligand_s_symbol_is_looked_up_as_the_nomenclature_writes_it(
    mention: str, symbol: str
) -> None:
    assert normalise(symbol, "gene") in variant_keys(mention, "gene")
    assert variant_keys(mention, "disease") == []  # genes only


def test_a_receptor_named_in_words_has_no_symbol_form() -> None:
    assert variant_keys("glucocorticoid receptor", "gene") == []
    assert normalise("FGFR2", "gene") in variant_keys("FGF receptors 2 and 4", "gene")  # each conjunct


@pytest.mark.parametrize(
    ("mention", "gene"),
    [
        ("Tau protein", "TAU"),  # the head noun of a gene's product
        ("mTOR gene", "mTOR"),
        ("Glucagon mRNA", "glucagon"),
        ("BRCA1 transcripts", "BRCA1"),
        ("p-mTOR", "mTOR"),  # phosphorylated forms: BioRED links pAKT to AKT1
        ("pAKT", "AKT"),
        ("phospho-S6", "S6"),
        ("phosphorylated ERK", "ERK"),
        ("Rheb-GTP", "Rheb"),  # a GTPase with its bound nucleotide: BioRED links Rab6a-GTP to RAB6A
        ("Ras GDP", "Ras"),
        ("c-MYC", "MYC"),  # the cellular oncogene's c-: in capitals its own key, CMYC, names nothing
        ("c-KIT", "KIT"),
    ],
)
def test_a_gene_s_product_or_phosphorylated_form_is_looked_up_by_the_gene(mention: str, gene: str) -> None:
    assert normalise(gene, "gene") in variant_keys(mention, "gene")
    assert normalise(gene, "disease") not in variant_keys(mention, "disease")  # genes only


def test_a_cellular_oncogene_in_capitals_is_looked_up_as_ncbi_gene_writes_its_alias_first() -> None:
    """``MYC`` is also an alias of mouse Nol3: the alias ``c-Myc`` names only MYC, so it is tried first."""
    keys = variant_keys("c-MYC", "gene")
    assert keys[: keys.index(normalise("MYC", "gene")) + 1] == [normalise("c-Myc", "gene"), normalise("MYC", "gene")]


@pytest.mark.parametrize(
    ("mention", "gene"),
    [
        ("TCF-4J", "TCF-4"),  # BioRED: the isoforms TCF-4J and TCF-4K are TCF7L2, whose alias is TCF-4
        ("OCT4A", "OCT4"),
        ("CD44v6", "CD44"),  # a splice variant
    ],
)
def test_an_isoform_is_looked_up_by_its_gene(mention: str, gene: str) -> None:
    assert normalise(gene, "gene") in variant_keys(mention, "gene")
    assert variant_keys(mention, "disease") == []  # genes only


@pytest.mark.parametrize("mention", ["BRCA1", "HLA-B", "IL-1", "CYP2D6", "ApoE4", "IL-2R", "CD40L"])
def test_a_symbol_that_ends_in_its_number_or_letter_has_no_isoform_key(mention: str) -> None:
    assert gene_cores(mention) == []


@pytest.mark.parametrize(
    "mention", ["AMP kinase", "S6 kinase", "heat shock protein", "P-selectin", "p53", "pH", "phospholipase C"]
)
def test_a_kinase_of_a_gene_or_a_name_with_a_p_is_not_the_gene(mention: str) -> None:
    assert gene_cores(mention) == []
    words = {normalise(word, "gene") for word in mention.replace("-", " ").split()}
    assert not words & set(variant_keys(mention, "gene"))


@pytest.mark.parametrize(
    ("mention", "synonym"),
    [
        ("adenovirus disease", "Adenovirus Infections"),  # MeSH files a pathogen's disease as its infection
        ("cytomegalovirus (CMV) disease", "Cytomegalovirus Infection"),
        ("meningococcal disease", "Meningococcal Infections"),
    ],
)
def test_a_pathogen_s_disease_is_looked_up_as_its_infection(mention: str, synonym: str) -> None:
    assert normalise(synonym, "disease") in variant_keys(mention, "disease")


def test_a_disease_that_is_no_pathogen_s_keeps_its_head_noun() -> None:
    assert not any(
        "infection" in key for key in variant_keys("Lyme disease", "disease") + variant_keys("heart disease", "disease")
    )
    assert variant_keys("adenovirus disease", "gene") == []  # diseases only


@pytest.mark.parametrize(
    ("mention", "synonym"),
    [
        ("myocardial hypertrophy", "Cardiac Hypertrophy"),  # an organ's adjective for the organ's noun
        ("decreased renal function", "decreased kidney function"),
        ("renal and hepatic failure", "Liver Failure"),  # in each conjunct
        ("renal involvement", "Kidney Disease"),  # a vague head noun: the organ's disease
        ("cerebral lesions", "Brain Disease"),
        ("muscle damage", "Muscle Disorder"),
        ("skin lesion", "Skin Disease"),
    ],
)
def test_an_organ_s_adjective_or_vague_pathology_is_looked_up_by_the_organ(mention: str, synonym: str) -> None:
    assert normalise(synonym, "disease") in variant_keys(mention, "disease")


def test_only_two_word_vague_pathologies_become_the_organ_s_disease() -> None:
    assert not any("disease" in key for key in variant_keys("white matter lesions", "disease"))
    assert not any("disease" in key for key in variant_keys("renal tubular damage", "disease"))
    assert variant_keys("renal involvement", "gene") == []  # diseases only


@pytest.mark.parametrize(
    ("mention", "symbol"),
    [("miRNA-193a", "MIR193A"), ("hsa-miR-21-5p", "MIR21"), ("microRNA-483-3p", "MIR483"), ("miRNA21", "MIR21")],
)
def test_a_microrna_is_looked_up_by_its_gene_s_symbol(mention: str, symbol: str) -> None:
    assert normalise(symbol, "gene") in variant_keys(mention, "gene")
    assert normalise(symbol, "disease") not in variant_keys(mention, "disease")  # genes only


def test_a_word_starting_like_a_microrna_is_none() -> None:
    assert variant_keys("miRNAs", "gene") == [] and variant_keys("MIRO1", "gene") == []
