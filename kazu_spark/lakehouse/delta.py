"""Delta writers: MERGE on a table's deterministic key, so reruns update rows instead of duplicating them.

Every output table lives at ``<lakehouse>/<table>``; its schema and key come from ``kazu_spark.schemas``.
Every commit goes through :func:`with_retry`: Delta's optimistic concurrency lets two writers (two
annotate runs into one lakehouse) race, the loser's commit fails with a conflict, and redoing a keyed
upsert or delete against the new snapshot is correct. Tables are created empty first (with their
schema and Change Data Feed on, idempotently), then only ever MERGEd or appended to, so two first
writers cannot both "create" a table. Writers evolve the schema (``mergeSchema``, MERGE with schema
evolution): a newer kazu-spark that adds a column to a table extends existing tables, whose old rows
read back null in the new column.

Example (needs a Delta-enabled session):
    >>> from kazu_spark.lakehouse.delta import table_path
    >>> table_path("/data/lake", "entities")
    '/data/lake/entities'
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from delta.exceptions import (
    ConcurrentAppendException,
    ConcurrentDeleteDeleteException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
    DeltaConcurrentModificationException,
    MetadataChangedException,
    ProtocolChangedException,
)
from delta.tables import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession

from kazu_spark.paths import is_uri
from kazu_spark.schemas import KEYS, TABLES

log = logging.getLogger(__name__)

T = TypeVar("T")

#: commits tried per write before a conflict is raised
RETRIES = 8
#: Delta's commit-conflict exceptions (its Python classes share no base class but PySparkException)
CONFLICTS = (
    DeltaConcurrentModificationException,
    ConcurrentWriteException,
    MetadataChangedException,
    ProtocolChangedException,
    ConcurrentAppendException,
    ConcurrentDeleteReadException,
    ConcurrentDeleteDeleteException,
    ConcurrentTransactionException,
)


class CreationRace(Exception):
    """Another writer is creating the table right now and its first commit is not visible yet."""


#: what Delta raises to a creator that overlaps another's creation of the same table
_CREATION_RACES = ("DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION", "DELTA_TABLE_NOT_FOUND")
#: creations in this process (driver threads, as notebook cells) take turns; other processes retry
_CREATING = threading.Lock()


def table_path(lakehouse: str, table: str) -> str:
    """Location of ``table`` inside the lakehouse; a relative local lakehouse is made absolute."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; known: {sorted(TABLES)}")
    if not is_uri(lakehouse):  # no URI scheme (s3a:, dbfs:, abfss:, file:): a local path, /Volumes/... included
        lakehouse = os.path.abspath(lakehouse)
    return f"{lakehouse.rstrip('/')}/{table}"


def table_exists(spark: SparkSession, lakehouse: str, table: str) -> bool:
    """Whether the lakehouse holds ``table`` as a Delta table."""
    return DeltaTable.isDeltaTable(spark, table_path(lakehouse, table))


def key_condition(table: str) -> str:
    """MERGE condition joining target ``t`` and source ``s`` on the table's key columns."""
    return " AND ".join(f"t.`{k}` = s.`{k}`" for k in KEYS[table])


def with_retry(commit: Callable[[], T], what: str, retries: int = RETRIES) -> T:
    """Run ``commit`` (one Delta write), running it again when it loses a race with a concurrent writer.

    The retry re-reads the table, so ``commit`` must build its write from scratch each call (a keyed
    MERGE, a delete by key, a create-if-not-exists). Back-off is jittered so two losers do not collide
    again in lock step.

    Example:
        >>> with_retry(lambda: 42, "nothing")
        42
    """
    for attempt in range(1, retries + 1):
        try:
            return commit()
        except (*CONFLICTS, CreationRace) as exc:
            if attempt == retries:
                raise
            log.warning("%s conflicted with a concurrent writer (attempt %d): %s", what, attempt, type(exc).__name__)
            time.sleep(random.uniform(0.2, 0.6) * attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


def ensure_table(spark: SparkSession, lakehouse: str, table: str) -> DeltaTable:
    """Create the Delta table empty, with its schema (and column comments) and CDF on, unless it exists.

    Idempotent and safe under concurrency: threads of one driver create tables one at a time; of two
    processes creating it at once one commits and the other's retry finds the table. The loser may also
    see the winner's creation half done (files but no visible commit): that is retried too, and raised
    as :class:`CreationRace` if there is still no table after the retries.
    """
    path = table_path(lakehouse, table)

    def create() -> DeltaTable:
        if DeltaTable.isDeltaTable(spark, path):
            return DeltaTable.forPath(spark, path)
        try:
            return (
                DeltaTable.createIfNotExists(spark)
                .location(path)
                .addColumns(TABLES[table])
                .property("delta.enableChangeDataFeed", "true")
                .execute()
            )
        except AnalysisException as exc:
            if exc.getCondition() not in _CREATION_RACES:
                raise
            raise CreationRace(f"{path} is being created by another writer: {exc}") from exc

    with _CREATING:
        return with_retry(create, f"creating {table}")


def conform(df: DataFrame, table: str) -> DataFrame:
    """Select and cast ``df``'s columns to the table's schema, failing on a missing column."""
    schema = TABLES[table]
    missing = [f.name for f in schema.fields if f.name not in df.columns]
    if missing:
        raise ValueError(f"cannot write {table}: columns {missing} missing from {df.columns}")
    return df.select([df[f.name].cast(f.dataType).alias(f.name) for f in schema.fields])


def append_table(spark: SparkSession, df: DataFrame, lakehouse: str, table: str) -> None:
    """Append ``df``, deduplicated on the table's key, for rows known to be absent from the table.

    Cheaper than a MERGE by seconds per write; callers use it where the key cannot exist yet (a new run
    id, or the rows of documents whose old rows were just deleted). Blind appends never conflict in Delta.
    """
    ensure_table(spark, lakehouse, table)
    rows = conform(df, table).dropDuplicates(list(KEYS[table]))
    writer = rows.write.format("delta").mode("append").option("mergeSchema", "true")
    with_retry(lambda: writer.save(table_path(lakehouse, table)), f"append to {table}")


def merge_table(spark: SparkSession, df: DataFrame, lakehouse: str, table: str, *, update: bool = True) -> None:
    """Upsert ``df`` into ``table`` by its key: matched rows are updated (if ``update``), new rows inserted.

    ``df`` is deduplicated on the key first (a MERGE with two source rows for one target row fails).
    Always a MERGE, also into an empty table: of two first writers the second then conflicts and
    retries instead of appending the same keys twice.
    """
    source = conform(df, table).dropDuplicates(list(KEYS[table]))

    def merge() -> None:
        target = ensure_table(spark, lakehouse, table).alias("t")
        builder = target.merge(source.alias("s"), key_condition(table)).withSchemaEvolution()
        if update:
            builder = builder.whenMatchedUpdateAll()
        builder.whenNotMatchedInsertAll().execute()

    with_retry(merge, f"MERGE into {table}")


def delete_documents(spark: SparkSession, lakehouse: str, table: str, docs: DataFrame) -> None:
    """Delete ``table``'s rows whose ``doc_id`` is among ``docs``' (the stale rows of re-annotated documents)."""
    ids = docs.select("doc_id").distinct()

    def delete() -> None:
        target = ensure_table(spark, lakehouse, table).alias("t")
        target.merge(ids.alias("s"), "t.doc_id = s.doc_id").whenMatchedDelete().execute()

    with_retry(delete, f"delete by doc_id from {table}")


def read_table(spark: SparkSession, lakehouse: str, table: str, version: int | None = None) -> DataFrame:
    """Read a lakehouse table through Delta, at ``version`` if given (time travel)."""
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(table_path(lakehouse, table))


def table_version(spark: SparkSession, lakehouse: str, table: str) -> int:
    """The table's latest committed version."""
    return DeltaTable.forPath(spark, table_path(lakehouse, table)).history(1).collect()[0]["version"]


def read_changes(spark: SparkSession, lakehouse: str, table: str, start: int, end: int) -> DataFrame:
    """The table's Change Data Feed for versions ``start``..``end`` (inclusive): rows plus ``_change_type``.

    Fails (when evaluated) if the change files of those versions were vacuumed away.
    """
    return (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", start)
        .option("endingVersion", end)
        .load(table_path(lakehouse, table))
    )
