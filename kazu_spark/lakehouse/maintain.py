"""Lakehouse upkeep: compact small files (OPTIMIZE) and delete unreferenced ones (VACUUM).

Every annotate run and kg build commits a few small files per table; OPTIMIZE rewrites them into
fewer, larger ones (a ``dataChange = false`` commit: the content, and the Change Data Feed, stay the
same). VACUUM then deletes data and change files that no version newer than the retention period
references. The retention is a safety margin, hence the 168-hour (7-day) floor: a shorter one can
delete files that a running job or reader still needs (a concurrent annotate run reading an older
snapshot fails), ends time travel to older versions, and removes the change files an incremental
``kg build`` reads (it then falls back to a full rebuild). Shorter retention is refused unless the
caller passes ``allow_short_retention``.

Example (needs a Delta-enabled session):
    >>> check_retention(24)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: retention 24h is below the safe minimum of 168h: VACUUM could delete files that ...
    >>> maintain(spark, "lakehouse")["entities"]  # doctest: +SKIP
    {'files_before': 12, 'files_after': 1, 'files_removed': 12, 'files_added': 1}
"""

from __future__ import annotations

import logging

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from kazu_spark.lakehouse.delta import table_exists, table_path, with_retry
from kazu_spark.schemas import TABLES

log = logging.getLogger(__name__)

#: VACUUM's default retention: Delta's own default, and the smallest this module accepts unasked
SAFE_RETENTION_HOURS = 168.0
_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"


def check_retention(hours: float, allow_short_retention: bool = False) -> None:
    """Raise ValueError for a negative retention, or one under ``SAFE_RETENTION_HOURS`` unless allowed."""
    if hours < 0:
        raise ValueError(f"retention must be >= 0 hours, got {hours:g}")
    if hours < SAFE_RETENTION_HOURS and not allow_short_retention:
        raise ValueError(
            f"retention {hours:g}h is below the safe minimum of {SAFE_RETENTION_HOURS:g}h: VACUUM could delete "
            "files that running readers, time travel and the change feed of an incremental kg build still need; "
            "pass allow_short_retention to do it anyway"
        )


def _file_count(spark: SparkSession, path: str) -> int:
    return DeltaTable.forPath(spark, path).detail().collect()[0]["numFiles"]


def maintain(
    spark: SparkSession,
    lakehouse: str,
    retention_hours: float = SAFE_RETENTION_HOURS,
    *,
    allow_short_retention: bool = False,
) -> dict[str, dict[str, int]]:
    """OPTIMIZE then VACUUM every lakehouse table that exists; returns per-table file counts.

    Counts per table: ``files_before`` / ``files_after`` (data files in the current version) and
    ``files_removed`` / ``files_added`` by compaction. VACUUM runs after OPTIMIZE, so with a retention
    of 0 the files compaction replaced are deleted from storage at once.
    """
    check_retention(retention_hours, allow_short_retention)
    short = retention_hours < SAFE_RETENTION_HOURS
    previous = spark.conf.get(_CHECK, "true")
    if short:  # Delta refuses a short retention unless its own safety check is off
        spark.conf.set(_CHECK, "false")
    report: dict[str, dict[str, int]] = {}
    try:
        for table in TABLES:
            if not table_exists(spark, lakehouse, table):
                continue
            path = table_path(lakehouse, table)
            before = _file_count(spark, path)
            metrics = with_retry(
                lambda path=path: DeltaTable.forPath(spark, path).optimize().executeCompaction().collect()[0],
                f"OPTIMIZE {table}",
            )["metrics"]
            DeltaTable.forPath(spark, path).vacuum(retention_hours)
            report[table] = {
                "files_before": before,
                "files_after": _file_count(spark, path),
                "files_removed": metrics["numFilesRemoved"],
                "files_added": metrics["numFilesAdded"],
            }
            log.info("maintained %s: %s", table, report[table])
    finally:
        spark.conf.set(_CHECK, previous)
    return report
