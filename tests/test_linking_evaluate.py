"""Linking evaluation: PubTator gold parsing, accuracy@1 and end-to-end scoring rules, one Spark run."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from kazu_spark.config import OntologySource, load_config
from kazu_spark.documents.pubtator import read_pubtator
from kazu_spark.evaluation.linking import _entity_id, end_to_end_scores, evaluate_linking, gold_mention_accuracy
from kazu_spark.ontologies.terms import build_ontology_terms

CORPUS = Path(__file__).parent / "data" / "linking" / "tiny.pubtator"
ONTOLOGIES = Path(__file__).parent / "data" / "ontologies"
ASPIRIN, CROHN, IBD = "MESH:D001241", "MESH:D003424", "MESH:D015212"


def test_read_pubtator_ids_and_offsets() -> None:
    (doc,) = read_pubtator(str(CORPUS))
    text = f"{doc.title} {doc.abstract}"
    assert all(text[m.start : m.end] == m.mention for m in doc.mentions)  # CID line ignored
    ids = [m.concept_ids for m in doc.mentions]
    assert ids == [(CROHN,), (ASPIRIN,), (ASPIRIN,), ("OMIM:266600",), (), (IBD, CROHN), ("MESH:D999999",)]


def test_gold_mention_accuracy_rules() -> None:
    (doc,) = read_pubtator(str(CORPUS))
    span = {m.mention: _entity_id((m.doc_id, m.start, m.end), "disease" if m.corpus_type == "Disease" else "drug")
            for m in doc.mentions}  # fmt: skip
    predicted = {span["Crohn disease"]: CROHN, span["aspirin"]: ASPIRIN, span["Aspirin"]: "MESH:D000001",
                 span["flux capacitor"]: CROHN}  # fmt: skip
    known = {"disease": {CROHN, IBD}, "drug": {ASPIRIN}}
    result = gold_mention_accuracy(doc.mentions, predicted, known, aliases={"OMIM:266600": {IBD}})
    disease = result["disease"]
    # -1 is counted but not evaluated; a composite is right with either part; unlinked is wrong
    assert (disease["mentions"], disease["without_id"], disease["evaluated"], disease["correct"]) == (5, 1, 4, 1)
    assert disease["unlinked"] == 3
    assert disease["errors"] == {"no_candidate": 2, "gold_id_not_in_ontology": 1}
    assert result["drug"]["errors"] == {"wrong_concept": 1}
    assert result["overall"]["accuracy"] == pytest.approx(2 / 6, abs=1e-4)


def test_end_to_end_pairs() -> None:
    (doc,) = read_pubtator(str(CORPUS))
    predicted = {
        ("100", 0, 14): ("disease", CROHN),  # right
        ("100", 19, 26): ("drug", ASPIRIN),  # right
        ("100", 28, 40): ("drug", ASPIRIN),  # wrong span: a false positive, its gold mention a miss
        ("100", 79, 93): ("disease", CROHN),  # a -1 gold span: not judged
        ("100", 0, 6): ("gene", "HGNC:5"),  # a class the corpus does not annotate: ignored
    }
    result = end_to_end_scores([doc], predicted)
    mention = result["mention"]["overall"]
    assert (mention["tp"], mention["predicted"], mention["gold"]) == (2, 3, 6)
    assert result["mention"]["drug"]["precision"] == 0.5
    assert result["document"]["overall"]["tp"] == 2  # (100, aspirin) and (100, Crohn)
    assert result["document"]["disease"]["gold"] == 4  # Crohn, OMIM:266600, IBD (composite), D999999


@pytest.mark.spark
def test_evaluate_linking_gold_mentions(spark: SparkSession) -> None:
    sources = [
        OntologySource(name="MEDIC", format="medic", entity_class="disease", path="ctd_diseases.tsv"),
        OntologySource(name="MeSH", format="mesh", entity_class="drug", path="mesh-2015-descriptors.tsv",
                       tree_numbers_path="mesh-2015-tree-numbers.tsv", tree_prefix="D"),
    ]  # fmt: skip
    terms = build_ontology_terms(spark, sources, base=ONTOLOGIES)
    result = evaluate_linking(spark, str(CORPUS), terms, end_to_end=False)
    gold = result["gold_mentions"]
    # both aspirins, Crohns disease (normalised), IBD plural (gold OMIM:266600, an alt id of IBD's concept),
    # composite Crohn disease; D999999 is unknown
    assert gold["drug"]["correct"] == 2
    assert gold["disease"]["correct"] == 3 and gold["disease"]["errors"] == {"gold_id_not_in_ontology": 1}
    assert "end_to_end" not in result and result["sources"] == ["MEDIC", "MeSH"]


@pytest.mark.spark
def test_end_to_end_runs_the_jobs_composition_with_every_ner_step(spark: SparkSession) -> None:
    """End to end goes through annotate_frames: here the dictionary is the only NER step, so the two
    aspirins it finds are the drug predictions, linked by the same cascade as the job's."""
    sources = [
        OntologySource(name="MeSH", format="mesh", entity_class="drug", path="mesh-2015-descriptors.tsv",
                       tree_numbers_path="mesh-2015-tree-numbers.tsv", tree_prefix="D"),
    ]  # fmt: skip
    terms = build_ontology_terms(spark, sources, base=ONTOLOGIES)
    cfg = load_config(overrides={"ner.steps": "[dictionary]", "linking.steps": "[exact, normalised]"})
    cfg.linking.ontologies = sources
    drug = evaluate_linking(spark, str(CORPUS), terms, cfg)["end_to_end"]["mention"]["drug"]
    assert (drug["tp"], drug["predicted"], drug["gold"]) == (2, 2, 2)
