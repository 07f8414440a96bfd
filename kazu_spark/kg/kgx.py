"""Export the knowledge graph as KGX TSV (``nodes.tsv``, ``edges.tsv``), the Biolink / Translator exchange format.

KGX (the Knowledge Graph Exchange format of the Biolink model and the NCATS Translator, read by the
``kgx`` tool, KG-Hub and RTX-KG2-style builds) is one node file and one edge file, tab-separated, one
header line, list values joined with ``|``, nothing quoted. Ids are CURIEs spelled as the Biolink prefix
map does (:func:`kazu_spark.kg.biolink.curie`); a document is its publication CURIE (``PMID:<id>``,
``PMCID:``, else ``doc:<doc_id>``, which is no Biolink prefix), the same as in ``kg_edges.publications``.

* ``nodes.tsv``: ``id``, ``category``, ``name``, ``provided_by`` (``infores:kazu-spark``), and the
  properties ``source`` and ``source_version`` (a concept's ontology), ``mention_count``;
* ``edges.tsv``: ``id`` (kg_edges.edge_id), ``subject``, ``predicate``, ``object``, ``knowledge_level``,
  ``agent_type``, ``primary_knowledge_source``, ``publications``, ``evidence_count`` (kg_edges.count:
  mentions, or documents mentioning both concepts) and ``sentence_count`` (sentences mentioning both).

KGX identifies an edge by subject, predicate and object, and both co-occurrence edge types have the one
Biolink predicate ``biolink:occurs_together_in_literature_with``; so a concept pair is one KGX edge, the
``CO_OCCURS_DOCUMENT`` edge, which carries the pair's ``CO_OCCURS_SENTENCE`` count as ``sentence_count``
(0 when the two never share a sentence; every shared sentence is in a shared document).

Tabs and line breaks inside a value become spaces, a ``|`` inside a list element too. Read them back with
``kgx`` (``kgx validate -i tsv nodes.tsv edges.tsv``; ``tools/kgx_validate.py`` runs its validator
offline) or with pandas::

    nodes = pd.read_csv("OUT_DIR/nodes.tsv", sep="\\t", quoting=csv.QUOTE_NONE)
    edges = pd.read_csv("OUT_DIR/edges.tsv", sep="\\t", quoting=csv.QUOTE_NONE)

Example (needs a Delta-enabled session and a built graph):
    >>> export_kgx(spark, "lakehouse", "/tmp/kg-kgx")  # doctest: +SKIP
    {'nodes.tsv': 397, 'edges.tsv': 3781}
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from kazu_spark.kg import biolink
from kazu_spark.kg.build import DOC_PREFIX
from kazu_spark.kg.export import read_kg, write_csv_files

#: Spark CSV options of a KGX TSV file: tab-separated, a header, nothing quoted or escaped
TSV_OPTIONS = {"header": "true", "sep": "\t", "quote": "", "escape": "", "nullValue": "", "emptyValue": ""}
#: columns KGX requires of every node and every edge
REQUIRED = {
    "nodes.tsv": ("id", "category"),
    "edges.tsv": ("id", "subject", "predicate", "object", "knowledge_level", "agent_type", "primary_knowledge_source"),
}


def _text(column: str | Column) -> Column:
    """A value on one TSV cell: tabs and line breaks become a space."""
    return F.regexp_replace(column, r"[\t\r\n]+", " ")


def _joined(column: str) -> Column:
    """A list value: its elements on one cell, ``|``-joined (a ``|`` inside an element becomes a space)."""
    return F.concat_ws("|", F.transform(column, lambda x: F.regexp_replace(x, r"[|\t\r\n]+", " ")))


def kgx_id(node_id: Column) -> Column:
    """A kg_nodes id as KGX writes it: a concept as a Biolink CURIE, a document as its publication CURIE.

    Example (needs a session):
        >>> edges.select(kgx_id(F.col("src")).alias("subject"))  # doctest: +SKIP
    """
    is_document = node_id.startswith(DOC_PREFIX)
    doc_id = F.substring(node_id, len(DOC_PREFIX) + 1, 1 << 30)
    return F.when(is_document, biolink.publication(doc_id)).otherwise(biolink.curie(node_id))


def kgx_files(nodes: DataFrame, edges: DataFrame) -> dict[str, DataFrame]:
    """File name -> its rows: ``nodes.tsv`` and ``edges.tsv`` of the graph (see the module docstring).

    Example (needs a session):
        >>> kgx_files(*read_kg(spark, "lakehouse"))["edges.tsv"].columns[:4]  # doctest: +SKIP
        ['id', 'subject', 'predicate', 'object']
    """
    concept = F.col("node_type") == "Concept"
    in_sentences = edges.filter(F.col("edge_type") == "CO_OCCURS_SENTENCE").select(
        "src", "dst", F.col("count").alias("_sentences")
    )
    kept = edges.filter(F.col("edge_type") != "CO_OCCURS_SENTENCE").join(in_sentences, ["src", "dst"], "left")
    sentence_count = F.when(F.col("edge_type") == "CO_OCCURS_DOCUMENT", F.coalesce("_sentences", F.lit(0)))
    return {
        "nodes.tsv": nodes.select(
            kgx_id(F.col("node_id")).alias("id"),
            "category",
            _text("label").alias("name"),
            F.lit(biolink.INFORES).alias("provided_by"),
            F.when(concept, _text("source")).alias("source"),
            _text("source_version").alias("source_version"),
            "mention_count",
        ),
        "edges.tsv": kept.select(
            F.col("edge_id").alias("id"),
            kgx_id(F.col("src")).alias("subject"),
            "predicate",
            kgx_id(F.col("dst")).alias("object"),
            "knowledge_level",
            "agent_type",
            F.lit(biolink.INFORES).alias("primary_knowledge_source"),
            _joined("publications").alias("publications"),
            F.col("count").alias("evidence_count"),
            sentence_count.cast("long").alias("sentence_count"),
        ),
    }


def export_kgx(spark: SparkSession, lakehouse: str, out_dir: str) -> dict[str, int]:
    """Write the graph as KGX TSV ``nodes.tsv`` and ``edges.tsv`` into ``out_dir``; returns rows per file.

    Existing files of the same names are replaced.

    Example (needs a Delta-enabled session and a built graph):
        >>> export_kgx(spark, "lakehouse", "/tmp/kg-kgx")["nodes.tsv"]  # doctest: +SKIP
        397
    """
    return write_csv_files(spark, kgx_files(*read_kg(spark, lakehouse)), out_dir, TSV_OPTIONS)
