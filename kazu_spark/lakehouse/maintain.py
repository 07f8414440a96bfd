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

from pyspark.sql import Row, SparkSession

from kazu_spark.lakehouse.delta import sql_string, table_exists, table_ref, with_retry
from kazu_spark.schemas import TABLES

log = logging.getLogger(__name__)

#: VACUUM's default retention: Delta's own default, and the smallest this module accepts unasked
SAFE_RETENTION_HOURS = 168.0


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


def _detail(spark: SparkSession, table: str) -> Row:
    return spark.sql(f"DESCRIBE DETAIL {table}").first()


def retention_properties(hours: float) -> dict[str, str]:
    """The table properties that make Delta keep removed data files, and the log, for ``hours``.

    Delta 4 ignores ``VACUUM ... RETAIN n HOURS`` for any n but 0 ("set delta.deletedFileRetentionDuration");
    these properties are what it applies, to VACUUM and to log clean-up alike.

    Example:
        >>> retention_properties(1.5)["delta.deletedFileRetentionDuration"]
        'interval 5400 seconds'
    """
    interval = f"interval {round(hours * 3600)} seconds"
    return {"delta.deletedFileRetentionDuration": interval, "delta.logRetentionDuration": interval}


def maintain(
    spark: SparkSession,
    lakehouse: str,
    retention_hours: float = SAFE_RETENTION_HOURS,
    *,
    allow_short_retention: bool = False,
) -> dict[str, dict[str, int]]:
    """Set the retention, OPTIMIZE, then VACUUM every lakehouse table that exists; returns per-table file counts.

    The retention becomes the tables' ``delta.deletedFileRetentionDuration`` and ``delta.logRetentionDuration``
    (:func:`retention_properties`), so VACUUM keeps exactly what was asked for, and log clean-up matches.
    Counts per table: ``files_before`` / ``files_after`` (data files in the current version) and
    ``files_removed`` / ``files_added`` by compaction. VACUUM runs after OPTIMIZE, so with a retention
    of 0 the files compaction replaced are deleted from storage at once. SQL only (Spark Connect safe).
    """
    check_retention(retention_hours, allow_short_retention)
    wanted = retention_properties(retention_hours)
    properties = ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in wanted.items())
    report: dict[str, dict[str, int]] = {}
    for table in TABLES:
        if not table_exists(spark, lakehouse, table):
            continue
        name = table_ref(lakehouse, table).sql
        before = _detail(spark, name)
        if any(before["properties"].get(k) != v for k, v in wanted.items()):  # a metadata commit only if it changes
            with_retry(
                lambda name=name: spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES ({properties})"),
                f"setting the retention of {table}",
            )
        metrics = with_retry(lambda name=name: spark.sql(f"OPTIMIZE {name}").first(), f"OPTIMIZE {table}")[
            "metrics"
        ]
        spark.sql(f"VACUUM {name}").collect()  # the table's retention, set above
        report[table] = {
            "files_before": before["numFiles"],
            "files_after": _detail(spark, name)["numFiles"],
            "files_removed": metrics["numFilesRemoved"],
            "files_added": metrics["numFilesAdded"],
        }
        log.info("maintained %s: %s", table, report[table])
    return report
