r"""Ingestion: raw rows (``RAW_DOCUMENTS``) -> ``documents`` and ``quarantine`` DataFrames.

``ingest_row`` is the pure rule for one row; ``to_documents`` runs it on the executors with
``mapInPandas`` and adds the one check that needs several rows, duplicate ids (a window over doc_id).

The stored ``text`` is ``title + "\n\n" + body`` (just the one that is there when the other is missing
or blank), and ``sections`` gives each part's code-point span in it, so every downstream offset points
into one string. The text is otherwise kept exactly as read: control characters other than \n, \t and \r
are *not* removed or replaced, because rewriting the text would shift the offsets of everything after
them; the NER tokenizer treats them as whitespace-like noise.

Rejected rows go to quarantine with a stable reason (``REASONS``): ``read_error`` (the reader could not
decode the row, e.g. invalid UTF-8), ``missing_id``, ``empty_text`` (title and body null or blank),
``text_too_long`` (stored text over ``max_chars``) and ``conflicting_duplicate_id`` (the same doc_id with
different contents in one input: the row with the smallest content_hash is kept, so the choice does not
depend on row order; identical duplicates are collapsed silently).

Example:
    >>> doc = ingest_row({"source_id": " 7 ", "title": "Aspirin", "text": "Eases pain.", "source": "a.jsonl"})
    >>> doc["doc_id"], doc["text"], [(s["name"], s["start"], s["end"]) for s in doc["sections"]]
    ('7', 'Aspirin\n\nEases pain.', [('title', 0, 7), ('body', 9, 20)])
    >>> ingest_row({"source_id": "8", "title": " ", "text": None, "source": "a.jsonl"}).reason
    'empty_text'
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from kazu_spark.lakehouse.delta import conform
from kazu_spark.schemas import DOCUMENTS

READ_ERROR = "read_error"
MISSING_ID = "missing_id"
EMPTY_TEXT = "empty_text"
TEXT_TOO_LONG = "text_too_long"
CONFLICTING_DUPLICATE_ID = "conflicting_duplicate_id"
#: every quarantine reason ingestion emits
REASONS: tuple[str, ...] = (READ_ERROR, MISSING_ID, EMPTY_TEXT, TEXT_TOO_LONG, CONFLICTING_DUPLICATE_ID)

DEFAULT_MAX_CHARS = 1_000_000
SNIPPET_CHARS = 200
SEPARATOR = "\n\n"
_RUN_COLUMNS = ("run_id", "ingested_at")

#: what ``ingest_row`` yields per row on the executors: document columns, or the rejection's
_OUTCOME = StructType(
    [StructField(f.name, f.dataType, True) for f in DOCUMENTS.fields if f.name not in _RUN_COLUMNS]
    + [StructField(name, StringType(), True) for name in ("source_id", "reason", "detail", "raw_snippet")]
)


@dataclass(frozen=True)
class Rejection:
    """Why a raw row is not a document: a ``REASONS`` value, a human-readable detail, the raw row's start."""

    reason: str
    detail: str | None
    raw_snippet: str | None


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def raw_snippet(row: Mapping[str, Any]) -> str | None:
    """The first ``SNIPPET_CHARS`` characters of the raw title and text, else the read error (for triage)."""
    raw = SEPARATOR.join(part for part in (row.get("title"), row.get("text")) if part)
    return raw[:SNIPPET_CHARS] or row.get("read_error")


def ingest_row(row: Mapping[str, Any], *, max_chars: int = DEFAULT_MAX_CHARS) -> dict[str, Any] | Rejection:
    """Turn one ``RAW_DOCUMENTS`` row (a mapping) into a document dict or a ``Rejection``.

    The document dict has the ``DOCUMENTS`` columns except run_id and ingested_at; offsets in
    ``sections`` are code points into ``text``.

    Example:
        >>> ingest_row({"source_id": "1", "title": "Only a title", "text": "", "source": "s"})["sections"]
        [{'name': 'title', 'start': 0, 'end': 12}]
        >>> ingest_row({"source_id": None, "title": "T", "text": "B", "source": "s"}).reason
        'missing_id'
    """

    def reject(reason: str, detail: str | None) -> Rejection:
        return Rejection(reason, detail, raw_snippet(row))

    if row.get("read_error"):
        return reject(READ_ERROR, row["read_error"])
    source_id = row.get("source_id")
    if _blank(source_id):
        return reject(MISSING_ID, "the row has no id (id/pmid field, file name)")
    title = None if _blank(row.get("title")) else row["title"]
    body = None if _blank(row.get("text")) else row["text"]
    if title is None and body is None:
        return reject(EMPTY_TEXT, "title and text are both null, empty or whitespace")
    text = SEPARATOR.join(part for part in (title, body) if part is not None)
    if len(text) > max_chars:
        return reject(TEXT_TOO_LONG, f"{len(text)} characters, more than max_chars={max_chars}")
    sections = []
    if title is not None:
        sections.append({"name": "title", "start": 0, "end": len(title)})
    if body is not None:
        sections.append({"name": "body", "start": len(text) - len(body), "end": len(text)})
    return {
        "doc_id": source_id.strip(),
        "source": row["source"],
        "title": title,
        "text": text,
        "sections": sections,
        "content_hash": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "char_count": len(text),
    }


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
    outcome = raw.mapInPandas(partial(_ingest_batches, max_chars=max_chars), _OUTCOME)
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
