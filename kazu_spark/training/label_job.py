"""The soft-label job on Spark: a teacher labels documents of any reader format into a Delta table.

The teacher is shipped and cached per worker exactly as in the NER stage
(:func:`kazu_spark.ner.spark.ship_tagger`), documents come through the job's own reader and ingest rules
(:func:`kazu_spark.documents.readers.read_raw`, :func:`kazu_spark.documents.spark.to_documents`), and each
batch becomes rows by the pure :func:`kazu_spark.training.soft_labels.soft_label_rows`.

Example (needs a Delta-enabled session):
    >>> write_soft_labels(spark, "abstracts.jsonl", "auto", "/tmp/soft", NerConfig(), max_chars=1_000_000)
    ... # doctest: +SKIP
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from kazu_spark.documents.readers import read_raw
from kazu_spark.documents.spark import to_documents
from kazu_spark.lakehouse.delta import conform, is_delta_table, sql_string
from kazu_spark.ner.spark import document_batches, ship_tagger
from kazu_spark.paths import resolve_path
from kazu_spark.runtime.connect import default_parallelism
from kazu_spark.schemas import NER_INPUT, SOFT_LABELS, ddl

if TYPE_CHECKING:
    from kazu_spark.config import NerConfig

_SCHEMA = ddl(SOFT_LABELS)


def label_documents(spark: SparkSession, documents: DataFrame, cfg: NerConfig) -> DataFrame:
    """``SOFT_LABELS`` rows for a documents DataFrame, the teacher being ``cfg.model``.

    The model is shipped and cached per worker exactly as in the NER stage
    (:func:`kazu_spark.ner.spark.ship_tagger`).
    """
    worker_tagger = ship_tagger(spark, cfg)
    partitions = cfg.partitions or 2 * default_parallelism(spark)

    def label_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from kazu_spark.training.soft_labels import soft_label_rows  # on the worker: the driver stays torch-free

        tagger = worker_tagger()
        for docs in document_batches(batches, cfg.arrow_batch_rows):
            yield soft_label_rows(tagger, docs)

    return (
        documents.select(*NER_INPUT.fieldNames())
        .repartition(partitions, "doc_id")
        .mapInPandas(label_partition, _SCHEMA)
    )


def write_soft_labels(
    spark: SparkSession, input_path: str, fmt: str, out: str, cfg: NerConfig, *, max_chars: int
) -> dict:
    """Read documents (any reader format), label them with the teacher and write the Delta table ``out``.

    Rows of the same teacher already in ``out`` are replaced (``replaceWhere``); other teachers' rows
    stay. Rejected input rows are skipped (``kazu-spark annotate`` quarantines them with reasons).
    Returns the teacher's name and counts read back from the table: documents, windows, tokens.
    """
    from kazu_spark.ner.model import load_token_classifier, versioned_name  # torch: only when the job runs

    teacher = versioned_name(load_token_classifier(resolve_path(cfg.model)))
    documents, _ = to_documents(read_raw(spark, input_path, fmt), str(uuid.uuid4()), max_chars=max_chars)
    writer = conform(label_documents(spark, documents, cfg), "soft_labels").write.format("delta")
    if is_delta_table(spark, out):
        writer = writer.mode("overwrite").option("replaceWhere", f"teacher = {sql_string(teacher)}")
    writer.save(out)
    stats = (
        spark.read.format("delta")
        .load(out)
        .where(F.col("teacher") == teacher)
        .agg(
            F.countDistinct("doc_id").alias("documents"),
            F.count("*").alias("windows"),
            F.sum(F.size("input_ids") - 2).alias("tokens"),
        )
        .first()
    )
    return {"teacher": teacher, "documents": stats.documents, "windows": stats.windows, "tokens": stats.tokens or 0}
