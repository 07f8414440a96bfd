"""Ontology parsers on tiny excerpts of the real files (tests/data/ontologies), sources and configs."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import pickle
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from kazu_spark.config import ColumnMapping, OntologySource, load_config
from kazu_spark.linking.normalise import normalise
from kazu_spark.ontologies.parsers import (
    cross_reference_index,
    id_index,
    map_cross_references,
    parse_doid_json,
    parse_gene_info,
    parse_hgnc,
    parse_medic,
    parse_mesh,
    parse_mesh_xml,
    parse_obo,
    parse_source,
    resolve_ids,
    source_checksum,
    source_version,
)
from kazu_spark.ontologies.sources import (
    BUNDLED_CURATION_CLASSES,
    BUNDLED_CURATIONS,
    DRUG_NAMES,
    HUMAN_NOUNS,
    SPECIES_ADJECTIVES,
    curation_sources,
    default_sources,
)
from kazu_spark.ontologies.terms import terms_rows
from kazu_spark.paths import resolve_path
from tools.subset import (
    TextMatcher,
    curated_concepts,
    sample_texts,
    subset_sources,
    write_curations,
    write_subsets,
)

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


def test_obo_taxonomy_rank_vocabulary_is_no_concept() -> None:
    """The rank terms the taxonomy's OBO build ships (``NCBITaxon:species``) are not taxa: a mention
    "species" must not link to one."""
    rows = list(parse_obo(str(DATA / "ncbitaxon-taxslim.obo")))
    assert "species" not in {row["synonym"] for row in rows}
    assert not {"NCBITaxon:species", "NCBITaxon:taxonomic_rank"} & {row["concept_id"] for row in rows}


def test_obo_escaped_quotes(tmp_path: Path) -> None:
    obo = tmp_path / "x.obo"
    obo.write_text('[Term]\nid: X:1\nname: x\nsynonym: "the \\"x\\" thing" BROAD []\n', encoding="utf-8")
    assert _synonyms(list(parse_obo(str(obo))), "X:1") == {"x": "label", 'the "x" thing': "broad"}


def test_a_broad_or_narrow_synonym_that_names_another_term_is_that_term_s(tmp_path: Path) -> None:
    """CL gives three kinds of Schwann cell the broad synonym "Schwann cell", their parent's name, and CD14-positive
    monocyte the narrow synonym "monocyte": a mention of either must find the term of that name alone. A broad
    synonym no term is named (an acronym) stays a synonym, and so does an exact one that is another term's name."""
    obo = tmp_path / "cl.obo"
    obo.write_text(
        "[Term]\nid: CL:0002573\nname: Schwann cell\n\n"
        '[Term]\nid: CL:0002377\nname: immature Schwann cell\nsynonym: "schwann cell" BROAD []\n'
        'synonym: "iSC" BROAD []\nis_a: CL:0002573 ! Schwann cell\n\n'
        '[Term]\nid: CL:9\nname: gone cell\nsynonym: "glial cell" BROAD []\nis_obsolete: true\n\n'
        '[Term]\nid: CL:0000125\nname: glia\nsynonym: "gone cell" BROAD []\n\n'
        "[Term]\nid: CL:0000576\nname: monocyte\n\n"
        '[Term]\nid: CL:0001054\nname: CD14-positive monocyte\nsynonym: "monocyte" NARROW []\n'
        'synonym: "glia" EXACT []\nis_a: CL:0000576 ! monocyte\n',
        encoding="utf-8",
    )
    rows = list(parse_obo(str(obo)))
    assert _synonyms(rows, "CL:0002377") == {"immature Schwann cell": "label", "iSC": "broad"}
    assert _synonyms(rows, "CL:0001054") == {"CD14-positive monocyte": "label", "glia": "exact"}
    assert _synonyms(rows, "CL:0000125") == {"glia": "label", "gone cell": "broad"}  # an obsolete term's name
    assert [r["concept_id"] for r in rows if r["synonym"].casefold() == "schwann cell"] == ["CL:0002573"]


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


def test_hgnc_orthologues_reach_the_ncbi_gene_concept(tmp_path: Path) -> None:
    """HGNC names each gene's mouse and rat orthologues (``mgd_id``, ``rgd_id``); mapped onto NCBI Gene, the rows
    keep them, so the gene-species step can tell mouse Trp53, TP53's orthologue, from Trp53inp2, also called Tp53."""
    header, *_ = (DATA / "hgnc_complete_set.txt").read_text().splitlines()
    columns = [*header.split("\t"), "mgd_id", "rgd_id"]
    orthologues = {"mgd_id": "MGI:98834", "rgd_id": "RGD:3889"}
    row = dict.fromkeys(columns, "") | {"hgnc_id": "HGNC:11998", "symbol": "TP53", "status": "Approved"} | orthologues
    (tmp_path / "hgnc.txt").write_text("\n".join(["\t".join(columns), "\t".join(row[c] for c in columns)]) + "\n")
    rows = list(parse_hgnc(str(tmp_path / "hgnc.txt")))
    assert {r["metadata"]["orthologues"] for r in rows} == {"MGI:98834|RGD:3889"}
    genes = list(parse_gene_info(str(DATA / "gene_info.tsv")))
    index = cross_reference_index(
        [g | {"concept_id": "NCBIGene:7157", "metadata": {"xrefs": "HGNC:11998"}} for g in genes[:1]]
    )
    mapped = list(map_cross_references(rows, index))
    assert {(r["concept_id"], r["metadata"]["xref_of"], r["metadata"]["orthologues"]) for r in mapped} == {
        ("NCBIGene:7157", "HGNC:11998", "MGI:98834|RGD:3889")
    }
    assert all("orthologues" not in r["metadata"] for r in parse_hgnc(str(DATA / "hgnc_complete_set.txt")))


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


def test_mesh_xml_descriptors_bring_their_entry_terms() -> None:
    """NLM's XML has what the descriptor TSV lacks: the entry terms papers write (rapamycin for Sirolimus)."""
    drugs = list(parse_mesh_xml(str(DATA / "mesh-desc.xml"), "D"))
    assert {row["concept_id"] for row in drugs} == {"MESH:D020123"}  # Myalgia is under tree C
    assert _synonyms(drugs, "MESH:D020123") == {"Sirolimus": "label", "Rapamycin": "exact", "Rapamune": "related"}
    assert {row["default_label"] for row in drugs} == {"Sirolimus"}
    assert drugs[0]["metadata"] == {"tree_numbers": "D02.540.505.760.740|D04.345.349.760"}
    assert {row["concept_id"] for row in parse_mesh_xml(str(DATA / "mesh-desc.xml"))} == {
        "MESH:D020123",
        "MESH:D063806",
    }


def test_mesh_xml_supplementary_records_kept_by_the_class_of_the_tree() -> None:
    supp = str(DATA / "mesh-supp.xml")
    chemicals = list(parse_mesh_xml(supp, "D"))
    assert _synonyms(chemicals, "MESH:C107135") == {"everolimus": "label", "SDZ RAD": "exact"}
    assert {row["metadata"]["mapped_to"] for row in chemicals} == {"MESH:D020123"}
    assert {row["concept_id"] for row in parse_mesh_xml(supp, "C")} == {"MESH:C538265"}  # a disease record


def test_a_mesh_xml_source_takes_a_tree_prefix_but_no_tree_numbers_file() -> None:
    source = OntologySource(name="MeSH", format="mesh_xml", entity_class="drug", path="mesh-desc.xml", tree_prefix="D")
    rows = list(terms_rows(source, base=DATA))
    assert {(row["synonym"], row["normalised_synonym"] == normalise("rapamycin", "drug")) for row in rows} >= {
        ("Rapamycin", True)
    }
    with pytest.raises(ValidationError):
        OntologySource(name="X", format="mesh_xml", entity_class="drug", path="d.xml", tree_numbers_path="t.tsv")


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
    composite = "Lithium and lithium"  # annotated with both concepts: a synonym of each
    assert _synonyms(rows, "MESH:D008094") == {
        "Li": "label", "Lithium": "curated", "lithium": "curated", composite: "curated"
    }  # fmt: skip
    assert _synonyms(rows, "MESH:D016651") == {composite: "label"}  # Li's minority id, -1, Disease: dropped


def test_pubtator_curations_leave_out_the_documents_of_an_evaluation_split(tmp_path: Path) -> None:
    """A train split that shares abstracts with another corpus's devel split must not curate their mentions."""
    train, devel = tmp_path / "train.txt", tmp_path / "devel.txt"
    train.write_text(
        "1|t|Aspirin.\n1|a|x\n1\t0\t7\tAspirin\tChemical\tD001241\n\n"
        "2|t|Ibuprofen.\n2|a|x\n2\t0\t9\tIbuprofen\tChemical\tD007052\n\n",
        encoding="utf-8",
    )
    devel.write_text("2|t|Ibuprofen again.\n2|a|x\n\n", encoding="utf-8")
    kept = OntologySource(
        name="c", format="pubtator", entity_class="drug", path=str(train), annotation_types=["Chemical"],
        exclude_documents=[str(devel)],
    )  # fmt: skip
    assert {row["concept_id"] for row in parse_source(kept)} == {"MESH:D001241"}
    assert str(devel) in kept.files()  # a changed evaluation split changes the source's checksum
    with pytest.raises(ValidationError):
        OntologySource(name="X", format="obo", entity_class="drug", path="x.obo", exclude_documents=[str(devel)])


def test_pubtator_gene_curations_take_their_documents_species_unless_a_gene_source_names_them(
    tmp_path: Path,
) -> None:
    """A rat gene of a train split becomes a rat gene (linking.gene_species then keeps it to rat papers); a
    gene the human gene_info names keeps that organism only: one taxon per concept."""
    train = tmp_path / "train.txt"
    train.write_text(
        "1|t|Bax and p53 in rats and one mouse.\n1|a|x\n1\t0\t3\tBax\tGeneOrGeneProduct\t24887\n"
        "1\t8\t11\tp53\tGeneOrGeneProduct\t7157\n1\t15\t19\trats\tOrganismTaxon\t10116\n"
        "1\t28\t33\tmouse\tOrganismTaxon\t10090\n1\t15\t19\trats\tOrganismTaxon\t10116\n\n"
        "2|t|Bax.\n2|a|x\n2\t0\t3\tBax\tGeneOrGeneProduct\t24887\n\n",  # no species named: no vote
        encoding="utf-8",
    )
    human = OntologySource(name="NCBIGene", format="gene_info", entity_class="gene", path=str(DATA / "gene_info.tsv"))
    curations = OntologySource(
        name="C", format="pubtator", entity_class="gene", path=str(train), annotation_types=["GeneOrGeneProduct"],
        species_from_documents=True,
    )  # fmt: skip
    rows = list(parse_source(curations, sources=[human, curations]))
    metadata = {(row["concept_id"], row["synonym"]): row["metadata"] for row in rows}
    assert metadata == {  # rats twice, a mouse once: a rat gene
        ("NCBIGene:24887", "Bax"): {"tax_id": "10116"},
        ("NCBIGene:7157", "p53"): {},  # TP53 of the human gene_info: its tax_id 9606 is the concept's
    }
    plain = curations.model_copy(update={"species_from_documents": False})
    assert all(not row["metadata"] for row in parse_source(plain, sources=[human, plain]))
    with pytest.raises(ValidationError):
        OntologySource(name="X", format="obo", entity_class="gene", path="x.obo", species_from_documents=True)


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


def test_a_synonym_without_a_letter_or_of_one_character_is_no_term(tmp_path: Path) -> None:
    """HGNC lists ``2`` and ``#945`` as aliases of ATP12A: as terms, "proteins 1 and 2" linked the gene; ``A`` is
    an alias of 63 mouse genes, which a stray ``A`` the NER tagged linked, all of them."""
    header, *_ = (DATA / "hgnc_complete_set.txt").read_text().splitlines()
    columns = header.split("\t")
    row = dict.fromkeys(columns, "") | {"hgnc_id": "HGNC:13816", "symbol": "ATP12A", "status": "Approved",
                                        "name": "ATPase H+/K+ transporting non-gastric alpha2 subunit",
                                        "alias_symbol": '"HK|#945|2|A|A-"'}  # fmt: skip
    (tmp_path / "hgnc.txt").write_text("\n".join([header, "\t".join(row[c] for c in columns)]) + "\n")
    source = OntologySource(name="HGNC", format="hgnc", entity_class="gene", path=str(tmp_path / "hgnc.txt"))
    rows = {row["synonym"]: row["normalised_synonym"] for row in terms_rows(source)}
    assert rows.keys() == {"ATP12A", "ATPase H+/K+ transporting non-gastric alpha2 subunit", "HK", "A-"}
    assert rows["A-"] == ""  # found as written only: its key would be A (Araf's alias A- linked a stray A)
    # a chemical's one letter is its name: BC5CDR curates P as Phosphorus
    (tmp_path / "chemicals.tsv").write_text("id\tlabel\tsynonyms\nMESH:D010758\tPhosphorus\tP\n")
    columns = ColumnMapping(id="id", label="label", synonyms=["synonyms"])
    chemicals = OntologySource(name="C", format="tsv", entity_class="drug", path=str(tmp_path / "chemicals.tsv"),
                               columns=columns)  # fmt: skip
    assert {row["synonym"] for row in terms_rows(chemicals)} == {"Phosphorus", "P"}


def test_configs_match_default_sources() -> None:
    bundled = load_config().linking.ontologies
    shared = load_config(str(REPO / "conf" / "ontologies-shared.yaml")).linking.ontologies
    curated = load_config(str(REPO / "conf" / "ontologies-shared-curated.yaml")).linking.ontologies
    assert bundled == [
        *default_sources("pkg://kazu_spark/resources/ontologies"),
        *curation_sources(BUNDLED_CURATIONS, exclude_devel=False, classes=BUNDLED_CURATION_CLASSES, tier=2),
    ]
    doid_medic = OntologySource(name="DOID-MEDIC", format="doid_json", entity_class="disease",
                                path="../shared/data/ontologies/doid-2018-07-05.json.gz", id_prefix_filter="DOID:",
                                xref_target="MEDIC", tier=2)  # fmt: skip
    assert shared == [*default_sources("../shared/data/ontologies"), doid_medic]
    assert curated == [*shared, *curation_sources("../shared/data/linking")]


def test_bundled_subsets_parse() -> None:
    sources = load_config().linking.ontologies
    for source in sources:
        assert all(Path(path).is_file() for path in source.files())
        concepts = {row["concept_id"] for row in parse_source(source, sources=sources)}
        curation = source.path in (HUMAN_NOUNS, SPECIES_ADJECTIVES) or source.format == "pubtator"
        assert len(concepts) >= (1 if curation else 300), source.name


def test_the_nouns_papers_name_people_by_are_homo_sapiens() -> None:
    (nouns,) = [s for s in load_config().linking.ontologies if s.path == HUMAN_NOUNS]
    rows = list(terms_rows(nouns))
    assert {r["concept_id"] for r in rows} == {"NCBITaxon:9606"} and {r["entity_class"] for r in rows} == {"species"}
    synonyms = {r["synonym"] for r in rows}
    assert {"patients", "women", "children", "participants"} <= synonyms


def test_the_adjectives_papers_name_a_species_by_link_that_species() -> None:
    (adjectives,) = [s for s in load_config().linking.ontologies if s.path == SPECIES_ADJECTIVES]
    rows = list(terms_rows(adjectives))
    assert {r["entity_class"] for r in rows} == {"species"}
    by_synonym = {r["synonym"]: r["concept_id"] for r in rows}
    assert by_synonym["murine"] == "NCBITaxon:10090"  # as BioRED links it
    assert by_synonym["bovine"] == "NCBITaxon:9913" and by_synonym["canine"] == "NCBITaxon:9615"
    assert {r["normalised_synonym"] for r in rows if r["synonym"] == "murine"} == {normalise("Murine", "species")}


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
        "gene_info.tsv": "Homo_sapiens.gene_info.gz",
        "mouse_gene_info.tsv": "Mus_musculus.gene_info.gz",
        "mesh-2015-descriptors.tsv": "mesh-2015-descriptors.tsv.gz",
        "mesh-2015-tree-numbers.tsv": "mesh-2015-tree-numbers.tsv.gz",
        "doid.json": "doid-2018-07-05.json.gz",
    }
    for fixture, name in canonical.items():
        with open(DATA / fixture, "rb") as src, gzip.open(shared / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    text = "Crohn's disease, NIDDM and MDR1 in a human B-lymphocyte treated with metformin; Li-Fraumeni syndrome."
    kept = write_subsets(str(shared), str(out), [text], head=1, always={"disease": frozenset({"MESH:D015212"})})
    assert kept == {
        "MEDIC": 4, "CL": 2, "NCBITaxon": 3, "NCBIGene": 2, "NCBIGene-mouse": 2, "HGNC-NCBIGene": 4, "MeSH": 2,
        "DOID": 2,
    }  # fmt: skip
    sources = subset_sources(str(out))
    subsets = {source.name: source for source in sources}
    # kept though the text does not name it: a bundled curation links it (``always``)
    assert "MESH:D015212" in {row["concept_id"] for row in parse_source(subsets["MEDIC"])}
    hgnc = subsets["HGNC-NCBIGene"].model_copy(update={"xref_target": None})
    assert {row["concept_id"] for row in parse_source(hgnc)} == {"HGNC:5", "HGNC:40", "HGNC:21710", "HGNC:11998"}
    # TP53 is kept for its HGNC alias name alone: the HGNC subset's rows land on the gene subset's concepts
    assert {row["concept_id"] for row in parse_source(subsets["NCBIGene"])} == {"NCBIGene:1", "NCBIGene:7157"}
    # the first mouse gene (head=1) and Abcb1b for its synonym Mdr1 (MDR1 in the text)
    mouse = {row["concept_id"] for row in parse_source(subsets["NCBIGene-mouse"])}
    assert mouse == {"NCBIGene:22059", "NCBIGene:18669"}
    mapped = {(r["concept_id"], r["synonym"]) for r in parse_source(subsets["HGNC-NCBIGene"], sources=sources)}
    assert ("NCBIGene:7157", "Li-Fraumeni syndrome") in mapped
    assert {row["concept_id"] for row in parse_source(subsets["CL"])} == {"CL:0000000", "CL:0000236"}
    # the first taxon, human (in the text) and the mouse, a model organism the text does not name: a bare Mus links it
    taxa = {row["concept_id"] for row in parse_source(subsets["NCBITaxon"])}
    assert taxa == {"NCBITaxon:1", "NCBITaxon:9606", "NCBITaxon:10090"}
    assert {row["concept_id"] for row in parse_source(subsets["MeSH"])} == {"MESH:D000001", "MESH:D008687"}
    assert source_version(subsets["CL"]) == "cl/releases/2022-11-25/cl-basic.owl"  # header kept


def test_write_curations_keeps_the_sample_texts_with_all_their_votes(tmp_path: Path) -> None:
    linking, out = tmp_path / "linking", tmp_path / "out"
    for corpus in ("ncbi-disease", "bc5cdr", "biored"):
        (linking / corpus).mkdir(parents=True)
        (linking / corpus / "train.txt").write_text("")
    (linking / "bc5cdr" / "train.txt").write_text(
        "1|t|Rapamycin and aspirin.\n"
        "1\t0\t9\tRapamycin\tChemical\tD020123\n"
        "1\t14\t21\taspirin\tChemical\tD001241\n"  # not in the sample's text
        "2\t0\t9\trapamycin\tChemical\tD020123\n"
        "3\t0\t9\trapamycin\tChemical\tD000001\n"
        "4\t0\t9\trapamycin\tChemical\tD020123\n"
        "5\t0\t9\trapamycin\tGene\t2475\n"  # in the text, but no curated type of the corpus
        "3\tCID\tD020123\tD000001\n"
    )
    (linking / "biored" / "train.txt").write_text(
        "7\t0\t9\trapamycin\tChemicalEntity\tD020123\n8\t0\t9\trapamycin\tChemicalEntity\tD020123\n"
    )
    (linking / "bc5cdr" / "devel.txt").write_text("8|t|A devel abstract BioRED train shares.\n")
    (linking / "ncbi-disease" / "devel.txt").write_text("")
    kept = write_curations(str(linking), str(out), ["Rapamycin treated mice."])
    assert kept == {"ncbi-disease": 0, "bc5cdr": 4, "biored": 1}  # biored's document 8 is BC5CDR devel's
    bundled = {s.name: s for s in curation_sources(str(out), exclude_devel=False)}
    rows = {(r["concept_id"], r["synonym"]) for r in parse_source(bundled["train-curations-bc5cdr-chemical"])}
    # rapamycin is Sirolimus 2 to 1 in the cut as in the whole file, so D000001 gets no synonym
    assert rows == {("MESH:D020123", "Rapamycin"), ("MESH:D020123", "rapamycin")}
    assert curated_concepts(str(out)) == {"disease": frozenset(), "drug": frozenset({"MESH:D020123"})}


def test_a_curation_follows_its_label_sources(tmp_path: Path) -> None:
    """A curated concept takes the label its class's ontology gives it, and a new release of that ontology
    (the file replaced in place, in the same process) gives the new label and another checksum."""
    medic = tmp_path / "medic.tsv"
    medic.write_text("# DiseaseName\tDiseaseID\nDiabetes Mellitus\tMESH:D003920\n")
    (tmp_path / "train.txt").write_text("1\t0\t8\tdiabetes\tDisease\tD003920\n")
    sources = [OntologySource(name="MEDIC", format="medic", entity_class="disease", path=str(medic)),
               OntologySource(name="C", format="pubtator", entity_class="disease", path=str(tmp_path / "train.txt"),
                              annotation_types=["Disease"])]  # fmt: skip
    (row,) = terms_rows(sources[1], sources=sources)
    assert (row["synonym"], row["default_label"]) == ("diabetes", "Diabetes Mellitus")
    medic.write_text("# DiseaseName\tDiseaseID\nDiabetes Mellitus (all types)\tMESH:D003920\n")
    (new,) = terms_rows(sources[1], sources=sources)
    assert new["default_label"] == "Diabetes Mellitus (all types)"
    assert new["source_checksum"] != row["source_checksum"]  # so concept_embeddings re-embeds the source
    assert source_checksum(sources[1]) == source_checksum(sources[1], sources=sources[1:])  # its own file alone


@pytest.mark.skipif(not (REPO.parent / "shared" / "data" / "linking").is_dir(), reason="needs ../shared/data")
def test_bundled_curations_are_the_cut_of_the_train_splits(tmp_path: Path) -> None:
    write_curations(str(REPO.parent / "shared" / "data" / "linking"), str(tmp_path), sample_texts())
    for cut in tmp_path.glob("*/train.txt"):
        bundled = REPO / "kazu_spark" / "resources" / "curations" / cut.parent.name / "train.txt"
        assert cut.read_text() == bundled.read_text(), cut.parent.name


def test_bundled_curations_give_chemicals_their_entry_terms_under_the_ontology_name() -> None:
    sources = load_config().linking.ontologies
    (chemicals,) = [s for s in sources if s.name == "train-curations-bc5cdr-chemical"]
    rows = {r["synonym"]: r for r in terms_rows(chemicals, sources=sources)}
    # Sirolimus, whose MeSH name alone the bundled table has; the link is named as MeSH names it, not by the
    # curation's most frequent mention
    assert (rows["rapamycin"]["concept_id"], rows["rapamycin"]["default_label"]) == ("MESH:D020123", "Sirolimus")
    assert rows["rapamycin"]["synonym_type"] == "curated"
    # the bundled MEDIC subset keeps the concepts the curations link to, though no synonym of Osteonecrosis
    # is in the sample
    (diseases,) = [s for s in sources if s.name == "train-curations-bc5cdr-disease"]
    labels = {r["synonym"]: r["default_label"] for r in terms_rows(diseases, sources=sources)}
    assert labels["avascular necrosis"] == "Osteonecrosis"
    # without the ontologies (a curation on its own) the label is the most frequent mention
    assert {r["default_label"] for r in terms_rows(chemicals) if r["concept_id"] == "MESH:D020123"} == {"sirolimus"}


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
    with pytest.raises(ValueError, match="xref_target applies to the formats"):
        OntologySource(name="X", format="medic", entity_class="disease", path="x", xref_target="MEDIC")


def _drug_dictionary(path: Path, variants: dict[str, list[str]], names: dict[str, str], brands: set[str]) -> str:
    """A drug dictionary laid out as the drug-named-entity-recognition package ships it."""
    data = {
        "drug_variant_to_canonical": variants,
        "drug_canonical_to_data": {
            canonical: {"name": name, "drugbank_id": "DB1"} for canonical, name in names.items()
        },
        "drug_variant_to_variant_data": {variant: {"is_brand": variant in brands} for variant in variants},
    }
    with bz2.open(path, "wb") as handle:
        pickle.dump(data, handle)
    return str(path)


def test_drug_names_become_synonyms_of_the_mesh_descriptor_named_like_their_drug(tmp_path: Path) -> None:
    """The descriptor table names Aspirin once; papers write acetylsalicylic acid, or a brand."""
    path = _drug_dictionary(
        tmp_path / "drugs.pkl.bz2",
        variants={"acetylsalicylic acid": ["aspirin"], "disprin": ["aspirin"], "glucophage": ["metformin"],
                  "dilevalol": ["labetalol"],  # Labetalol is no descriptor of this table
                  "a23187": ["a23187"], "calcimycin": ["a23187"],  # named otherwise here: by its other name
                  "aspirin": ["aspirin-metformin"], "metformin": ["aspirin-metformin"]},  # names two: dropped
        names={"aspirin": "Aspirin", "metformin": "Metformin", "labetalol": "Labetalol", "a23187": "A23187",
               "aspirin-metformin": "Aspirin-Metformin"},
        brands={"disprin", "glucophage"},
    )  # fmt: skip
    mesh = OntologySource(name="MeSH", format="mesh", entity_class="drug", path="mesh-2015-descriptors.tsv",
                          tree_numbers_path="mesh-2015-tree-numbers.tsv", tree_prefix="D")  # fmt: skip
    names = OntologySource(name="drug-names", format="drug_names", entity_class="drug", path=path, xref_target="MeSH")
    rows = {
        (r["concept_id"], r["default_label"], r["synonym"], r["synonym_type"])
        for r in terms_rows(names, DATA, [mesh, names])
    }
    assert rows == {
        ("MESH:D001241", "Aspirin", "Aspirin", "label"),
        ("MESH:D001241", "Aspirin", "acetylsalicylic acid", "exact"),
        ("MESH:D001241", "Aspirin", "disprin", "brand"),
        ("MESH:D008687", "Metformin", "Metformin", "label"),
        ("MESH:D008687", "Metformin", "glucophage", "brand"),
        ("MESH:D000001", "Calcimycin", "A23187", "label"),
        ("MESH:D000001", "Calcimycin", "a23187", "exact"),
        ("MESH:D000001", "Calcimycin", "calcimycin", "exact"),
    }
    with pytest.raises(ValidationError, match="no ids of its own"):
        OntologySource(name="drug-names", format="drug_names", entity_class="drug", path=path)


def test_a_drug_dictionary_that_would_run_code_is_refused(tmp_path: Path) -> None:
    """A pickle can call any function on load; the dictionary is read as plain data or not at all."""
    path = tmp_path / "drugs.pkl.bz2"
    with bz2.open(path, "wb") as handle:
        pickle.dump({"drug_variant_to_canonical": shutil.rmtree}, handle)  # a reference to a function
    names = OntologySource(name="drug-names", format="drug_names", entity_class="drug", path=str(path), xref_target="M")
    mesh = OntologySource(name="M", format="mesh", entity_class="drug", path=str(DATA / "mesh-2015-descriptors.tsv"))
    with pytest.raises(pickle.UnpicklingError, match="shutil.rmtree: a drug dictionary holds plain data only"):
        list(parse_source(names, sources=[mesh, names]))


def test_the_packaged_drug_dictionary_names_the_bundled_descriptors() -> None:
    """The default sources read the dependency's dictionary: entry terms and brands the MeSH table lacks."""
    sources = load_config().linking.ontologies
    (names,) = [s for s in sources if s.path == DRUG_NAMES]
    found = {r["synonym"]: r["default_label"] for r in terms_rows(names, sources=sources)}
    assert found["rapamycin"] == found["rapamune"] == "Sirolimus" and found["toluidine blue"] == "Tolonium Chloride"
    assert {r["source"] for r in terms_rows(names, sources=sources)} == {"drug-names"}


def test_gene_info() -> None:
    rows = list(parse_gene_info(str(DATA / "gene_info.tsv")))
    assert {row["concept_id"] for row in rows} == {
        "NCBIGene:1",
        "NCBIGene:7157",
        "NCBIGene:105259599",
        "NCBIGene:22059",
    }
    tp53 = _synonyms(rows, "NCBIGene:7157")
    assert tp53["TP53"] == "symbol" and tp53["P53"] == tp53["LFS1"] == "alias"
    assert tp53["tumor protein p53"] == "name" and tp53["p53 tumor suppressor"] == "related"
    assert {row["default_label"] for row in rows if row["concept_id"] == "NCBIGene:7157"} == {"TP53"}
    assert sum(row["synonym"] == "TP53" for row in rows) == 1  # Symbol = authority symbol: one row
    assert rows[0]["metadata"] == {"tax_id": "9606", "type_of_gene": "protein-coding", "xrefs": "HGNC:5"}
    mouse = next(row for row in rows if row["concept_id"] == "NCBIGene:22059")
    assert mouse["metadata"]["xrefs"] == "MGI:98834" and mouse["metadata"]["tax_id"] == "10090"
    region = _synonyms(rows, "NCBIGene:105259599")  # "-" cells are blanks, no dbXrefs of HGNC/MGI
    assert "-" not in region and region["H19-ICR"] == "symbol" and region["ICR1"] == "alias"
    assert "xrefs" not in next(r for r in rows if r["concept_id"] == "NCBIGene:105259599")["metadata"]


def test_a_gene_alias_that_is_other_genes_family_word_is_dropped(tmp_path: Path) -> None:
    """Mouse Tmem163 lists ``actin`` (from a transgene's name): it would take every ``actin`` of a paper."""
    header = "#tax_id\tGeneID\tSymbol\tSynonyms\tdescription\tFull_name_from_nomenclature_authority"
    genes = [  # (id, symbol, aliases, name)
        ("72160", "Tmem163", "SV31|actin|Act-C", "transmembrane protein 163"),
        ("11461", "Actb", "actin|beta-actin", "actin, beta"),  # its own name has the word: kept
        ("11459", "Acta1", "-", "actin alpha 1, skeletal muscle"),
        ("11465", "Actg1", "-", "actin, gamma, cytoplasmic 1"),
        ("1", "Foo1", "kinesin|lung", "foo protein 1"),  # "kinesin" is no other gene's name word; "lung" is
        ("2", "Lung1", "-", "lung protein 1"), ("3", "Lung2", "-", "lung protein 2"),  # two genes only: kept
    ]  # fmt: skip
    lines = [header, *("\t".join(("10090", i, s, a, n, n)) for i, s, a, n in genes)]
    (tmp_path / "gene_info.tsv").write_text("\n".join(lines) + "\n")
    rows = list(parse_gene_info(str(tmp_path / "gene_info.tsv")))
    aliases = {(r["default_label"], r["synonym"]) for r in rows if r["synonym_type"] == "alias"}
    assert aliases == {
        ("Tmem163", "SV31"), ("Tmem163", "Act-C"),  # a symbol-like alias is never a family word
        ("Actb", "actin"), ("Actb", "beta-actin"), ("Foo1", "kinesin"), ("Foo1", "lung"),
    }  # fmt: skip


def test_obo_keeps_xrefs_alt_ids_parents_and_rank() -> None:
    rows = list(parse_obo(str(DATA / "ncbitaxon-taxslim.obo")))
    mouse = next(row for row in rows if row["concept_id"] == "NCBITaxon:10090")["metadata"]
    assert mouse == {
        "namespace": "ncbi_taxonomy",
        "alt_ids": "NCBITaxon:85055",
        "xrefs": "GC_ID:1",
        "parents": "NCBITaxon:862507",  # without its "! Mus <subgenus>" comment
        "rank": "species",
    }
    root = next(row for row in rows if row["concept_id"] == "NCBITaxon:1")["metadata"]
    assert "parents" not in root and "rank" not in root


def test_obo_several_values_and_qualifiers(tmp_path: Path) -> None:
    obo = tmp_path / "x.obo"
    obo.write_text(
        '[Term]\nid: CL:1\nname: x\nalt_id: CL:7\nalt_id: CL:8\nxref: FMA:62863 {source="a"}\n'
        'xref: MESH:D001 "desc"\nis_a: CL:2 {source="b"} ! parent\nis_a: CL:3 ! other\n',
        encoding="utf-8",
    )
    metadata = next(parse_obo(str(obo)))["metadata"]
    assert metadata == {"alt_ids": "CL:7|CL:8", "xrefs": "FMA:62863|MESH:D001", "parents": "CL:2|CL:3"}


def test_doid_json_alt_ids_and_parents() -> None:
    rows = list(parse_doid_json(str(DATA / "doid.json")))
    crohn = next(row for row in rows if row["concept_id"] == "DOID:8778")["metadata"]
    assert crohn == {
        "namespace": "disease_ontology",
        "alt_ids": "DOID:8942|DOID:8855|DOID:8784",
        "parents": "DOID:0050589",
    }


def test_old_ids_and_cross_references_resolve() -> None:
    rows = [
        *parse_obo(str(DATA / "ncbitaxon-taxslim.obo")),
        *parse_gene_info(str(DATA / "gene_info.tsv")),
        *parse_medic(str(DATA / "ctd_diseases.tsv")),
        *parse_doid_json(str(DATA / "doid.json")),
    ]
    index = id_index((row["concept_id"], row["metadata"]) for row in rows)
    assert resolve_ids(["NCBITaxon:85055"], index) == {"NCBITaxon:10090"}  # merged taxon id
    assert resolve_ids(["HGNC:11998"], index) == {"NCBIGene:7157"}
    assert resolve_ids(["MGI:98834"], index) == {"NCBIGene:22059"}
    assert resolve_ids(["OMIM:125853"], index) == {"MESH:D003924"}  # MEDIC AltDiseaseIDs
    assert resolve_ids(["DOID:8784"], index) == {"DOID:8778"}  # an old DOID id
    assert resolve_ids(["DOID:8778"], index) == {"DOID:8778", "MESH:D003424"}  # MEDIC lists it as DO:DOID:8778
    assert resolve_ids(["NCBIGene:1", "HGNC:404"], index) == {"NCBIGene:1"}  # unknown ids name nothing


def test_hgnc_maps_onto_ncbi_gene() -> None:
    genes = OntologySource(name="NCBIGene", format="gene_info", entity_class="gene", path="gene_info.tsv")
    hgnc = OntologySource(name="HGNC", format="hgnc", entity_class="gene", path="hgnc_complete_set.txt",
                          xref_target="NCBIGene")  # fmt: skip
    rows = list(parse_source(hgnc, DATA, [genes, hgnc]))
    assert {r["concept_id"] for r in rows} == {"NCBIGene:1", "NCBIGene:7157"}  # HGNC genes not in gene_info dropped
    assert ("NCBIGene:7157", "TP53", "Li-Fraumeni syndrome", {"xref_of": "HGNC:11998"}) in [
        (r["concept_id"], r["default_label"], r["synonym"], r["metadata"]) for r in rows
    ]


ABBREVIATED_OBO = """format-version: 1.2

[Term]
id: NCBITaxon:1765
name: Mycobacterium tuberculosis variant bovis
synonym: "Mycobacterium bovis" RELATED synonym []
property_value: has_rank NCBITaxon:biotype

[Term]
id: NCBITaxon:9785
name: Loxodonta africana
synonym: "African savanna elephant" EXACT genbank_common_name []
synonym: "Elephas africanus" RELATED synonym []
property_value: has_rank NCBITaxon:species

[Term]
id: NCBITaxon:7459
name: Apis
synonym: "Apis honeybees" RELATED synonym []
property_value: has_rank NCBITaxon:genus

[Term]
id: NCBITaxon:40051
name: Bluetongue virus
property_value: has_rank NCBITaxon:species
"""


def test_an_abbreviating_source_keeps_only_scientific_species_names_abbreviated(tmp_path: Path) -> None:
    path = tmp_path / "taxa.obo"
    path.write_text(ABBREVIATED_OBO, encoding="utf-8")
    source = OntologySource(name="T-abbreviated", format="obo", entity_class="species", path=str(path),
                            abbreviate_binomials=True, tier=2)  # fmt: skip
    rows = list(terms_rows(source))
    assert sorted((r["concept_id"], r["synonym"], r["normalised_synonym"]) for r in rows) == [
        ("NCBITaxon:1765", "M. bovis", "m bovis"),  # from a synonym: the label is no binomial
        ("NCBITaxon:9785", "E. africanus", "e africanus"),
        ("NCBITaxon:9785", "L. africana", "l africana"),  # not the common name, the genus's, nor a virus's
    ]
    assert all(r["source"] == "T-abbreviated" for r in rows)
