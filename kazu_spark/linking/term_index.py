"""The lookup tables ``link_entities`` reads the ontology terms through, built in one pass and materialised once.

Every dictionary step, the preference steps and the gene-species step look candidates up by key or read a
concept's facts. Derived from the terms table each time, every one of them was an aggregation over all the
synonyms (938,079 with the shared ontologies): a dozen shuffles of the whole table per ``link_entities`` call,
a fixed cost of minutes whatever the number of mentions. Here the terms are read twice, once per table, and
both are materialised (``localCheckpoint``), so each step reads a small table instead of aggregating the terms:

- ``keys``: one row per distinct ``(kind, entity_class, key, source, concept_id)``, where ``kind`` is
  ``exact`` (the key is the synonym) or ``normalised`` (the normalised synonym), with the source's ``tier``, a
  representative ``default_label`` and ``matched_synonym``, ``ambiguous`` (the key names more than one concept
  of the class) and ``tier_ambiguous`` (more than one within the source's tier);
- ``concepts``: one row per ``(concept_id, source)``: ``entity_class``, ``label`` (least label), the
  metadata ``rank``, ``parents``, ``tax_id``, ``type_of_gene``, ``xrefs`` and ``orthologues`` (null when no term
  has them) and ``source_version``.

Example (needs a SparkSession; ``terms`` in ONTOLOGY_TERMS):
    >>> index = build_term_index(terms, {"HGNC-NCBIGene": 2})  # doctest: +SKIP
    >>> index.dictionary_keys("exact", tier=1).where("key = 'TP53'").show()  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

#: the tier of a source no ``linking.ontologies`` entry gives another one
DEFAULT_TIER = 1


def _tier(tier_of: dict[str, int]) -> Column:
    """The tier of each row's ``source``: its configured one, else ``DEFAULT_TIER``."""
    named = {name: tier for name, tier in tier_of.items() if tier != DEFAULT_TIER}
    if not named:
        return F.lit(DEFAULT_TIER)
    pairs = [c for name, tier in sorted(named.items()) for c in (F.lit(name), F.lit(tier))]
    return F.coalesce(F.create_map(*pairs)[F.col("source")], F.lit(DEFAULT_TIER))


def several_concepts(*by: str) -> Column:
    """True where the rows sharing ``by`` name more than one concept (a link's ``ambiguous`` per entity or lookup)."""
    return F.size(F.collect_set("concept_id").over(Window.partitionBy(*by))) > 1


@dataclass(frozen=True)
class TermIndex:
    """The materialised ``keys`` and ``concepts`` tables of one terms table (module doc)."""

    keys: DataFrame
    concepts: DataFrame

    def dictionary_keys(self, kind: str, tier: int | None = None) -> DataFrame:
        """``(entity_class, key, source, concept_id, default_label, matched_synonym, ambiguous)`` of one key
        ``kind`` (``exact`` or ``normalised``): of one ``tier``'s sources, ambiguity counted within that tier, or
        (``tier`` None) of all sources."""
        rows = self.keys.where(F.col("kind") == kind)
        ambiguous = F.col("ambiguous")
        if tier is not None:
            rows, ambiguous = rows.where(F.col("tier") == tier), F.col("tier_ambiguous")
        return rows.select(
            "entity_class", "key", "source", "concept_id", "default_label", "matched_synonym",
            ambiguous.alias("ambiguous"),
        )  # fmt: skip


def build_term_index(terms: DataFrame, tier_of: dict[str, int]) -> TermIndex:
    """The :class:`TermIndex` of ``terms`` (ONTOLOGY_TERMS columns), both tables materialised now.

    ``tier_of``: source name -> tier (``linking.ontologies``); a source it does not name is of ``DEFAULT_TIER``.
    """
    kinds = F.explode(
        F.array(
            F.struct(F.lit("exact").alias("kind"), F.col("synonym").alias("key")),
            F.struct(F.lit("normalised").alias("kind"), F.col("normalised_synonym").alias("key")),
        )
    )
    per_concept = (
        terms.select("entity_class", "source", "concept_id", "default_label", "synonym", kinds.alias("k"))
        .select("entity_class", "source", "concept_id", "default_label", "synonym", "k.kind", "k.key")
        .where(F.col("key") != "")
        .groupBy("kind", "entity_class", "key", "source", "concept_id")
        .agg(F.min("default_label").alias("default_label"), F.min("synonym").alias("matched_synonym"))
        .withColumn("tier", _tier(tier_of))
    )
    keys = per_concept.withColumn("ambiguous", several_concepts("kind", "entity_class", "key")).withColumn(
        "tier_ambiguous", several_concepts("kind", "entity_class", "key", "tier")
    )
    metadata = F.col("metadata")
    concepts = terms.groupBy("concept_id", "source").agg(
        F.min("entity_class").alias("entity_class"),
        F.min("default_label").alias("label"),
        F.max(metadata.getItem("rank")).alias("rank"),
        F.max(metadata.getItem("parents")).alias("parents"),
        F.max(metadata.getItem("tax_id")).alias("tax_id"),
        F.max(metadata.getItem("type_of_gene")).alias("type_of_gene"),
        F.max(metadata.getItem("xrefs")).alias("xrefs"),
        F.max(metadata.getItem("orthologues")).alias("orthologues"),
        F.max("source_version").alias("source_version"),
    )
    return TermIndex(keys.localCheckpoint(eager=True), concepts.localCheckpoint(eager=True))
