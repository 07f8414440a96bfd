"""The pandas batch path links a small batch exactly as the Spark joins do (linking.batch vs linking.spark)."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import sample_rows
from pyspark.sql import DataFrame, SparkSession

from kazu_spark.config import load_config
from kazu_spark.linking.spark import link_entities
from kazu_spark.ontologies.terms import build_ontology_terms
from kazu_spark.pipeline.frames import annotate_dataframe

pytestmark = pytest.mark.spark

#: sample abstracts: diseases, genes of human and mouse papers, species, cell types, drugs, abbreviations
DOCS = 24


@pytest.fixture(scope="module")
def sample(spark: SparkSession) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(entities, documents, terms) of the first sample abstracts, tagged by the bundled model, with the
    bundled ontology subsets."""
    cfg = load_config(overrides={"linking.enabled": "false"})
    rows = [(r["pmid"], f"{r['title']} {r['abstract']}") for r in sample_rows(DOCS)]
    annotations = annotate_dataframe(spark.createDataFrame(rows, "id string, text string"), conf=cfg)
    terms = build_ontology_terms(spark, load_config().linking.ontologies).cache()
    return annotations.entities.cache(), annotations.documents.select("doc_id", "text").cache(), terms


def _links(entities: DataFrame, terms: DataFrame, documents: DataFrame, batch_entities: int) -> pd.DataFrame:
    cfg = load_config().linking.model_copy(update={"batch_entities": batch_entities})
    links = link_entities(entities, terms, cfg, documents).toPandas()
    return links.sort_values(["entity_id", "concept_id", "source"]).reset_index(drop=True)


def test_a_small_batch_links_exactly_as_the_spark_joins(sample) -> None:
    entities, documents, terms = sample
    assert entities.count() < 2000  # within the default batch size: the default configuration takes the batch path
    joins = _links(entities, terms, documents, batch_entities=0)
    batch = _links(entities, terms, documents, batch_entities=2000)
    strategies = set(joins["strategy"])
    assert len(joins) > 300 and {"exact", "normalised", "abbreviation"} <= strategies  # the sample exercises them
    assert joins["generic"].any() and (joins["confidence_tier"] == "medium").any()
    pd.testing.assert_frame_equal(batch, joins, check_dtype=False)
