"""Which of a mention's candidate concepts a knowledge graph gets: the specific ones (linking.preferences)."""

from __future__ import annotations

from kazu_spark.config import LinkingConfig
from kazu_spark.linking.preferences import Concept, from_metadata, is_broad, prefer_widened, preferred

GENERIC = frozenset(c for ids in LinkingConfig().generic_concepts.values() for c in ids)
HOMO = Concept("NCBITaxon:9605", rank="genus", parents=("NCBITaxon:207598",), label="Homo")
SAPIENS = Concept("NCBITaxon:9606", rank="species", parents=("NCBITaxon:9605",), label="Homo sapiens")
MUS = Concept("NCBITaxon:10088", rank="genus", parents=("NCBITaxon:39107",), label="Mus <genus>")
MUS_SP = Concept("NCBITaxon:10095", rank="species", parents=("NCBITaxon:941326",), label="Mus sp.")
MUSCULUS = Concept("NCBITaxon:10090", rank="species", parents=("NCBITaxon:862507",), label="Mus musculus")
RATTUS = Concept("NCBITaxon:10114", rank="genus", label="Rattus")
NORVEGICUS = Concept("NCBITaxon:10116", rank="species", parents=("NCBITaxon:10114",), label="Rattus norvegicus")


def test_the_species_wins_over_its_genus_by_rank_or_by_parent() -> None:
    assert preferred([MUS, MUSCULUS], GENERIC) == ["NCBITaxon:10090"]  # "mouse": rank
    unranked = [Concept("NCBITaxon:9605"), Concept("NCBITaxon:9606", parents=("NCBITaxon:9605",))]
    assert preferred(unranked, GENERIC) == ["NCBITaxon:9606"]  # no rank known: the is_a parent loses
    family = Concept("NCBITaxon:10066", rank="family", label="Muridae")
    assert preferred([family, MUSCULUS], GENERIC) == ["NCBITaxon:10090"]  # any rank above species loses


def test_a_placeholder_species_counts_as_its_genus() -> None:
    assert preferred([MUS, MUS_SP, MUSCULUS], GENERIC) == ["NCBITaxon:10090"]
    assert preferred([MUS, MUS_SP], GENERIC) == ["NCBITaxon:10088", "NCBITaxon:10095"]  # nothing to prefer


def test_a_genus_wins_over_its_namesake_subgenus_but_not_over_a_differently_named_one() -> None:
    genus = Concept("NCBITaxon:7215", rank="genus", parents=("NCBITaxon:46877",), label="Drosophila <flies,genus>")
    subgenus = Concept(
        "NCBITaxon:32281", rank="subgenus", parents=("NCBITaxon:7215",), label="Drosophila <flies,subgenus>"
    )
    assert preferred([genus, subgenus], GENERIC) == ["NCBITaxon:7215"]  # the bare name "Drosophila"
    sophophora = Concept("NCBITaxon:32341", rank="subgenus", parents=("NCBITaxon:7215",), label="Sophophora")
    assert preferred([genus, sophophora], GENERIC) == ["NCBITaxon:32341"]  # the is_a parent loses
    melanogaster = Concept(
        "NCBITaxon:7227", rank="species", parents=("NCBITaxon:32351",), label="Drosophila melanogaster"
    )
    assert preferred([genus, subgenus, melanogaster], GENERIC) == ["NCBITaxon:7227"]  # a species still wins


def test_taxa_of_no_rank_and_unrelated_species_are_left_alone() -> None:
    clade = Concept("NCBITaxon:314146", rank="clade", label="Euarchontoglires")
    assert preferred([clade, MUSCULUS], GENERIC) == ["NCBITaxon:10090", "NCBITaxon:314146"]
    assert preferred([MUSCULUS, NORVEGICUS], GENERIC) == ["NCBITaxon:10090", "NCBITaxon:10116"]


def test_a_generic_concept_loses_to_a_specific_one_but_is_kept_alone() -> None:
    cell, t_cell = Concept("CL:0000000", label="cell"), Concept("CL:0000084", label="T cell")
    assert preferred([cell, t_cell], GENERIC) == ["CL:0000084"]
    assert preferred([cell], GENERIC) == ["CL:0000000"]
    neoplasms, disease = Concept("MESH:D009369"), Concept("MESH:D004194")
    assert preferred([neoplasms, disease], GENERIC) == ["MESH:D004194", "MESH:D009369"]  # both generic: both stay
    assert preferred([neoplasms, Concept("MESH:D001943")], GENERIC) == ["MESH:D001943"]


def test_the_normalised_name_brings_the_species_the_exact_plural_missed() -> None:
    assert prefer_widened([HOMO], [HOMO, SAPIENS], GENERIC) == ["NCBITaxon:9606"]  # "humans"
    assert prefer_widened([MUS, MUS_SP], [MUS, MUSCULUS, MUS_SP], GENERIC) == ["NCBITaxon:10090"]  # "mice"
    assert prefer_widened([RATTUS], [RATTUS, NORVEGICUS], GENERIC) == ["NCBITaxon:10116"]


def test_a_wider_name_never_adds_ambiguity_to_a_specific_link() -> None:
    assert prefer_widened([MUSCULUS], [MUSCULUS, NORVEGICUS], GENERIC) == ["NCBITaxon:10090"]
    assert prefer_widened([MUS, MUSCULUS], [MUS, MUSCULUS, NORVEGICUS], GENERIC) == ["NCBITaxon:10090"]
    assert prefer_widened([HOMO], [], GENERIC) == ["NCBITaxon:9605"]  # nothing wider: the genus stays


TEK = Concept("NCBIGene:21687", label="Tek", type_of_gene="protein-coding")  # mouse Tie2
TEK_PS = Concept("NCBIGene:111257", label="Tek-ps", type_of_gene="pseudo")  # its pseudogene, also "Tie2"


def test_a_pseudogene_loses_to_a_gene_of_another_type() -> None:
    assert preferred([TEK, TEK_PS], GENERIC) == ["NCBIGene:21687"]  # "Tie2"
    rna = Concept("NCBIGene:3", label="A2MP1-AS", type_of_gene="ncRNA")
    assert preferred([TEK_PS, rna], GENERIC) == ["NCBIGene:3"]  # any known type but pseudo wins
    assert prefer_widened([TEK, TEK_PS], [], GENERIC) == ["NCBIGene:21687"]


def test_a_gene_of_unknown_type_and_pseudogenes_alone_are_left_alone() -> None:
    curated = Concept("NCBIGene:21687", label="Tek")  # a curation: no type_of_gene
    assert preferred([curated, TEK_PS], GENERIC) == ["NCBIGene:111257", "NCBIGene:21687"]
    unknown = from_metadata("NCBIGene:4", {"type_of_gene": "unknown"}, "X")  # NCBI's "unknown": no type known
    assert preferred([unknown, TEK_PS, TEK], GENERIC) == ["NCBIGene:21687", "NCBIGene:4"]  # not dropped
    other_ps = Concept("NCBIGene:5", label="Tek-ps2", type_of_gene="pseudo")
    assert preferred([TEK_PS, other_ps], GENERIC) == ["NCBIGene:111257", "NCBIGene:5"]  # all pseudogenes: all stay


def test_a_readthrough_or_antisense_rna_loses_to_the_gene_it_is_named_after() -> None:
    ins = Concept("NCBIGene:3630", label="INS", type_of_gene="protein-coding")
    readthrough = Concept("NCBIGene:723961", label="INS-IGF2", type_of_gene="protein-coding")  # also "insulin"
    assert preferred([ins, readthrough], GENERIC) == ["NCBIGene:3630"]
    hoxa10 = Concept("NCBIGene:3206", label="HOXA10", type_of_gene="protein-coding")
    antisense = Concept("NCBIGene:100874363", label="HOXA10-AS", type_of_gene="ncRNA")
    assert preferred([antisense, hoxa10], GENERIC) == ["NCBIGene:3206"]
    assert preferred([readthrough], GENERIC) == ["NCBIGene:723961"]  # alone, it stays
    igf2 = Concept("NCBIGene:3481", label="IGF2", type_of_gene="protein-coding")
    assert preferred([readthrough, igf2, ins], GENERIC) == ["NCBIGene:3481", "NCBIGene:3630"]  # both its genes
    hla = Concept("NCBIGene:3105", label="HLA-A", type_of_gene="protein-coding")  # a hyphen of its own name
    assert preferred([hla, hoxa10], GENERIC) == ["NCBIGene:3105", "NCBIGene:3206"]
    untyped = Concept("NCBIGene:3630", label="INS")  # a curation's concept: no type, so no rule
    assert preferred([untyped, readthrough], GENERIC) == ["NCBIGene:3630", "NCBIGene:723961"]


def test_metadata_keys_of_ontology_terms_are_read_as_the_parser_writes_them() -> None:
    taxon = from_metadata("NCBITaxon:32281", {"rank": "species_group", "parents": "NCBITaxon:7215|NCBITaxon:1"})
    assert taxon.rank == "species group" and taxon.parents == ("NCBITaxon:7215", "NCBITaxon:1")
    assert is_broad(taxon, GENERIC)
    bare = from_metadata("MESH:D009369", {"TreeNumbers": "C04"})  # no rank, no parents: older terms
    assert (bare.rank, bare.parents) == (None, ()) and is_broad(bare, GENERIC)
    assert not is_broad(from_metadata("NCBITaxon:9606", {"rank": "species"}, "Homo sapiens"), GENERIC)
    gene = from_metadata("NCBIGene:111257", {"tax_id": "10090", "type_of_gene": "pseudo"}, "Tek-ps")
    assert gene.type_of_gene == "pseudo" and not is_broad(gene, GENERIC)
    assert from_metadata("NCBIGene:4", {"tax_id": "9606", "type_of_gene": "unknown"}).type_of_gene is None
