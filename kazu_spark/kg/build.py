"""Build the knowledge graph (``kg_nodes``, ``kg_edges``) from the lakehouse's documents, entities and links.

Nodes are the concepts that entities link to and the documents; edges are

* ``MENTIONS`` document → concept: how often the document mentions the concept, with up to 10 spans;
* ``CO_OCCURS_SENTENCE`` concept — concept: in how many sentences both are mentioned;
* ``CO_OCCURS_DOCUMENT`` concept — concept: in how many documents both are mentioned.

Co-occurrence is undirected and stored once, with ``src < dst``; its evidence is the top 10 document
ids (most shared sentences, resp. most mentions of the two concepts, then smallest doc id).

**One link per entity.** An entity contributes through its best link only: highest ``score``, then
smallest ``concept_id`` (then ``source``). Keeping only unambiguous links would drop every mention whose
synonym names several concepts (gene symbols, diseases listed in both MEDIC and MeSH), while keeping
every link would count one mention several times and invent co-occurrences between the candidate
concepts of a single mention. The best-link rule keeps recall and counts each mention once; a
disambiguation step upstream makes it more precise without changing this module.

**Sentences** come from :func:`split_sentences`, a deliberately simple splitter (see its docstring),
run over ``documents.text`` in a pandas UDF; an entity belongs to the sentence containing its start.

Every function here is ``DataFrame -> DataFrame`` over the ``kazu_spark.schemas`` tables, so each can be
tested alone; :func:`build_kg` wires them to the lakehouse.

Example (needs a Delta-enabled session and an annotated lakehouse):
    >>> counts = build_kg(spark, "lakehouse", "run-1")  # doctest: +SKIP
    >>> counts["kg_nodes"], counts["kg_edges"]  # doctest: +SKIP
"""

from __future__ import annotations

import re

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import ArrayType, IntegerType

from kazu_spark.io.delta import conform, ensure_table, key_condition, read_table, table_exists
from kazu_spark.schemas import KEYS

#: most evidence strings kept per edge
MAX_EVIDENCE = 10
#: prefix that turns a doc_id into a node id (keeps document and concept ids apart in one id space)
DOC_PREFIX = "doc:"
#: lakehouse tables the graph is built from
INPUT_TABLES = ("documents", "entities", "entity_links", "ontology_terms")

#: lower-cased words ending in "." after which a sentence goes on ("et al." is caught by "al.")
ABBREVIATIONS = frozenset(
    {"e.g.", "i.e.", "al.", "fig.", "figs.", "vs.", "cf.", "ca.", "approx.", "no.", "eq.", "ref.", "refs.", "sp."}
)
# ". ", "? " or "! " before an uppercase letter or digit, or a blank line (title | body)
_BOUNDARY = re.compile(r"[.?!]\s+(?=[A-Z0-9])|\n\s*\n")
_INITIAL = re.compile(r"[A-Z]\.")


def _ends_with_abbreviation(text: str, dot: int) -> bool:
    """Whether the word ending at ``text[dot] == "."`` is a known abbreviation or an initial ("J.")."""
    word = text[max(0, dot - 20) : dot + 1].split()[-1].lstrip("([{\"'")
    return word.lower() in ABBREVIATIONS or _INITIAL.fullmatch(word) is not None


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text``, whitespace between sentences left out.

    A sentence ends at ".", "?" or "!" followed by whitespace and an uppercase ASCII letter or digit,
    unless the word before a "." is an abbreviation (``ABBREVIATIONS``: "e.g.", "i.e.", "et al.",
    "Fig.", ...) or an initial; a blank line (between title and body) always ends one. It is a
    heuristic: good enough for co-occurrence counts over abstracts, not a linguistic tool.

    Example:
        >>> text = "BRCA1 (e.g. in Fig. 2) is mutated. Smith et al. saw it! 3 cases?"
        >>> [text[s:e] for s, e in split_sentences(text)]
        ['BRCA1 (e.g. in Fig. 2) is mutated.', 'Smith et al. saw it!', '3 cases?']
    """
    spans, start = [], 0
    for m in _BOUNDARY.finditer(text):
        if m.group()[0] == "." and _ends_with_abbreviation(text, m.start()):
            continue
        end = start + len(text[start : m.start() + 1].rstrip())
        if end > start:
            spans.append((start, end))
        start = m.end()
    end = start + len(text[start:].rstrip())
    if end > start:
        spans.append((start, end))
    return spans


@pandas_udf(ArrayType(IntegerType()))
def sentence_starts(text: pd.Series) -> pd.Series:
    """Start offsets of each text's sentences (:func:`split_sentences`), over Arrow batches."""
    return pd.Series([[s for s, _ in split_sentences(t)] for t in text], index=text.index)


def linked_mentions(entities: DataFrame, links: DataFrame) -> DataFrame:
    """Entities joined to their best link (highest score, then smallest concept_id, then source).

    Columns: entity_id, doc_id, start, end, mention, entity_class, concept_id, source, default_label;
    entities without a link are dropped.

    Example (needs a session; ENTITIES and ENTITY_LINKS frames):
        >>> linked_mentions(entities, links).select("mention", "concept_id").show()  # doctest: +SKIP
    """
    rank = Window.partitionBy("entity_id").orderBy(F.col("score").desc(), "concept_id", "source")
    best = (
        links.select("entity_id", "concept_id", "source", "default_label", F.row_number().over(rank).alias("_rank"))
        .filter(F.col("_rank") == 1)
        .drop("_rank")
    )
    return entities.select("entity_id", "doc_id", "start", "end", "mention", "entity_class").join(best, "entity_id")


def _doc_node_id(doc_id: Column) -> Column:
    return F.concat(F.lit(DOC_PREFIX), doc_id)


def concept_nodes(entities: DataFrame, links: DataFrame, terms: DataFrame) -> DataFrame:
    """One ``Concept`` node per concept some entity is best-linked to (KG_NODES columns but run_id).

    The label comes from ``ontology_terms`` (falling back to the link's label, then the id); a concept
    reached from several sources or entity classes takes the alphabetically first, so rebuilds agree.

    Example (needs a session):
        >>> concept_nodes(entities, links, terms).orderBy("node_id").show()  # doctest: +SKIP
    """
    labels = terms.groupBy("concept_id", "source").agg(F.min("default_label").alias("_term_label"))
    stats = (
        linked_mentions(entities, links)
        .groupBy("concept_id")
        .agg(
            F.count("*").alias("mention_count"),
            F.countDistinct("doc_id").alias("document_count"),
            F.min(F.struct("source", "entity_class", "default_label")).alias("_first"),
        )
    )
    return (
        stats.withColumn("source", F.col("_first.source"))
        .join(labels, ["concept_id", "source"], "left")
        .select(
            F.col("concept_id").alias("node_id"),
            F.lit("Concept").alias("node_type"),
            F.coalesce("_term_label", "_first.default_label", "concept_id").alias("label"),
            F.col("_first.entity_class").alias("entity_class"),
            "source",
            "mention_count",
            "document_count",
        )
    )


def document_nodes(documents: DataFrame, mentions: DataFrame) -> DataFrame:
    """One ``Document`` node per document (KG_NODES columns but run_id), labelled with its title.

    ``mentions`` is :func:`mentions_edges`' output: a document's ``mention_count`` is the sum of its
    MENTIONS edges' counts (0 when nothing in it was linked), the same measure concept nodes carry.

    Example (needs a session):
        >>> document_nodes(documents, mentions_edges(entities, links)).show()  # doctest: +SKIP
    """
    per_doc = mentions.groupBy(F.col("src").alias("node_id")).agg(F.sum("count").alias("mention_count"))
    title = F.nullif(F.trim("title"), F.lit(""))
    return (
        documents.select(
            _doc_node_id(F.col("doc_id")).alias("node_id"),
            F.lit("Document").alias("node_type"),
            F.coalesce(title, "doc_id").alias("label"),
            F.lit(None).cast("string").alias("entity_class"),
            "source",
        )
        .join(per_doc, "node_id", "left")
        .select(
            "node_id",
            "node_type",
            "label",
            "entity_class",
            "source",
            F.coalesce("mention_count", F.lit(0)).cast("long").alias("mention_count"),
            F.lit(1).cast("long").alias("document_count"),
        )
    )


def _edges(rows: DataFrame, edge_type: str, weight: Column, order: list[Column | str], evidence: Column) -> DataFrame:
    """Aggregate ``rows`` (with src, dst) into edges: count = sum of ``weight``, evidence = first 10 by ``order``.

    Ranking in a window and keeping ranks <= 10 bounds each edge's collected list, however many
    documents a popular pair appears in.
    """
    ranked = rows.select(
        "src",
        "dst",
        weight.alias("_weight"),
        evidence.alias("_evidence"),
        F.row_number().over(Window.partitionBy("src", "dst").orderBy(*order)).alias("_rank"),
    )
    top = F.when(F.col("_rank") <= MAX_EVIDENCE, F.struct("_rank", "_evidence"))
    return (
        ranked.groupBy("src", "dst")
        .agg(F.sum("_weight").cast("long").alias("count"), F.sort_array(F.collect_list(top)).alias("_top"))
        .select(
            F.sha1(F.concat_ws("|", F.lit(edge_type), "src", "dst")).alias("edge_id"),
            F.lit(edge_type).alias("edge_type"),
            "src",
            "dst",
            "count",
            F.transform("_top", lambda t: t["_evidence"]).alias("evidence"),
        )
    )


def mentions_edges(entities: DataFrame, links: DataFrame) -> DataFrame:
    """``MENTIONS`` edges doc:<doc_id> → concept_id (KG_EDGES columns but run_id).

    ``count`` is the number of the document's mentions best-linked to the concept; ``evidence`` their
    first 10 spans by offset, as ``"start-end:mention"``.

    Example (needs a session):
        >>> mentions_edges(entities, links).select("src", "dst", "count", "evidence").show()  # doctest: +SKIP
    """
    rows = linked_mentions(entities, links).select(
        _doc_node_id(F.col("doc_id")).alias("src"), F.col("concept_id").alias("dst"), "start", "end", "mention"
    )
    span = F.format_string("%d-%d:%s", "start", "end", "mention")
    return _edges(rows, "MENTIONS", F.lit(1), ["start", "end"], span)


def _concept_pairs(per_concept: DataFrame, keys: list[str]) -> DataFrame:
    """Self-join rows (keys..., concept_id, n) on ``keys`` into (keys..., src, dst, n_src, n_dst), src < dst.

    Quadratic in the concepts of one key value, which stays small for sentences and abstracts.
    """
    left = per_concept.withColumnRenamed("concept_id", "src").withColumnRenamed("n", "n_src")
    right = per_concept.withColumnRenamed("concept_id", "dst").withColumnRenamed("n", "n_dst")
    return left.join(right, keys).filter(F.col("src") < F.col("dst"))


def cooccurrence_edges(entities: DataFrame, links: DataFrame, documents: DataFrame) -> DataFrame:
    """``CO_OCCURS_SENTENCE`` and ``CO_OCCURS_DOCUMENT`` edges between concepts (KG_EDGES columns but run_id).

    Sentence edges count the sentences mentioning both concepts, their evidence is the documents with
    the most such sentences; document edges count the documents mentioning both, their evidence is the
    documents mentioning the two most often. Ties go to the smaller doc id.

    Example (needs a session):
        >>> cooccurrence_edges(entities, links, documents).groupBy("edge_type").count().show()  # doctest: +SKIP
    """
    starts = documents.select("doc_id", sentence_starts("text").alias("_starts"))
    mentions = (
        linked_mentions(entities, links)
        .join(starts, "doc_id")
        .select("doc_id", "concept_id", F.expr("size(filter(_starts, s -> s <= start)) - 1").alias("sentence"))
    )
    by_sentence = (
        _concept_pairs(
            mentions.groupBy("doc_id", "sentence", "concept_id").agg(F.count("*").alias("n")), ["doc_id", "sentence"]
        )
        .groupBy("src", "dst", "doc_id")
        .agg(F.count("*").alias("sentences"))
    )
    by_document = _concept_pairs(mentions.groupBy("doc_id", "concept_id").agg(F.count("*").alias("n")), ["doc_id"])
    sentence_edges = _edges(
        by_sentence, "CO_OCCURS_SENTENCE", F.col("sentences"), [F.col("sentences").desc(), "doc_id"], F.col("doc_id")
    )
    together = (F.col("n_src") + F.col("n_dst")).desc()
    document_edges = _edges(by_document, "CO_OCCURS_DOCUMENT", F.lit(1), [together, "doc_id"], F.col("doc_id"))
    return sentence_edges.unionByName(document_edges)


def _sync(spark: SparkSession, df: DataFrame, lakehouse: str, table: str) -> None:
    """Make ``table`` hold exactly ``df``'s rows with one MERGE on its key.

    New keys are inserted, rows whose content (other than run_id) changed are updated, rows no longer
    built are deleted. Unlike an overwrite, the commit's Change Data Feed then lists only real changes,
    and ``run_id`` names the build that last changed a row; Delta history keeps every version.
    """
    source = conform(df, table)
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in source.columns if c not in (*KEYS[table], "run_id"))
    (
        ensure_table(spark, lakehouse, table)
        .alias("t")
        .merge(source.alias("s"), key_condition(table))
        .whenMatchedUpdateAll(condition=changed)
        .whenNotMatchedInsertAll()
        .whenNotMatchedBySourceDelete()
        .execute()
    )


def build_kg(spark: SparkSession, lakehouse: str, run_id: str) -> dict[str, int]:
    """Rebuild ``kg_nodes`` and ``kg_edges`` from the whole lakehouse and return their row counts.

    A full rebuild: every node and edge is recomputed from ``documents``, ``entities``,
    ``entity_links`` and ``ontology_terms``, then synchronised into the KG tables by one MERGE each
    (see :func:`_sync`), so a rebuild over unchanged inputs changes no row. Building incrementally from
    the inputs' Change Data Feed is left for later. Counts: ``kg_nodes``, ``kg_edges`` and one
    ``kg_nodes.<node_type>`` / ``kg_edges.<edge_type>`` per type present.

    Example (needs a Delta-enabled session and an annotated lakehouse):
        >>> build_kg(spark, "lakehouse", "run-1")["kg_edges.MENTIONS"]  # doctest: +SKIP
    """
    missing = [t for t in INPUT_TABLES if not table_exists(spark, lakehouse, t)]
    if missing:
        raise ValueError(f"lakehouse {lakehouse} has no {missing} table: run `kazu-spark annotate` first")
    documents, entities, links, terms = (read_table(spark, lakehouse, t) for t in INPUT_TABLES)
    mentions = mentions_edges(entities, links)
    nodes = concept_nodes(entities, links, terms).unionByName(document_nodes(documents, mentions))
    edges = mentions.unionByName(cooccurrence_edges(entities, links, documents))
    built = {"kg_nodes": (nodes, "node_type"), "kg_edges": (edges, "edge_type")}
    counts: dict[str, int] = {}
    for table, (df, type_column) in built.items():
        df = df.withColumn("run_id", F.lit(run_id)).localCheckpoint(eager=True)  # computed once, read twice
        per_type = {f"{table}.{r[type_column]}": r["count"] for r in df.groupBy(type_column).count().collect()}
        counts |= {table: sum(per_type.values())} | dict(sorted(per_type.items()))
        _sync(spark, df, lakehouse, table)
    return counts
