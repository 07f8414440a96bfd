"""Stages a user adds or swaps: NER and linking steps listed in config, entry points outside the package,
and the public DataFrame API that runs the same composition without writing anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import sample_rows
from pyspark.sql import SparkSession

from kazu_spark import annotate_dataframe
from kazu_spark.config import load_config
from kazu_spark.errors import ConfigError
from kazu_spark.lakehouse.delta import read_table, table_exists
from kazu_spark.ner.spans import entity_id
from kazu_spark.pipeline.annotate import annotate
from kazu_spark.runtime.steps import load_step

pytestmark = [pytest.mark.spark]

CUSTOM = {
    "ner.steps": "['custom_steps:find_zorblax', model]",
    "linking.steps": "[exact, normalised, 'custom_steps:link_zorblax']",
}


def _input(root: Path) -> str:
    rows = [
        {"id": "z1", "text": "Zorblax lowered blood pressure in patients with hypertension."},
        {"id": "z2", "text": "In mice, BRCA1 loss was not rescued by Zorblax."},
    ]
    path = root / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_steps_from_outside_the_package_land_in_the_tables(spark: SparkSession, tmp_path: Path) -> None:
    cfg = load_config(overrides={"input.path": _input(tmp_path), "lakehouse": str(tmp_path / "lake"), **CUSTOM})
    annotate(spark, cfg)
    entities = read_table(spark, cfg.lakehouse, "entities")
    custom = {
        (r.doc_id, r.start, r.end, r.mention, r.entity_id) for r in entities.where("model = 'custom:zorblax'").collect()
    }
    assert custom == {
        ("z1", 0, 7, "Zorblax", entity_id("z1", "body", 0, 7, "drug")),
        ("z2", 39, 46, "Zorblax", entity_id("z2", "body", 39, 46, "drug")),
    }
    assert entities.where("model != 'custom:zorblax'").count() > 0  # the model step ran too, after it (first_wins)
    links = read_table(spark, cfg.lakehouse, "entity_links").where("strategy = 'private_lookup'").collect()
    expected = [entity_id(doc, "body", start, end, "drug") for doc, start, end in (("z1", 0, 7), ("z2", 39, 46))]
    assert sorted((r.entity_id, r.concept_id, r.matched_synonym, r.confidence_tier) for r in links) == [
        (eid, "PRIV:0001", "Zorblax", "high") for eid in sorted(expected)
    ]


def test_a_step_that_breaks_the_contract_or_cannot_load_fails_before_anything_is_written(
    spark: SparkSession, tmp_path: Path
) -> None:
    base = {"input.path": _input(tmp_path), "lakehouse": str(tmp_path / "lake")}
    with pytest.raises(ConfigError, match="custom_steps:no_such_step"):
        annotate(spark, load_config(overrides={**base, "ner.steps": "[model, 'custom_steps:no_such_step']"}))
    assert not table_exists(spark, base["lakehouse"], "documents")
    with pytest.raises(ConfigError, match="returned no column"):
        annotate(spark, load_config(overrides={**base, "ner.steps": "['custom_steps:forgets_columns']"}))


def test_unknown_step_names_are_refused_by_the_config() -> None:
    with pytest.raises(ConfigError, match="unknown step 'dictonary'"):
        load_config(overrides={"ner.steps": "[model, dictonary]"})
    with pytest.raises(ConfigError, match="listed twice"):
        load_config(overrides={"linking.steps": "[exact, exact]"})
    assert load_step("custom_steps:find_zorblax").__name__ == "find_zorblax"


def test_annotate_dataframe_tags_and_links_any_dataframe_without_writing(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default lakehouse is ./lakehouse: nothing may appear there
    rows = [(r["pmid"], r["title"], r["abstract"]) for r in sample_rows(3)] + [("empty", None, "  ")]
    df = spark.createDataFrame(rows, "pmid string, headline string, body string")
    result = annotate_dataframe(df, id_col="pmid", text_col="body", title_col="headline")
    entities, links = result
    docs = {r.doc_id: r.text for r in result.documents.collect()}
    assert sorted(docs) == sorted(r[0] for r in rows[:3])
    found = entities.collect()
    assert found and all(docs[e.doc_id][e.start : e.end] == e.mention for e in found)
    assert {link.entity_id for link in links.collect()} <= {e.entity_id for e in found}
    assert links.count() > 0
    assert [(q.source_id, q.reason) for q in result.quarantine.collect()] == [("empty", "empty_text")]
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="no column"):
        annotate_dataframe(df, id_col="id", text_col="body")
