"""Building ontology_terms and linking entities with Spark, on the fixture ontologies."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from kazu_spark.io.delta import read_table
from kazu_spark.linking.build import build_ontology_terms, write_ontology_terms
from kazu_spark.linking.link import link_entities
from kazu_spark.linking.ontologies import OntologySource
from kazu_spark.schemas import ENTITIES, ENTITY_LINKS, ONTOLOGY_TERMS

pytestmark = pytest.mark.spark

DATA = Path(__file__).parent / "data" / "ontologies"
SOURCES = [
    OntologySource(name="MEDIC", format="medic", entity_class="disease", path="ctd_diseases.tsv"),
    OntologySource(name="CL", format="obo", entity_class="cell_type", path="cl-basic.obo", id_prefix_filter="CL:"),
    OntologySource(name="HGNC", format="hgnc", entity_class="gene", path="hgnc_complete_set.txt"),
    OntologySource(
        name="MeSH",
        format="mesh",
        entity_class="drug",
        path="mesh-2015-descriptors.tsv",
        tree_numbers_path="mesh-2015-tree-numbers.tsv",
        tree_prefix="D",
    ),
]
#: entity id -> (mention, entity class)
MENTIONS = {
    "e-exact": ("ABCD1", "gene"),  # symbol of HGNC:61; normalises like CCL22's alias ABCD-1, but exact wins
    "e-normalised": ("Abcd-1", "gene"),  # no exact match; its key ABCD1 names HGNC:61 and HGNC:10621
    "e-ambiguous": ("MDR1", "gene"),  # an alias of ABCB1 and of TBC1D9
    "e-plural": ("inflammatory bowel diseases", "disease"),
    "e-cells": ("B-cells", "cell_type"),
    "e-drug": ("Aspirin", "drug"),
    "e-not-a-drug": ("Abattoirs", "drug"),  # a MeSH descriptor outside tree D
    "e-wrong-class": ("B cell", "disease"),
    "e-unknown": ("flux capacitor", "disease"),
}


@pytest.fixture(scope="module")
def terms(spark: SparkSession) -> DataFrame:
    return build_ontology_terms(spark, SOURCES, base=DATA).cache()


@pytest.fixture(scope="module")
def links(spark: SparkSession, terms: DataFrame) -> dict[str, list[dict]]:
    rows = [
        (entity_id, "doc-1", "body", 0, len(mention), mention, entity_class, 0.9, "test", "hash", "run-0")
        for entity_id, (mention, entity_class) in MENTIONS.items()
    ]
    result = link_entities(spark.createDataFrame(rows, schema=ENTITIES), terms)
    assert result.columns == [f for f in ENTITY_LINKS.fieldNames() if f != "run_id"]
    by_entity: dict[str, list[dict]] = {}
    for row in result.collect():
        by_entity.setdefault(row["entity_id"], []).append(row.asDict())
    return by_entity


def test_terms_schema_and_content(terms: DataFrame) -> None:
    assert terms.schema == ONTOLOGY_TERMS
    assert terms.select("term_id").distinct().count() == terms.count()
    aspirin = terms.where("synonym = 'Aspirin'").first()
    assert aspirin["concept_id"] == "MESH:D001241" and aspirin["normalised_synonym"] == "aspirin"
    assert terms.where("concept_id = 'MESH:D000003'").count() == 0  # tree J, filtered out
    assert aspirin["metadata"] == {"tree_numbers": "D02.455.426.559.389.657.410.595.176"}
    assert (
        aspirin["source_checksum"]
        == hashlib.sha256(
            (DATA / "mesh-2015-descriptors.tsv").read_bytes() + (DATA / "mesh-2015-tree-numbers.tsv").read_bytes()
        ).hexdigest()
    )
    symbolic = {row["synonym"]: row["symbolic"] for row in terms.where("source = 'HGNC'").collect()}
    assert symbolic["A1BG"] and not symbolic["alpha-1-B glycoprotein"]


def test_exact_beats_normalised(links: dict[str, list[dict]]) -> None:
    [link] = links["e-exact"]
    assert (link["concept_id"], link["strategy"], link["score"], link["ambiguous"]) == ("HGNC:61", "exact", 1.0, False)
    assert link["default_label"] == "ABCD1" and link["source"] == "HGNC"


def test_normalised_match_keeps_every_concept(links: dict[str, list[dict]]) -> None:
    found = {(link["concept_id"], link["matched_synonym"]) for link in links["e-normalised"]}
    assert found == {("HGNC:61", "ABCD1"), ("HGNC:10621", "ABCD-1")}
    assert all(link["strategy"] == "normalised" and link["score"] == 0.9 for link in links["e-normalised"])
    assert all(link["ambiguous"] for link in links["e-normalised"])


def test_ambiguous_exact_synonym(links: dict[str, list[dict]]) -> None:
    assert {link["concept_id"] for link in links["e-ambiguous"]} == {"HGNC:40", "HGNC:21710"}
    assert all(link["ambiguous"] and link["strategy"] == "exact" for link in links["e-ambiguous"])


def test_noun_phrase_variants(links: dict[str, list[dict]]) -> None:
    [ibd] = links["e-plural"]
    assert (ibd["concept_id"], ibd["strategy"], ibd["ambiguous"]) == ("MESH:D015212", "normalised", False)
    assert ibd["default_label"] == "Inflammatory Bowel Diseases"
    [cells] = links["e-cells"]
    assert cells["concept_id"] == "CL:0000236"
    [drug] = links["e-drug"]
    assert (drug["concept_id"], drug["strategy"]) == ("MESH:D001241", "exact")


def test_unlinkable_mentions_get_no_row(links: dict[str, list[dict]]) -> None:
    for entity_id in ("e-not-a-drug", "e-wrong-class", "e-unknown"):
        assert entity_id not in links


def test_link_ids_unique(links: dict[str, list[dict]]) -> None:
    ids = [link["link_id"] for rows in links.values() for link in rows]
    assert len(ids) == len(set(ids))


def test_write_ontology_terms_merges_on_rebuild(spark: SparkSession, tmp_path: Path) -> None:
    lakehouse = str(tmp_path / "lake")
    first = write_ontology_terms(spark, SOURCES, lakehouse, base=DATA)
    second = write_ontology_terms(spark, SOURCES, lakehouse, base=DATA)
    assert first == second > 0
    assert read_table(spark, lakehouse, "ontology_terms").count() == first  # the rebuild added no rows

    # a new HGNC release without TP53: its terms go, every other source's stay
    medic = read_table(spark, lakehouse, "ontology_terms").where("source = 'MEDIC'").count()
    hgnc = tmp_path / "hgnc.txt"
    lines = (DATA / "hgnc_complete_set.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    hgnc.write_text("".join(line for line in lines if not line.startswith("HGNC:11998\t")), encoding="utf-8")
    release = SOURCES[2].model_copy(update={"path": str(hgnc)})
    written = write_ontology_terms(spark, [release], lakehouse, base=DATA)
    table = read_table(spark, lakehouse, "ontology_terms")
    assert table.where("concept_id = 'HGNC:11998'").count() == 0
    assert table.where("source = 'HGNC'").count() == written
    assert table.where("source = 'MEDIC'").count() == medic > 0
