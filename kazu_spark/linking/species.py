"""Genes of the document's species: ``TP53`` in a mouse paper is the mouse gene ``Trp53``.

Gene sources of several organisms (NCBI Gene's ``gene_info`` per taxon) share most symbols up to case:
``p53`` names human ``TP53`` and mouse ``Trp53``, ``IL6`` is human and ``Il6`` mouse. The string cascade
cannot tell them apart, and an exact match on one organism's spelling says little: authors write ``IL-6``
in mouse papers. GNormPlus-style normalisers decide by the species the document is about; so does this
step (``linking.gene_species``):

1. **The document's species**: of the species that some gene source covers (a concept's metadata
   ``tax_id``), the one the document's species mentions link to most often (distinct mentions; a tie
   goes to ``default_taxon``, then to the smallest id), unless its gene mentions spell the symbols of another
   species it names (the spelt species, below) while spelling fewer than ``symbol_votes`` of that species' own,
   and in no fewer mentions: a paper on human tumours that names a mouse model twice and human once writes
   ``GPNMB``, ``TFE3`` and ``TSC2`` (HGNC's spelling) 24 times and ``Tsc2`` twice, and its genes are human; a
   mouse paper that writes ``TSC1 or TSC2`` of the disease and ``Tsc2``, ``Tsc1`` of its mice stays mouse.
   Without any species mention, the species whose official symbols (a
   gene concept's label) the document's gene mentions spell exactly, case included, where at least
   ``symbol_votes`` distinct ones are that species' and more than any other's: ``Ctr9``, ``Sox2`` and ``Gata6``
   are mouse symbols (MGI writes them so, HGNC ``CTR9``), in a paper on mouse embryos that only says
   "embryos". Without either, the species its mentions link to most among those whose genes only curations
   give (``species_from_documents``: BioRED's rat genes, so a rat paper keeps them): a curation holds a few
   genes of such a species, and one mention of yeast in a paper whose genes spell mouse symbols does not make
   it a yeast paper. Otherwise ``default_taxon`` (human). One symbol is not enough: ``Hp`` (haptoglobin) in a
   clinical paper is an abbreviation, not a mouse gene. Only the symbols of a gene source vote (a curation's
   label is its most frequent mention). A gene mention whose text, or long form, directly follows a species
   mention of such a taxon somewhere in the document (``human L-FABP`` in a mouse paper) is read in that
   species instead (``named_species``, :mod:`kazu_spark.linking.named_species`).
2. A gene mention with a candidate of that species keeps those candidates (and any without a known taxon)
   and drops the other species' ones.
3. A gene mention whose candidates are all of *other* species is looked up again by its normalised name,
   case folded (``Akt`` and ``AKT``), among the genes of the document's species; what that finds replaces
   them (strategy ``species``, score 0.85). Of several genes found, the orthologues of the mention's
   candidates are kept: a gene that HGNC names as one's orthologue (its ``mgd_id``, metadata
   ``orthologues``, is the gene's MGI id, metadata ``xrefs``: ``TP53`` in a mouse paper is ``Trp53``, not
   ``Trp53inp2``, whose alias is ``Tp53`` too), or one with the symbol of one of them, case aside
   (orthologues mostly share their symbol: ``PAR1``, human ``F2R``, in a mouse paper is ``F2r``, which lists
   ``Par1`` as a synonym, not the mouse gene whose symbol is ``Par1``). When it finds nothing, the genes of
   the document's species with a candidate's symbol, case aside, replace them (the orthologue, strategy
   ``species``): ``GSK3`` is a synonym of mouse ``Gsk3b`` only, so in a human paper it links human ``GSK3B``.
   When there is none either, only the mention's candidates of ``default_taxon`` stay (``drop_foreign``):
   papers about mice name human genes, but a name that only mouse genes have is, in a human paper, often an
   acronym of something else (``CIMP`` is a synonym of the mouse gene ``Ebp``). A mention left with none is
   unlinked; ``drop_foreign: false`` keeps every candidate.

Mentions of other classes, and genes whose candidates carry no taxon, pass through unchanged.

Example (needs a SparkSession; ``link_entities`` calls it after the cascade when the step is enabled):
    >>> links = link_entities(entities, terms, load_config().linking)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from kazu_spark.config import GeneSpeciesConfig
from kazu_spark.linking.named_species import NAMED_SPECIES_SCHEMA, species_named_before
from kazu_spark.linking.scores import SPECIES_SCORE
from kazu_spark.linking.term_index import several_concepts
from kazu_spark.schemas import LINK_MATCH

#: (lookups, wanted) -> the LINK_MATCH rows of the lookups' normalised names among the concepts of ``wanted``
#: (one column, ``concept_id``)
Lookup = Callable[[DataFrame, DataFrame], DataFrame]


def _taxed_genes(concepts: DataFrame, cfg: GeneSpeciesConfig) -> DataFrame:
    """The gene classes' concepts (TermIndex.concepts rows) whose metadata has a ``tax_id``."""
    return concepts.where(F.col("entity_class").isin(cfg.gene_classes) & F.col("tax_id").isNotNull())


def _gene_taxa(concepts: DataFrame, cfg: GeneSpeciesConfig) -> DataFrame:
    """(concept_id, taxon) of the gene classes' concepts whose metadata has a ``tax_id``."""
    taxon = F.concat(F.lit("NCBITaxon:"), "tax_id").alias("taxon")
    return _taxed_genes(concepts, cfg).select("concept_id", taxon).distinct()


def _orthologue_pairs(concepts: DataFrame, cfg: GeneSpeciesConfig) -> DataFrame:
    """(concept_id, orthologue) of the gene classes' concepts, both ways: a gene whose metadata ``orthologues``
    lists an id that another gene's ``xrefs`` has (``batch.orthologue_pairs``: human TP53 and mouse Trp53)."""
    genes = concepts.where(F.col("entity_class").isin(cfg.gene_classes))
    named = genes.select("concept_id", F.explode(F.split("orthologues", r"\|")).alias("id"))
    xrefs = genes.select(F.col("concept_id").alias("orthologue"), F.explode(F.split("xrefs", r"\|")).alias("id"))
    pairs = named.join(xrefs, "id").where(F.col("concept_id") != F.col("orthologue")).select("concept_id", "orthologue")
    swapped = pairs.select(F.col("orthologue").alias("concept_id"), F.col("concept_id").alias("orthologue"))
    return pairs.unionByName(swapped).distinct()


def _orthologues(found: DataFrame, foreign: DataFrame, pairs: DataFrame) -> DataFrame:
    """Of a mention's genes of its document's species (``found``), those that are one of its foreign candidates'
    orthologue (``pairs``) or have, case aside, its symbol (label), where any is (human F2R: mouse F2r, not Par1;
    human TP53: mouse Trp53, not Trp53inp2, whose alias is Tp53)."""
    by_symbol = foreign.select("entity_id", F.upper("default_label").alias("symbol"), F.lit(True).alias("by_symbol"))
    by_xref = foreign.select("entity_id", "concept_id").join(pairs, "concept_id")
    by_xref = by_xref.select("entity_id", F.col("orthologue").alias("concept_id"), F.lit(True).alias("by_xref"))
    return (
        found.withColumn("symbol", F.upper("default_label"))
        .join(by_symbol.distinct(), ["entity_id", "symbol"], "left")
        .join(by_xref.distinct(), ["entity_id", "concept_id"], "left")
        .withColumn("orthologue", F.coalesce("by_symbol", "by_xref", F.lit(False)))
        .withColumn("any_orthologue", F.max("orthologue").over(Window.partitionBy("entity_id")))
        .where(F.col("orthologue") | ~F.col("any_orthologue"))
        .drop("symbol", "by_symbol", "by_xref", "orthologue", "any_orthologue")
    )


def _split_taxa(concepts: DataFrame, cfg: GeneSpeciesConfig, curated: frozenset[str]) -> tuple[DataFrame, DataFrame]:
    """(taxon) of the gene concepts' taxa that a source other than the ``curated`` ones gives, and of those only
    ``curated`` sources give (``species_from_documents``)."""
    taxa = _taxed_genes(concepts, cfg).select(
        F.concat(F.lit("NCBITaxon:"), "tax_id").alias("taxon"), F.col("source").isin(*curated).alias("curated")
    )
    covered = taxa.where(~F.col("curated")).select("taxon").distinct()
    return covered, taxa.where("curated").select("taxon").distinct().join(covered, "taxon", "left_anti")


def _species_links(links: DataFrame, queries: DataFrame, taxa: DataFrame, cfg: GeneSpeciesConfig) -> DataFrame:
    """The links of species mentions to one of ``taxa`` (column ``taxon``), each with its lookup's text (``query``)."""
    species = queries.where(F.col("entity_class") == cfg.species_class).select("entity_id", "via", "query")
    return links.join(species, ["entity_id", "via"]).join(
        taxa.select(F.col("taxon").alias("concept_id")), "concept_id", "left_semi"
    )


def _document_taxa(linked: DataFrame, cfg: GeneSpeciesConfig) -> DataFrame:
    """(doc_id, doc_taxon): the taxon a document's species mentions link to most (distinct mentions; ties: default,
    then least id); ``linked``: :func:`_species_links`."""
    counts = linked.groupBy("doc_id", "concept_id").agg(F.countDistinct("entity_id").alias("mentions"))
    best = Window.partitionBy("doc_id").orderBy(
        F.desc("mentions"), (F.col("concept_id") != cfg.default_taxon).asc(), F.asc("concept_id")
    )
    return (
        counts.withColumn("rank", F.row_number().over(best))
        .where("rank = 1")
        .select("doc_id", F.col("concept_id").alias("doc_taxon"))
    )


def _named_taxa(
    links: DataFrame, queries: DataFrame, documents: DataFrame, taxa: DataFrame, cfg: GeneSpeciesConfig
) -> DataFrame:
    """(entity_id, named_taxon) for the gene mentions whose text, or long form, directly follows a species mention
    of one of ``taxa`` in their document (:mod:`kazu_spark.linking.named_species`)."""
    linked = _species_links(links, queries, taxa, cfg).select(
        "doc_id", F.col("query").alias("phrase"), F.col("concept_id").alias("taxon")
    )
    with_species = linked.select("doc_id").distinct()
    genes = queries.where(F.col("entity_class").isin(cfg.gene_classes)).join(with_species, "doc_id", "left_semi")
    genes = genes.select("entity_id", "doc_id", F.col("query").alias("phrase"))
    phrases = linked.unionByName(genes.select("doc_id", "phrase", F.lit(None).cast("string").alias("taxon")))
    # a doc_id of its own on each side: a cogroup refuses one lineage's column on both
    texts = documents.join(with_species, "doc_id", "left_semi").select(F.col("doc_id").alias("doc_id"), "text")
    named = (
        phrases.distinct()
        .groupBy("doc_id")
        .cogroup(texts.groupBy("doc_id"))
        .applyInPandas(species_named_before, NAMED_SPECIES_SCHEMA)
    )
    return genes.join(named, ["doc_id", "phrase"]).groupBy("entity_id").agg(F.min("taxon").alias("named_taxon"))


def _spelt_votes(taxed: DataFrame) -> DataFrame:
    """(doc_id, taxon, votes, spelt_mentions): per document and taxon, the distinct official symbols (labels) its
    gene mentions spell exactly, case included, and the mentions that do; ``taxed``: gene links with their
    concept's ``taxon``."""
    spelt = taxed.where(
        (F.col("strategy") == "exact")
        & (F.col("matched_synonym") == F.col("default_label"))
        & F.col("taxon").isNotNull()
    )
    return spelt.groupBy("doc_id", "taxon").agg(
        F.countDistinct("matched_synonym").alias("votes"), F.countDistinct("entity_id").alias("spelt_mentions")
    )


def _symbol_taxa(votes: DataFrame, cfg: GeneSpeciesConfig) -> DataFrame:
    """(doc_id, symbol_taxon): the taxon whose official symbols a document's gene mentions spell, where at least
    ``cfg.symbol_votes`` distinct ones are its and more than any other taxon's; ``votes``: :func:`_spelt_votes`."""
    order = Window.partitionBy("doc_id").orderBy(F.desc("votes"), F.asc("taxon"))
    ranked = votes.withColumn("rank", F.row_number().over(order)).withColumn("runner_up", F.lead("votes").over(order))
    best = (
        (F.col("rank") == 1)
        & (F.col("votes") >= cfg.symbol_votes)
        & (F.col("votes") > F.coalesce("runner_up", F.lit(0)))
    )
    return ranked.where(best if cfg.symbol_votes else F.lit(False)).select(
        "doc_id", F.col("taxon").alias("symbol_taxon")
    )


def _spelt_over_named(
    votes: DataFrame, spelt: DataFrame, most_named: DataFrame, in_text: DataFrame, cfg: GeneSpeciesConfig
) -> DataFrame:
    """(doc_id, spelt_named_taxon): a document's spelt taxon (``spelt``) where it overrides the taxon its species
    mentions name most (``most_named``, column ``doc_taxon``): the text names it too (``in_text``: doc_id,
    symbol_taxon), the named taxon has fewer than ``cfg.symbol_votes`` distinct symbols spelt its way, and no
    more spelt mentions (module doc)."""
    own = votes.select(
        "doc_id",
        F.col("taxon").alias("doc_taxon"),
        F.col("votes").alias("top_votes"),
        F.col("spelt_mentions").alias("top_mentions"),
    )
    theirs = votes.select("doc_id", F.col("taxon").alias("symbol_taxon"), "spelt_mentions")
    over = (
        spelt.join(in_text, ["doc_id", "symbol_taxon"], "left_semi")
        .join(theirs, ["doc_id", "symbol_taxon"])
        .join(most_named, "doc_id")
        .join(own, ["doc_id", "doc_taxon"], "left")
        .where(
            (F.col("doc_taxon") != F.col("symbol_taxon"))
            & (F.coalesce("top_votes", F.lit(0)) < cfg.symbol_votes)
            & (F.col("spelt_mentions") >= F.coalesce("top_mentions", F.lit(0)))
        )
    )
    return over.select("doc_id", F.col("symbol_taxon").alias("spelt_named_taxon"))


def _symbol_orthologues(stranded: DataFrame, concepts: DataFrame, cfg: GeneSpeciesConfig) -> DataFrame:
    """LINK_MATCH rows: for gene links of other species than their document's (``doc_taxon``) that a lookup could
    not place, the document's species' genes with the same symbol, case aside (mouse Gsk3b: human GSK3B)."""
    symbols = _taxed_genes(concepts, cfg).select(
        "concept_id",
        "source",
        F.col("label").alias("default_label"),
        F.concat(F.lit("NCBITaxon:"), "tax_id").alias("doc_taxon"),
        F.upper("label").alias("symbol"),
    )
    symbol_of = symbols.groupBy("concept_id").agg(F.min("symbol").alias("symbol"))
    found = (
        stranded.join(symbol_of, "concept_id")
        .select("entity_id", "doc_id", "via", "matched_synonym", "doc_taxon", "symbol")
        .join(symbols, ["doc_taxon", "symbol"])
        .groupBy("entity_id", "doc_id", "via", "concept_id", "source", "default_label")
        .agg(F.min("matched_synonym").alias("matched_synonym"))
        .withColumn("ambiguous", several_concepts("entity_id"))
    )
    rows = found.withColumn("strategy", F.lit("species")).withColumn("score", F.lit(SPECIES_SCORE))
    return rows.select(*LINK_MATCH.fieldNames())


def prefer_document_species(
    links: DataFrame,
    queries: DataFrame,
    concepts: DataFrame,
    cfg: GeneSpeciesConfig,
    lookup: Lookup,
    curated: frozenset[str] = frozenset(),
    documents: DataFrame | None = None,
) -> DataFrame:
    """``links`` (LINK_MATCH) with gene mentions narrowed to, or looked up again among, the genes of their
    document's species (module doc). ``queries``: the lookups (entity_id, doc_id, via, query, entity_class);
    ``concepts``: (concept_id, source, entity_class, tax_id), as :class:`~kazu_spark.linking.term_index.TermIndex`
    has them; ``lookup(lookups, wanted)``: the LINK_MATCH rows of those lookups' normalised names among the
    concepts of ``wanted``; ``curated``: the curation sources (their taxa come last, module doc); ``documents``
    (doc_id, text): with ``cfg.named_species``, a gene named right after a species mention takes that species."""
    fields = LINK_MATCH.fieldNames()
    links = links.localCheckpoint(eager=True)  # read five times below: materialised once, not recomputed
    taxa = _gene_taxa(concepts, cfg)
    covered, curated_taxa = _split_taxa(concepts, cfg, curated)
    genes = queries.where(F.col("entity_class").isin(cfg.gene_classes)).select("entity_id", "via")
    entity = Window.partitionBy("entity_id")
    of_document = F.col("taxon") == F.col("doc_taxon")
    taxed = links.join(genes, ["entity_id", "via"], "left_semi").join(taxa, "concept_id", "left")
    by_curation = _document_taxa(_species_links(links, queries, curated_taxa, cfg), cfg).withColumnRenamed(
        "doc_taxon", "curated_taxon"
    )
    if documents is not None and cfg.named_species:
        taxed = taxed.join(
            _named_taxa(links, queries, documents, covered.unionByName(curated_taxa), cfg), "entity_id", "left"
        )
    else:
        taxed = taxed.withColumn("named_taxon", F.lit(None).cast("string"))
    votes = _spelt_votes(taxed.join(covered, "taxon", "left_semi"))
    spelt = _symbol_taxa(votes, cfg)
    named_species = _species_links(links, queries, covered, cfg)
    most_named = _document_taxa(named_species, cfg)
    in_text = named_species.select("doc_id", F.col("concept_id").alias("symbol_taxon"))
    spelt_named = _spelt_over_named(votes, spelt, most_named, in_text, cfg)
    judged = (
        taxed.join(most_named, "doc_id", "left")
        .join(spelt, "doc_id", "left")
        .join(spelt_named, "doc_id", "left")
        .join(by_curation, "doc_id", "left")
        .withColumn(
            "doc_taxon",
            F.coalesce(
                "named_taxon",
                "spelt_named_taxon",
                "doc_taxon",
                "symbol_taxon",
                "curated_taxon",
                F.lit(cfg.default_taxon),
            ),
        )
        .drop("named_taxon", "spelt_named_taxon", "symbol_taxon", "curated_taxon")
        .withColumn("any_of_document", F.max(F.coalesce(of_document, F.lit(False))).over(entity))
        .withColumn("all_foreign", F.min(F.col("taxon").isNotNull()).over(entity) & ~F.col("any_of_document"))
        .localCheckpoint(eager=True)
    )
    narrowed = judged.where("any_of_document").where(F.col("taxon").isNull() | of_document)
    foreign = judged.where("all_foreign")
    wanted = taxa.select("concept_id", F.col("taxon").alias("doc_taxon"))
    found = _orthologues(
        lookup(
            foreign.select("entity_id", "via", "doc_taxon").distinct().join(queries, ["entity_id", "via"]),
            wanted.select("concept_id").distinct(),
        )
        .join(foreign.select("entity_id", "doc_taxon").distinct(), "entity_id")
        .join(wanted, ["concept_id", "doc_taxon"], "left_semi"),
        foreign,
        _orthologue_pairs(concepts, cfg),
    )
    kept = (
        narrowed.select(*fields)
        .unionByName(found.select(*fields))
        .withColumn("ambiguous", several_concepts("entity_id"))
    )
    untouched = judged.where(~F.col("any_of_document")).join(
        found.select("entity_id").distinct(), "entity_id", "left_anti"
    )
    orthologues = _symbol_orthologues(untouched.where("all_foreign"), concepts, cfg).localCheckpoint(eager=True)
    kept = kept.unionByName(orthologues.select(*fields))
    untouched = untouched.join(orthologues.select("entity_id").distinct(), "entity_id", "left_anti")
    if cfg.drop_foreign:
        untouched = untouched.where(F.col("taxon").isNull() | (F.col("taxon") == cfg.default_taxon)).withColumn(
            "ambiguous", several_concepts("entity_id")
        )
    return (
        links.join(genes, ["entity_id", "via"], "left_anti")
        .select(*fields)
        .unionByName(kept)
        .unionByName(untouched.select(*fields))
    )
