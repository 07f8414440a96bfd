"""The ``runs`` table: one row per annotate or kg-build run, and the state a later run reads back.

An incremental ``kg build`` starts from the input table versions the last successful build recorded
in ``runs.versions``; keeping that state in ``runs`` (rather than a side file) makes it part of the
lakehouse, versioned and readable like every other table.

Example (needs a Delta-enabled session):
    >>> record_run(spark, "lakehouse", {"run_id": "r1", "command": "kg-build", ...})  # doctest: +SKIP
    >>> last_versions(spark, "lakehouse", "kg-build")  # doctest: +SKIP
    {'documents': 3, 'entities': 5, 'entity_links': 5, 'ontology_terms': 1}
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from kazu_spark.lakehouse.delta import append_table, read_table, table_exists
from kazu_spark.schemas import RUNS


def record_run(spark: SparkSession, lakehouse: str, row: dict[str, Any]) -> None:
    """Append one ``runs`` row; nullable columns missing from ``row`` are written as null."""
    unknown = set(row) - set(RUNS.fieldNames())
    if unknown:
        raise ValueError(f"runs has no columns {sorted(unknown)}")
    full = {name: row.get(name) for name in RUNS.fieldNames()}
    # from pandas (Arrow, a local relation on the driver): a Python list would go through a PythonRDD, whose
    # worker takes seconds to start at the end of a run whose UDF workers are already up
    append_table(spark, spark.createDataFrame(pd.DataFrame([full]), RUNS), lakehouse, "runs")  # run ids are new


def last_versions(spark: SparkSession, lakehouse: str, command: str) -> dict[str, int] | None:
    """``versions`` of the latest succeeded run of ``command`` that recorded any; None if there is none."""
    if not table_exists(spark, lakehouse, "runs"):
        return None
    runs = read_table(spark, lakehouse, "runs")
    if "versions" not in runs.columns:  # a runs table written before versions existed
        return None
    latest = (
        runs.filter((F.col("command") == command) & (F.col("status") == "succeeded") & F.col("versions").isNotNull())
        .orderBy(F.col("finished_at").desc())
        .select("versions")
        .first()
    )
    return dict(latest["versions"]) if latest else None
