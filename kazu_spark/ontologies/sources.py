"""The default ontology sources and where their files are; the source model itself is config
(:class:`kazu_spark.config.OntologySource`), so a config file can list sources without importing a parser.
"""

from __future__ import annotations

from kazu_spark.config import ColumnMapping, OntologySource

#: the nouns papers name people by (patients, women, children, ...) as synonyms of *Homo sapiens*, as BioRED
#: and PubTator link them; a ``tsv`` source bundled with the package
HUMAN_NOUNS = "pkg://kazu_spark/resources/curations/human_nouns.tsv"


def default_sources(root: str) -> list[OntologySource]:
    """The default sources (MEDIC, CL, NCBITaxon, NCBI Gene, MeSH drugs) with their canonical file names
    under ``root``: the shared data folder, or ``pkg://kazu_spark/resources/ontologies`` for the subsets.

    Species are NCBI Taxonomy's taxa, whose binomials are also looked up abbreviated (``M. bovis``) at tier 2,
    and the nouns papers name people by (``patients``, ``women``: ``HUMAN_NOUNS``) as *Homo sapiens*.
    Genes are NCBI Gene's human and mouse genes (``NCBIGene:<GeneID>``, the ids BioRED and PubTator use; a
    mention takes its document's species, ``linking.gene_species``); HGNC's aliases and previous symbols become
    the human genes' synonyms through the HGNC id each lists (``xref_target``).

    Example:
        >>> [s.name for s in default_sources("/data")][:5]
        ['MEDIC', 'CL', 'NCBITaxon', 'NCBITaxon-abbreviated', 'human-nouns']
        >>> [s.name for s in default_sources("/data")][5:]
        ['NCBIGene', 'NCBIGene-mouse', 'HGNC-NCBIGene', 'MeSH']
        >>> default_sources("/data")[-1].tree_numbers_path
        '/data/mesh-2015-tree-numbers.tsv.gz'
    """
    root = root.rstrip("/")
    return [
        OntologySource(name="MEDIC", format="medic", entity_class="disease", path=f"{root}/ctd_diseases.tsv.gz"),
        OntologySource(
            name="CL", format="obo", entity_class="cell_type", path=f"{root}/cl-basic.obo.gz", id_prefix_filter="CL:"
        ),
        OntologySource(
            name="NCBITaxon",
            format="obo",
            entity_class="species",
            path=f"{root}/ncbitaxon-taxslim.obo.gz",
            id_prefix_filter="NCBITaxon:",
        ),
        OntologySource(
            name="NCBITaxon-abbreviated",
            format="obo",
            entity_class="species",
            path=f"{root}/ncbitaxon-taxslim.obo.gz",
            id_prefix_filter="NCBITaxon:",
            abbreviate_binomials=True,
            tier=2,
        ),
        OntologySource(  # bundled with the package whatever the root: a curation, not an ontology file
            name="human-nouns",
            format="tsv",
            entity_class="species",
            path=HUMAN_NOUNS,
            columns=ColumnMapping(id="id", label="label", synonyms=["synonyms"], separator="|"),
        ),
        OntologySource(
            name="NCBIGene", format="gene_info", entity_class="gene", path=f"{root}/Homo_sapiens.gene_info.gz"
        ),
        OntologySource(
            name="NCBIGene-mouse",
            format="gene_info",
            entity_class="gene",
            path=f"{root}/Mus_musculus.gene_info.gz",
        ),
        OntologySource(
            name="HGNC-NCBIGene",
            format="hgnc",
            entity_class="gene",
            path=f"{root}/hgnc_complete_set.txt.gz",
            xref_target="NCBIGene",
            tier=2,  # only for mentions NCBI Gene's own synonyms miss: one link per gene, not one per source
        ),
        OntologySource(
            name="MeSH",
            format="mesh",
            entity_class="drug",
            path=f"{root}/mesh-2015-descriptors.tsv.gz",
            tree_numbers_path=f"{root}/mesh-2015-tree-numbers.tsv.gz",
            tree_prefix="D",
        ),
    ]
