"""Knowledge-graph build and exports on a hand-made lakehouse of two documents.

d1 = "BRCA1 study" / "BRCA1 causes breast cancer (e.g. in Fig. 2)." / "Tamoxifen helps.": BRCA1 twice,
breast cancer in the same sentence as the second BRCA1, tamoxifen alone in the third sentence, and one
unlinked mention. d2 = one sentence with tamoxifen and BRCA1. Tamoxifen and breast cancer each carry a
second, losing candidate link.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from kazu_spark.documents.sentences import split_sentences
from kazu_spark.kg.build import (
    build_kg,
    concept_nodes,
    cooccurrence_edges,
    document_nodes,
    document_sentences,
    mentions_edges,
    outdated,
)
from kazu_spark.kg.export import concept_labels, export_graphframes, export_neo4j
from kazu_spark.kg.kgx import REQUIRED, export_kgx, kgx_id
from kazu_spark.lakehouse.delta import (
    append_table,
    delete_documents,
    merge_table,
    read_changes,
    read_table,
    table_path,
    table_version,
)
from kazu_spark.linking.spark import with_source_version
from kazu_spark.schemas import DOCUMENTS, ENTITIES, ENTITY_LINKS, KG_EDGES, ONTOLOGY_TERMS, TABLES

GENE, DISEASE, DRUG, ASPIRIN = "HGNC:1100", "MESH:D001943", "MESH:D013629", "MESH:D001241"
TEXTS = {
    "d1": "BRCA1 study\n\nBRCA1 causes breast cancer (e.g. in Fig. 2). Tamoxifen helps.",
    "d2": "Tamoxifen and BRCA1 were studied.",
}
# (doc, mention, occurrence, class, [(concept, score)])
MENTIONS = [
    ("d1", "BRCA1", 0, "gene", [(GENE, 1.0)]),
    ("d1", "BRCA1", 1, "gene", [(GENE, 1.0)]),
    ("d1", "breast cancer", 0, "disease", [(DISEASE, 1.0), ("MESH:C000001", 0.9)]),
    ("d1", "Tamoxifen", 0, "drug", [(DRUG, 0.9), ("MESH:D999999", 0.9)]),
    ("d1", "study", 0, "species", []),
    ("d2", "Tamoxifen", 0, "drug", [(DRUG, 1.0)]),
    ("d2", "BRCA1", 0, "gene", [(GENE, 1.0)]),
]
LABELS = {GENE: "BRCA1 DNA repair associated", DISEASE: "Breast Neoplasms", DRUG: "Tamoxifen", ASPIRIN: "Aspirin"}

pytestmark = pytest.mark.spark


def _offset(text: str, mention: str, occurrence: int) -> int:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(mention, start + 1)
    return start


def _tables(spark: SparkSession, texts: dict[str, str], mentions: list) -> dict[str, DataFrame]:
    """The four input tables as DataFrames in their lakehouse schemas, for ``texts`` and ``mentions``."""
    now = datetime.now(UTC)
    documents = [
        {
            "doc_id": d,
            "source": "test.jsonl",
            "title": text.split("\n\n")[0] if "\n\n" in text else None,
            "text": text,
            "sections": [],
            "content_hash": text,
            "char_count": len(text),
            "run_id": "r0",
            "ingested_at": now,
        }
        for d, text in texts.items()
    ]
    entities, links = [], []
    for i, (doc, mention, occurrence, cls, candidates) in enumerate(mentions):
        start = _offset(texts[doc], mention, occurrence)
        entity_id = f"{doc}:{i}"
        entities.append(
            {
                "entity_id": entity_id,
                "doc_id": doc,
                "section": "body",
                "start": start,
                "end": start + len(mention),
                "mention": mention,
                "entity_class": cls,
                "confidence": 0.9,
                "model": "m",
                "content_hash": texts[doc],
                "run_id": "r0",
            }
        )
        links += [
            {
                "link_id": f"{entity_id}-{concept}",
                "entity_id": entity_id,
                "doc_id": doc,
                "concept_id": concept,
                "source": "MeSH",
                "default_label": None,
                "matched_synonym": mention,
                "strategy": "exact",
                "score": score,
                "ambiguous": len(candidates) > 1,
                "confidence_tier": "ambiguous" if len(candidates) > 1 else "high",
                "run_id": "r0",
                "source_version": "2024",
            }
            for concept, score in candidates
        ]
    terms = [
        {
            "term_id": concept,
            "concept_id": concept,
            "source": "MeSH",
            "default_label": label,
            "synonym": label,
            "synonym_type": "label",
            "normalised_synonym": label.lower(),
            "symbolic": False,
            "entity_class": "x",
            "metadata": {},
            "source_version": "1",
            "source_checksum": "0" * 64,
        }
        for concept, label in LABELS.items()
    ]
    return {
        "documents": spark.createDataFrame(documents, DOCUMENTS),
        "entities": spark.createDataFrame(entities, ENTITIES),
        "entity_links": spark.createDataFrame(links, ENTITY_LINKS),
        "ontology_terms": spark.createDataFrame(terms, ONTOLOGY_TERMS),
    }


@pytest.fixture(scope="module")
def inputs(spark: SparkSession) -> dict[str, DataFrame]:
    """The input tables of d1 and d2."""
    return _tables(spark, TEXTS, MENTIONS)


@pytest.fixture(scope="module")
def built(spark: SparkSession, inputs: dict[str, DataFrame], tmp_path_factory: pytest.TempPathFactory):
    """A lakehouse holding the inputs and one KG build; returns (lakehouse, counts)."""
    lakehouse = str(tmp_path_factory.mktemp("kg") / "lake")
    for table, df in inputs.items():
        append_table(spark, df, lakehouse, table)
    return lakehouse, build_kg(spark, lakehouse, "kg-1", config_hash="test")


def test_split_sentences_keeps_abbreviations_inside_sentences() -> None:
    text = (
        "Mice (e.g. C57BL/6) and rats, i.e. rodents, were used. Smith et al. 2020 agree. See Fig. 3 and J. Doe! 2 done"
    )
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Mice (e.g. C57BL/6) and rats, i.e. rodents, were used.",
        "Smith et al. 2020 agree.",
        "See Fig. 3 and J. Doe!",
        "2 done",
    ]
    assert split_sentences("Title\n\nBody text. lower case goes on.  ") == [(0, 5), (7, 37)]
    assert split_sentences("") == []


def test_concept_nodes_use_the_best_link_and_term_labels(inputs) -> None:
    rows = concept_nodes(inputs["entities"], inputs["entity_links"], inputs["ontology_terms"]).collect()
    got = {r.node_id: (r.label, r.entity_class, r.mention_count, r.document_count, r.category) for r in rows}
    assert got == {
        GENE: (LABELS[GENE], "gene", 3, 2, "biolink:Gene"),
        DISEASE: ("Breast Neoplasms", "disease", 1, 1, "biolink:Disease"),
        DRUG: ("Tamoxifen", "drug", 2, 2, "biolink:ChemicalEntity"),
    }
    assert {(r.node_type, r.source, r.source_version, r.sentences) for r in rows} == {("Concept", "MeSH", "2024", None)}


def _span(doc: str, section: str, start: int, mention: str, sentence: tuple[int, int]) -> dict:
    """A MENTIONS evidence struct as a dict."""
    end = start + len(mention)
    return dict(
        doc_id=doc, section=section, start=start, end=end, mention=mention, sentence_start=sentence[0],
        sentence_end=sentence[1],
    )  # fmt: skip


def _sentence(doc: str, sentence: tuple[int, int]) -> dict:
    """A CO_OCCURS_SENTENCE evidence struct as a dict."""
    return dict(doc_id=doc, section="body", start=None, end=None, mention=None, sentence_start=sentence[0],
                sentence_end=sentence[1])  # fmt: skip


def _document(doc: str) -> dict:
    """A CO_OCCURS_DOCUMENT evidence struct as a dict."""
    return dict(doc_id=doc, section=None, start=None, end=None, mention=None, sentence_start=None, sentence_end=None)


#: sentence spans of TEXTS (split_sentences)
D1_SENTENCES, D2_SENTENCES = [(0, 11), (13, 57), (58, 74)], [(0, 33)]


def test_mentions_edges_evidence_is_structured_with_sentences(inputs) -> None:
    spans = document_sentences(inputs["documents"])
    mentions = mentions_edges(inputs["entities"], inputs["entity_links"], spans)
    got = {(r.src, r.dst): (r["count"], [e.asDict() for e in r.evidence]) for r in mentions.collect()}
    first, second, third = D1_SENTENCES
    assert got == {
        ("doc:d1", GENE): (2, [_span("d1", "body", 0, "BRCA1", first), _span("d1", "body", 13, "BRCA1", second)]),
        ("doc:d1", DISEASE): (1, [_span("d1", "body", 26, "breast cancer", second)]),
        ("doc:d1", DRUG): (1, [_span("d1", "body", 58, "Tamoxifen", third)]),
        ("doc:d2", DRUG): (1, [_span("d2", "body", 0, "Tamoxifen", D2_SENTENCES[0])]),
        ("doc:d2", GENE): (1, [_span("d2", "body", 14, "BRCA1", D2_SENTENCES[0])]),
    }
    nodes = {r.node_id: r for r in document_nodes(inputs["documents"], mentions, spans).collect()}
    assert {k: (n.label, n.mention_count, n.document_count, n.category) for k, n in nodes.items()} == {
        "doc:d1": ("BRCA1 study", 4, 1, "biolink:Publication"),
        "doc:d2": ("d2", 2, 1, "biolink:Publication"),
    }
    assert [(s.start, s.end) for s in nodes["doc:d1"].sentences] == D1_SENTENCES  # stored for the evidence


def test_edges_carry_biolink_predicates_publications_and_ontology_versions(inputs) -> None:
    spans = document_sentences(inputs["documents"])
    edges = mentions_edges(inputs["entities"], inputs["entity_links"], spans).unionByName(
        cooccurrence_edges(inputs["entities"], inputs["entity_links"], spans)
    )
    biolink = {(r.edge_type, r.predicate, r.knowledge_level, r.agent_type) for r in edges.collect()}
    assert biolink == {
        ("MENTIONS", "biolink:mentions", "observation", "text_mining_agent"),
        ("CO_OCCURS_SENTENCE", "biolink:occurs_together_in_literature_with", "text_co_occurrence", "text_mining_agent"),
        ("CO_OCCURS_DOCUMENT", "biolink:occurs_together_in_literature_with", "text_co_occurrence", "text_mining_agent"),
    }
    rows = {(r.edge_type, r.src, r.dst): r for r in edges.collect()}
    assert rows[("CO_OCCURS_DOCUMENT", GENE, DRUG)].publications == ["doc:d1", "doc:d2"]
    assert {tuple(o) for r in rows.values() for o in r.ontologies} == {("MeSH", "2024")}
    assert sorted(edges.columns) == sorted(f for f in KG_EDGES.fieldNames() if f != "run_id")


def test_cooccurrence_edges_by_sentence_and_document(inputs) -> None:
    spans = document_sentences(inputs["documents"])
    edges = cooccurrence_edges(inputs["entities"], inputs["entity_links"], spans).collect()
    got = {(r.edge_type, r.src, r.dst): (r["count"], [e.asDict() for e in r.evidence]) for r in edges}
    assert got == {
        ("CO_OCCURS_SENTENCE", GENE, DISEASE): (1, [_sentence("d1", D1_SENTENCES[1])]),
        ("CO_OCCURS_SENTENCE", GENE, DRUG): (1, [_sentence("d2", D2_SENTENCES[0])]),
        ("CO_OCCURS_DOCUMENT", GENE, DISEASE): (1, [_document("d1")]),
        # d1 mentions the pair 3 times, d2 twice
        ("CO_OCCURS_DOCUMENT", GENE, DRUG): (2, [_document("d1"), _document("d2")]),
        ("CO_OCCURS_DOCUMENT", DISEASE, DRUG): (1, [_document("d1")]),
    }
    assert len({r.edge_id for r in edges}) == len(edges)


def test_links_without_a_version_take_their_sources_from_the_terms(inputs) -> None:
    links, terms = inputs["entity_links"], inputs["ontology_terms"]  # links made with "2024", the terms now "1"

    def versions(frame: DataFrame) -> set[str]:
        return {r.source_version for r in with_source_version(frame, terms).collect()}

    assert versions(links) == {"2024"}  # a link keeps the version it was made with
    assert versions(links.withColumn("source_version", F.lit(None).cast("string"))) == {"1"}  # null: an older row
    assert versions(links.drop("source_version")) == {"1"}  # a table written before the column existed


def test_rebuild_gives_the_same_tables_and_changes_no_row(spark, built) -> None:
    lakehouse, first = built
    tables = {
        "kg_nodes": 5,
        "kg_nodes.Concept": 3,
        "kg_nodes.Document": 2,
        "kg_edges": 10,
        "kg_edges.CO_OCCURS_DOCUMENT": 3,
        "kg_edges.CO_OCCURS_SENTENCE": 2,
        "kg_edges.MENTIONS": 5,
    }
    assert first == tables | {"documents_recomputed": 2, "full_rebuild": 1}  # no previous build: full
    assert build_kg(spark, lakehouse, "kg-2", config_hash="test") == tables | {
        "documents_recomputed": 0,
        "full_rebuild": 0,
    }  # no input changed since kg-1: nothing to recompute
    assert build_kg(spark, lakehouse, "kg-3", config_hash="test", full=True) == first
    for table in ("kg_nodes", "kg_edges"):
        rows = read_table(spark, lakehouse, table).select("run_id").collect()
        assert len(rows) == first[table] and {r.run_id for r in rows} == {"kg-1"}  # nothing changed, nothing updated
    runs = read_table(spark, lakehouse, "runs").filter("command = 'kg-build'").collect()
    assert sorted(r.run_id for r in runs) == ["kg-1", "kg-2", "kg-3"] and {r.status for r in runs} == {"succeeded"}
    assert all(r.versions.keys() == {"documents", "entities", "entity_links", "ontology_terms"} for r in runs)


# d1 rewritten: tamoxifen gone, aspirin new, breast cancer now shares a sentence with the first BRCA1;
# d3 is new. d2 is untouched.
CHANGED_TEXTS = {
    "d1": "BRCA1 study\n\nBreast cancer and BRCA1 were seen. Aspirin too.",
    "d3": "Aspirin and breast cancer.",
}
CHANGED_MENTIONS = [
    ("d1", "BRCA1", 0, "gene", [(GENE, 1.0)]),
    ("d1", "Breast cancer", 0, "disease", [(DISEASE, 1.0)]),
    ("d1", "BRCA1", 1, "gene", [(GENE, 1.0)]),
    ("d1", "Aspirin", 0, "drug", [(ASPIRIN, 1.0)]),
    ("d3", "Aspirin", 0, "drug", [(ASPIRIN, 1.0)]),
    ("d3", "breast cancer", 0, "disease", [(DISEASE, 0.9), (DRUG, 0.5)]),
]


def _graph(spark: SparkSession, lakehouse: str) -> dict[str, set[str]]:
    """kg_nodes and kg_edges rows, run_id left out, as JSON strings."""
    return {
        table: {
            json.dumps(r.asDict(), sort_keys=True) for r in read_table(spark, lakehouse, table).drop("run_id").collect()
        }
        for table in ("kg_nodes", "kg_edges")
    }


def test_incremental_build_after_changed_input_equals_full_rebuild(spark, built, tmp_path) -> None:
    lakehouse = str(tmp_path / "lake")
    shutil.copytree(built[0], lakehouse)  # the inputs of d1 and d2 and their full build
    before = {t: table_version(spark, lakehouse, t) for t in ("documents", "entities")}
    changed = _tables(spark, CHANGED_TEXTS, CHANGED_MENTIONS)  # written the way annotate rewrites documents
    merge_table(spark, changed["documents"], lakehouse, "documents")
    for table in ("entity_links", "entities"):
        delete_documents(spark, lakehouse, table, changed["documents"])
        append_table(spark, changed[table], lakehouse, table)

    feed = {
        t: read_changes(spark, lakehouse, t, before[t] + 1, table_version(spark, lakehouse, t)).collect()
        for t in before
    }
    assert sorted((r.doc_id, r._change_type) for r in feed["documents"]) == [
        ("d1", "update_postimage"),
        ("d1", "update_preimage"),
        ("d3", "insert"),
    ]
    assert {r.text for r in feed["documents"] if r._change_type == "update_postimage"} == {CHANGED_TEXTS["d1"]}
    entity_changes = sorted((r.entity_id, r._change_type) for r in feed["entities"])
    assert entity_changes == sorted(
        [(f"d1:{i}", "delete") for i in range(5)]
        + [(f"d1:{i}", "insert") for i in range(4)]
        + [("d3:4", "insert"), ("d3:5", "insert")]
    )

    incremental = build_kg(spark, lakehouse, "kg-2", config_hash="test")
    assert (incremental["full_rebuild"], incremental["documents_recomputed"]) == (0, 2)  # d1 and d3, not d2
    graph = _graph(spark, lakehouse)
    edges = {(e["edge_type"], e["src"], e["dst"]): e["count"] for e in map(json.loads, graph["kg_edges"])}
    assert ("CO_OCCURS_DOCUMENT", DISEASE, DRUG) not in edges  # d1 lost tamoxifen: the pair is gone
    assert edges[("CO_OCCURS_DOCUMENT", GENE, DRUG)] == 1 and edges[("CO_OCCURS_DOCUMENT", ASPIRIN, DISEASE)] == 2
    rebuilt = build_kg(spark, lakehouse, "kg-3", config_hash="test", full=True)
    assert _graph(spark, lakehouse) == graph and rebuilt == incremental | {"documents_recomputed": 3, "full_rebuild": 1}
    assert "kg-3" not in {r.run_id for r in read_table(spark, lakehouse, "kg_edges").collect()}  # nothing to fix


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        header, *rows = csv.reader(handle)
    return header, rows


def test_neo4j_labels_name_the_class(spark) -> None:
    classes = spark.createDataFrame([("gene",), ("cell_line",), ("cell_type",), (None,)], "entity_class string")
    labels = [r.labels for r in classes.select(concept_labels(F.col("entity_class")).alias("labels")).collect()]
    assert labels == ["Concept;Gene", "Concept;CellLine", "Concept;CellType", "Concept"]


def test_neo4j_export_headers_and_ids(spark, built, tmp_path) -> None:
    lakehouse, counts = built
    written = export_neo4j(spark, lakehouse, str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(written)
    files = {name: _read_csv(tmp_path / name) for name in written}
    assert files["nodes_concepts.csv"][0] == [
        "conceptId:ID(Concept)",
        "label",
        "entityClass",
        "source",
        "mentionCount:long",
        "documentCount:long",
        "category",
        ":LABEL",
    ]
    assert files["nodes_documents.csv"][0] == [
        "docId:ID(Document)", "label", "source", "mentionCount:long", "category", ":LABEL",
    ]  # fmt: skip
    assert files["edges_mentions.csv"][0] == [
        ":START_ID(Document)",
        ":END_ID(Concept)",
        "count:long",
        "evidence:string[]",
        "predicate",
        ":TYPE",
    ]
    concepts = {row[0]: row[-2:] for row in files["nodes_concepts.csv"][1]}
    assert concepts == {
        GENE: ["biolink:Gene", "Concept;Gene"],
        DISEASE: ["biolink:Disease", "Concept;Disease"],
        DRUG: ["biolink:ChemicalEntity", "Concept;Drug"],
    }
    assert {tuple(row[-2:]) for row in files["nodes_documents.csv"][1]} == {("biolink:Publication", "Document")}
    ids = {group: {row[0] for row in files[f"nodes_{group.lower()}s.csv"][1]} for group in ("Concept", "Document")}
    assert ids["Document"] == {"d1", "d2"}
    for name in ("edges_mentions.csv", "edges_co_occurs_sentence.csv", "edges_co_occurs_document.csv"):
        header, rows = files[name]
        start_group = header[0].removeprefix(":START_ID(").rstrip(")")
        assert all(r[0] in ids[start_group] and r[1] in ids["Concept"] for r in rows)
    assert sum(len(rows) for _, rows in files.values()) == counts["kg_nodes"] + counts["kg_edges"]
    mentions = {(r[0], r[1]): r for r in files["edges_mentions.csv"][1]}
    assert mentions[("d1", GENE)][2:] == ["2", "0-5:BRCA1;13-18:BRCA1", "biolink:mentions", "MENTIONS"]
    sentences = {(r[0], r[1]): r[3] for r in files["edges_co_occurs_sentence.csv"][1]}
    assert sentences[(GENE, DISEASE)] == "d1:13-57"  # doc_id:sentence span
    together = {
        r[4] for name in ("edges_co_occurs_sentence.csv", "edges_co_occurs_document.csv") for r in files[name][1]
    }
    assert together == {"biolink:occurs_together_in_literature_with"}


def _read_tsv(path: Path) -> list[dict[str, str]]:
    """A KGX TSV file's rows as dicts, read as KGX reads it (tab-separated, no quoting); every row as long as
    the header."""
    with path.open(newline="", encoding="utf-8") as handle:
        header, *rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
    assert all(len(row) == len(header) for row in rows)
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_kgx_ids_are_biolink_curies_and_publications(spark) -> None:
    ids = ["mesh:D1", "NCBITAXON:9606", "HGNC:1100", "CVCL_0030", "doc:31452104", "doc:PMC6712345", "doc:notes/a.txt"]
    frame = spark.createDataFrame([(i,) for i in ids], "node_id string")
    assert [r.id for r in frame.select(kgx_id(F.col("node_id")).alias("id")).collect()] == [
        "MESH:D1", "NCBITaxon:9606", "HGNC:1100", "CVCL_0030", "PMID:31452104", "PMCID:PMC6712345", "doc:notes/a.txt",
    ]  # fmt: skip


def test_kgx_export_has_the_required_columns_and_every_edge_joins_two_nodes(spark, built, tmp_path) -> None:
    lakehouse, counts = built
    pairs = counts["kg_edges.CO_OCCURS_DOCUMENT"]  # a pair is one KGX edge: no CO_OCCURS_SENTENCE edges of its own
    written = export_kgx(spark, lakehouse, str(tmp_path))
    assert written == {"nodes.tsv": counts["kg_nodes"], "edges.tsv": counts["kg_edges.MENTIONS"] + pairs}
    nodes, edges = (_read_tsv(tmp_path / name) for name in REQUIRED)
    for name, rows in (("nodes.tsv", nodes), ("edges.tsv", edges)):
        assert all(row[column] for row in rows for column in REQUIRED[name]), name
    by_id = {node["id"]: node for node in nodes}
    assert len(by_id) == len(nodes) and all(e["subject"] in by_id and e["object"] in by_id for e in edges)
    assert {n["id"]: (n["category"], n["name"]) for n in nodes} == {
        GENE: ("biolink:Gene", LABELS[GENE]),
        DISEASE: ("biolink:Disease", "Breast Neoplasms"),
        DRUG: ("biolink:ChemicalEntity", "Tamoxifen"),
        "doc:d1": ("biolink:Publication", "BRCA1 study"),
        "doc:d2": ("biolink:Publication", "d2"),
    }
    got = {(e["subject"], e["predicate"], e["object"]): e for e in edges}
    assert len(got) == len(edges)  # KGX's edge identity: subject, predicate, object
    mention = got[("doc:d1", "biolink:mentions", GENE)]
    assert (mention["knowledge_level"], mention["agent_type"], mention["primary_knowledge_source"]) == (
        "observation", "text_mining_agent", "infores:kazu-spark",
    )  # fmt: skip
    assert (mention["publications"], mention["evidence_count"], mention["sentence_count"]) == ("doc:d1", "2", "")
    together = "biolink:occurs_together_in_literature_with"
    pair = got[(GENE, together, DRUG)]  # in d1 and d2, in one sentence of d2
    assert (pair["knowledge_level"], pair["publications"]) == ("text_co_occurrence", "doc:d1|doc:d2")
    assert (pair["evidence_count"], pair["sentence_count"]) == ("2", "1")
    never_in_a_sentence = got[(DISEASE, together, DRUG)]
    assert (never_in_a_sentence["evidence_count"], never_in_a_sentence["sentence_count"]) == ("1", "0")


#: a Python that has the kgx package (its own virtual environment: kgx pins older numpy and pyarrow)
KGX_PYTHON = os.environ.get("KGX_PYTHON", sys.executable)


@pytest.mark.heavy
def test_kgx_export_of_pubmed_documents_passes_the_kgx_validator(spark, tmp_path) -> None:
    if subprocess.run([KGX_PYTHON, "-c", "import kgx"], capture_output=True).returncode:
        pytest.skip("kgx is not installed: set KGX_PYTHON to a Python that has it (tools/kgx_validate.py)")
    pmids = {"d1": "31452104", "d2": "31452105"}  # PMID: CURIEs; a doc: id is no Biolink prefix
    texts = {pmids[doc]: text for doc, text in TEXTS.items()}
    lakehouse = str(tmp_path / "lake")
    for table, df in _tables(spark, texts, [(pmids[doc], *rest) for doc, *rest in MENTIONS]).items():
        append_table(spark, df, lakehouse, table)
    counts = build_kg(spark, lakehouse, "kg-1", config_hash="test")
    export_kgx(spark, lakehouse, str(tmp_path / "kgx"))
    files = [str(tmp_path / "kgx" / name) for name in REQUIRED]
    result = subprocess.run(
        [KGX_PYTHON, "-m", "tools.kgx_validate", *files],
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    edges = counts["kg_edges.MENTIONS"] + counts["kg_edges.CO_OCCURS_DOCUMENT"]
    assert f"nodes {counts['kg_nodes']}, edges {edges}, errors {{}}" in result.stdout


def test_a_graph_built_by_an_older_version_is_refused_by_exports_and_rebuilt(spark, built, tmp_path) -> None:
    lakehouse = str(tmp_path / "lake")
    shutil.copytree(built[0], lakehouse)
    current = _graph(spark, lakehouse)
    evidence_strings = F.transform("evidence", lambda e: e["doc_id"]).alias("evidence")  # before: array<string>
    older = read_table(spark, lakehouse, "kg_edges").select(
        "edge_id", "edge_type", "src", "dst", "count", evidence_strings, "run_id"
    )
    writer = older.localCheckpoint(eager=True).write.format("delta").mode("overwrite")
    writer.option("overwriteSchema", "true").save(table_path(lakehouse, "kg_edges"))
    assert outdated(spark, lakehouse, "kg_edges") and not outdated(spark, lakehouse, "kg_nodes")
    with pytest.raises(ValueError, match="older kazu-spark: run `kazu-spark kg build`"):
        export_neo4j(spark, lakehouse, str(tmp_path / "neo4j"))

    counts = build_kg(spark, lakehouse, "kg-2", config_hash="test")  # no input changed, yet a full rebuild
    assert counts["full_rebuild"] == 1 and not outdated(spark, lakehouse, "kg_edges")
    assert _graph(spark, lakehouse) == current
    comments = {f.name: f.metadata.get("comment") for f in read_table(spark, lakehouse, "kg_edges").schema.fields}
    assert comments == {f.name: f.metadata["comment"] for f in TABLES["kg_edges"].fields}


def test_graphframes_export_reads_back(spark, built, tmp_path) -> None:
    lakehouse, counts = built
    assert export_graphframes(spark, lakehouse, str(tmp_path)) == {
        "vertices": counts["kg_nodes"],
        "edges": counts["kg_edges"],
    }
    vertices = spark.read.parquet(str(tmp_path / "vertices"))
    edges = spark.read.parquet(str(tmp_path / "edges"))
    assert vertices.columns[0] == "id" and {"node_type", "label", "mention_count"} <= set(vertices.columns)
    assert edges.columns[:3] == ["src", "dst", "relationship"] and "evidence" in edges.columns
    assert edges.join(vertices, edges.dst == vertices.id, "left_anti").count() == 0


# --- issue 20: hostile text in the Neo4j CSVs -------------------------------------------------------------------

#: titles and a concept label a spreadsheet would run as formulas (OWASP CSV injection)
HOSTILE_TITLES = {"h1": "=cmd|' /C calc'!A0", "h2": "@SUM(1+1)*cmd|' /C calc'!A0", "h3": "\t=1+1"}
HOSTILE_LABEL = '=HYPERLINK("http://example.org/x","click me")'
#: the documents' stored sources: absolute, as Spark records an input file
SOURCES = {"h1": "file:///data/in/a.jsonl", "h2": "file:///data/in/sub/b.jsonl", "h3": "file:///data/in/a.jsonl"}
#: neo4j-admin header suffixes of the columns that are ids, numbers or fixed names, not free text
TYPED = (":LABEL", ":TYPE", ":long", ")", ":START_ID", ":END_ID")


def test_neo4j_export_neutralises_formulas_and_writes_relative_sources(spark, tmp_path) -> None:
    texts = {doc: f"{title}\n\nBRCA1 and tamoxifen." for doc, title in HOSTILE_TITLES.items()}
    mentions = [(doc, "BRCA1", 0, "gene", [(GENE, 1.0)]) for doc in texts] + [
        ("h1", "tamoxifen", 0, "drug", [(DRUG, 1.0)])
    ]
    tables = _tables(spark, texts, mentions)
    source = F.create_map(*(F.lit(x) for pair in SOURCES.items() for x in pair))[F.col("doc_id")]
    tables["documents"] = tables["documents"].withColumn("source", source)
    label = F.when(F.col("concept_id") == GENE, F.lit(HOSTILE_LABEL)).otherwise(F.col("default_label"))
    tables["ontology_terms"] = tables["ontology_terms"].withColumn("default_label", label)
    lakehouse = str(tmp_path / "lake")
    for table, df in tables.items():
        append_table(spark, df, lakehouse, table)
    build_kg(spark, lakehouse, "kg-hostile", config_hash="test")
    out = tmp_path / "neo4j"
    written = export_neo4j(spark, lakehouse, str(out))
    files = {name: _read_csv(out / name) for name in written}

    documents = {row[0]: row for row in files["nodes_documents.csv"][1]}
    assert {doc: row[1] for doc, row in documents.items()} == {doc: f"'{t}" for doc, t in HOSTILE_TITLES.items()}
    assert {doc: row[2] for doc, row in documents.items()} == {"h1": "a.jsonl", "h2": "sub/b.jsonl", "h3": "a.jsonl"}
    concepts = {row[0]: row for row in files["nodes_concepts.csv"][1]}
    assert concepts[GENE][1] == f"'{HOSTILE_LABEL}" and concepts[DRUG][1] == "Tamoxifen"
    for name, (header, rows) in files.items():  # no free-text cell starts a formula, no path is absolute
        text_columns = [i for i, column in enumerate(header) if not column.endswith(TYPED)]
        cells = [row[i] for row in rows for i in text_columns]
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], name
        assert not [c for c in cells if c.startswith(("/", "file:"))], name
