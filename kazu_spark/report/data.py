"""Spark glue for the HTML report: the lakehouse aggregated into the small frames `render` draws.

Only aggregates and a few sample documents reach the driver, so the report costs the same for a
thousand or a million documents (one pass per aggregate).

Example (needs a Delta-enabled session and an annotated lakehouse):
    >>> html = render_report(report_data(spark, "lakehouse"))  # doctest: +SKIP
"""

from __future__ import annotations

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F

from kazu_spark.kg.build import linked_mentions
from kazu_spark.lakehouse.delta import read_table, table_exists
from kazu_spark.report.render import ReportData


def report_data(spark: SparkSession, lakehouse: str, top: int = 8, documents: int = 3) -> ReportData:
    """Per-class counts, the ``top`` concepts per class, per-run throughput and ``documents`` sample documents.

    Sample documents are those with the most entities (ties: smallest doc_id); each of their entities comes
    with the concept of its best link (:func:`~kazu_spark.kg.build.linked_mentions`, as the graph counts
    it), if any. Concept labels come from ``ontology_terms`` when the lakehouse has it, else from the
    links' own ``default_label``.
    """
    entities = read_table(spark, lakehouse, "entities")
    links = read_table(spark, lakehouse, "entity_links")
    linked_ids = links.select("entity_id").distinct().withColumn("linked", F.lit(1))
    classes = (
        entities.join(linked_ids, "entity_id", "left")
        .groupBy("entity_class")
        .agg(F.count("*").alias("entities"), F.coalesce(F.sum("linked"), F.lit(0)).alias("linked"))
    )
    mentions = (
        links.join(entities.select("entity_id", "entity_class"), "entity_id")
        .groupBy("entity_class", "concept_id")
        .agg(F.countDistinct("entity_id").alias("mentions"), F.first("default_label", ignorenulls=True).alias("label"))
    )
    if table_exists(spark, lakehouse, "ontology_terms"):
        labels = (
            read_table(spark, lakehouse, "ontology_terms").groupBy("concept_id").agg(F.min("default_label").alias("l"))
        )
    else:
        labels = spark.createDataFrame([], "concept_id string, l string")
    mentions = mentions.join(labels, "concept_id", "left").withColumn("label", F.coalesce("l", "label")).drop("l")
    rank = Window.partitionBy("entity_class").orderBy(F.desc("mentions"), "concept_id")
    top_concepts = (
        mentions.withColumn("rank", F.row_number().over(rank))
        .where(F.col("rank") <= top)
        .orderBy("entity_class", "rank")
    )
    runs = read_table(spark, lakehouse, "runs").select(
        "run_id", "command", "started_at", "status", F.col("counts")["documents"].alias("documents"),
        F.col("counts")["documents_recomputed"].alias("documents_recomputed"), "elapsed_seconds",
    )  # fmt: skip
    busiest = entities.groupBy("doc_id").count().orderBy(F.desc("count"), "doc_id").limit(documents)
    docs = read_table(spark, lakehouse, "documents").join(busiest, "doc_id").orderBy(F.desc("count"), "doc_id")
    shown = entities.join(busiest.select("doc_id"), "doc_id")
    concepts = (
        linked_mentions(shown, links.join(busiest.select("doc_id"), "doc_id", "left_semi"))
        .join(labels, "concept_id", "left")
        .select("entity_id", "concept_id", F.coalesce("l", "default_label", "concept_id").alias("label"))
    )
    return ReportData(
        classes=classes.toPandas(),
        top_concepts=top_concepts.select("entity_class", "concept_id", "label", "mentions").toPandas(),
        runs=runs.toPandas(),
        documents=docs.select("doc_id", "text").toPandas(),
        entities=shown.join(concepts, "entity_id", "left")
        .select("doc_id", "start", "end", "entity_class", "concept_id", "label")
        .toPandas(),
    )
