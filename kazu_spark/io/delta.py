"""Delta writers: MERGE on a table's deterministic key, so reruns update rows instead of duplicating them.

Every output table lives at ``<lakehouse>/<table>``; its schema and key come from ``kazu_spark.schemas``.
A MERGE that loses a race with a concurrent writer is retried, since Delta's optimistic concurrency
reports the conflict and a retry against the new snapshot is correct for key-based upserts.

Example (needs a Delta-enabled session):
    >>> from kazu_spark.io.delta import table_path
    >>> table_path("/data/lake", "entities")
    '/data/lake/entities'
"""

from __future__ import annotations

import logging
import os
import time

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from kazu_spark.paths import is_uri
from kazu_spark.schemas import KEYS, TABLES

log = logging.getLogger(__name__)

_RETRIES = 5


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


def ensure_table(spark: SparkSession, lakehouse: str, table: str) -> DeltaTable:
    """Create the Delta table with its schema (and column comments) if it does not exist yet."""
    path = table_path(lakehouse, table)
    return (
        DeltaTable.createIfNotExists(spark)
        .location(path)
        .addColumns(TABLES[table])
        .property("delta.enableChangeDataFeed", "true")
        .execute()
    )


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
    id, or the rows of documents whose old rows were just deleted). Appends never conflict in Delta.
    """
    ensure_table(spark, lakehouse, table)
    conform(df, table).dropDuplicates(list(KEYS[table])).write.format("delta").mode("append").save(
        table_path(lakehouse, table)
    )


def merge_table(spark: SparkSession, df: DataFrame, lakehouse: str, table: str, *, update: bool = True) -> None:
    """Upsert ``df`` into ``table`` by its key: matched rows are updated (if ``update``), new rows inserted.

    ``df`` is deduplicated on the key first (a MERGE with two source rows for one target row fails).
    Into an empty table this is an append, which gives the same rows without the MERGE's scans.
    """
    source = conform(df, table).dropDuplicates(list(KEYS[table]))
    condition = key_condition(table)
    for attempt in range(1, _RETRIES + 1):
        target = ensure_table(spark, lakehouse, table)
        if target.toDF().isEmpty():
            source.write.format("delta").mode("append").save(table_path(lakehouse, table))
            return
        merge = target.alias("t").merge(source.alias("s"), condition)
        if update:
            merge = merge.whenMatchedUpdateAll()
        try:
            merge.whenNotMatchedInsertAll().execute()
            return
        except Exception as exc:  # delta raises py4j-wrapped ConcurrentModification errors
            if "Concurrent" not in type(exc).__name__ + str(exc)[:2000] or attempt == _RETRIES:
                raise
            log.warning("MERGE into %s conflicted with a concurrent writer (attempt %d); retrying", table, attempt)
            time.sleep(0.5 * attempt)


def read_table(spark: SparkSession, lakehouse: str, table: str) -> DataFrame:
    """Read a lakehouse table through Delta."""
    return spark.read.format("delta").load(table_path(lakehouse, table))
