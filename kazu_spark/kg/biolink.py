"""The graph's Biolink vocabulary, written once: CURIE prefixes, categories, predicates, knowledge levels.

The constants below, and the Spark columns that apply them to the graph's nodes and edges.

**Prefixes.** ``PREFIXES`` maps each CURIE prefix the graph writes to its IRI base, as the Biolink model's
prefix map (``biolink-model-prefix-map.json``, Biolink 4.x) spells both: ``MESH:``, ``NCBIGene:``,
``HGNC:``, ``CL:``, ``NCBITaxon:``, ``OMIM:``, ``DOID:`` for concepts, ``PMID:`` and ``PMCID:`` for
documents. :func:`curie` writes a concept id with the model's spelling of its prefix (``mesh:D1`` →
``MESH:D1``); an id with an unknown prefix is left as it is. :func:`publication` names a document: a
PubMed id (all digits) is ``PMID:<id>``, a PubMed Central id ``PMCID:PMC<n>``, any other id keeps the
graph's local ``doc:`` node id (not a Biolink prefix: a KGX validator reports it).

**Categories.** ``CATEGORIES``: the Biolink class of a concept by its entity class (``gene`` →
``biolink:Gene``, ``drug`` → ``biolink:ChemicalEntity``, ...), ``biolink:NamedThing`` for a class not
listed; a document is a ``biolink:Publication``.

**Edges.** ``PREDICATES`` per edge type: a document ``biolink:mentions`` a concept; two concepts that
co-occur are ``biolink:occurs_together_in_literature_with`` each other (symmetric). ``KNOWLEDGE_LEVELS``
(Biolink's KnowledgeLevelEnum): a mention is an ``observation`` (the text says it, nothing is inferred), a
co-occurrence a ``text_co_occurrence``. Every edge comes from NER and entity linking, so its
``AGENT_TYPE`` is ``text_mining_agent``, and its primary knowledge source is ``INFORES``.

Example:
    >>> PREFIXES["NCBIGene"], CATEGORIES["cell_line"], PREDICATES["MENTIONS"], KNOWLEDGE_LEVELS["CO_OCCURS_SENTENCE"]
    ('http://identifiers.org/ncbigene/', 'biolink:CellLine', 'biolink:mentions', 'text_co_occurrence')
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

#: CURIE prefix -> IRI base, spelled as in the Biolink model's prefix map
PREFIXES: dict[str, str] = {
    "MESH": "http://id.nlm.nih.gov/mesh/",
    "NCBIGene": "http://identifiers.org/ncbigene/",
    "HGNC": "http://identifiers.org/hgnc/",
    "CL": "http://purl.obolibrary.org/obo/CL_",
    "NCBITaxon": "http://purl.obolibrary.org/obo/NCBITaxon_",
    "OMIM": "http://purl.obolibrary.org/obo/OMIM_",
    "DOID": "http://purl.obolibrary.org/obo/DOID_",
    "MONDO": "http://purl.obolibrary.org/obo/MONDO_",
    "CHEBI": "http://purl.obolibrary.org/obo/CHEBI_",
    "CLO": "http://purl.obolibrary.org/obo/CLO_",
    "UMLS": "http://identifiers.org/umls/",
    "PMID": "http://www.ncbi.nlm.nih.gov/pubmed/",
    "PMCID": "http://www.ncbi.nlm.nih.gov/pmc/",
}
#: Biolink category of a concept, by entity class
CATEGORIES: dict[str, str] = {
    "gene": "biolink:Gene",
    "disease": "biolink:Disease",
    "drug": "biolink:ChemicalEntity",
    "species": "biolink:OrganismTaxon",
    "cell_type": "biolink:Cell",
    "cell_line": "biolink:CellLine",
}
#: category of a concept whose entity class is not in CATEGORIES
DEFAULT_CATEGORY = "biolink:NamedThing"
#: category of a document node
DOCUMENT_CATEGORY = "biolink:Publication"
#: Biolink predicate per kg_edges.edge_type
PREDICATES: dict[str, str] = {
    "MENTIONS": "biolink:mentions",
    "CO_OCCURS_SENTENCE": "biolink:occurs_together_in_literature_with",
    "CO_OCCURS_DOCUMENT": "biolink:occurs_together_in_literature_with",
}
#: Biolink knowledge_level per kg_edges.edge_type
KNOWLEDGE_LEVELS: dict[str, str] = {
    "MENTIONS": "observation",
    "CO_OCCURS_SENTENCE": "text_co_occurrence",
    "CO_OCCURS_DOCUMENT": "text_co_occurrence",
}
#: Biolink agent_type of every edge: recognised and linked by NLP
AGENT_TYPE = "text_mining_agent"
#: the information resource (infores) that every node and edge is provided by
INFORES = "infores:kazu-spark"
#: local prefix of a document that is no PubMed or PMC article (kg_nodes' document node ids)
DOCUMENT_PREFIX = "doc:"
#: (pattern of a doc_id, CURIE prefix it gets): PubMed and PubMed Central ids
PUBLICATION_IDS: tuple[tuple[str, str], ...] = ((r"^[0-9]+$", "PMID:"), (r"^PMC[0-9]+$", "PMCID:"))


def lookup(mapping: dict[str, str], key: Column) -> Column:
    """``mapping[key]`` as a Spark column (null for a key not in ``mapping``).

    Example (needs a session):
        >>> edges.select(lookup(PREDICATES, F.col("edge_type")))  # doctest: +SKIP
    """
    return F.create_map(*(F.lit(x) for pair in mapping.items() for x in pair))[key]


def curie(concept_id: Column) -> Column:
    """``concept_id`` with its prefix spelled as in ``PREFIXES`` (matched ignoring case); other ids stay.

    Example (needs a session): ``ncbitaxon:9606`` -> ``NCBITaxon:9606``; ``DOID:4`` and ``CVCL_0030`` stay.
        >>> nodes.select(curie(F.col("node_id")))  # doctest: +SKIP
    """
    spelled = lookup({prefix.lower(): prefix for prefix in PREFIXES}, F.lower(F.substring_index(concept_id, ":", 1)))
    local = F.regexp_extract(concept_id, r"^[^:]*:(.*)$", 1)
    return F.when(concept_id.contains(":") & spelled.isNotNull(), F.concat(spelled, F.lit(":"), local)).otherwise(
        concept_id
    )


def category(entity_class: Column) -> Column:
    """The Biolink category of a concept of ``entity_class``: ``CATEGORIES``, else ``biolink:NamedThing``.

    Example (needs a session):
        >>> nodes.select(category(F.col("entity_class")))  # doctest: +SKIP
    """
    return F.coalesce(lookup(CATEGORIES, entity_class), F.lit(DEFAULT_CATEGORY))


def publication(doc_id: Column) -> Column:
    """A document's CURIE: ``PMID:`` for a PubMed id, ``PMCID:`` for a PMC id, else its ``doc:`` node id.

    Example (needs a session): ``31452104`` -> ``PMID:31452104``, ``PMC6712345`` -> ``PMCID:PMC6712345``,
    ``notes/a.txt`` -> ``doc:notes/a.txt``.
        >>> edges.select(F.transform("evidence", lambda e: publication(e["doc_id"])))  # doctest: +SKIP
    """
    named = F.concat(F.lit(DOCUMENT_PREFIX), doc_id)
    for pattern, prefix in reversed(PUBLICATION_IDS):
        named = F.when(doc_id.rlike(pattern), F.concat(F.lit(prefix), doc_id)).otherwise(named)
    return named
