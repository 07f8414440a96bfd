"""The Databricks notebook runs locally as plain Python, end to end into a fresh lakehouse.

``notebooks/kazu_spark_etl.py`` is executed as a script (as ``python notebooks/kazu_spark_etl.py`` would),
its widgets set through ``KAZU_SPARK_WIDGET_*`` environment variables; the test then reads the Delta
tables it wrote. Also: Databricks paths pass through path handling untouched, and INFO logs of the run
carry no document text.
"""

from __future__ import annotations

import json
import logging
import runpy
from pathlib import Path

import pytest

from kazu_spark.lakehouse.delta import read_table, table_path
from kazu_spark.paths import is_uri, resolve_path
from kazu_spark.runtime.notebook import LocalWidgets, widget_env_var

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "kazu_spark_etl.py"


@pytest.mark.parametrize(
    "path",
    ["dbfs:/FileStore/kazu/in.jsonl", "/Volumes/main/kazu/raw/in.jsonl", "s3a://bucket/in", "abfss://c@a/x"],
)
def test_databricks_and_cloud_paths_pass_through(path: str) -> None:
    assert resolve_path(path) == path
    assert resolve_path(path, base="/repo/conf") == path
    assert table_path(path, "entities") == f"{path}/entities"


def test_relative_local_paths_are_joined_and_schemes_recognised() -> None:
    assert resolve_path("onto/x.obo", base="/repo/conf") == "/repo/conf/onto/x.obo"
    assert [is_uri(p) for p in ("dbfs:/a", "file:/a", "/Volumes/a", "a/b", "C:/a")] == [True, True, False, False, False]


def test_local_widgets_take_env_values_and_check_dropdowns() -> None:
    widgets = LocalWidgets({widget_env_var("build_kg"): "maybe"})
    with pytest.raises(ValueError, match="maybe"):
        widgets.dropdown("build_kg", "yes", ["yes", "no"])
    with pytest.raises(KeyError):
        widgets.get("input")


@pytest.mark.spark
def test_notebook_runs_locally_into_a_lakehouse(spark, tmp_path, monkeypatch, caplog) -> None:
    sample = resolve_path("pkg://kazu_spark/resources/sample/abstracts.jsonl")
    rows = [json.loads(line) for line in Path(sample).read_text(encoding="utf-8").splitlines()[:2]]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    lakehouse = str(tmp_path / "lake")
    monkeypatch.setenv(widget_env_var("input"), str(source))
    monkeypatch.setenv(widget_env_var("lakehouse"), lakehouse)
    hgnc = "pkg://kazu_spark/resources/ontologies/hgnc_complete_set.txt.gz"  # one source keeps the test short
    source_yaml = f"{{name: HGNC, format: hgnc, entity_class: gene, path: '{hgnc}'}}"
    no_fuzzy = "linking.steps=[exact, normalised, variants]"
    overrides = f"ner.max_batch_tokens=1024\nlinking.ontologies=[{source_yaml}]\n{no_fuzzy}"
    monkeypatch.setenv(widget_env_var("overrides"), overrides)
    with caplog.at_level(logging.INFO):
        namespace = runpy.run_path(str(NOTEBOOK), run_name="__main__")

    cfg = namespace["cfg"]
    assert cfg.ner.max_batch_tokens == 1024 and [o.name for o in cfg.linking.ontologies] == ["HGNC"]
    docs = {r.doc_id for r in read_table(spark, lakehouse, "documents").collect()}
    assert docs == {r["pmid"] for r in rows}
    entities = read_table(spark, lakehouse, "entities").count()
    links = read_table(spark, lakehouse, "entity_links").count()
    assert entities > 0 and links > 0
    edges = {r.edge_type for r in read_table(spark, lakehouse, "kg_edges").select("edge_type").collect()}
    assert "MENTIONS" in edges
    assert read_table(spark, lakehouse, "kg_nodes").count() > 0
    assert namespace["kg_counts"]["kg_edges"] == read_table(spark, lakehouse, "kg_edges").count()
    # structured INFO logs name stages and counts, never document text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    sentences = [s for r in rows for s in r["abstract"].split(". ") if len(s) > 30]
    assert sentences and not any(s in logged for s in sentences)
