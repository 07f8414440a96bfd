"""Ontology parsers on tiny excerpts of the real files (tests/data/ontologies), sources and configs."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from kazu_spark.config import ColumnMapping, OntologySource, load_config
from kazu_spark.ontologies.parsers import (
    parse_doid_json,
    parse_hgnc,
    parse_medic,
    parse_mesh,
    parse_obo,
    parse_source,
    source_checksum,
    source_version,
)
from kazu_spark.ontologies.sources import default_sources
from kazu_spark.ontologies.terms import terms_rows
from kazu_spark.paths import resolve_path
from tools.subset import TextMatcher, subset_sources, write_subsets

DATA = Path(__file__).parent / "data" / "ontologies"
REPO = Path(__file__).parent.parent


def _synonyms(rows: list[dict], concept_id: str) -> dict[str, str]:
    return {row["synonym"]: row["synonym_type"] for row in rows if row["concept_id"] == concept_id}


def test_medic() -> None:
    rows = list(parse_medic(str(DATA / "ctd_diseases.tsv")))
    assert {row["concept_id"] for row in rows} == {
        "MESH:C538288",
        "MESH:C537805",
        "MESH:D003424",
        "MESH:D003924",
        "MESH:D015212",
    }
    ibd = _synonyms(rows, "MESH:D015212")
    assert ibd["Inflammatory Bowel Diseases"] == "label"
    assert ibd["IBD1"] == ibd["Inflammatory Bowel Disease"] == "exact"
    assert len(ibd) == 9
    assert rows[0]["synonym_type"] == "label"
    assert {row["default_label"] for row in rows if row["concept_id"] == "MESH:D003424"} == {"Crohn Disease"}
    assert rows[0]["metadata"].keys() >= {"TreeNumbers"}


def test_obo_cell_ontology() -> None:
    rows = list(parse_obo(str(DATA / "cl-basic.obo")))
    assert {row["concept_id"] for row in rows} == {"CL:0000000", "CL:0000001", "CL:0000236"}  # obsolete skipped
    assert _synonyms(rows, "CL:0000236") == {
        "B cell": "label",
        "B lymphocyte": "exact",
        "B-cell": "exact",
        "B-lymphocyte": "exact",
    }
    assert _synonyms(rows, "CL:0000001")["primary cell line cell"] == "related"


def test_obo_taxonomy_synonym_types() -> None:
    rows = list(parse_obo(str(DATA / "ncbitaxon-taxslim.obo")))
    assert _synonyms(rows, "NCBITaxon:10090") == {"Mus musculus": "label", "house mouse": "exact", "mouse": "exact"}
    assert _synonyms(rows, "NCBITaxon:9606") == {"Homo sapiens": "label", "human": "exact"}
    assert _synonyms(rows, "NCBITaxon:1") == {"root": "label", "all": "related"}
    assert {row["metadata"]["namespace"] for row in rows} == {"ncbi_taxonomy"}


def test_obo_escaped_quotes(tmp_path: Path) -> None:
    obo = tmp_path / "x.obo"
    obo.write_text('[Term]\nid: X:1\nname: x\nsynonym: "the \\"x\\" thing" BROAD []\n', encoding="utf-8")
    assert _synonyms(list(parse_obo(str(obo))), "X:1") == {"x": "label", 'the "x" thing': "broad"}


def test_hgnc() -> None:
    rows = list(parse_hgnc(str(DATA / "hgnc_complete_set.txt")))
    assert "HGNC:1" not in {row["concept_id"] for row in rows}  # entry withdrawn
    antisense = _synonyms(rows, "HGNC:37133")
    assert antisense["A1BG-AS1"] == "symbol"
    assert antisense["A1BG antisense RNA 1"] == "name"
    assert antisense["FLJ23569"] == "alias"
    assert antisense["A1BGAS"] == antisense["A1BG antisense RNA (non-protein coding)"] == "previous"  # quoted cells
    assert {row["default_label"] for row in rows if row["concept_id"] == "HGNC:37133"} == {"A1BG-AS1"}
    assert _synonyms(rows, "HGNC:5") == {"A1BG": "symbol", "alpha-1-B glycoprotein": "name"}
    assert rows[0]["metadata"] == {"locus_group": "protein-coding gene", "location": "19q13.43"}


def test_mesh_tree_filter() -> None:
    descriptors, trees = str(DATA / "mesh-2015-descriptors.tsv"), str(DATA / "mesh-2015-tree-numbers.tsv")
    drugs = list(parse_mesh(descriptors, trees, "D"))
    assert [row["concept_id"] for row in drugs] == ["MESH:D000001", "MESH:D000002", "MESH:D001241", "MESH:D008687"]
    assert drugs[2] == {
        "concept_id": "MESH:D001241",
        "default_label": "Aspirin",
        "synonym": "Aspirin",
        "synonym_type": "label",
        "metadata": {"tree_numbers": "D02.455.426.559.389.657.410.595.176"},
    }
    assert len(list(parse_mesh(descriptors))) == 6  # no tree filter: every descriptor


def test_doid_json() -> None:
    rows = list(parse_doid_json(str(DATA / "doid.json")))
    assert {row["concept_id"] for row in rows} == {"DOID:8778", "DOID:9352"}  # deprecated and property skipped
    assert _synonyms(rows, "DOID:9352") == {
        "type 2 diabetes mellitus": "label",
        "type II diabetes mellitus": "exact",
        "non-insulin-dependent diabetes mellitus": "exact",
        "NIDDM": "exact",
    }


def test_gzip_detected_by_suffix(tmp_path: Path) -> None:
    packed = tmp_path / "cl.obo.gz"
    with open(DATA / "cl-basic.obo", "rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert list(parse_obo(str(packed))) == list(parse_obo(str(DATA / "cl-basic.obo")))


def test_parse_source_prefix_filter() -> None:
    source = OntologySource(name="HGNC", format="hgnc", entity_class="gene", path="hgnc_complete_set.txt",
                            id_prefix_filter="HGNC:4")  # fmt: skip
    assert {row["concept_id"] for row in parse_source(source, base=DATA)} == {"HGNC:40"}


def test_source_version() -> None:
    cl = OntologySource(name="CL", format="obo", entity_class="cell_type", path=str(DATA / "cl-basic.obo"))
    taxa = OntologySource(name="T", format="obo", entity_class="species", path=str(DATA / "ncbitaxon-taxslim.obo"))
    doid = OntologySource(name="DOID", format="doid_json", entity_class="disease", path=str(DATA / "doid.json"))
    assert source_version(cl) == "cl/releases/2022-11-25/cl-basic.owl"
    assert source_version(doid) == "http://purl.obolibrary.org/obo/doid/releases/2018-07-05/doid.owl"
    version = source_version(taxa)  # no data-version: file checksum
    assert len(version) == 12 and int(version, 16) >= 0


def test_source_checksum_is_the_file_sha256(tmp_path: Path) -> None:
    copy = tmp_path / "taxa.obo"
    shutil.copy(DATA / "ncbitaxon-taxslim.obo", copy)
    taxa = OntologySource(name="T", format="obo", entity_class="species", path=str(copy))
    before = source_checksum(taxa)
    assert before == hashlib.sha256(copy.read_bytes()).hexdigest()
    copy.write_text(copy.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert source_checksum(taxa) != before


def test_generic_csv_with_column_mapping() -> None:
    mapping = ColumnMapping(
        id="id", label="name", synonyms=["aka"], separator=";", id_prefix="MESH:", metadata=["tree"]
    )
    source = OntologySource(name="Drugs", format="csv", entity_class="drug", path="concepts.csv", columns=mapping)
    rows = list(parse_source(source, base=DATA))
    assert _synonyms(rows, "MESH:D001241") == {"aspirin": "label", "acetylsalicylic acid": "aka", "ASA": "aka"}
    assert _synonyms(rows, "MESH:D008094") == {"Lithium": "label", "Li": "aka"}  # prefix not doubled
    assert {row["concept_id"] for row in rows} == {"MESH:D001241", "MESH:D008094"}  # id-less, label-less rows skipped
    assert rows[0]["metadata"] == {"tree": "D02.455"}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_generic_jsonl_and_parquet(fmt: str, tmp_path: Path) -> None:
    path = DATA / "concepts.jsonl"
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        lines = path.read_text(encoding="utf-8").splitlines()
        path = tmp_path / "concepts.parquet"
        pq.write_table(pa.Table.from_pylist([json.loads(line) for line in lines]), path)
    mapping = ColumnMapping(id="code", label="label", synonyms=["names"], id_prefix="NCBITaxon:", metadata=["rank"])
    source = OntologySource(name="Taxa", format=fmt, entity_class="species", path=str(path), columns=mapping)
    rows = list(parse_source(source))
    assert _synonyms(rows, "NCBITaxon:9606") == {"Homo sapiens": "label", "human": "names", "man": "names"}
    assert _synonyms(rows, "NCBITaxon:10090") == {"Mus musculus": "label"}
    assert rows[0]["metadata"] == {"rank": "species"}


def test_pubtator_curations_take_the_majority_id(tmp_path: Path) -> None:
    corpus = tmp_path / "train.txt"
    corpus.write_text(
        "1|t|Lithium and lithium.\n1|a|Li twice.\n"
        "1\t0\t7\tLithium\tChemical\tD008094\n1\t12\t19\tlithium\tChemical\tD008094\n"
        "1\t21\t23\tLi\tChemical\tD008094\n1\t24\t26\tLi\tChemical\tD016651\n"
        "1\t24\t26\tLi\tChemical\tD008094\n1\t0\t7\tLithium\tDisease\tD000001\n"
        "1\t0\t20\tLithium and lithium\tChemical\tD008094|D016651\n1\t0\t2\tXx\tChemical\t-1\n\n",
        encoding="utf-8",
    )
    source = OntologySource(
        name="curations", format="pubtator", entity_class="drug", path=str(corpus), annotation_types=["Chemical"]
    )
    rows = list(parse_source(source))
    assert _synonyms(rows, "MESH:D008094") == {"Li": "label", "Lithium": "curated", "lithium": "curated"}
    assert {row["concept_id"] for row in rows} == {"MESH:D008094"}  # minority, composite, -1, Disease dropped


def test_source_validation() -> None:
    with pytest.raises(ValidationError):
        OntologySource(name="X", format="obo", entity_class="planet", path="x.obo")
    with pytest.raises(ValidationError):
        OntologySource(name="X", format="mesh", entity_class="drug", path="d.tsv", tree_prefix="D")
    with pytest.raises(ValidationError):
        OntologySource(name="X", format="owl", entity_class="drug", path="d.owl")
    with pytest.raises(ValidationError):  # a generic table needs its column mapping
        OntologySource(name="X", format="csv", entity_class="drug", path="d.csv")
    with pytest.raises(ValidationError):
        OntologySource(name="X", format="pubtator", entity_class="drug", path="train.txt")


def test_terms_rows_dedup_and_ids() -> None:
    source = OntologySource(name="HGNC", format="hgnc", entity_class="gene", path=str(DATA / "hgnc_complete_set.txt"))
    rows = list(terms_rows(source))
    keys = [(row["concept_id"], row["synonym"]) for row in rows]
    assert len(keys) == len(set(keys))
    p53 = next(row for row in rows if row["synonym"] == "p53")
    assert p53["normalised_synonym"] == "P53" and p53["entity_class"] == "gene" and p53["source"] == "HGNC"
    assert len({row["term_id"] for row in rows}) == len(rows)


def test_configs_match_default_sources() -> None:
    bundled = load_config().linking.ontologies
    shared = load_config(str(REPO / "conf" / "ontologies-shared.yaml")).linking.ontologies
    assert bundled == default_sources("pkg://kazu_spark/resources/ontologies")
    doid_medic = OntologySource(name="DOID-MEDIC", format="doid_json", entity_class="disease",
                                path="../shared/data/ontologies/doid-2018-07-05.json.gz", id_prefix_filter="DOID:",
                                xref_target="MEDIC", tier=2)  # fmt: skip
    assert shared == [*default_sources("../shared/data/ontologies"), doid_medic]


def test_bundled_subsets_parse() -> None:
    for source in load_config().linking.ontologies:
        assert all(Path(path).is_file() for path in source.files())
        concepts = {row["concept_id"] for row in parse_source(source)}
        assert len(concepts) >= 300, source.name


def test_resolve_path() -> None:
    path = resolve_path("pkg://kazu_spark/resources/ontologies/ATTRIBUTION.md")
    assert Path(path).is_file()
    assert resolve_path("/abs/x.obo", base="/repo") == "/abs/x.obo"
    assert resolve_path("x.obo") == "x.obo"


def test_text_matcher() -> None:
    matcher = TextMatcher(["Aspirin reduced B-cell counts in mice.", "A second text"])
    assert matcher.occurs("b-cell") and matcher.occurs("Cell Counts") and matcher.occurs("aspirin")
    assert not matcher.occurs("spirin")  # not on a word boundary
    assert not matcher.occurs("B cells")
    assert not matcher.occurs("in")  # shorter than 3 characters


def test_write_subsets_round_trip(tmp_path: Path) -> None:
    shared, out = tmp_path / "shared", tmp_path / "out"
    shared.mkdir()
    canonical = {
        "ctd_diseases.tsv": "ctd_diseases.tsv.gz",
        "cl-basic.obo": "cl-basic.obo.gz",
        "ncbitaxon-taxslim.obo": "ncbitaxon-taxslim.obo.gz",
        "hgnc_complete_set.txt": "hgnc_complete_set.txt.gz",
        "mesh-2015-descriptors.tsv": "mesh-2015-descriptors.tsv.gz",
        "mesh-2015-tree-numbers.tsv": "mesh-2015-tree-numbers.tsv.gz",
        "doid.json": "doid-2018-07-05.json.gz",
    }
    for fixture, name in canonical.items():
        with open(DATA / fixture, "rb") as src, gzip.open(shared / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    text = "Crohn's disease, NIDDM and MDR1 in a human B-lymphocyte treated with metformin."
    kept = write_subsets(str(shared), str(out), [text], head=1)
    assert kept == {"MEDIC": 3, "CL": 2, "NCBITaxon": 2, "HGNC": 3, "MeSH": 2, "DOID": 2}
    subsets = {source.name: source for source in subset_sources(str(out))}
    assert {row["concept_id"] for row in parse_source(subsets["HGNC"])} == {"HGNC:5", "HGNC:40", "HGNC:21710"}
    assert {row["concept_id"] for row in parse_source(subsets["CL"])} == {"CL:0000000", "CL:0000236"}
    assert {row["concept_id"] for row in parse_source(subsets["MeSH"])} == {"MESH:D000001", "MESH:D008687"}
    assert source_version(subsets["CL"]) == "cl/releases/2022-11-25/cl-basic.owl"  # header kept


def test_xref_target_maps_doid_synonyms_onto_medic() -> None:
    medic = OntologySource(name="MEDIC", format="medic", entity_class="disease", path="ctd_diseases.tsv")
    doid = OntologySource(name="DOID-MEDIC", format="doid_json", entity_class="disease", path="doid.json",
                          xref_target="MEDIC")  # fmt: skip
    rows = list(parse_source(doid, DATA, [medic, doid]))
    # MEDIC lists DO:DOID:9352 as an alternative id of Diabetes Mellitus, Type 2
    assert ("MESH:D003924", "Diabetes Mellitus, Type 2", "NIDDM", "exact", {"xref_of": "DOID:9352"}) in [
        (r["concept_id"], r["default_label"], r["synonym"], r["synonym_type"], r["metadata"]) for r in rows
    ]
    assert {r["concept_id"] for r in rows} == {"MESH:D003424", "MESH:D003924"}  # DOID:8718 maps to nothing here
    with pytest.raises(ValueError, match="not a configured source"):
        list(parse_source(doid, DATA, [doid]))
    with pytest.raises(ValueError, match="doid_json format only"):
        OntologySource(name="X", format="medic", entity_class="disease", path="x", xref_target="MEDIC")
