"""Lakehouse operations a user relies on: concurrent annotate runs, schema evolution, compaction.

Two annotate runs started at once into one fresh lakehouse must both land, each document once (Delta's
optimistic concurrency plus the writers' retry); a newer table schema with an extra column must extend
existing tables; ``maintain`` must reduce the data files without changing a table's rows.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import build_model_dir, sample_rows
from pyspark.sql import SparkSession
from pyspark.sql.types import StringType, StructField, StructType

from kazu_spark.config import OntologySource, load_config
from kazu_spark.errors import LakehouseError
from kazu_spark.kg.build import build_kg
from kazu_spark.lakehouse.delta import append_table, ensure_table, merge_table, read_table
from kazu_spark.lakehouse.maintain import check_retention, maintain
from kazu_spark.ontologies.terms import write_ontology_terms
from kazu_spark.pipeline.annotate import annotate
from kazu_spark.schemas import QUARANTINE, RUNS, TABLES

pytestmark = pytest.mark.spark


def test_two_annotate_runs_at_once_into_a_fresh_lakehouse_both_land(spark: SparkSession, tmp_path: Path) -> None:
    model = build_model_dir(tmp_path / "model")
    rows = sample_rows(4)
    lakehouse = str(tmp_path / "lake")
    configs = []
    for i, part in enumerate((rows[:2], rows[2:])):
        path = tmp_path / f"in{i}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
        overrides = {"input.path": str(path), "lakehouse": lakehouse, "ner.model": str(model)}
        configs.append(load_config(overrides=overrides | {"linking.enabled": "false"}))
    with ThreadPoolExecutor(2) as pool:  # one Spark session, two driver threads, as two notebook cells would
        summaries = list(pool.map(lambda cfg: annotate(spark, cfg), configs))

    assert [s.documents for s in summaries] == [2, 2]
    docs = [r.doc_id for r in read_table(spark, lakehouse, "documents").collect()]
    assert sorted(docs) == sorted(r["pmid"] for r in rows)  # both inputs, each document once
    entities = read_table(spark, lakehouse, "entities")
    assert entities.count() == entities.select("entity_id").distinct().count() == sum(s.entities for s in summaries)
    assert {r.doc_id for r in entities.select("doc_id").distinct().collect()} == set(docs)
    runs = read_table(spark, lakehouse, "runs").collect()
    assert sorted(r.run_id for r in runs) == sorted(s.run_id for s in summaries)


def test_a_catalog_schema_is_a_lakehouse_too(spark: SparkSession, tmp_path: Path) -> None:
    """``--lakehouse catalog.schema`` (Unity Catalog, the metastore): the tables are catalog tables, MERGEd on
    the same keys; a rerun skips the unchanged documents; kg build and maintain work on them."""
    schema = "kazu_lakehouse_test"
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS spark_catalog.{schema} LOCATION '{tmp_path / 'warehouse'}'")
    lakehouse = f"spark_catalog.{schema}"
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in sample_rows(2)), encoding="utf-8")
    model = build_model_dir(tmp_path / "model")
    overrides = {"input.path": str(path), "lakehouse": lakehouse, "ner.model": str(model)}
    cfg = load_config(overrides=overrides | {"linking.enabled": "false"})
    try:
        first, second = annotate(spark, cfg), annotate(spark, cfg)
        assert (first.documents, second.documents, second.skipped_unchanged) == (2, 0, 2)
        assert spark.catalog.tableExists(f"{lakehouse}.entities")
        stored = spark.table(f"{lakehouse}.entities")
        assert stored.count() == read_table(spark, lakehouse, "entities").count() == first.entities > 0
        cl = OntologySource(name="CL", format="obo", entity_class="cell_type", path="cl-basic.obo")
        assert write_ontology_terms(spark, [cl], lakehouse, base=Path(__file__).parent / "data" / "ontologies") > 0
        assert build_kg(spark, lakehouse, "kg-run", config_hash="h")["kg_nodes"] > 0
        assert set(maintain(spark, lakehouse)) >= {"documents", "entities", "kg_nodes"}
    finally:
        spark.sql(f"DROP SCHEMA IF EXISTS spark_catalog.{schema} CASCADE")


def test_a_location_holding_other_files_is_refused_not_overwritten(spark, tmp_path) -> None:
    stray = tmp_path / "lake" / "runs" / "notes.txt"
    stray.parent.mkdir(parents=True)
    stray.write_text("not a table")
    with pytest.raises(LakehouseError, match="runs is not a Delta table but holds other files"):
        ensure_table(spark, str(tmp_path / "lake"), "runs")
    assert [p.name for p in stray.parent.iterdir()] == ["notes.txt"]


def test_a_new_column_evolves_existing_tables(spark: SparkSession, tmp_path: Path, monkeypatch) -> None:
    lakehouse = str(tmp_path / "lake")
    now = datetime.now(UTC)
    row = {"source": "in.jsonl", "reason": "empty_text", "run_id": "r1", "quarantined_at": now}
    old = [row | {"quarantine_id": "q1"}]
    merge_table(spark, spark.createDataFrame(old, QUARANTINE), lakehouse, "quarantine")
    append_table(spark, spark.createDataFrame([{"run_id": "r1"} | _run(now)], RUNS), lakehouse, "runs")

    # a newer kazu-spark: one more column on both tables, written by MERGE and by append
    extra = StructField("reviewer", StringType(), True, metadata={"comment": "who looked at it"})
    for table in ("quarantine", "runs"):
        monkeypatch.setitem(TABLES, table, StructType([*TABLES[table].fields, extra]))
    new = [row | {"quarantine_id": "q1", "run_id": "r2", "reviewer": "ann"}, row | {"quarantine_id": "q2"}]
    merge_table(spark, spark.createDataFrame(new, TABLES["quarantine"]), lakehouse, "quarantine")
    append_table(
        spark,
        spark.createDataFrame([{"run_id": "r2", "reviewer": "bo"} | _run(now)], TABLES["runs"]),
        lakehouse,
        "runs",
    )

    quarantine = {r.quarantine_id: (r.run_id, r.reviewer) for r in read_table(spark, lakehouse, "quarantine").collect()}
    assert quarantine == {"q1": ("r2", "ann"), "q2": ("r1", None)}
    runs = {r.run_id: r.reviewer for r in read_table(spark, lakehouse, "runs").collect()}
    assert runs == {"r1": None, "r2": "bo"}  # the old row reads back null in the new column


def _run(now: datetime) -> dict:
    return {
        "command": "annotate",
        "started_at": now,
        "finished_at": now,
        "status": "succeeded",
        "config_hash": "h",
        "counts": {},
        "elapsed_seconds": 1.0,
    }


def test_maintain_compacts_files_and_keeps_rows(spark: SparkSession, tmp_path: Path) -> None:
    lakehouse = str(tmp_path / "lake")
    now = datetime.now(UTC)
    for i in range(4):  # four small appends: at least four data files
        rows = [{"run_id": f"r{i}-{j}"} | _run(now) for j in range(3)]
        append_table(spark, spark.createDataFrame(rows, RUNS), lakehouse, "runs")
    before = sorted(map(str, read_table(spark, lakehouse, "runs").collect()))

    report = maintain(spark, lakehouse, 0, allow_short_retention=True)

    assert set(report) == {"runs"}  # only the tables that exist
    assert report["runs"]["files_before"] >= 4 and report["runs"]["files_after"] == 1
    assert sorted(map(str, read_table(spark, lakehouse, "runs").collect())) == before
    parquet = [p for p in (tmp_path / "lake" / "runs").glob("*.parquet")]
    assert len(parquet) == 1  # retention 0: VACUUM deleted the compacted-away files


def test_maintain_applies_the_retention_asked_for(spark: SparkSession, tmp_path: Path) -> None:
    """Delta 4 ignores VACUUM's RETAIN; the table properties maintain sets are what decide."""
    lakehouse = str(tmp_path / "lake")
    append_table(spark, spark.createDataFrame([{"run_id": "r"} | _run(datetime.now(UTC))], RUNS), lakehouse, "runs")
    table = tmp_path / "lake" / "runs"
    old, new = table / "part-old-stray.snappy.parquet", table / "part-new-stray.snappy.parquet"
    for stray in (old, new):  # files no version references, as a killed writer leaves them
        stray.write_bytes(b"stray")
    three_hours_ago = time.time() - 3 * 3600
    os.utime(old, (three_hours_ago, three_hours_ago))

    maintain(spark, lakehouse, 2, allow_short_retention=True)

    assert not old.exists() and new.exists()  # older than the 2 hours asked for: gone; newer: kept
    properties = spark.sql(f"DESCRIBE DETAIL delta.`{table}`").first()["properties"]
    assert properties["delta.deletedFileRetentionDuration"] == "interval 7200 seconds"
    assert properties["delta.logRetentionDuration"] == "interval 7200 seconds"
    assert len(read_table(spark, lakehouse, "runs").collect()) == 1


def test_maintain_refuses_a_short_retention_unless_allowed() -> None:
    with pytest.raises(ValueError, match="below the safe minimum of 168h"):
        check_retention(24)
    check_retention(24, allow_short_retention=True)
    check_retention(168)
    with pytest.raises(ValueError, match=">= 0"):
        check_retention(-1, allow_short_retention=True)
