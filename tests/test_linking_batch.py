"""The pandas batch path links a small batch exactly as the Spark joins do (linking.batch vs linking.spark)."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import sample_rows
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from kazu_spark.config import Config, LinkingConfig, load_config
from kazu_spark.linking.batch import _with_abbreviations, index_rows, link_with_table
from kazu_spark.linking.spark import link_entities
from kazu_spark.ontologies.terms import build_ontology_terms
from kazu_spark.pipeline.frames import annotate_dataframe
from kazu_spark.runtime.steps import StepContext
from kazu_spark.schemas import LINK_ROWS

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


def _links(
    entities: DataFrame, terms: DataFrame, documents: DataFrame, batch_entities: int, bulk_entities: int = 1
) -> pd.DataFrame:
    cfg = load_config().linking.model_copy(update={"batch_entities": batch_entities, "bulk_entities": bulk_entities})
    return _sorted(link_entities(entities, terms, cfg, documents))


def test_the_driver_pass_and_spark_tasks_link_exactly_as_the_spark_joins(sample) -> None:
    entities, documents, terms = sample
    assert entities.count() < 2000  # within the default batch size: the default configuration takes the batch path
    joins = _links(entities, terms, documents, batch_entities=0)
    batch = _links(entities, terms, documents, batch_entities=2000)
    strategies = set(joins["strategy"])
    assert len(joins) > 300 and {"exact", "normalised", "abbreviation"} <= strategies  # the sample exercises them
    assert joins["generic"].any() and (joins["confidence_tier"] == "medium").any()
    pd.testing.assert_frame_equal(batch, joins, check_dtype=False)
    assert entities.count() > 600  # so the tasks engine below links several partitions
    tasks = _links(entities, terms, documents, batch_entities=300, bulk_entities=300)  # Spark tasks, ~300 a partition
    pd.testing.assert_frame_equal(tasks, joins, check_dtype=False)


def test_the_next_run_on_the_same_terms_commit_links_from_the_driver_copy(sample, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    entities, documents, terms = sample
    cfg = load_config().linking
    first = _sorted(link_entities(entities, terms, cfg, documents, context=_context(cfg, terms, documents)))
    assert (tmp_path / "kazu-spark" / "terms" / "commit-1.parquet").is_file()
    unread = terms.withColumn("synonym", F.raise_error(F.lit("the terms were read through Spark")))
    second = _sorted(link_entities(entities, unread, cfg, documents, context=_context(cfg, unread, documents)))
    assert len(first) > 300
    pd.testing.assert_frame_equal(second, first)


def _context(cfg: LinkingConfig, terms: DataFrame, documents: DataFrame) -> StepContext:
    return StepContext(Config(linking=cfg), terms, documents, terms_key="commit-1")


def _sorted(links: DataFrame) -> pd.DataFrame:
    return links.toPandas().sort_values(["entity_id", "concept_id", "source"]).reset_index(drop=True)


def test_a_batch_that_matches_nothing_has_no_links() -> None:
    mention = "\ufffd\ufffd"  # what undecodable bytes leave
    entities = pd.DataFrame({"entity_id": ["e"], "doc_id": ["d"], "mention": [mention], "entity_class": ["gene"]})
    table = pd.DataFrame({"entity_class": ["gene"], "synonym": ["BRCA1"], "normalised_synonym": ["BRCA1"],
                          "source": ["HGNC"], "concept_id": ["HGNC:1100"], "default_label": ["BRCA1"], "rank": [None],
                          "parents": [None], "tax_id": ["9606"], "type_of_gene": ["protein-coding"],
                          "xrefs": [None], "orthologues": ["MGI:104537"], "source_version": ["2024"]})  # fmt: skip
    links = link_with_table(entities, None, table, load_config().linking)
    assert links.empty and list(links.columns) == LINK_ROWS.fieldNames()


def test_a_batch_whose_every_link_is_of_another_species_has_no_links() -> None:
    """The gene-species step may drop every link of a batch (a mouse gene's symbol in a document that names no
    species, so human): the later steps get no rows and the batch has no links, in the LINK_ROWS columns."""
    entities = pd.DataFrame({"entity_id": ["e"], "doc_id": ["d"], "mention": ["Tek"], "entity_class": ["gene"]})
    documents = pd.DataFrame({"doc_id": ["d"], "text": ["Tek was studied."]})
    table = pd.DataFrame({"entity_class": ["gene"], "synonym": ["Tek"], "normalised_synonym": ["tek"],
                          "source": ["NCBIGene-mouse"], "concept_id": ["NCBIGene:21687"], "default_label": ["Tek"],
                          "rank": [None], "parents": [None], "tax_id": ["10090"], "type_of_gene": ["protein-coding"],
                          "xrefs": ["MGI:87868"], "orthologues": [None], "source_version": ["2024"]})  # fmt: skip
    cfg = load_config().linking
    assert cfg.gene_species.enabled and cfg.disambiguation.enabled and cfg.genus_to_species
    links = link_with_table(entities, documents, table, cfg)
    assert links.empty and list(links.columns) == LINK_ROWS.fieldNames()


def test_abbreviated_names_are_kept_out_of_the_fuzzy_index() -> None:
    terms = pd.DataFrame({"entity_class": "species", "synonym": ["Metarhizium brunneum", "M. brunnea"],
                          "normalised_synonym": ["metarhizium brunneum", "m brunnea"], "source": ["T", "T-abbreviated"],
                          "concept_id": ["NCBITaxon:500148", "NCBITaxon:1"], "default_label": "x"})  # fmt: skip
    assert sorted(index_rows(terms, ["species"])["source"]) == ["T", "T-abbreviated"]
    assert index_rows(terms, ["species"], {"T-abbreviated"})["normalised_synonym"].tolist() == ["metarhizium brunneum"]


def test_a_long_form_s_fuzzy_links_do_not_replace_a_short_form_s_own_links_by_name() -> None:
    def link(entity: str, via: str, concept: str, strategy: str, score: float) -> dict:
        return {"entity_id": entity, "doc_id": "d", "via": via, "concept_id": concept, "source": "S",
                "default_label": concept, "matched_synonym": "x", "strategy": strategy, "score": score,
                "ambiguous": False}  # fmt: skip

    links = pd.DataFrame([
        link("crc", "mention", "colorectal neoplasms", "exact", 1.0),  # CRC is its synonym
        link("crc", "abbreviation", "another cancer", "fuzzy_tfidf", 0.7),  # "colorectal carcinoma", fuzzily
        link("ibd", "mention", "a namesake", "exact", 1.0),
        link("ibd", "abbreviation", "inflammatory bowel diseases", "normalised", 0.9),  # by name: it wins
        link("pd", "mention", "a near miss", "fuzzy_tfidf", 0.7),
        link("pd", "abbreviation", "parkinson disease", "fuzzy_tfidf", 0.75),  # both loose: the long form's
    ])  # fmt: skip
    kept = _with_abbreviations(links)
    assert sorted(zip(kept["entity_id"], kept["concept_id"], kept["strategy"], strict=True)) == [
        ("crc", "colorectal neoplasms", "exact"),
        ("ibd", "inflammatory bowel diseases", "abbreviation"),
        ("pd", "parkinson disease", "abbreviation"),
    ]
