"""The small-batch linker's driver copy of ontology_terms: keyed by the table's commit, read back without Spark."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from kazu_spark.lakehouse.delta import append_table, ensure_table, table_commit
from kazu_spark.linking.driver_terms import KEEP, TABLE_COLUMNS, driver_terms
from kazu_spark.schemas import ONTOLOGY_TERMS

pytestmark = pytest.mark.spark


def _term(concept_id: str, synonym: str, **metadata: str) -> tuple:
    return (f"t-{concept_id}-{synonym}", concept_id, "MEDIC", synonym, synonym, "label", synonym.lower(), False,
            "disease", metadata, "2024", "abc")  # fmt: skip


@pytest.fixture
def terms(spark: SparkSession) -> DataFrame:
    rows = [
        _term("MESH:D001249", "Asthma", rank="species"),
        _term("MESH:D003920", "Diabetes", parents="x", type_of_gene="pseudo"),
    ]
    return spark.createDataFrame(rows, ONTOLOGY_TERMS)


def _never_read(terms: DataFrame) -> DataFrame:
    """``terms``, failing if Spark ever evaluates them."""
    return terms.withColumn("synonym", F.raise_error(F.lit("the terms were read through Spark")))


def test_the_driver_copy_has_the_metadata_as_columns_and_comes_back_from_the_cache(terms, tmp_path: Path) -> None:
    collected = driver_terms(terms, "k1", tmp_path)
    assert list(collected.columns) == TABLE_COLUMNS and len(collected) == 2
    by_concept = collected.set_index("concept_id")
    assert by_concept.loc["MESH:D001249", "rank"] == "species" and by_concept.loc["MESH:D003920", "parents"] == "x"
    assert by_concept.loc["MESH:D003920", "type_of_gene"] == "pseudo"
    again = driver_terms(_never_read(terms), "k1", tmp_path)  # same commit: no Spark job
    pd.testing.assert_frame_equal(again, collected)
    with pytest.raises(Exception, match="read through Spark"):  # another commit is collected
        driver_terms(_never_read(terms), "k2", tmp_path)
    with pytest.raises(Exception, match="read through Spark"):  # no key: nothing cached
        driver_terms(_never_read(terms), None, tmp_path)


def test_an_unreadable_copy_is_collected_again_and_old_copies_are_pruned(terms, tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    assert len(driver_terms(terms, "bad", tmp_path)) == 2
    assert len(driver_terms(_never_read(terms), "bad", tmp_path)) == 2  # rewritten: now read back
    for key in range(KEEP + 2):
        driver_terms(terms, f"k{key}", tmp_path)
    assert sorted(p.stem for p in tmp_path.glob("*.parquet")) == [f"k{key}" for key in range(2, KEEP + 2)]


def test_a_copy_of_other_columns_is_collected_again(terms, tmp_path: Path) -> None:
    older = driver_terms(terms, "old", tmp_path).drop(columns="type_of_gene")  # before type_of_gene was taken out
    older.to_parquet(tmp_path / "old.parquet", index=False)
    assert list(driver_terms(terms, "old", tmp_path).columns) == TABLE_COLUMNS
    assert list(driver_terms(_never_read(terms), "old", tmp_path).columns) == TABLE_COLUMNS  # rewritten: read back


def test_each_commit_of_a_path_table_has_its_own_key(spark: SparkSession, terms, tmp_path: Path) -> None:
    lakehouse = str(tmp_path / "lake")
    assert table_commit(spark, lakehouse, "ontology_terms") is None  # no table
    ensure_table(spark, lakehouse, "ontology_terms")
    created = table_commit(spark, lakehouse, "ontology_terms")
    append_table(spark, terms, lakehouse, "ontology_terms")
    appended = table_commit(spark, lakehouse, "ontology_terms")
    assert (created.version, appended.version) == (0, 1) and created.key != appended.key
    assert table_commit(spark, lakehouse, "ontology_terms") == appended  # read again: the same
    shutil.rmtree(tmp_path / "lake")  # built again from scratch: the same versions, other keys
    ensure_table(spark, lakehouse, "ontology_terms")
    assert table_commit(spark, lakehouse, "ontology_terms").key != created.key
    assert table_commit(spark, "main.kazu", "ontology_terms") is None  # a catalog table: no key
