"""The annotate job: documents in, Delta tables out.

``annotate`` is read → documents → :func:`~kazu_spark.pipeline.frames.annotate_frames` (NER steps, then
linking; writes nothing) → :func:`commit`, the one function that owns the write order. It writes
``documents``, ``entities``, ``entity_links``, ``quarantine`` and ``runs`` on deterministic keys, so a rerun
over the same input adds no rows: documents and quarantine by MERGE on their keys; entities and links are
replaced per document (a re-annotated document's stored rows are deleted by ``doc_id``, then its new rows
appended), which is the same upsert keyed on the document without a row-level MERGE's cost. With
``incremental`` on, documents whose content hash is already stored are skipped altogether.

An input that deletes documents (PubMed update files' ``DeleteCitation``, ``RawInput.deletions``) has
them removed first, with their entities and links (links, entities, then the documents: a killed run
leaves no document without its entities, and the rerun deletes again); then its own articles are
annotated. Within one run its articles therefore win over its deletions whatever their files' order
(and one PMID in two files of a run is a ``conflicting_duplicate_id``), so annotate the PubMed
baseline, then each update file in NLM's order, one run per file.

Nothing is dropped uncounted: every row read is a document, a quarantine row or an identical duplicate
(``skipped_duplicates``), and every entry of a text-file input not read is in ``skipped_files`` with its
reason; a run that annotated nothing new, or skipped entries, says so in ``RunSummary.warnings``.

A document row is the commit marker of its annotation: ``documents`` is written last, after its
entities and links, so a run killed half-way (driver lost, job cancelled) leaves no document marked
done without its entities; the rerun annotates it again and first deletes whatever entities and links
the killed run had appended for it (stored entities of any document being annotated are stale).

Example (needs a session; the defaults annotate the bundled sample into ./lakehouse):
    >>> summary = annotate(spark, load_config())  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from kazu_spark.config import Config
from kazu_spark.documents.readers import RawInput, read_input
from kazu_spark.documents.spark import to_documents, to_documents_on_driver
from kazu_spark.errors import ConfigError
from kazu_spark.lakehouse.delta import (
    append_table,
    delete_documents,
    ensure_table,
    is_catalog_lakehouse,
    merge_table,
    prefetch_tables,
    read_table,
    table_commit,
    table_exists,
)
from kazu_spark.lakehouse.runs import record_run
from kazu_spark.ontologies.embeddings import ensure_concept_embeddings
from kazu_spark.ontologies.terms import write_ontology_terms
from kazu_spark.paths import is_within, resolve_path
from kazu_spark.pipeline.faults import hooks_from_env
from kazu_spark.pipeline.frames import Annotations, annotate_frames, check_ready, needs_terms
from kazu_spark.pipeline.hooks import Hooks
from kazu_spark.runtime.progress import ProgressMode, track_documents
from kazu_spark.runtime.steps import PartitionWrapper
from kazu_spark.runtime.worker_daemon import warm_workers
from kazu_spark.schemas import DOCUMENTS, KEYS, QUARANTINE

log = logging.getLogger(__name__)

#: tables every annotate run writes (ontology_terms is built on first use)
OUTPUT_TABLES = ("documents", "entities", "entity_links", "quarantine", "runs")


@dataclass
class RunSummary:
    """What one annotate run did, as printed at its end and stored in ``runs``."""

    run_id: str
    rows_read: int = 0
    documents: int = 0
    skipped_unchanged: int = 0
    skipped_duplicates: int = 0
    quarantined: int = 0
    deleted_documents: int = 0  # stored documents the input deleted (PubMed DeleteCitation)
    skipped_entries: dict[str, list[str]] = field(default_factory=dict)  # reason -> input entries not read
    entities: int = 0
    entities_per_class: dict[str, int] = field(default_factory=dict)
    linked_entities: int = 0
    links: int = 0
    elapsed_seconds: float = 0.0
    model: str | None = None

    @property
    def fraction_linked(self) -> float:
        """Share of this run's entities with at least one ontology link."""
        return self.linked_entities / self.entities if self.entities else 0.0

    @property
    def documents_per_second(self) -> float:
        """Documents annotated per wall-clock second."""
        return self.documents / self.elapsed_seconds if self.elapsed_seconds else 0.0

    @property
    def skipped_files(self) -> int:
        """Entries of the input that were not read (a text folder's hidden or non-.txt entries)."""
        return sum(map(len, self.skipped_entries.values()))

    @property
    def warnings(self) -> list[str]:
        """What the run flags though it succeeded: skipped input entries, and nothing annotated at all.

        Example:
            >>> for warning in RunSummary("r", rows_read=2, quarantined=2, skipped_entries={"hidden": [".a"]}).warnings:
            ...     print(warning)
            1 input entries not read: hidden ['.a']
            nothing was annotated: 2 rows read, 2 quarantined, 0 duplicates
        """
        found = []
        if self.skipped_files:
            examples = ", ".join(f"{reason} {names[:3]}" for reason, names in self.skipped_entries.items())
            found.append(f"{self.skipped_files} input entries not read: {examples}")
        if not self.documents and not self.skipped_unchanged and not self.deleted_documents:
            found.append(
                f"nothing was annotated: {self.rows_read} rows read, {self.quarantined} quarantined, "
                f"{self.skipped_duplicates} duplicates"
            )
        return found

    def counts(self) -> dict[str, int]:
        """Counts for ``runs.counts`` (skipped duplicates and files have ``runs`` columns of their own)."""
        return (
            {
                "rows_read": self.rows_read,
                "documents": self.documents,
                "skipped_unchanged": self.skipped_unchanged,
                "quarantined": self.quarantined,
                "deleted_documents": self.deleted_documents,
                "entities": self.entities,
                "linked_entities": self.linked_entities,
                "links": self.links,
            }
            | {f"entities.{k}": v for k, v in self.entities_per_class.items()}
            | {f"skipped_files.{k}": len(v) for k, v in self.skipped_entries.items()}
        )


class _RunHooks(Hooks):
    """The run's hooks: ``inner``'s (fault injection when configured), plus the progress bar around NER."""

    def __init__(self, inner: Hooks, spark: SparkSession, documents: int, mode: ProgressMode) -> None:
        self.inner, self.spark, self.documents, self.mode = inner, spark, documents, mode

    def ner_partition(self) -> PartitionWrapper | None:
        return self.inner.ner_partition()

    def committed(self, stage: str) -> None:
        self.inner.committed(stage)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        progress = track_documents(self.spark, self.documents, self.mode) if name == "ner" else nullcontext()
        with self.inner.stage(name), progress:
            yield


def _to_annotate(spark: SparkSession, docs: DataFrame, lakehouse: str, incremental: bool) -> DataFrame:
    """The documents to annotate: all of them, or with ``incremental`` those not stored with this content hash."""
    stored = read_table(spark, lakehouse, "documents").select("doc_id", "content_hash")
    todo = docs.join(stored, ["doc_id", "content_hash"], "left_anti") if incremental else docs
    # Materialise and cut the lineage: a cached plan that reads `documents` would be recomputed once
    # this run writes `documents` (Delta re-caches by path), and then find nothing new to annotate.
    return todo.localCheckpoint(eager=True)


def _ingest(
    spark: SparkSession, source: RawInput, cfg: Config, summary: RunSummary
) -> tuple[DataFrame, list[DataFrame]]:
    """The documents to annotate, and the frames persisted for them (unpersist them after the run); the
    ingest counts go into ``summary``. An input of at most ``input.driver_parse_bytes`` that the driver can
    parse is parsed, checked and compared with the stored documents there (:func:`_ingest_on_driver`); any
    other on the executors."""
    if source.driver is not None and source.driver.size <= cfg.input.driver_parse_bytes:
        return _ingest_on_driver(spark, source.driver.rows(), cfg, summary), []
    raw = source.rows.persist(StorageLevel.MEMORY_AND_DISK)
    rows_read = raw.count()
    docs, quarantine = to_documents(raw, summary.run_id, max_chars=cfg.input.max_chars)
    docs = docs.persist(StorageLevel.MEMORY_AND_DISK)
    todo = _to_annotate(spark, docs, cfg.lakehouse, cfg.incremental)
    quarantined = merge_counted(spark, quarantine, cfg.lakehouse, "quarantine")
    _count(summary, rows_read=rows_read, distinct=docs.count(), todo=todo.count(), quarantined=quarantined)
    return todo, [docs, raw]


def _ingest_on_driver(spark: SparkSession, raw: pd.DataFrame, cfg: Config, summary: RunSummary) -> DataFrame:
    """:func:`_ingest` of raw rows the driver parsed: the ingest rules in pandas
    (:func:`~kazu_spark.documents.spark.to_documents_on_driver`), and one read of the stored content hashes
    of these doc_ids; the documents to annotate go back to Spark as a local relation. Spark jobs: that read,
    and a MERGE when rows were quarantined (a small increment's ingest: 25 jobs -> those)."""
    docs, quarantine = to_documents_on_driver(raw, summary.run_id, max_chars=cfg.input.max_chars)
    quarantine = quarantine.drop_duplicates(list(KEYS["quarantine"]))
    if len(quarantine):
        merge_table(spark, spark.createDataFrame(quarantine, QUARANTINE), cfg.lakehouse, "quarantine")
    todo = docs
    if cfg.incremental and len(docs):
        ids = docs["doc_id"].tolist()
        stored = read_table(spark, cfg.lakehouse, "documents").where(F.col("doc_id").isin(ids))
        stored = stored.select("doc_id", "content_hash").toPandas()
        keys = ["doc_id", "content_hash"]
        todo = docs[~pd.MultiIndex.from_frame(docs[keys]).isin(pd.MultiIndex.from_frame(stored[keys]))]
    _count(summary, rows_read=len(raw), distinct=len(docs), todo=len(todo), quarantined=len(quarantine))
    return spark.createDataFrame(todo, DOCUMENTS)


def _count(summary: RunSummary, *, rows_read: int, distinct: int, todo: int, quarantined: int) -> None:
    """Ingest's counts: every row read is a document, a quarantine row, or collapsed into an identical one."""
    summary.rows_read, summary.documents, summary.quarantined = rows_read, todo, quarantined
    summary.skipped_unchanged = distinct - todo
    summary.skipped_duplicates = rows_read - distinct - quarantined


def _delete_stale_rows(spark: SparkSession, lakehouse: str, todo: DataFrame) -> None:
    """Delete the stored entities and links of documents about to be annotated: an older version's, or
    those a killed run appended before it could write the documents (links first: they hang off entities)."""
    stored = read_table(spark, lakehouse, "entities").select("doc_id")
    stale = todo.select("doc_id").join(stored, "doc_id", "left_semi").distinct()
    if stale.isEmpty():
        return
    for table in ("entity_links", "entities"):
        delete_documents(spark, lakehouse, table, stale)


def delete_cited(spark: SparkSession, lakehouse: str, deletions: DataFrame) -> int:
    """Delete the documents ``deletions`` names (``RAW_DELETIONS``: their doc_ids), with their entities and
    links; returns how many stored documents went. Links first, documents last, as :func:`commit` writes.

    Example:
        >>> delete_cited(spark, "lakehouse", read_input(spark, "pubmed25n1400.xml.gz").deletions)  # doctest: +SKIP
        12
    """
    ids = deletions.select(F.col("source_id").alias("doc_id")).distinct().localCheckpoint(eager=True)
    if ids.isEmpty():
        return 0
    stored = read_table(spark, lakehouse, "documents").join(ids, "doc_id", "left_semi").count()
    for table in ("entity_links", "entities", "documents"):
        delete_documents(spark, lakehouse, table, ids)
    return stored


def commit(
    spark: SparkSession, lakehouse: str, todo: DataFrame, annotations: Annotations, summary: RunSummary, hooks: Hooks
) -> None:
    """Write one run's results in the order that keeps reruns safe: the documents' stale entities and links
    deleted, then entities, links, and last the documents (their commit marker). Counts go into ``summary``."""
    entities, links = annotations
    per_class = entities.groupBy("entity_class").count().collect()
    summary.entities_per_class = {r["entity_class"]: r["count"] for r in sorted(per_class)}
    summary.entities = sum(summary.entities_per_class.values())
    model = entities.where(~F.col("model").startswith("dictionary:")).select("model").first()
    summary.model = model["model"] if model else None
    with hooks.stage("write entities"):
        _delete_stale_rows(spark, lakehouse, todo)
        append_table(spark, entities, lakehouse, "entities")  # none stored for these documents any more
    hooks.committed("entities")
    with hooks.stage("write links"):
        links = links.persist(StorageLevel.MEMORY_AND_DISK)
        counted = links.agg(F.count(F.lit(1)).alias("links"), F.countDistinct("entity_id").alias("linked")).first()
        summary.links, summary.linked_entities = counted["links"], counted["linked"]  # one job, not two
        if summary.links:
            append_table(spark, links, lakehouse, "entity_links")
        links.unpersist()
    hooks.committed("links")
    with hooks.stage("write documents"):
        merge_table(spark, todo, lakehouse, "documents")  # last: marks these documents done
    hooks.committed("documents")


class LakehouseTerms(NamedTuple):
    """The lakehouse's ontology_terms, read at its latest commit (``frame``), and that commit's key (None for a
    catalog table or a log the driver cannot read: :func:`~kazu_spark.lakehouse.delta.table_commit`)."""

    frame: DataFrame
    key: str | None


def ensure_ontology_terms(spark: SparkSession, cfg: Config) -> LakehouseTerms:
    """The lakehouse's ontology_terms table, built from the configured sources on first use (or when a
    killed build left it created but empty: only its creation committed, or no rows).

    Example (needs a session):
        >>> terms, key = ensure_ontology_terms(spark, load_config())  # doctest: +SKIP
    """
    lakehouse = cfg.lakehouse
    commit = table_commit(spark, lakehouse, "ontology_terms")
    # a build commits its terms after the table's creation (version 0): a later version has them
    built = (commit is not None and commit.version > 0) or (
        table_exists(spark, lakehouse, "ontology_terms")
        and not read_table(spark, lakehouse, "ontology_terms").isEmpty()
    )
    if not built:
        if not cfg.linking.ontologies:
            raise ConfigError("linking.ontologies is empty and the lakehouse has no ontology_terms table")
        write_ontology_terms(spark, cfg.linking.ontologies, lakehouse)
        commit = table_commit(spark, lakehouse, "ontology_terms")
    if commit is None:
        return LakehouseTerms(read_table(spark, lakehouse, "ontology_terms"), None)
    return LakehouseTerms(read_table(spark, lakehouse, "ontology_terms", commit.version), commit.key)


def _write_run(spark: SparkSession, cfg: Config, summary: RunSummary, started: datetime, error: str | None) -> None:
    row = {
        "run_id": summary.run_id,
        "command": "annotate",
        "started_at": started,
        "finished_at": datetime.now(UTC),
        "status": "failed" if error else "succeeded",
        "input": cfg.input.path,
        "config_hash": cfg.fingerprint(),
        "model": summary.model,
        "counts": summary.counts(),
        "elapsed_seconds": summary.elapsed_seconds,
        "error": error,
        "skipped_duplicates": summary.skipped_duplicates,
        "skipped_files": summary.skipped_files,
        "warnings": summary.warnings if not error else None,
    }
    record_run(spark, cfg.lakehouse, row)


def annotate(spark: SparkSession, cfg: Config, hooks: Hooks | None = None) -> RunSummary:
    """Read ``cfg.input``, annotate it (:func:`~kazu_spark.pipeline.frames.annotate_frames`) and commit the
    results into ``cfg.lakehouse``: read -> documents -> annotate_frames -> commit. ``hooks`` default to
    :func:`~kazu_spark.pipeline.faults.hooks_from_env` (no-op unless fault injection is configured)."""
    if not cfg.input.path:
        raise ConfigError("input.path is not set: pass --input or set it in the config")
    hooks = hooks or hooks_from_env()
    t0 = time.perf_counter()
    started = datetime.now(UTC)
    summary = RunSummary(run_id=str(uuid.uuid4()))
    lakehouse = cfg.lakehouse
    log.info("annotate run %s", summary.run_id, extra={"config": cfg.redacted()})  # secrets masked
    warm_workers(spark)  # the Python workers' imports overlap the checks and reads below
    prefetch_tables(spark, lakehouse, ("documents", "entities", "entity_links"))  # and so do the Delta log replays
    check_ready(cfg)  # a step or model that cannot load fails here, before anything is written
    # a lakehouse folder inside the input: the next run would read the lakehouse's files as documents
    if not is_catalog_lakehouse(lakehouse) and is_within(lakehouse, cfg.input.path):
        raise ConfigError(f"lakehouse {lakehouse} is inside the input {cfg.input.path}: put it outside the input")
    source = read_input(spark, resolve_path(cfg.input.path), cfg.input.format)  # fails early on a bad input
    summary.skipped_entries = source.skipped
    for table in OUTPUT_TABLES:
        ensure_table(spark, lakehouse, table)
    try:
        if source.deletions is not None:
            with hooks.stage("delete"):
                summary.deleted_documents = delete_cited(spark, lakehouse, source.deletions)
        with hooks.stage("ingest"):
            todo, persisted = _ingest(spark, source, cfg, summary)
        hooks.committed("quarantine")
        if summary.documents:
            terms = embeddings = terms_key = None
            if needs_terms(cfg):
                with hooks.stage("ontology terms"):
                    terms, terms_key = ensure_ontology_terms(spark, cfg)
                    if cfg.linking.enabled and "embedding" in cfg.linking.steps:
                        embeddings = ensure_concept_embeddings(spark, lakehouse, terms, cfg.linking.embedding)
            run_hooks = _RunHooks(hooks, spark, summary.documents, cfg.progress)
            annotations = annotate_frames(
                todo,
                cfg,
                terms=terms,
                run_id=summary.run_id,
                hooks=run_hooks,
                concept_embeddings=embeddings,
                terms_key=terms_key,
            )
            commit(spark, lakehouse, todo, annotations, summary, hooks)
        for frame in persisted:
            frame.unpersist()
    except Exception as exc:
        summary.elapsed_seconds = time.perf_counter() - t0
        _write_run(spark, cfg, summary, started, f"{type(exc).__name__}: {exc}"[:2000])
        raise
    summary.elapsed_seconds = time.perf_counter() - t0
    for warning in summary.warnings:
        log.warning("run %s: %s", summary.run_id, warning)
    _write_run(spark, cfg, summary, started, None)
    return summary


def merge_counted(spark: SparkSession, df: DataFrame, lakehouse: str, table: str) -> int:
    """MERGE ``df`` into ``table`` and return how many distinct rows (by the table's key) it held."""
    df = df.dropDuplicates(list(KEYS[table])).persist(StorageLevel.MEMORY_AND_DISK)
    count = df.count()
    if count:
        merge_table(spark, df, lakehouse, table)
    df.unpersist()
    return count
