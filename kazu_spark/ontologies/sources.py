"""The default ontology sources and where their files are; the source model itself is config
(:class:`kazu_spark.config.OntologySource`), so a config file can list sources without importing a parser.
"""

from __future__ import annotations

from collections.abc import Collection

from kazu_spark.config import ColumnMapping, OntologySource

#: the nouns papers name people by (patients, women, children, ...) as synonyms of *Homo sapiens*, as BioRED
#: and PubTator link them; a ``tsv`` source bundled with the package
HUMAN_NOUNS = "pkg://kazu_spark/resources/curations/human_nouns.tsv"
#: the adjectives papers name a species by (murine, bovine, canine, ...), which NCBI Taxonomy does not list: BioRED
#: links ``murine`` to *Mus musculus*; a ``tsv`` source bundled with the package
SPECIES_ADJECTIVES = "pkg://kazu_spark/resources/curations/species_adjectives.tsv"
#: the drug dictionary the ``drug-named-entity-recognition`` package ships (a dependency): generic, brand and MeSH
#: entry-term names of drugs, which MeSH's descriptor table lacks (``rapamycin``, ``dilevalol``, ``DMSO``)
DRUG_NAMES = "pkg://drug_named_entity_recognition/drug_ner_dictionary.pkl.bz2"


def default_sources(root: str) -> list[OntologySource]:
    """The default sources (MEDIC, CL, NCBITaxon, NCBI Gene, MeSH drugs) with their canonical file names
    under ``root``: the shared data folder, or ``pkg://kazu_spark/resources/ontologies`` for the subsets.

    Species are NCBI Taxonomy's taxa, whose binomials are also looked up abbreviated (``M. bovis``) at tier 2,
    the nouns papers name people by (``patients``, ``women``: ``HUMAN_NOUNS``) as *Homo sapiens*, and the adjectives
    they name a species by (``murine``: ``SPECIES_ADJECTIVES``).
    Genes are NCBI Gene's human and mouse genes (``NCBIGene:<GeneID>``, the ids BioRED and PubTator use; a
    mention takes its document's species, ``linking.gene_species``); HGNC's aliases and previous symbols become
    the human genes' synonyms through the HGNC id each lists (``xref_target``). Drugs are MeSH's chemical
    descriptors, with the names of the drug dictionary (``DRUG_NAMES``) of the descriptor named like their drug at
    tier 2: the descriptor table has one name per descriptor.

    Example:
        >>> [s.name for s in default_sources("/data")][:5]
        ['MEDIC', 'CL', 'NCBITaxon', 'NCBITaxon-abbreviated', 'human-nouns']
        >>> [s.name for s in default_sources("/data")][5:]
        ['species-adjectives', 'NCBIGene', 'NCBIGene-mouse', 'HGNC-NCBIGene', 'MeSH', 'drug-names']
        >>> default_sources("/data")[-2].tree_numbers_path
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
        *(  # bundled with the package whatever the root: curations, not ontology files
            OntologySource(
                name=name,
                format="tsv",
                entity_class="species",
                path=path,
                columns=ColumnMapping(id="id", label="label", synonyms=["synonyms"], separator="|"),
            )
            for name, path in (("human-nouns", HUMAN_NOUNS), ("species-adjectives", SPECIES_ADJECTIVES))
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
        OntologySource(  # a dependency's file whatever the root
            name="drug-names",
            format="drug_names",
            entity_class="drug",
            path=DRUG_NAMES,
            xref_target="MeSH",
            tier=2,  # only for mentions MeSH's own names miss
        ),
    ]


#: (corpus folder, entity class, annotation types) of the train-split curations: each corpus's gold mention
#: texts as synonyms of the concept they are annotated with most (``parse_pubtator_curations``)
CURATIONS = [
    ("ncbi-disease", "disease", ["SpecificDisease", "DiseaseClass", "Modifier", "CompositeMention"]),
    ("bc5cdr", "disease", ["Disease"]),
    ("bc5cdr", "drug", ["Chemical"]),
    ("biored", "gene", ["GeneOrGeneProduct"]),
    ("biored", "disease", ["DiseaseOrPhenotypicFeature"]),
    ("biored", "drug", ["ChemicalEntity"]),
    ("biored", "species", ["OrganismTaxon"]),
    ("s800", "species", ["Species"]),
]

#: corpora whose train split shares abstracts with another corpus's devel split (BioRED train holds 44 of
#: BC5CDR devel's and 1 of NCBI-disease devel's): their curations leave those documents out
_OVERLAPS = {"biored": ["bc5cdr", "ncbi-disease"]}

#: a class as a curation source's name calls it (the corpora's word)
_NAMES = {"drug": "chemical"}

#: the bundled curations: the train-split files cut to the mention texts of the sample (``tools.subset``), of
#: the classes whose bundled ontologies lack the names papers use (MeSH's table has no entry terms); at tier 2,
#: consulted only for mentions the ontologies miss, so MEDIC's and MeSH's own concepts win where a corpus's
#: convention differs (BC5CDR's ``allergic`` is Drug Hypersensitivity). Gene and species curations are not
#: bundled: BioRED's gene curations hold rat genes no gene source knows the species of (``mTOR`` -> rat Mtor)
BUNDLED_CURATIONS = "pkg://kazu_spark/resources/curations"
BUNDLED_CURATION_CLASSES = ("disease", "drug")


def curation_sources(
    root: str, exclude_devel: bool = True, classes: Collection[str] | None = None, tier: int = 0
) -> list[OntologySource]:
    """The train-split curations of ``CURATIONS`` under ``root`` (``<corpus>/train.txt``: the shared data's
    ``linking`` folder, or ``BUNDLED_CURATIONS``), one ``pubtator`` source per corpus and class (of
    ``classes``, default all), at ``tier`` (0: a curated text wins over the ontologies' synonyms).

    MeSH 2015's table has descriptor names only, so these curations are where chemicals' entry terms
    (``rapamycin`` for Sirolimus) come from. ``exclude_devel`` leaves out the train documents that are
    another corpus's devel documents; the bundled cuts have them left out already. Gene curations take
    their documents' species (``species_from_documents``): BioRED's rat genes are rat genes.

    Example:
        >>> sources = curation_sources("/data/linking")
        >>> [s.name for s in sources][:3]
        ['train-curations-ncbi-disease', 'train-curations-bc5cdr-disease', 'train-curations-bc5cdr-chemical']
        >>> sources[4].path, sources[4].exclude_documents
        ('/data/linking/biored/train.txt', ['/data/linking/bc5cdr/devel.txt', '/data/linking/ncbi-disease/devel.txt'])
        >>> [(s.name, s.tier) for s in curation_sources("/c", exclude_devel=False, classes=["drug"], tier=2)]
        [('train-curations-bc5cdr-chemical', 2), ('train-curations-biored-chemical', 2)]
    """
    root = root.rstrip("/")
    several = {corpus for corpus, _, _ in CURATIONS if sum(c == corpus for c, _, _ in CURATIONS) > 1}
    return [
        OntologySource(
            name=f"train-curations-{corpus}"
            + (f"-{_NAMES.get(entity_class, entity_class)}" if corpus in several else ""),
            format="pubtator",
            entity_class=entity_class,
            path=f"{root}/{corpus}/train.txt",
            annotation_types=types,
            exclude_documents=[f"{root}/{other}/devel.txt" for other in _OVERLAPS.get(corpus, []) if exclude_devel],
            species_from_documents=entity_class == "gene",
            tier=tier,
        )
        for corpus, entity_class, types in CURATIONS
        if classes is None or entity_class in classes
    ]
