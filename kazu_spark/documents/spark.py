"""Spark glue for ingestion: raw rows (``RAW_DOCUMENTS``) -> ``documents`` and ``quarantine`` DataFrames.

``to_documents`` runs the pure rule :func:`kazu_spark.documents.ingest.ingest_row` on the executors with
``mapInPandas`` and adds the one check that needs several rows, duplicate ids (a window over doc_id): the
same doc_id with different contents keeps the row with the smallest content_hash, so the choice does not
depend on row order, and quarantines the others as ``conflicting_duplicate_id``. ``to_documents_on_driver``
applies the same rules in pandas to a small input the driver parsed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from kazu_spark.documents.ingest import (
    CONFLICTING_DUPLICATE_ID,
    DEFAULT_MAX_CHARS,
    SNIPPET_CHARS,
    Rejection,
    ingest_row,
)
from kazu_spark.lakehouse.delta import conform
from kazu_spark.schemas import DOCUMENTS, QUARANTINE

_RUN_COLUMNS = ("run_id", "ingested_at")

#: what ``ingest_row`` yields per row on the executors: document columns, or the rejection's
_OUTCOME = StructType(
    [StructField(f.name, f.dataType, True) for f in DOCUMENTS.fields if f.name not in _RUN_COLUMNS]
    + [StructField(name, StringType(), True) for name in ("source_id", "reason", "detail", "raw_snippet")]
)


def _outcome(row: Mapping[str, Any], max_chars: int) -> dict[str, Any]:
    """``ingest_row``'s result as one ``_OUTCOME`` record, every field present (unset ones None)."""
    result = ingest_row(row, max_chars=max_chars)
    record = dict.fromkeys(_OUTCOME.fieldNames()) | {"source": row["source"], "source_id": row.get("source_id")}
    if isinstance(result, Rejection):
        return record | {"reason": result.reason, "detail": result.detail, "raw_snippet": result.raw_snippet}
    return record | result


def _ingest_batches(batches: Iterator[pd.DataFrame], max_chars: int) -> Iterator[pd.DataFrame]:
    for batch in batches:
        records = [_outcome(row, max_chars) for row in batch.to_dict("records")]
        yield pd.DataFrame.from_records(records, columns=_OUTCOME.fieldNames())


def to_documents(raw: DataFrame, run_id: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> tuple[DataFrame, DataFrame]:
    """Split raw rows into (documents in the DOCUMENTS schema, quarantine in the QUARANTINE schema).

    Lazy and distributed: nothing is collected. Both results derive from one ``mapInPandas`` pass, so
    persist ``raw`` (or the results) when both are written, to decode the input once.

    Example:
        >>> from kazu_spark.documents.readers import read_raw  # doctest: +SKIP
        >>> docs, quarantine = to_documents(read_raw(spark, "abstracts.jsonl"), "run-1")  # doctest: +SKIP
        >>> docs.count(), quarantine.count()  # doctest: +SKIP
        (20, 0)
    """
    return _split(raw.mapInPandas(partial(_ingest_batches, max_chars=max_chars), _OUTCOME), run_id)


def to_documents_on_driver(
    raw: pd.DataFrame, run_id: str, *, max_chars: int = DEFAULT_MAX_CHARS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`to_documents` of raw rows held by the driver (``RAW_DOCUMENTS`` columns, a small input parsed
    there: :class:`~kazu_spark.documents.readers.DriverParse`), as pandas frames with the DOCUMENTS and
    QUARANTINE columns: the same rules, duplicate ids included, with no Spark job and no Python worker.

    Example:
        >>> raw = pd.DataFrame([{"source_id": "1", "title": None, "text": "BRCA1.", "source": "a.jsonl",
        ...                      "read_error": None}, {"source_id": "1", "title": None, "text": "TP53.",
        ...                      "source": "a.jsonl", "read_error": None}])
        >>> docs, quarantine = to_documents_on_driver(raw, "run-1")
        >>> list(docs["text"]), list(quarantine["reason"])
        (['TP53.'], ['conflicting_duplicate_id'])
    """
    outcome = next(_ingest_batches(iter([raw]), max_chars))
    now = pd.Timestamp.now(tz="UTC")
    accepted = outcome[outcome["reason"].isna()]
    kept_hash = accepted.groupby("doc_id")["content_hash"].transform("min")
    first = accepted.sort_values(["doc_id", "content_hash", "source"], kind="stable").drop_duplicates("doc_id")
    documents = first.assign(char_count=first["char_count"].astype("int32"), run_id=run_id, ingested_at=now)
    conflicts = accepted[accepted["content_hash"] != kept_hash]
    conflicts = pd.DataFrame(
        {
            "source": conflicts["source"],
            "source_id": conflicts["source_id"],
            "reason": CONFLICTING_DUPLICATE_ID,
            "detail": "doc_id has rows with other texts; kept content_hash " + kept_hash[conflicts.index],
            "raw_snippet": conflicts["text"].str[:SNIPPET_CHARS],
        }
    )
    rejected = pd.concat([outcome[outcome["reason"].notna()][list(conflicts.columns)], conflicts], ignore_index=True)
    rejected = rejected.astype(object).where(rejected.notna(), None)
    keys = rejected[["source", "source_id", "reason", "raw_snippet"]].itertuples(index=False, name=None)
    ids = [hashlib.sha1("|".join("" if v is None else v for v in key).encode()).hexdigest() for key in keys]
    quarantine = rejected.assign(quarantine_id=ids, run_id=run_id, quarantined_at=now)
    return (
        documents[DOCUMENTS.fieldNames()].reset_index(drop=True),
        quarantine[QUARANTINE.fieldNames()].reset_index(drop=True),
    )


def _split(outcome: DataFrame, run_id: str) -> tuple[DataFrame, DataFrame]:
    """``_OUTCOME`` rows -> (documents, quarantine): the rejections, and the duplicate-id rule (module doc)."""
    by_id = Window.partitionBy("doc_id")
    accepted = (
        outcome.where(F.col("reason").isNull())
        .withColumn("_kept_hash", F.min("content_hash").over(by_id))
        .withColumn("_rank", F.row_number().over(by_id.orderBy("content_hash", "source")))
    )
    documents = accepted.where(F.col("_rank") == 1).select(
        "*", F.lit(run_id).alias("run_id"), F.current_timestamp().alias("ingested_at")
    )
    conflicts = accepted.where(F.col("content_hash") != F.col("_kept_hash")).select(
        "source",
        "source_id",
        F.lit(CONFLICTING_DUPLICATE_ID).alias("reason"),
        F.concat(F.lit("doc_id has rows with other texts; kept content_hash "), "_kept_hash").alias("detail"),
        F.substring("text", 1, SNIPPET_CHARS).alias("raw_snippet"),
    )
    rejected = outcome.where(F.col("reason").isNotNull()).select(*conflicts.columns).unionByName(conflicts)
    key = [F.coalesce(F.col(c), F.lit("")) for c in ("source", "source_id", "reason", "raw_snippet")]
    quarantine = rejected.select(
        F.sha1(F.concat_ws("|", *key)).alias("quarantine_id"),
        "*",
        F.lit(run_id).alias("run_id"),
        F.current_timestamp().alias("quarantined_at"),
    )
    return conform(documents, "documents"), conform(quarantine, "quarantine")
