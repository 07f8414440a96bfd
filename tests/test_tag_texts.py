"""``tag_texts``: entities for plain strings without Spark, on the bundled model and sample abstracts."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from conftest import sample_rows
from pyspark.sql import SparkSession

from kazu_spark.config import Config, load_config
from kazu_spark.documents.spark import to_documents
from kazu_spark.ner.spark import tag_documents
from kazu_spark.pipeline.texts import local_tagger, tag_texts
from kazu_spark.schemas import ENTITIES, RAW_DOCUMENTS

#: the entities table's columns but run_id, which the pipeline adds
COLUMNS = [name for name in ENTITIES.fieldNames() if name != "run_id"]
#: fp32 keeps the model's output independent of how documents are batched (bf16 is not, on CPUs that have it)
FP32 = load_config(overrides={"ner.precision": "fp32"})


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    rows = sample_rows(10)
    assert all(row["title"].strip() and row["abstract"].strip() for row in rows)
    return rows


def tag_sample(rows: list[dict], conf: Config) -> pd.DataFrame:
    """``tag_texts`` on sample rows: the abstracts, with their titles and pmids."""
    return tag_texts(
        [r["abstract"] for r in rows], conf, ids=[r["pmid"] for r in rows], titles=[r["title"] for r in rows]
    )


@pytest.fixture(scope="module")
def sample_entities(rows: list[dict]) -> pd.DataFrame:
    return tag_sample(rows, FP32)


def test_offsets_point_into_title_blank_line_body(rows: list[dict], sample_entities: pd.DataFrame) -> None:
    assert list(sample_entities.columns) == COLUMNS
    assert len(sample_entities) > 50 and set(sample_entities["section"]) == {"title", "body"}
    by_id = {r["pmid"]: r for r in rows}
    for e in sample_entities.itertuples():
        title = by_id[e.doc_id]["title"]
        stored = title + "\n\n" + by_id[e.doc_id]["abstract"]
        assert stored[e.start : e.end] == e.mention, e
        if e.section == "title":
            assert e.end <= len(title)
        else:
            assert e.start >= len(title) + 2
    positions = sample_entities["doc_id"].map([r["pmid"] for r in rows].index)
    keys = list(zip(positions, sample_entities["start"], strict=True))
    assert keys == sorted(keys)


def test_without_titles_offsets_are_into_the_text_and_ids_are_positions(rows: list[dict]) -> None:
    texts = [r["abstract"] for r in rows[:3]]
    entities = tag_texts(texts)
    assert set(entities["section"]) == {"body"} and set(entities["doc_id"]) == {"0", "1", "2"}
    assert all(texts[int(e.doc_id)][e.start : e.end] == e.mention for e in entities.itertuples())


def test_batching_of_documents_changes_no_entity(rows: list[dict], sample_entities: pd.DataFrame) -> None:
    small = load_config(overrides={"ner.precision": "fp32", "ner.arrow_batch_rows": 3})
    again = tag_sample(rows, small)
    key = ["entity_id", "doc_id", "start", "end", "entity_class", "mention"]
    pd.testing.assert_frame_equal(again[key], sample_entities[key])


def test_same_entities_as_the_spark_ner_stage(
    spark: SparkSession, rows: list[dict], sample_entities: pd.DataFrame
) -> None:
    raw = spark.createDataFrame([(r["pmid"], r["title"], r["abstract"], "sample", None) for r in rows], RAW_DOCUMENTS)
    documents, _ = to_documents(raw, "run-1")
    staged = tag_documents(spark, documents, FP32.ner).toPandas()
    key = ["entity_id", "doc_id", "section", "start", "end", "mention", "entity_class", "model", "content_hash"]
    assert sorted(map(tuple, staged[key].values.tolist())) == sorted(map(tuple, sample_entities[key].values.tolist()))
    confidence = staged.set_index("entity_id")["confidence"]
    assert sample_entities.set_index("entity_id")["confidence"].sub(confidence).abs().max() < 1e-4


def test_a_partition_of_documents_without_entities_gives_no_rows(spark: SparkSession) -> None:
    """A Python worker's batch in which the model finds nothing returns typed empty columns: before, they were
    float64 and Spark's conversion to the string schema failed the NER stage."""
    texts = [("1", None, "No name here.", "t", None), ("2", None, "Nor here, at all.", "t", None)]
    documents, _ = to_documents(spark.createDataFrame(texts, RAW_DOCUMENTS), "run-1")
    config = FP32.ner.model_copy(update={"partitions": 2, "known_names": None})
    assert tag_documents(spark, documents, config).count() == 0
    assert tag_texts(["No name here."], FP32).empty


def test_rows_follow_the_order_of_the_texts() -> None:
    entities = tag_texts(["Aspirin eases pain.", "", "BRCA1 mutations cause breast cancer."], ids=["b", "c", "a"])
    assert entities["doc_id"].drop_duplicates().tolist() == ["b", "a"]


def test_no_texts_and_empty_texts_give_no_rows() -> None:
    for texts in ([], ["", "  \n"]):
        entities = tag_texts(texts)
        assert entities.empty and list(entities.columns) == COLUMNS


@pytest.mark.parametrize(
    ("texts", "kwargs", "error", "message"),
    [
        ("BRCA1 mutations", {}, TypeError, "not a single str"),
        (["fine", None], {}, TypeError, r"texts\[1\] is NoneType"),
        (["fine", b"bytes"], {}, TypeError, r"texts\[1\] is bytes"),
        (["a", "b"], {"ids": ["x"]}, ValueError, "ids has 1 items for 2 texts"),
        (["a", "b"], {"ids": ["x", " x "]}, ValueError, r"ids\[1\] repeats ids\[0\]"),
        (["a", "b"], {"ids": ["x", 2]}, TypeError, r"ids\[1\] is int"),
        (["a", "b"], {"ids": ["x", " "]}, ValueError, r"texts\[1\] .*missing_id"),
        (["a", "b"], {"titles": ["T", 3]}, TypeError, r"titles\[1\] is int, not str or None"),
        (["a", "b"], {"titles": ["T"]}, ValueError, "titles has 1 items for 2 texts"),
        (["a", "x" + chr(0xD800)], {}, ValueError, r"texts\[1\] is not valid Unicode"),
    ],
)
def test_bad_input_is_refused_naming_the_item(texts: object, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        tag_texts(texts, **kwargs)


def test_a_text_over_max_chars_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"texts\[1\] .*text_too_long"):
        tag_texts(["short", "x" * 11], load_config(overrides={"input.max_chars": 10}))


def test_the_tagger_is_built_once_per_model_and_settings() -> None:
    assert local_tagger(FP32.ner) is local_tagger(load_config(overrides={"ner.precision": "fp32"}).ner)
    other = local_tagger(FP32.ner.model_copy(update={"threshold": 0.9}))
    assert other is not local_tagger(FP32.ner) and other.threshold == 0.9


def test_works_where_pyspark_is_not_installed() -> None:
    code = (
        "import sys; sys.modules['pyspark'] = None\n"  # any import of pyspark now raises ImportError
        "import kazu_spark\n"
        "print(kazu_spark.tag_texts(['BRCA1 mutations cause breast cancer.'])['mention'].tolist())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "['BRCA1', 'breast cancer']"
