"""PubMed baseline/update XML: records parsed (pure), read through Spark (gzip too), bad records quarantined,
and an update file's revisions and ``DeleteCitation`` applied to the lakehouse (documents, entities, links)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from kazu_spark.config import load_config
from kazu_spark.documents.pubmed import RECORD_END, deleted_pmids, parse_record
from kazu_spark.documents.readers import detect_format, read_input
from kazu_spark.documents.spark import to_documents
from kazu_spark.lakehouse.delta import read_table
from kazu_spark.pipeline.annotate import annotate
from kazu_spark.schemas import RAW_DELETIONS, RAW_DOCUMENTS

DATA = Path(__file__).parent / "data" / "pubmed"
BASELINE = DATA / "pubmed25n0001.xml"
UPDATE = DATA / "pubmed25n1400.xml"
CELLS = DATA.parent / "ontologies" / "cl-basic.obo"

TITLE_1 = "A drug lowers Ca2+ influx in Escherichia coli & mice."
ABSTRACT_1 = (
    "BACKGROUND: Calcium entry into E. coli is poorly understood.\n"
    "RESULTS: Zorblax cut Ca2+ influx by 40% (p < 0.05) in all strains."
)


def records(path: Path) -> list[str]:
    """The file cut into records as the reader cuts it (at each ``</PubmedArticle>``, the tag removed)."""
    return path.read_text(encoding="utf-8").split(RECORD_END)


def test_records_give_pmid_title_and_labelled_sections_with_inline_markup_text_in_place() -> None:
    rows = [row for record in records(BASELINE) for row in parse_record(record)]
    good = {row[0]: row[1:3] for row in rows if row[3] is None}
    assert good == {
        "9000001": (TITLE_1, ABSTRACT_1),  # the cited PMID 1234 is not the article's
        "9000002": ("A second look at hypertension.", "Zorblax lowered blood pressure in patients with hypertension."),
        "9000003": ("A letter without an abstract.", None),
        None: ("A record without a PMID.", None),
        "9000005": ("The record after the broken one still reads.", None),
    }
    (broken,) = [row for row in rows if row[3] is not None]
    assert broken[0] == "9000004" and broken[3].startswith("invalid PubMed XML: mismatched tag")
    assert "<ArticleTitle>A record whose <i>markup is broken.</ArticleTitle>" in broken[2]  # the XML, for triage


def test_a_book_record_and_an_unknown_element_in_one_record() -> None:
    book = (
        "<PubmedBookArticle><BookDocument><PMID>77</PMID><Book><BookTitle>GeneReviews</BookTitle></Book>"
        "<Abstract><AbstractText>About <i>BRCA1</i>.</AbstractText></Abstract></BookDocument></PubmedBookArticle>"
    )
    assert parse_record(book) == [("77", "GeneReviews", "About BRCA1.", None)]
    (row,) = parse_record("<Other/>" + book)
    assert row[3] == "invalid PubMed XML: unexpected element(s) ['Other'] in PubmedArticleSet"


def test_delete_citations_are_read_only_from_the_records_that_hold_them() -> None:
    assert [deleted_pmids(record) for record in records(UPDATE)] == [[], ["9000002", "9999999"]]
    assert [row[0] for record in records(UPDATE) for row in parse_record(record)] == ["9000001"]


@pytest.mark.spark
def test_gzipped_file_reads_through_spark_and_the_bad_records_go_to_quarantine(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = tmp_path / BASELINE.with_suffix(".xml.gz").name
    path.write_bytes(gzip.compress(BASELINE.read_bytes()))
    assert detect_format(spark, str(path)) == "pubmed_xml"
    source = read_input(spark, str(path))
    assert source.rows.schema == RAW_DOCUMENTS and source.deletions.schema == RAW_DELETIONS
    assert source.deletions.count() == 0
    docs, quarantine = to_documents(source.rows, "run-1")
    texts = {r.doc_id: r.text for r in docs.collect()}
    assert sorted(texts) == ["9000001", "9000002", "9000003", "9000005"]
    assert texts["9000001"] == f"{TITLE_1}\n\n{ABSTRACT_1}"
    assert {(r.source_id, r.reason) for r in quarantine.collect()} == {(None, "missing_id"), ("9000004", "read_error")}


@pytest.mark.spark
@pytest.mark.slow
def test_update_file_revises_and_deletes_documents_with_their_entities_and_links(
    spark: SparkSession, tmp_path: Path
) -> None:
    """Baseline, then update, into one lakehouse; Zorblax steps (tests/custom_steps.py) find and link mentions."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    overrides = {
        "lakehouse": str(tmp_path / "lake"),
        "ner.steps": "['custom_steps:find_zorblax']",
        "linking.steps": "['custom_steps:link_zorblax']",
        "linking.ontologies": f"[{{name: CL, format: obo, entity_class: cell_type, path: {CELLS}}}]",  # small and quick
    }

    def run(fixture: Path):
        shutil.copy(fixture, inputs / fixture.name)
        cfg = load_config(overrides=overrides | {"input.path": str(inputs / fixture.name)})
        return cfg, annotate(spark, cfg)

    def stored(cfg, table: str) -> dict[str, int]:
        rows = read_table(spark, cfg.lakehouse, table).groupBy("doc_id").count().collect()
        return {r.doc_id: r["count"] for r in rows}

    cfg, baseline = run(BASELINE)
    assert (baseline.documents, baseline.quarantined, baseline.deleted_documents) == (4, 2, 0)
    assert stored(cfg, "entities") == stored(cfg, "entity_links") == {"9000001": 1, "9000002": 1}
    cfg, update = run(UPDATE)
    assert (update.documents, update.deleted_documents) == (1, 1)  # 9999999 was never stored
    assert sorted(stored(cfg, "documents")) == ["9000001", "9000003", "9000005"]
    assert stored(cfg, "entities") == stored(cfg, "entity_links") == {"9000001": 1}
    text = read_table(spark, cfg.lakehouse, "documents").where("doc_id = '9000001'").first().text
    assert "(revised)" in text
    (entity,) = read_table(spark, cfg.lakehouse, "entities").collect()
    assert text[entity.start : entity.end] == "Zorblax" and entity.start > text.index("RESULTS")
    run_row = read_table(spark, cfg.lakehouse, "runs").where(f"run_id = '{update.run_id}'").first()
    assert run_row.counts["deleted_documents"] == 1 and not run_row.warnings
