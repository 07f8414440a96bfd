"""End to end on Spark: documents in, Delta tables out, read back through Delta.

Runs the real pipeline with the bundled model and bundled ontology subsets over a few real abstracts
from the bundled sample plus bad rows, then checks what a user relies on: offsets, keys, quarantine,
links that point at real entities and concepts, reruns that add nothing, and a changed document whose
stale entities are replaced.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import sample_rows
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from kazu_spark.config import Config, load_config
from kazu_spark.lakehouse.delta import read_table
from kazu_spark.pipeline.annotate import annotate

pytestmark = [pytest.mark.spark, pytest.mark.slow]

TABLES = ("documents", "entities", "entity_links", "quarantine", "runs", "ontology_terms")


def _write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _counts(spark: SparkSession, lakehouse: str) -> dict[str, int]:
    return {t: read_table(spark, lakehouse, t).count() for t in TABLES}


@pytest.fixture(scope="module")
def good_rows() -> list[dict]:
    return sample_rows(6)


@pytest.fixture(scope="module")
def lake(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory, good_rows: list[dict]):
    """One annotate run over 6 good abstracts and 3 bad rows; returns (config, summary)."""
    root = tmp_path_factory.mktemp("e2e")
    bad = [
        {"pmid": "bad-null", "title": None, "abstract": None},
        {"pmid": "bad-empty", "title": "", "abstract": "   \n "},
        {"title": "A title without any id", "abstract": "BRCA1 mutations cause breast cancer."},
    ]
    cfg = load_config(
        overrides={"input.path": _write_jsonl(root / "in.jsonl", good_rows + bad), "lakehouse": str(root / "lake")}
    )
    return cfg, annotate(spark, cfg)


def test_good_documents_land_and_bad_rows_are_quarantined(spark, lake, good_rows) -> None:
    cfg, summary = lake
    docs = read_table(spark, cfg.lakehouse, "documents")
    assert sorted(r.doc_id for r in docs.select("doc_id").collect()) == sorted(r["pmid"] for r in good_rows)
    reasons = {(r.source_id, r.reason) for r in read_table(spark, cfg.lakehouse, "quarantine").collect()}
    assert reasons == {("bad-null", "empty_text"), ("bad-empty", "empty_text"), (None, "missing_id")}
    assert (summary.rows_read, summary.documents, summary.quarantined) == (9, 6, 3)


def test_every_entity_offset_points_at_its_mention(spark, lake) -> None:
    cfg, summary = lake
    entities = read_table(spark, cfg.lakehouse, "entities")
    docs = read_table(spark, cfg.lakehouse, "documents")
    rows = entities.join(docs.select("doc_id", "text", "sections"), "doc_id").collect()
    assert len(rows) == summary.entities > 0
    for row in rows:
        assert row.text[row.start : row.end] == row.mention and row.mention.strip() == row.mention
        section = next(s for s in row.sections if s.name == row.section)
        assert section.start <= row.start < row.end <= section.end
        assert 0.0 <= row.confidence <= 1.0
    assert entities.select("entity_id").distinct().count() == len(rows)
    assert {r.entity_class for r in rows} <= {"cell_line", "cell_type", "disease", "drug", "gene", "species"}


def test_links_point_at_entities_and_concepts_of_the_same_class(spark, lake) -> None:
    cfg, summary = lake
    links = read_table(spark, cfg.lakehouse, "entity_links")
    entities = read_table(spark, cfg.lakehouse, "entities")
    terms = read_table(spark, cfg.lakehouse, "ontology_terms")
    assert summary.links == links.count() > 0
    joined = links.join(entities.select("entity_id", "entity_class", "mention"), "entity_id")
    assert joined.count() == links.count()  # no link without its entity
    concepts = terms.select("concept_id", "entity_class").distinct()
    assert joined.join(concepts, ["concept_id", "entity_class"], "left_anti").count() == 0
    exact = joined.filter(F.col("strategy") == "exact").collect()
    assert all(r.mention == r.matched_synonym and r.score == 1.0 for r in exact)
    assert 0 < summary.fraction_linked <= 1


def test_rerun_adds_no_rows_and_is_recorded(spark, lake) -> None:
    cfg, first = lake
    before = _counts(spark, cfg.lakehouse)
    again = annotate(spark, cfg)
    assert again.documents == 0 and again.skipped_unchanged == 6
    full = annotate(spark, cfg.model_copy(update={"incremental": False}))
    assert full.documents == 6 and full.entities == first.entities
    after = _counts(spark, cfg.lakehouse)
    assert after == before | {"runs": before["runs"] + 2}
    statuses = {r.status for r in read_table(spark, cfg.lakehouse, "runs").collect()}
    assert statuses == {"succeeded"}


def test_changed_document_replaces_its_stale_entities(spark, lake, good_rows, tmp_path) -> None:
    cfg, _ = lake
    changed = dict(good_rows[0], abstract="Patients with type 2 diabetes received metformin.")
    new_cfg: Config = cfg.model_copy(
        update={"input": cfg.input.model_copy(update={"path": _write_jsonl(tmp_path / "c.jsonl", [changed])})}
    )
    summary = annotate(spark, new_cfg)
    assert summary.documents == 1
    doc = read_table(spark, cfg.lakehouse, "documents").filter(F.col("doc_id") == changed["pmid"]).collect()
    assert len(doc) == 1 and "metformin" in doc[0].text
    entities = read_table(spark, cfg.lakehouse, "entities").filter(F.col("doc_id") == changed["pmid"]).collect()
    assert {e.content_hash for e in entities} <= {doc[0].content_hash}
    assert all(doc[0].text[e.start : e.end] == e.mention for e in entities)
    assert read_table(spark, cfg.lakehouse, "documents").count() == len(good_rows)
