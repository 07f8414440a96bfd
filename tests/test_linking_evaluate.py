"""Linking evaluation: PubTator gold parsing, accuracy@1 and end-to-end scoring rules, one Spark run."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from kazu_spark.config import OntologySource, load_config
from kazu_spark.documents.pubtator import CORPUS_CLASSES, GoldMention, concept_ids, read_pubtator
from kazu_spark.evaluation.linking import (
    MISS_COLUMNS,
    _entity_id,
    annotated_classes,
    end_to_end_scores,
    evaluate_linking,
    gold_mention_accuracy,
    top_concepts,
    top_strategies,
)
from kazu_spark.ontologies.terms import build_ontology_terms

CORPUS = Path(__file__).parent / "data" / "linking" / "tiny.pubtator"
BIORED = Path(__file__).parent / "data" / "linking" / "biored.pubtator"
ONTOLOGIES = Path(__file__).parent / "data" / "ontologies"
ASPIRIN, CROHN, IBD = "MESH:D001241", "MESH:D003424", "MESH:D015212"


def test_read_pubtator_ids_and_offsets() -> None:
    (doc,) = read_pubtator(str(CORPUS))
    text = f"{doc.title} {doc.abstract}"
    assert all(text[m.start : m.end] == m.mention for m in doc.mentions)  # CID line ignored
    ids = [m.concept_ids for m in doc.mentions]
    assert ids == [(CROHN,), (ASPIRIN,), (ASPIRIN,), ("OMIM:266600",), (), (IBD, CROHN), ("MESH:D999999",)]


def test_biored_ids_are_prefixed_by_their_annotation_type() -> None:
    docs = read_pubtator(str(BIORED))
    assert [len(d.mentions) for d in docs] == [11, 7]  # relation lines ignored
    ids = {(m.mention, m.corpus_type): m.concept_ids for d in docs for m in d.mentions}
    # bare numbers: a gene id under GeneOrGeneProduct, a taxid under OrganismTaxon
    assert ids["BRCA1", "GeneOrGeneProduct"] == ("NCBIGene:672",)
    assert ids["BRCA1 and Brca1", "GeneOrGeneProduct"] == ("NCBIGene:672", "NCBIGene:12189")
    assert ids["human", "OrganismTaxon"] == ("NCBITaxon:9606",)
    assert ids["Metformin", "ChemicalEntity"] == ("MESH:D008687",)
    assert ids["hypertensive renal damage", "DiseaseOrPhenotypicFeature"] == ("MESH:D006973", "MESH:D007674")
    assert ids["IBD1", "DiseaseOrPhenotypicFeature"] == ("OMIM:266600",)
    assert ids["mystery compound", "ChemicalEntity"] == ()
    assert ids["PC-12", "CellLine"] == ("CVCL_0481",)
    assert ids["c.68_69delAG", "SequenceVariant"] == ("c|DEL|68_69|AG",)  # no rule: one id, not split on |
    text = {d.doc_id: f"{d.title} {d.abstract}" for d in docs}
    assert all(text[m.doc_id][m.start : m.end] == m.mention for d in docs for m in d.mentions)
    assert annotated_classes(docs) == {"gene", "species", "drug", "disease", "cell_line"}


def test_id_rules_never_cross_types() -> None:
    # a bare number is no MeSH id, a MeSH-looking id no gene; S800 writes its prefix already
    assert concept_ids("9606", "Disease") == ("9606",)
    assert concept_ids("D003924", "GeneOrGeneProduct") == ("D003924",)
    assert concept_ids("NCBITaxon:9606", "Species") == concept_ids("9606", "Species") == ("NCBITaxon:9606",)
    assert concept_ids("1|2", "UnknownType") == ("1|2",)


def test_per_class_accounting_and_not_in_ontology_share() -> None:
    """BioRED-style: genes whose NCBI Gene ids the HGNC-keyed terms lack, a taxon missing from the taxonomy,
    cell lines without an ontology; the in-ontology accuracy counts only what linking could reach."""
    docs = read_pubtator(str(BIORED))
    mentions = [m for d in docs for m in d.mentions if m.corpus_type != "SequenceVariant"]
    known = {
        "species": {"NCBITaxon:9606", "NCBITaxon:10090"},
        "gene": {"HGNC:1100"},
        "drug": {"MESH:D008687", "MESH:D001241"},
        "disease": {"MESH:D003924", "MESH:D003424", "MESH:D015212"},
    }
    classes = {"OrganismTaxon": "species", "GeneOrGeneProduct": "gene", "ChemicalEntity": "drug",
               "DiseaseOrPhenotypicFeature": "disease", "CellLine": "cell_line"}  # fmt: skip
    eid = {(m.doc_id, m.mention): _entity_id((m.doc_id, m.start, m.end), classes[m.corpus_type]) for m in mentions}
    predicted = {eid["201", "human"]: "NCBITaxon:9606", eid["201", "Humans"]: "NCBITaxon:9606",
                 eid["201", "mice"]: "NCBITaxon:9606", eid["202", "Rats"]: "NCBITaxon:10090",
                 eid["201", "BRCA1"]: "HGNC:1100", eid["201", "Metformin"]: "MESH:D008687",
                 eid["201", "aspirin"]: "MESH:D008687", eid["201", "type 2 diabetes"]: "MESH:D003924",
                 eid["202", "IBD1"]: "MESH:D003424"}  # fmt: skip
    tied = {eid["201", "aspirin"]: {"MESH:D008687", "MESH:D001241"}}  # the tie-break chose metformin
    result = gold_mention_accuracy(mentions, predicted, known, {"OMIM:266600": {"MESH:D015212"}}, tied)
    species = result["species"]
    assert (species["evaluated"], species["in_ontology"], species["correct"]) == (5, 3, 2)
    assert species["accuracy"] == 0.4 and species["in_ontology_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert species["not_in_ontology_share"] == 0.4  # both rats (10116)
    assert species["errors"] == {"gold_id_not_in_ontology": 2, "wrong_concept": 1}
    gene = result["gene"]
    assert (gene["evaluated"], gene["in_ontology"], gene["not_in_ontology_share"]) == (3, 0, 1.0)
    assert gene["in_ontology_accuracy"] == 0.0 and gene["errors"] == {"gold_id_not_in_ontology": 3}
    cell_line = result["cell_line"]
    assert (cell_line["evaluated"], cell_line["not_in_ontology_share"]) == (2, 1.0)
    drug = result["drug"]  # the "-" mention is counted, not evaluated
    assert (drug["mentions"], drug["without_id"], drug["evaluated"], drug["correct"]) == (3, 1, 2, 1)
    assert drug["errors"] == {"ambiguous_unresolved": 1}
    disease = result["disease"]  # IBD1's OMIM id is an alt id of IBD, which the linker missed
    assert (disease["evaluated"], disease["in_ontology"], disease["correct"]) == (4, 3, 1)
    assert disease["errors"] == {"wrong_concept": 1, "no_candidate": 1, "gold_id_not_in_ontology": 1}
    overall = result["overall"]
    assert (overall["evaluated"], overall["in_ontology"], overall["correct"]) == (16, 8, 4)
    assert overall["not_in_ontology_share"] == 0.5 and overall["in_ontology_accuracy"] == 0.5


def test_gold_id_of_another_class_is_its_own_error_kind() -> None:
    mention = GoldMention("1", 0, 7, "aspirin", "DiseaseOrPhenotypicFeature", ("MESH:D001241",))
    known = {"disease": {"MESH:D003924"}, "drug": {"MESH:D001241"}}
    result = gold_mention_accuracy([mention], {}, known)
    assert result["disease"]["errors"] == {"gold_id_in_other_class": 1}
    assert result["disease"]["not_in_ontology_share"] == 1.0


def test_every_miss_is_listed_with_its_step_and_kind() -> None:
    right = GoldMention("1", 0, 7, "aspirin", "Chemical", ("MESH:D001241",))
    wrong = GoldMention("1", 20, 28, "diabetes", "Disease", ("MESH:D003920",))
    unlinked = GoldMention("1", 30, 34, "flux", "Disease", ("MESH:D003424",))
    known = {"disease": {"MESH:D003920", "MESH:D003424", "MESH:D009765"}, "drug": {"MESH:D001241"}}
    gold = (right, wrong, unlinked)
    ids = {m.mention: _entity_id((m.doc_id, m.start, m.end), CORPUS_CLASSES[m.corpus_type]) for m in gold}
    predicted = {ids["aspirin"]: "MESH:D001241", ids["diabetes"]: "MESH:D009765"}
    strategies = {ids["aspirin"]: ("exact", 1.0), ids["diabetes"]: ("fuzzy_tfidf", 0.7)}
    misses: list[dict] = []
    gold_mention_accuracy(list(gold), predicted, known, strategies=strategies, misses=misses)
    assert [tuple(m[c] for c in MISS_COLUMNS) for m in misses] == [
        ("1", 20, 28, "diabetes", "disease", "MESH:D003920", "MESH:D009765", "fuzzy_tfidf", 0.7, "wrong_concept"),
        ("1", 30, 34, "flux", "disease", "MESH:D003424", "", "", None, "no_candidate"),
    ]


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


def test_precision_by_strategy_and_score() -> None:
    """The step that made each judged link, and how often it is right per score bucket: what a user reads
    to set linking.embedding.min_score."""
    (doc,) = read_pubtator(str(CORPUS))
    span = {m.mention: _entity_id((m.doc_id, m.start, m.end), "disease" if m.corpus_type == "Disease" else "drug")
            for m in doc.mentions}  # fmt: skip
    predicted = {span["Crohn disease"]: CROHN, span["aspirin"]: ASPIRIN, span["Aspirin"]: "MESH:D000001",
                 span["flux capacitor"]: CROHN}  # fmt: skip
    strategies = {span["Crohn disease"]: ("exact", 1.0), span["aspirin"]: ("embedding", 0.74),
                  span["Aspirin"]: ("embedding", 0.66), span["flux capacitor"]: ("embedding", 0.71)}  # fmt: skip
    known = {"disease": {CROHN, IBD}, "drug": {ASPIRIN}}
    result = gold_mention_accuracy(doc.mentions, predicted, known, strategies=strategies)
    drug = result["drug"]["by_strategy"]["embedding"]
    assert (drug["linked"], drug["correct"], drug["precision"]) == (2, 1, 0.5)
    assert drug["by_score"] == {
        "0.65": {"linked": 1, "correct": 0, "precision": 0.0},
        "0.70": {"linked": 1, "correct": 1, "precision": 1.0},
    }
    disease = result["disease"]["by_strategy"]  # flux capacitor's gold id is -1: not judged
    assert disease["exact"]["correct"] == 1 and set(disease) == {"exact"}
    assert "by_strategy" not in gold_mention_accuracy(doc.mentions, predicted, known)["drug"]


def test_top_strategy_is_the_best_link_to_the_top_concept() -> None:
    links = [
        {"entity_id": "e", "concept_id": "A", "source": "MEDIC", "strategy": "fuzzy_tfidf", "score": 0.9},
        {"entity_id": "e", "concept_id": "A", "source": "DOID", "strategy": "normalised", "score": 0.9},
        {"entity_id": "e", "concept_id": "B", "source": "MEDIC", "strategy": "embedding", "score": 0.7},
    ]
    top = top_concepts(links)
    assert top == {"e": "A"} and top_strategies(links, top) == {"e": ("fuzzy_tfidf", 0.9)}


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


@pytest.mark.spark
def test_evaluate_linking_biored_classes(spark: SparkSession) -> None:
    """Through ``link_entities``: taxa link to the taxonomy's ids, BioRED's NCBI Gene ids are not among the
    HGNC-keyed genes, cell lines have no ontology, and the variant is not evaluated."""
    sources = [
        OntologySource(name="NCBITaxon", format="obo", entity_class="species", path="ncbitaxon-taxslim.obo",
                       id_prefix_filter="NCBITaxon:"),
        OntologySource(name="HGNC", format="hgnc", entity_class="gene", path="hgnc_complete_set.txt"),
    ]  # fmt: skip
    terms = build_ontology_terms(spark, sources, base=ONTOLOGIES)
    gold = evaluate_linking(spark, str(BIORED), terms, end_to_end=False)["gold_mentions"]
    assert set(gold) == {"cell_line", "disease", "drug", "gene", "species", "overall"}
    species = gold["species"]
    assert (species["evaluated"], species["in_ontology"], species["not_in_ontology_share"]) == (5, 3, 0.4)
    assert species["correct"] >= 1  # "human" is a synonym of NCBITaxon:9606
    assert gold["gene"]["errors"] == {"gold_id_not_in_ontology": 3}
    assert gold["cell_line"]["not_in_ontology_share"] == 1.0
    assert gold["overall"]["mentions"] == 17  # 18 minus the SequenceVariant
