"""Build the knowledge graph (``kg_nodes``, ``kg_edges``) from the lakehouse's documents, entities and links.

Nodes are the concepts that entities link to and the documents; edges are

* ``MENTIONS`` document → concept: how often the document mentions the concept, with up to 10 mentions;
* ``CO_OCCURS_SENTENCE`` concept — concept: in how many sentences both are mentioned;
* ``CO_OCCURS_DOCUMENT`` concept — concept: in how many documents both are mentioned.

Co-occurrence is undirected and stored once, with ``src < dst``. Evidence is structured
(``schemas.EVIDENCE``: doc_id, section, start, end, mention, sentence_start, sentence_end): a mention
with its sentence, a shared sentence (documents with the most shared sentences first), or a document
(those mentioning the two concepts most); top 10, ties to the smallest doc id. Every node carries its
Biolink category and every edge its predicate, knowledge level, agent type, the evidence's documents as
``publications`` and the ontology sources and versions of its links (:mod:`kazu_spark.kg.biolink`).

**One link per entity.** An entity contributes through its best link only: highest ``score``, then
smallest ``concept_id`` (then ``source``). Keeping only unambiguous links would drop every mention whose
synonym names several concepts (gene symbols, diseases listed in both MEDIC and MeSH), while keeping
every link would count one mention several times and invent co-occurrences between the candidate
concepts of a single mention. The best-link rule keeps recall and counts each mention once; a
disambiguation step upstream makes it more precise without changing this module.

**Sentences** come from :func:`kazu_spark.documents.sentences.split_sentences`, a deliberately simple splitter,
run over ``documents.text`` in a pandas UDF once per build; an entity belongs to the sentence containing
its start. Document nodes store their sentence spans, which the sentence evidence points into.

Every function here is ``DataFrame -> DataFrame`` over the ``kazu_spark.schemas`` tables, so each can be
tested alone; :func:`build_kg` wires them to the lakehouse.

Example (needs a Delta-enabled session and an annotated lakehouse):
    >>> counts = build_kg(spark, "lakehouse", "run-1")  # doctest: +SKIP
    >>> counts["kg_nodes"], counts["kg_edges"]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StructType

from kazu_spark.documents.sentences import split_sentences
from kazu_spark.kg import biolink
from kazu_spark.lakehouse.delta import (
    conform,
    ensure_table,
    key_condition,
    merge_into,
    read_changes,
    read_table,
    table_exists,
    table_ref,
    table_version,
    with_retry,
)
from kazu_spark.lakehouse.runs import last_versions, record_run
from kazu_spark.linking.spark import with_source_version
from kazu_spark.runtime.connect import SPARK_ERRORS, session_pandas_udf
from kazu_spark.schemas import EVIDENCE, KEYS, SPAN, TABLES

log = logging.getLogger(__name__)

#: most evidence structs kept per edge
MAX_EVIDENCE = 10
#: prefix that turns a doc_id into a node id (keeps document and concept ids apart in one id space)
DOC_PREFIX = biolink.DOCUMENT_PREFIX
#: lakehouse tables the graph is built from
INPUT_TABLES = ("documents", "entities", "entity_links", "ontology_terms")
#: input tables whose Change Data Feed names the documents an incremental build recomputes
CHANGE_TABLES = ("documents", "entities", "entity_links")
#: the graph's tables
OUTPUT_TABLES = ("kg_nodes", "kg_edges")
#: the co-occurrence edge types
CO_OCCURS = ("CO_OCCURS_SENTENCE", "CO_OCCURS_DOCUMENT")
#: runs.command of a build
COMMAND = "kg-build"


@session_pandas_udf(ArrayType(SPAN))
def sentence_spans(text: pd.Series) -> pd.Series:
    """Sentence spans ``{start, end}`` of each text (:func:`split_sentences`), over Arrow batches."""
    return pd.Series([[{"start": s, "end": e} for s, e in split_sentences(t)] for t in text], index=text.index)


def document_sentences(documents: DataFrame) -> DataFrame:
    """``doc_id, sentences``: each document's sentence spans, split once per build and shared by its steps.

    Example (needs a session):
        >>> document_sentences(documents).first().sentences[0]  # doctest: +SKIP
        Row(start=0, end=11)
    """
    return documents.select("doc_id", sentence_spans("text").alias("sentences"))


def with_sentences(mentions: DataFrame, sentences: DataFrame) -> DataFrame:
    """``mentions`` (with doc_id, start) plus ``sentence`` (0-based), ``sentence_start`` and ``sentence_end``: the
    last sentence of :func:`document_sentences` starting at or before the mention (-1 and nulls before the first).

    Sentence starts and mentions are sorted together per document and each mention takes the last start
    before it, so a document costs one sort of its sentences and mentions, not their product.

    Example (needs a session):
        >>> with_sentences(linked_mentions(entities, links), document_sentences(documents))  # doctest: +SKIP
    """
    marks = sentences.select("doc_id", F.posexplode("sentences").alias("_index", "_span")).select(
        "doc_id",
        F.col("_span.start").alias("_position"),
        F.lit(0).alias("_is_mention"),
        F.struct(F.col("_index").alias("sentence"), "_span.start", "_span.end").alias("_sentence"),
    )
    points = mentions.select("*", F.col("start").alias("_position"), F.lit(1).alias("_is_mention"))
    so_far = Window.partitionBy("doc_id").orderBy("_position", "_is_mention").rowsBetween(Window.unboundedPreceding, 0)
    found = F.last("_sentence", ignorenulls=True).over(so_far)
    return (
        points.unionByName(marks.join(mentions.select("doc_id").distinct(), "doc_id"), allowMissingColumns=True)
        .withColumn("_sentence", found)
        .where(F.col("_is_mention") == 1)
        .select(
            *mentions.columns,
            F.coalesce(F.col("_sentence.sentence"), F.lit(-1)).alias("sentence"),
            F.col("_sentence.start").alias("sentence_start"),
            F.col("_sentence.end").alias("sentence_end"),
        )
    )


def linked_mentions(entities: DataFrame, links: DataFrame) -> DataFrame:
    """Entities joined to their best link (highest score, then smallest concept_id, then source).

    Columns: entity_id, doc_id, section, start, end, mention, entity_class, then the link's columns but
    doc_id and run_id (concept_id, source, default_label, score, source_version when the links have it,
    ...); entities without a link are dropped.

    Example (needs a session; ENTITIES and ENTITY_LINKS frames):
        >>> linked_mentions(entities, links).select("mention", "concept_id").show()  # doctest: +SKIP
    """
    rank = Window.partitionBy("entity_id").orderBy(F.col("score").desc(), "concept_id", "source")
    best = (
        links.drop("doc_id", "run_id")
        .withColumn("_rank", F.row_number().over(rank))
        .filter(F.col("_rank") == 1)
        .drop("_rank")
    )
    columns = ("entity_id", "doc_id", "section", "start", "end", "mention", "entity_class")
    return entities.select(*columns).join(best, "entity_id")


def _doc_node_id(doc_id: Column) -> Column:
    return F.concat(F.lit(DOC_PREFIX), doc_id)


def edge_id(edge_type: Column, src: Column, dst: Column) -> Column:
    """An edge's key: sha1 of ``edge_type|src|dst``."""
    return F.sha1(F.concat_ws("|", edge_type, src, dst))


def _ontology() -> Column:
    """A mention's link source and version: one element of kg_edges.ontologies."""
    return F.struct("source", F.col("source_version").alias("version"))


def concept_nodes(entities: DataFrame, links: DataFrame, terms: DataFrame) -> DataFrame:
    """One ``Concept`` node per concept some entity is best-linked to (KG_NODES columns but run_id).

    The label comes from ``ontology_terms`` (falling back to the link's label, then the id); a concept
    reached from several sources or entity classes takes the alphabetically first, so rebuilds agree
    (its ``source_version`` is the first of that source's links); its Biolink ``category`` follows from
    the entity class (:mod:`kazu_spark.kg.biolink`).

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
            F.min(F.struct("source", "source_version", "entity_class", "default_label")).alias("_first"),
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
            biolink.category(F.col("_first.entity_class")).alias("category"),
            F.col("_first.source_version").alias("source_version"),
            F.lit(None).cast(ArrayType(SPAN)).alias("sentences"),
        )
    )


def document_nodes(documents: DataFrame, mentions: DataFrame, sentences: DataFrame) -> DataFrame:
    """One ``Document`` node per document (KG_NODES columns but run_id), labelled with its title.

    ``mentions`` is :func:`mentions_edges`' output: a document's ``mention_count`` is the sum of its
    MENTIONS edges' counts (0 when nothing in it was linked), the same measure concept nodes carry.
    ``sentences`` (:func:`document_sentences`) are stored on the node: the spans the sentence evidence
    points into.

    Example (needs a session):
        >>> spans = document_sentences(documents)  # doctest: +SKIP
        >>> document_nodes(documents, mentions_edges(entities, links, spans), spans).show()  # doctest: +SKIP
    """
    per_doc = mentions.groupBy(F.col("src").alias("node_id")).agg(F.sum("count").alias("mention_count"))
    title = F.nullif(F.trim("title"), F.lit(""))
    return (
        documents.join(sentences, "doc_id", "left")
        .select(
            _doc_node_id(F.col("doc_id")).alias("node_id"),
            F.lit("Document").alias("node_type"),
            F.coalesce(title, "doc_id").alias("label"),
            F.lit(None).cast("string").alias("entity_class"),
            "source",
            "sentences",
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
            F.lit(biolink.DOCUMENT_CATEGORY).alias("category"),
            F.lit(None).cast("string").alias("source_version"),
            "sentences",
        )
    )


def _evidence(**fields: Column) -> Column:
    """One kg_edges.evidence struct: the ``EVIDENCE`` fields given, the others null."""
    return F.struct(*(fields.get(f.name, F.lit(None)).cast(f.dataType).alias(f.name) for f in EVIDENCE.fields))


def _edges(
    rows: DataFrame, edge_type: str, weight: Column, order: list[Column | str], evidence: Column, ontologies: Column
) -> DataFrame:
    """Aggregate ``rows`` (with src, dst) into edges: count = sum of ``weight``, evidence = first 10 by ``order``,
    ontologies = every row's ``ontologies`` (array of source/version structs), and the Biolink columns.

    Ranking in a window and keeping ranks <= 10 bounds each edge's collected list, however many
    documents a popular pair appears in.
    """
    ranked = rows.select(
        "src",
        "dst",
        weight.alias("_weight"),
        evidence.alias("_evidence"),
        ontologies.alias("_ontologies"),
        F.row_number().over(Window.partitionBy("src", "dst").orderBy(*order)).alias("_rank"),
    )
    top = F.when(F.col("_rank") <= MAX_EVIDENCE, F.struct("_rank", "_evidence"))
    evidence_of = F.transform("_top", lambda t: t["_evidence"])
    return (
        ranked.groupBy("src", "dst")
        .agg(
            F.sum("_weight").cast("long").alias("count"),
            F.sort_array(F.collect_list(top)).alias("_top"),
            F.array_sort(F.array_distinct(F.flatten(F.collect_set("_ontologies")))).alias("ontologies"),
        )
        .select(
            edge_id(F.lit(edge_type), F.col("src"), F.col("dst")).alias("edge_id"),
            F.lit(edge_type).alias("edge_type"),
            "src",
            "dst",
            "count",
            evidence_of.alias("evidence"),
            F.lit(biolink.PREDICATES[edge_type]).alias("predicate"),
            F.lit(biolink.KNOWLEDGE_LEVELS[edge_type]).alias("knowledge_level"),
            F.lit(biolink.AGENT_TYPE).alias("agent_type"),
            F.array_distinct(F.transform(evidence_of, lambda e: biolink.publication(e["doc_id"]))).alias(
                "publications"
            ),
            "ontologies",
        )
    )


def mentions_edges(entities: DataFrame, links: DataFrame, sentences: DataFrame) -> DataFrame:
    """``MENTIONS`` edges doc:<doc_id> → concept_id (KG_EDGES columns but run_id).

    ``count`` is the number of the document's mentions best-linked to the concept; ``evidence`` their
    first 10 by offset: doc_id, section, start, end, mention and the span of the sentence holding it.

    Example (needs a session):
        >>> mentions_edges(entities, links, document_sentences(documents)).show()  # doctest: +SKIP
    """
    rows = with_sentences(linked_mentions(entities, links), sentences).select(
        _doc_node_id(F.col("doc_id")).alias("src"), F.col("concept_id").alias("dst"), "*"
    )
    span = _evidence(
        **{c: F.col(c) for c in ("doc_id", "section", "start", "end", "mention", "sentence_start", "sentence_end")}
    )
    return _edges(rows, "MENTIONS", F.lit(1), ["start", "end"], span, F.array(_ontology()))


def _concept_pairs(per_concept: DataFrame, keys: list[str]) -> DataFrame:
    """Self-join rows (keys..., concept_id, x...) on ``keys`` into (keys..., src, dst, x_src..., x_dst...), src < dst.

    Quadratic in the concepts of one key value, which stays small for sentences and abstracts.
    """

    def side(name: str) -> DataFrame:
        others = [F.col(c).alias(f"{c}_{name}") for c in per_concept.columns if c not in (*keys, "concept_id")]
        return per_concept.select(*keys, F.col("concept_id").alias(name), *others)

    return side("src").join(side("dst"), keys).filter(F.col("src") < F.col("dst"))


def cooccurrence_edges(entities: DataFrame, links: DataFrame, sentences: DataFrame) -> DataFrame:
    """``CO_OCCURS_SENTENCE`` and ``CO_OCCURS_DOCUMENT`` edges between concepts (KG_EDGES columns but run_id).

    Sentence edges count the sentences mentioning both concepts, their evidence is up to 10 of those
    sentences (doc_id, section, sentence span), from the documents with the most such sentences first;
    document edges count the documents mentioning both, their evidence is the documents mentioning the
    two most often. Ties go to the smaller doc id, then the earlier sentence.

    Example (needs a session):
        >>> cooccurrence_edges(entities, links, document_sentences(documents)).show()  # doctest: +SKIP
    """
    mentions = with_sentences(linked_mentions(entities, links), sentences)
    in_sentence = (
        mentions.groupBy("doc_id", "sentence", "concept_id")
        .agg(
            F.collect_set(_ontology()).alias("ontologies"),
            F.min(F.struct("section", "sentence_start", "sentence_end")).alias("at"),
        )
        .transform(lambda per_concept: _concept_pairs(per_concept, ["doc_id", "sentence"]))
        .withColumn("_shared", F.count("*").over(Window.partitionBy("src", "dst", "doc_id")))
    )
    sentence_edges = _edges(
        in_sentence,
        "CO_OCCURS_SENTENCE",
        F.lit(1),
        [F.col("_shared").desc(), "doc_id", "sentence"],
        _evidence(
            doc_id=F.col("doc_id"),
            section=F.col("at_src.section"),
            sentence_start=F.col("at_src.sentence_start"),
            sentence_end=F.col("at_src.sentence_end"),
        ),
        F.array_union("ontologies_src", "ontologies_dst"),
    )
    in_document = _concept_pairs(
        mentions.groupBy("doc_id", "concept_id").agg(
            F.count("*").alias("n"), F.collect_set(_ontology()).alias("ontologies")
        ),
        ["doc_id"],
    )
    together = (F.col("n_src") + F.col("n_dst")).desc()
    document_edges = _edges(
        in_document,
        "CO_OCCURS_DOCUMENT",
        F.lit(1),
        [together, "doc_id"],
        _evidence(doc_id=F.col("doc_id")),
        F.array_union("ontologies_src", "ontologies_dst"),
    )
    return sentence_edges.unionByName(document_edges)


def outdated(spark: SparkSession, lakehouse: str, table: str) -> bool:
    """Whether the stored ``table`` has other columns or column types than its schema in ``kazu_spark.schemas``:
    it was written by an older kazu-spark (kg_edges.evidence held strings before it held structs).

    Example (needs a Delta-enabled session and a built graph):
        >>> outdated(spark, "lakehouse", "kg_edges")  # doctest: +SKIP
        False
    """

    def shape(schema: StructType) -> dict[str, str]:
        return {f.name: f.dataType.simpleString() for f in schema.fields}

    return shape(read_table(spark, lakehouse, table).schema) != shape(TABLES[table])


def _replace(rows: DataFrame, lakehouse: str, table: str) -> None:
    """Overwrite ``table`` with ``rows`` and their schema (column comments kept): an outdated graph table, whose
    columns a MERGE cannot change. Its Change Data Feed shows every row deleted and inserted once."""
    log.info("%s was written by an older kazu-spark: replaced by a full rebuild", table)
    commented = rows.select(*(F.col(f.name).alias(f.name, metadata=f.metadata) for f in TABLES[table].fields))
    writer = commented.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    with_retry(lambda: table_ref(lakehouse, table).save(writer), f"replace {table}")


def _sync(spark: SparkSession, df: DataFrame, lakehouse: str, table: str, scope: DataFrame | None = None) -> None:
    """Make ``table`` hold exactly ``df``'s rows, within ``scope``, with one MERGE on its key.

    New keys are inserted, rows whose content (other than run_id) changed are updated, rows no longer
    built are deleted. ``scope`` None means the whole table (a full rebuild); otherwise it holds the
    key columns of the rows an incremental build recomputed: stored rows with those keys that ``df``
    lacks are deleted, all others are left alone (``df`` must lie within the scope). Unlike an
    overwrite, the commit's Change Data Feed then lists only real changes, and ``run_id`` names the
    build that last changed a row; Delta history keeps every version. An :func:`outdated` table is
    overwritten instead (a full rebuild, see :func:`_changed_documents`).
    """
    source = conform(df, table)
    if scope is None and table_exists(spark, lakehouse, table) and outdated(spark, lakehouse, table):
        _replace(source, lakehouse, table)
        return
    columns, keys = source.columns, list(KEYS[table])
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in columns if c not in (*keys, "run_id"))
    if scope is not None:  # scope keys left-joined to the rebuilt rows: no rebuilt row means delete
        source = scope.select(keys).distinct().join(source.withColumn("_built", F.lit(True)), keys, "left")

    if scope is None:
        clauses = f"WHEN MATCHED AND ({changed}) THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT * " + (
            "WHEN NOT MATCHED BY SOURCE THEN DELETE"
        )
    else:
        names = ", ".join(f"`{c}`" for c in columns)
        values = ", ".join(f"s.`{c}`" for c in columns)
        updates = ", ".join(f"`{c}` = s.`{c}`" for c in columns)
        clauses = (
            f"WHEN MATCHED AND s._built IS NULL THEN DELETE WHEN MATCHED AND ({changed}) THEN UPDATE SET {updates} "
            f"WHEN NOT MATCHED AND s._built THEN INSERT ({names}) VALUES ({values})"
        )

    def merge() -> None:
        merge_into(spark, ensure_table(spark, lakehouse, table), source, key_condition(table), clauses)

    with_retry(merge, f"sync {table}")


def _changed_documents(spark: SparkSession, lakehouse: str, versions: dict[str, int]) -> DataFrame | None:
    """doc_ids whose documents, entities or links changed since the last kg build; None: rebuild in full.

    Reads the Change Data Feed of ``CHANGE_TABLES`` from just after the versions the last succeeded
    build recorded in ``runs`` up to ``versions``. A full rebuild is needed when there is no such build,
    the KG tables are missing, ``ontology_terms`` changed (labels of any concept may have), a table is
    older than recorded (it was recreated), a KG table is :func:`outdated`, or the change feed of those
    versions cannot be read (e.g. VACUUM removed its files).
    """
    previous = last_versions(spark, lakehouse, COMMAND)
    reason = None
    if previous is None or not all(table_exists(spark, lakehouse, t) for t in OUTPUT_TABLES):
        reason = "no previous kg build"
    elif any(outdated(spark, lakehouse, t) for t in OUTPUT_TABLES):
        reason = "the kg tables were written by an older kazu-spark"
    elif any(t not in previous or previous[t] > versions[t] for t in INPUT_TABLES):
        reason = "an input table was replaced since the last kg build"
    elif previous["ontology_terms"] != versions["ontology_terms"]:
        reason = "ontology_terms changed since the last kg build"
    if reason:
        log.info("%s: full rebuild", reason)
        return None
    ids = spark.createDataFrame([], "doc_id string")
    for table in CHANGE_TABLES:
        if versions[table] > previous[table]:
            changes = read_changes(spark, lakehouse, table, previous[table] + 1, versions[table])
            ids = ids.unionByName(changes.select("doc_id"))
    try:
        return ids.distinct().localCheckpoint(eager=True)
    except SPARK_ERRORS as exc:
        log.warning("change feed since the last kg build is unreadable (%s): full rebuild", str(exc)[:300])
        return None


def _incremental(
    spark: SparkSession, lakehouse: str, inputs: dict[str, DataFrame], changed: DataFrame
) -> dict[str, tuple[DataFrame, DataFrame]]:
    """Nodes and edges that the ``changed`` documents touch, recomputed, with the keys they replace.

    Returns table -> (rebuilt rows, scope keys). Recomputed: the documents' nodes and MENTIONS edges;
    concept nodes of every concept the documents mention now or mentioned before (from the stored
    MENTIONS edges); co-occurrence edges of every pair of such concepts found in one of the documents.
    Concept and pair statistics span all documents, but only over the entities linked to those
    concepts, so the result equals a full rebuild's rows for those keys.
    """
    documents, entities, links, terms = (inputs[t] for t in INPUT_TABLES)
    doc_nodes = changed.select(_doc_node_id(F.col("doc_id")).alias("src"))
    old = read_table(spark, lakehouse, "kg_edges").filter(F.col("edge_type") == "MENTIONS")
    old = old.join(doc_nodes, "src", "left_semi").select("edge_id", "src", "dst").localCheckpoint(eager=True)
    changed_spans = document_sentences(documents.join(changed, "doc_id", "left_semi")).localCheckpoint(eager=True)
    mentions = mentions_edges(
        entities.join(changed, "doc_id", "left_semi"), links.join(changed, "doc_id", "left_semi"), changed_spans
    )
    touched = old.select("src", "dst").unionByName(mentions.select("src", "dst")).distinct()
    concepts = touched.select(F.col("dst").alias("concept_id")).distinct()
    pairs = (
        touched.alias("a")
        .join(touched.alias("b"), "src")
        .filter(F.col("a.dst") < F.col("b.dst"))
        .select(F.col("a.dst").alias("src"), F.col("b.dst").alias("dst"))
        .distinct()
    )
    scoped = links.join(concepts, "concept_id", "left_semi").select("entity_id").distinct()
    s_entities, s_links = entities.join(scoped, "entity_id", "left_semi"), links.join(scoped, "entity_id", "left_semi")
    s_documents = documents.join(s_entities.select("doc_id"), "doc_id", "left_semi")
    nodes = (
        concept_nodes(s_entities, s_links, terms)
        .join(concepts.withColumnRenamed("concept_id", "node_id"), "node_id", "left_semi")
        .unionByName(document_nodes(documents.join(changed, "doc_id", "left_semi"), mentions, changed_spans))
    )
    node_scope = concepts.select(F.col("concept_id").alias("node_id")).unionByName(doc_nodes.toDF("node_id"))
    cooccurs = cooccurrence_edges(s_entities, s_links, document_sentences(s_documents))
    cooccurs = cooccurs.join(pairs, ["src", "dst"], "left_semi")
    edge_scope = old.select("edge_id").unionByName(mentions.select("edge_id"))
    for edge_type in CO_OCCURS:
        ids = edge_id(F.lit(edge_type), F.col("src"), F.col("dst")).alias("edge_id")
        edge_scope = edge_scope.unionByName(pairs.select(ids))
    return {"kg_nodes": (nodes, node_scope), "kg_edges": (mentions.unionByName(cooccurs), edge_scope)}


def _full(inputs: dict[str, DataFrame]) -> dict[str, tuple[DataFrame, None]]:
    """Every node and edge, from all of the inputs (scope None: the whole table)."""
    documents, entities, links, terms = (inputs[t] for t in INPUT_TABLES)
    spans = document_sentences(documents).localCheckpoint(eager=True)  # split once, read three times
    mentions = mentions_edges(entities, links, spans)
    nodes = concept_nodes(entities, links, terms).unionByName(document_nodes(documents, mentions, spans))
    edges = mentions.unionByName(cooccurrence_edges(entities, links, spans))
    return {"kg_nodes": (nodes, None), "kg_edges": (edges, None)}


def _table_counts(spark: SparkSession, lakehouse: str) -> dict[str, int]:
    """Rows of kg_nodes and kg_edges, in total and per node_type / edge_type."""
    counts: dict[str, int] = {}
    for table, type_column in (("kg_nodes", "node_type"), ("kg_edges", "edge_type")):
        rows = read_table(spark, lakehouse, table).groupBy(type_column).count().collect()
        per_type = {f"{table}.{r[type_column]}": r["count"] for r in rows}
        counts |= {table: sum(per_type.values())} | dict(sorted(per_type.items()))
    return counts


def build_kg(
    spark: SparkSession, lakehouse: str, run_id: str, *, config_hash: str, full: bool = False
) -> dict[str, int]:
    """Bring ``kg_nodes`` and ``kg_edges`` up to date with the lakehouse, record a ``runs`` row, return counts.

    Incremental by default: only the documents whose rows changed since the last build (read from the
    inputs' Change Data Feed, see :func:`_changed_documents`) are recomputed, with the concepts and
    concept pairs they touch (:func:`_incremental`); otherwise, or with ``full``, every node and edge is
    rebuilt from ``documents``, ``entities``, ``entity_links`` and ``ontology_terms``. Either way the
    result equals a full rebuild, written by one MERGE per table (:func:`_sync`), so a build over
    unchanged inputs changes no row. Inputs are read at pinned versions, recorded in ``runs.versions``
    for the next build. Counts: ``kg_nodes``, ``kg_edges``, one ``kg_nodes.<node_type>`` /
    ``kg_edges.<edge_type>`` per type present, ``documents_recomputed`` and ``full_rebuild`` (0 or 1).

    Example (needs a Delta-enabled session and an annotated lakehouse):
        >>> build_kg(spark, "lakehouse", "run-1", config_hash="c0ffee")["kg_edges.MENTIONS"]  # doctest: +SKIP
    """
    missing = [t for t in INPUT_TABLES if not table_exists(spark, lakehouse, t)]
    if missing:
        raise ValueError(f"lakehouse {lakehouse} has no {missing} table: run `kazu-spark annotate` first")
    t0, started = time.perf_counter(), datetime.now(UTC)
    versions = {t: table_version(spark, lakehouse, t) for t in INPUT_TABLES}
    run = {"run_id": run_id, "command": COMMAND, "started_at": started, "input": lakehouse, "config_hash": config_hash}
    try:
        inputs = {t: read_table(spark, lakehouse, t, versions[t]) for t in INPUT_TABLES}
        inputs["entity_links"] = with_source_version(inputs["entity_links"], inputs["ontology_terms"])
        changed = None if full else _changed_documents(spark, lakehouse, versions)
        recomputed = inputs["documents"].count() if changed is None else changed.count()
        if changed is None:
            built = _full(inputs)
        else:  # nothing changed: nothing to build
            built = _incremental(spark, lakehouse, inputs, changed) if recomputed else {}
        for table, (df, scope) in built.items():
            df = df.withColumn("run_id", F.lit(run_id)).localCheckpoint(eager=True)  # computed once
            _sync(spark, df, lakehouse, table, None if scope is None else scope.localCheckpoint(eager=True))
        counts = _table_counts(spark, lakehouse) | {
            "documents_recomputed": recomputed,
            "full_rebuild": int(changed is None),
        }
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        record_run(spark, lakehouse, run | _finished(t0, "failed", {}) | {"error": error})
        raise
    record_run(spark, lakehouse, run | _finished(t0, "succeeded", counts) | {"versions": versions})
    return counts


def _finished(t0: float, status: str, counts: dict[str, int]) -> dict[str, object]:
    return {
        "finished_at": datetime.now(UTC),
        "status": status,
        "counts": counts,
        "elapsed_seconds": time.perf_counter() - t0,
    }
