"""Building ontology_terms and linking entities with Spark, on the fixture ontologies."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from kazu_spark.config import LinkingConfig, OntologySource, load_config
from kazu_spark.lakehouse.delta import append_table, read_table
from kazu_spark.linking.normalise import normalise
from kazu_spark.linking.spark import link_entities
from kazu_spark.linking.term_index import build_term_index
from kazu_spark.ontologies import terms as terms_module
from kazu_spark.ontologies.terms import build_ontology_terms, write_ontology_terms
from kazu_spark.schemas import ENTITIES, ENTITY_LINKS, ONTOLOGY_TERMS, TABLES

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
    "e-coordination": ("Crohn disease or inflammatory bowel diseases", "disease"),  # no synonym: its conjuncts
}


@pytest.fixture(scope="module", params=[0, 2000, 3], ids=["spark-joins", "pandas-batch", "spark-tasks"])
def batch_entities(request: pytest.FixtureRequest) -> int:
    """``linking.batch_entities``: every linking test runs on the three engines (Spark joins; the driver's pandas
    pass; the same pass in Spark tasks, ``linking.bulk`` tasks, over partitions of about 3 entities: ``_cfg``
    sets ``linking.bulk_entities`` to the same)."""
    return request.param


def _cfg(batch_entities: int, overrides: dict[str, str] | None = None) -> LinkingConfig:
    update = {"batch_entities": batch_entities, "bulk_entities": max(batch_entities, 1)}
    return load_config(overrides=overrides).linking.model_copy(update=update)


@pytest.fixture(scope="module")
def terms(spark: SparkSession) -> DataFrame:
    return build_ontology_terms(spark, SOURCES, base=DATA).cache()


@pytest.fixture(scope="module")
def links(spark: SparkSession, terms: DataFrame, batch_entities: int) -> dict[str, list[dict]]:
    rows = [  # one document per mention: no mention's links disambiguate another's
        (entity_id, entity_id, "body", 0, len(mention), mention, entity_class, 0.9, "test", "hash", "run-0")
        for entity_id, (mention, entity_class) in MENTIONS.items()
    ]
    cfg = LinkingConfig(batch_entities=batch_entities, bulk_entities=max(batch_entities, 1))
    result = link_entities(spark.createDataFrame(rows, schema=ENTITIES), terms, cfg)
    assert result.columns == [f for f in ENTITY_LINKS.fieldNames() if f != "run_id"]
    by_entity: dict[str, list[dict]] = {}
    for row in result.collect():
        by_entity.setdefault(row["entity_id"], []).append(row.asDict())
    return by_entity


def test_links_carry_the_version_of_the_source_they_were_made_with(links, terms: DataFrame) -> None:
    versions = {r["source"]: r["source_version"] for r in terms.select("source", "source_version").distinct().collect()}
    made = [link for rows in links.values() for link in rows]
    assert made and all(link["source_version"] == versions[link["source"]] for link in made)


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


def test_a_normalised_match_of_one_concept_s_symbol_and_another_s_alias_links_the_symbol(
    links: dict[str, list[dict]],
) -> None:
    # "Abcd-1" normalises to the key of ABCD1 (HGNC:61's symbol) and of ABCD-1 (an alias of HGNC:10621): the
    # normalised step finds both, and disambiguation keeps the concept whose own label was matched
    [link] = links["e-normalised"]
    assert (link["concept_id"], link["matched_synonym"], link["strategy"], link["score"]) == (
        "HGNC:61",
        "ABCD1",
        "normalised",
        0.9,
    )
    assert not link["ambiguous"]


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


def test_coordination_links_its_first_conjunct(links: dict[str, list[dict]]) -> None:
    [link] = links["e-coordination"]
    assert (link["concept_id"], link["strategy"], link["score"]) == ("MESH:D003424", "variant", 0.85)


def test_tier_2_source_only_fills_misses(spark: SparkSession, batch_entities: int) -> None:
    doid = OntologySource(name="DOID-MEDIC", format="doid_json", entity_class="disease", path="doid.json",
                          xref_target="MEDIC", tier=2)  # fmt: skip
    sources = [SOURCES[0], doid]
    no_fuzzy = {"linking.steps": "[exact, normalised, variants]"}
    cfg = _cfg(batch_entities, no_fuzzy).model_copy(update={"ontologies": sources})
    terms = build_ontology_terms(spark, sources, base=DATA)
    rows = [("p", "p", "body", 0, 25, "Pediatric Crohn's disease", "disease", 0.9, "m", "h", "r")]
    rows.append(("t", "t", "body", 0, 24, "type 2 diabetes mellitus", "disease", 0.9, "m", "h", "r"))
    links = link_entities(spark.createDataFrame(rows, schema=ENTITIES), terms, cfg).collect()
    # a DOID-only synonym reaches the MEDIC concept DOID:8778 maps to; MEDIC's own match keeps DOID out
    assert sorted((r["entity_id"], r["concept_id"], r["source"]) for r in links) == [
        ("p", "MESH:D003424", "DOID-MEDIC"), ("t", "MESH:D003924", "MEDIC")
    ]  # fmt: skip


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


def test_a_rebuild_drops_the_terms_a_newer_parser_no_longer_yields(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same files, so same checksums: the table must still follow the parser (a synonym filter added)."""
    lakehouse = str(tmp_path / "lake")
    first = write_ontology_terms(spark, SOURCES, lakehouse, base=DATA)
    monkeypatch.setattr(terms_module, "names_something", lambda text: text != "p53" and any(map(str.isalpha, text)))
    second = write_ontology_terms(spark, SOURCES, lakehouse, base=DATA)
    table = read_table(spark, lakehouse, "ontology_terms")
    assert table.where("synonym = 'p53'").count() == 0 and table.where("synonym = 'TP53'").count() > 0
    assert table.count() == second < first


#: one document per case of fuzzy matching, abbreviations and disambiguation; mention -> (class, occurrence)
DOCUMENTS = {
    "doc-a": "Inflammatory bowel disease (IBD) is chronic. IBD, Crohns diseas and MDR1 with ABCB1.",
    "doc-b": "MDR1 is an ATP binding cassette transporter of subfamily B.",
    "doc-c": "MDR1 was measured.",
    "doc-d": "Inflammatory bowel disease 1 and inflammatory bowel disease. IBD1 and IBD.",  # no definition
}
CONTEXT_MENTIONS = {
    "a-long": ("doc-a", "Inflammatory bowel disease", "disease", 0),
    "a-short": ("doc-a", "IBD", "gene", 0),  # tagged with another class than its long form: no disease link
    "a-short-2": ("doc-a", "IBD", "disease", 1),
    "a-typo": ("doc-a", "Crohns diseas", "disease", 0),
    "a-mdr1": ("doc-a", "MDR1", "gene", 0),  # ABCB1 in the same document pins HGNC:40
    "a-abcb1": ("doc-a", "ABCB1", "gene", 0),
    "b-mdr1": ("doc-b", "MDR1", "gene", 0),  # the context reads like ABCB1's name
    "c-mdr1": ("doc-c", "MDR1", "gene", 0),  # nothing tells: both links stay
    "d-long-1": ("doc-d", "Inflammatory bowel disease 1", "disease", 0),  # a synonym of Crohn disease
    "d-long": ("doc-d", "inflammatory bowel disease", "disease", 0),
    "d-ibd1": ("doc-d", "IBD1", "disease", 0),  # spelled by d-long-1, but a synonym of its own
    "d-ibd": ("doc-d", "IBD", "disease", 0),  # spelled by both long forms, named by neither
}


@pytest.fixture(scope="module")
def context_links(spark: SparkSession, terms: DataFrame, batch_entities: int) -> dict[str, list[dict]]:
    rows = []
    for entity_id, (doc, mention, entity_class, occurrence) in CONTEXT_MENTIONS.items():
        start = [i for i in range(len(DOCUMENTS[doc])) if DOCUMENTS[doc].startswith(mention, i)][occurrence]
        rows.append((entity_id, doc, "body", start, start + len(mention), mention, entity_class, 0.9, "m", "h", "r"))
    documents = spark.createDataFrame(list(DOCUMENTS.items()), "doc_id string, text string")
    result = link_entities(spark.createDataFrame(rows, schema=ENTITIES), terms, _cfg(batch_entities), documents)
    by_entity: dict[str, list[dict]] = {}
    for row in result.collect():
        by_entity.setdefault(row["entity_id"], []).append(row.asDict())
    return by_entity


def test_short_forms_link_like_their_long_form(context_links: dict[str, list[dict]]) -> None:
    [long] = context_links["a-long"]
    assert (long["concept_id"], long["strategy"], long["confidence_tier"]) == ("MESH:D015212", "normalised", "high")
    [short] = context_links["a-short-2"]
    assert (short["concept_id"], short["strategy"]) == ("MESH:D015212", "abbreviation")
    assert short["score"] == pytest.approx(0.95 * 0.9) and short["confidence_tier"] == "high"
    assert "a-short" not in context_links  # a link names a concept of its entity's class, never another


def test_an_undefined_acronym_links_like_the_mention_that_spells_it(context_links: dict[str, list[dict]]) -> None:
    assert [link["concept_id"] for link in context_links["d-long-1"]] == ["MESH:D003424"]
    [short] = context_links["d-ibd"]  # the long form whose initials spell it, the shorter of two
    assert (short["concept_id"], short["strategy"]) == ("MESH:D015212", "abbreviation")
    [own] = context_links["d-ibd1"]  # a name of its own beats what another mention spells
    assert (own["concept_id"], own["strategy"]) == ("MESH:D015212", "exact")


def test_an_acronyms_fuzzy_guess_gives_way_to_the_name_the_document_spells(
    spark: SparkSession, terms: DataFrame, batch_entities: int
) -> None:
    """At a low fuzzy threshold TIs and IBDs each get a fuzzy link of their own (the embedding step's case: a
    3-letter text always has a nearest synonym). TIs' long form is a name: it replaces the guess. IBDs' long form
    is misspelt, a guess as well: one guess does not replace another."""
    text = "Terminal ileitis and inflamatory bowel diseas. TIs, IBDs."
    mentions = ["Terminal ileitis", "inflamatory bowel diseas", "TIs", "IBDs"]
    rows = [(m, "e", "body", text.index(m), text.index(m) + len(m), m, "disease", 0.9, "m", "h", "r") for m in mentions]
    cfg = _cfg(batch_entities, {"linking.fuzzy.min_score": "0.3"})
    documents = spark.createDataFrame([("e", text)], "doc_id string, text string")
    links = link_entities(spark.createDataFrame(rows, schema=ENTITIES), terms, cfg, documents).collect()
    got = {r["entity_id"]: (r["concept_id"], r["strategy"]) for r in links}
    assert got["Terminal ileitis"] == got["TIs"][:1] + ("normalised",) and got["TIs"][1] == "abbreviation"
    assert got["IBDs"] == ("MESH:D015212", "fuzzy_tfidf") and got["inflamatory bowel diseas"][1] == "fuzzy_tfidf"
    assert len(links) == 4


def test_fuzzy_links_a_misspelling(context_links: dict[str, list[dict]]) -> None:
    [typo] = context_links["a-typo"]
    assert (typo["concept_id"], typo["strategy"], typo["ambiguous"]) == ("MESH:D003424", "fuzzy_tfidf", False)
    assert 0.8 * 0.8 <= typo["score"] < 0.8 and typo["confidence_tier"] in {"medium", "low"}


def test_ambiguous_synonyms_resolved_by_document_or_context_or_kept(context_links: dict[str, list[dict]]) -> None:
    [by_document] = context_links["a-mdr1"]
    assert (by_document["concept_id"], by_document["ambiguous"], by_document["confidence_tier"]) == (
        "HGNC:40", False, "high"
    )  # fmt: skip
    [by_context] = context_links["b-mdr1"]
    assert (by_context["concept_id"], by_context["confidence_tier"]) == ("HGNC:40", "medium")
    kept = context_links["c-mdr1"]
    assert {link["concept_id"] for link in kept} == {"HGNC:40", "HGNC:21710"}
    assert all(link["ambiguous"] and link["confidence_tier"] == "ambiguous" for link in kept)


def test_strategies_can_be_switched_off(spark: SparkSession, terms: DataFrame, batch_entities: int) -> None:
    off = {"linking.steps": "[exact, normalised]", "linking.disambiguation.enabled": "false"}
    cfg = _cfg(batch_entities, off)
    rows = [("t", "d", "body", 0, 13, "Crohns diseas", "disease", 0.9, "m", "h", "r")]
    rows.append(("m", "d", "body", 14, 18, "MDR1", "gene", 0.9, "m", "h", "r"))
    rows.append(("a", "d", "body", 19, 24, "ABCB1", "gene", 0.9, "m", "h", "r"))
    links = link_entities(spark.createDataFrame(rows, schema=ENTITIES), terms, cfg).collect()
    assert sorted((r["entity_id"], r["concept_id"]) for r in links) == [
        ("a", "HGNC:40"), ("m", "HGNC:21710"), ("m", "HGNC:40")
    ]  # fmt: skip


def _term(concept_id: str, label: str, synonym: str, entity_class: str, source: str = "T", **metadata: str) -> dict:
    """An ontology_terms row as a source with OBO metadata (``rank``, ``parents``) would give it."""
    return {
        "term_id": hashlib.sha1(f"{source}|{concept_id}|{synonym}".encode()).hexdigest(),
        "concept_id": concept_id,
        "source": source,
        "default_label": label,
        "synonym": synonym,
        "synonym_type": "exact",
        "normalised_synonym": normalise(synonym, entity_class),
        "symbolic": False,
        "entity_class": entity_class,
        "metadata": metadata,
        "source_version": "1",
        "source_checksum": "0" * 64,
    }


PREFERENCE_TERMS = [  # the NCBI Taxonomy's common names as taxslim has them, and CL's root
    _term("NCBITaxon:9605", "Homo", "humans", "species", rank="genus", parents="NCBITaxon:207598"),
    _term("NCBITaxon:9606", "Homo sapiens", "human", "species", rank="species", parents="NCBITaxon:9605"),
    _term("NCBITaxon:10088", "Mus <genus>", "mice", "species", rank="genus", parents="NCBITaxon:39107"),
    _term("NCBITaxon:10088", "Mus <genus>", "mouse", "species", rank="genus", parents="NCBITaxon:39107"),
    _term("NCBITaxon:10095", "Mus sp.", "mice", "species", rank="species", parents="NCBITaxon:941326"),
    _term("NCBITaxon:10090", "Mus musculus", "mouse", "species", rank="species", parents="NCBITaxon:862507"),
    _term("CL:0000000", "cell", "cell", "cell_type"),
    _term("CL:0000000", "cell", "lymphoid cell", "cell_type"),  # made up: a generic and a specific synonym
    _term("CL:0000542", "lymphocyte", "lymphoid cell", "cell_type"),
]


def test_species_over_genus_and_specific_over_generic(spark: SparkSession, batch_entities: int) -> None:
    mentions = {"h": ("humans", "species"), "m": ("mice", "species"), "o": ("mouse", "species"),
                "c": ("cells", "cell_type"), "l": ("lymphoid cells", "cell_type")}  # fmt: skip
    rows = [(e, e, "body", 0, len(m), m, c, 0.9, "m", "h", "r") for e, (m, c) in mentions.items()]
    terms = spark.createDataFrame(PREFERENCE_TERMS, ONTOLOGY_TERMS)
    links = link_entities(spark.createDataFrame(rows, schema=ENTITIES), terms, _cfg(batch_entities)).collect()
    got = sorted((r["entity_id"], r["concept_id"], r["ambiguous"], r["generic"]) for r in links)
    assert got == [
        ("c", "CL:0000000", False, True),  # only the generic concept: kept, flagged
        ("h", "NCBITaxon:9606", False, False),  # the exact "humans" names the genus; "human" the species
        ("l", "CL:0000542", False, False),
        ("m", "NCBITaxon:10090", False, False),  # not the genus Mus nor the placeholder "Mus sp."
        ("o", "NCBITaxon:10090", False, False),
    ]
    # without the model organisms too: the bare genus Homo would be taken for Homo sapiens by them
    off = _cfg(batch_entities, {"linking.prefer_specific": "false", "linking.model_organisms": "{}"})
    unpreferred = link_entities(spark.createDataFrame(rows[:1], schema=ENTITIES), terms, off).collect()
    assert [(r["concept_id"], r["generic"]) for r in unpreferred] == [("NCBITaxon:9605", False)]


CURATION_TERMS = [  # two train splits' curations that disagree, as MeSH versions did, and the ontology's names
    _term("MESH:D059352", "myalgia", "myalgia", "disease", source="ncbi-train"),  # NCBI-disease: MeSH 2012
    _term("MESH:D063806", "myalgia", "myalgia", "disease", source="bc5cdr-train"),  # BC5CDR: MeSH 2015
    _term("MESH:D005221", "tiredness", "tiredness", "disease", source="ncbi-train"),
    _term("MESH:D016728", "tiredness", "tiredness", "disease", source="bc5cdr-train"),
    _term("MESH:D063806", "Myalgia", "Myalgia", "disease", source="MEDIC"),
    _term("MESH:D063806", "Myalgia", "Muscle Pain", "disease", source="MEDIC"),
    _term("MESH:D059352", "Musculoskeletal Pain", "Musculoskeletal Pain", "disease", source="MEDIC"),
    _term("MESH:D005221", "Fatigue", "Fatigue", "disease", source="MEDIC"),
    _term("MESH:D016728", "Fatigue Syndrome, Chronic", "Fatigue Syndrome, Chronic", "disease", source="MEDIC"),
]  # fmt: skip


def test_when_curations_disagree_the_ontology_decides(spark: SparkSession, batch_entities: int) -> None:
    curations = [
        OntologySource(
            name=name, format="pubtator", entity_class="disease", path="train.txt", annotation_types=["Disease"], tier=0
        )
        for name in ("ncbi-train", "bc5cdr-train")
    ]
    medic = OntologySource(name="MEDIC", format="medic", entity_class="disease", path="ctd_diseases.tsv")
    cfg = _cfg(batch_entities).model_copy(update={"ontologies": [*curations, medic]})
    rows = [
        (e, e, "body", 0, len(m), m, "disease", 0.9, "m", "h", "r") for e, m in (("m", "myalgia"), ("t", "tiredness"))
    ]
    terms = spark.createDataFrame(CURATION_TERMS, ONTOLOGY_TERMS)
    links = link_entities(spark.createDataFrame(rows, schema=ENTITIES), terms, cfg).collect()
    assert sorted((r["entity_id"], r["concept_id"], r["ambiguous"]) for r in links) == [
        ("m", "MESH:D063806", False),  # MEDIC calls only D063806 "Myalgia"
        ("t", "MESH:D005221", True),  # no ontology name for "tiredness": both curations stay, ambiguous
        ("t", "MESH:D016728", True),
    ]


TAXA_TERMS = [  # as taxslim has them; "B. bacteriovorus" as the abbreviated source adds it
    _term("NCBITaxon:958", "Bdellovibrio", "Bdellovibrio", "species", rank="genus", parents="NCBITaxon:213483"),
    _term("NCBITaxon:959", "Bdellovibrio bacteriovorus", "Bdellovibrio bacteriovorus", "species", rank="species",
          parents="NCBITaxon:958"),
    _term("NCBITaxon:959", "Bdellovibrio bacteriovorus", "B. bacteriovorus", "species", rank="species",
          parents="NCBITaxon:958"),
    _term("NCBITaxon:7215", "Drosophila", "Drosophila", "species", rank="genus", parents="NCBITaxon:46877"),
    _term("NCBITaxon:32341", "Sophophora", "Sophophora", "species", rank="subgenus", parents="NCBITaxon:7215"),
    _term("NCBITaxon:32346", "melanogaster group", "melanogaster group", "species", rank="species_group",
          parents="NCBITaxon:32341"),
    _term("NCBITaxon:32351", "melanogaster subgroup", "melanogaster subgroup", "species", rank="species_subgroup",
          parents="NCBITaxon:32346"),
    _term("NCBITaxon:7227", "Drosophila melanogaster", "Drosophila melanogaster", "species", rank="species",
          parents="NCBITaxon:32351"),
    _term("NCBITaxon:7237", "Drosophila pseudoobscura", "Drosophila pseudoobscura", "species", rank="species",
          parents="NCBITaxon:32341"),
    _term("NCBITaxon:5820", "Plasmodium", "Plasmodium", "species", rank="genus", parents="NCBITaxon:1639119"),
    _term("NCBITaxon:418107", "Laverania", "Laverania", "species", parents="NCBITaxon:5820"),  # an unranked step
    _term("NCBITaxon:5833", "Plasmodium falciparum", "Plasmodium falciparum", "species", rank="species",
          parents="NCBITaxon:418107"),
    _term("NCBITaxon:12721", "Human immunodeficiency virus", "HIV", "species", parents="NCBITaxon:693660"),
    _term("NCBITaxon:11676", "Human immunodeficiency virus 1", "HIV", "species", rank="species",
          parents="NCBITaxon:11646"),
    _term("NCBITaxon:11676", "Human immunodeficiency virus 1", "HIV-1", "species", rank="species",
          parents="NCBITaxon:11646"),
]  # fmt: skip


def _taxa_links(spark: SparkSession, mentions: list[tuple[str, str, str]], cfg: LinkingConfig) -> list[Row]:
    """The links of species mentions (entity id, document, mention) against TAXA_TERMS."""
    rows = [(e, d, "body", 0, len(m), m, "species", 0.9, "m", "h", "r") for e, d, m in mentions]
    entities = spark.createDataFrame(rows, schema=ENTITIES)
    return link_entities(entities, spark.createDataFrame(TAXA_TERMS, ONTOLOGY_TERMS), cfg).collect()


def test_species_by_strain_genus_and_acronym(spark: SparkSession, batch_entities: int) -> None:
    mentions = [  # (entity id, document, mention)
        ("b-strain", "bdello", "B. bacteriovorus HD100"),  # the strain dropped: the species
        ("b-genus", "bdello", "Bdellovibrio"),  # the genus, in a paper about one of its species
        ("f-species", "fly", "Drosophila melanogaster"), ("f-genus", "fly", "Drosophila"),  # four is_a steps up
        ("t-one", "two-flies", "Drosophila melanogaster"), ("t-two", "two-flies", "Drosophila pseudoobscura"),
        ("t-genus", "two-flies", "Drosophila"),  # two species of the genus: which one is not said
        ("p-species", "malaria", "Plasmodium falciparum"), ("p-genus", "malaria", "Plasmodium"),
        ("h-hiv", "hiv", "HIV"),  # both list the acronym; it spells the name of one
        ("n-hiv", "hiv-1", "HIV"), ("n-hiv1", "hiv-1", "HIV-1"),  # pinned by the document first
    ]  # fmt: skip
    links = _taxa_links(spark, mentions, _cfg(batch_entities))
    got = sorted((r["entity_id"], r["concept_id"], r["strategy"], r["ambiguous"]) for r in links)
    assert got == [
        ("b-genus", "NCBITaxon:959", "genus_species", False),
        ("b-strain", "NCBITaxon:959", "variant", False),
        ("f-genus", "NCBITaxon:7227", "genus_species", False),
        ("f-species", "NCBITaxon:7227", "exact", False),
        ("h-hiv", "NCBITaxon:12721", "exact", False),
        ("n-hiv", "NCBITaxon:11676", "exact", False),
        ("n-hiv1", "NCBITaxon:11676", "exact", False),
        ("p-genus", "NCBITaxon:5833", "genus_species", False),
        ("p-species", "NCBITaxon:5833", "exact", False),
        ("t-genus", "NCBITaxon:7215", "exact", False),
        ("t-one", "NCBITaxon:7227", "exact", False),
        ("t-two", "NCBITaxon:7237", "exact", False),
    ]
    off = _cfg(batch_entities, {"linking.genus_to_species": "false"})
    plain = _taxa_links(spark, [m for m in mentions if m[1] == "fly"], off)
    assert sorted((r["entity_id"], r["concept_id"]) for r in plain) == [
        ("f-genus", "NCBITaxon:7215"), ("f-species", "NCBITaxon:7227")
    ]  # fmt: skip


def test_a_bare_model_organism_genus_is_the_model_organism(spark: SparkSession, batch_entities: int) -> None:
    mentions = [  # (entity id, document, mention)
        ("f-genus", "fly", "Drosophila"),  # no fly species named: D. melanogaster, as S800 and BioRED annotate it
        ("o-species", "other-fly", "Drosophila pseudoobscura"), ("o-genus", "other-fly", "Drosophila"),
        ("p-genus", "malaria", "Plasmodium"),  # not a model organism's genus: the genus stays
    ]  # fmt: skip
    links = _taxa_links(spark, mentions, _cfg(batch_entities))
    got = sorted((r["entity_id"], r["concept_id"], r["strategy"], r["confidence_tier"]) for r in links)
    assert got == [
        ("f-genus", "NCBITaxon:7227", "model_organism", "medium"),  # an assumption, not a name: medium
        ("o-genus", "NCBITaxon:7237", "genus_species", "high"),  # the document's own species comes first
        ("o-species", "NCBITaxon:7237", "exact", "high"),
        ("p-genus", "NCBITaxon:5820", "exact", "high"),
    ]
    off = _cfg(batch_entities, {"linking.model_organisms": "{}"})
    plain = _taxa_links(spark, [m for m in mentions if m[1] == "fly"], off)
    assert [(r["concept_id"], r["strategy"]) for r in plain] == [("NCBITaxon:7215", "exact")]


GENE_TERMS = [  # NCBI Gene's human TP53/IL6 and mouse Trp53/Il6, as gene_info gives them (symbols, synonyms)
    _term("NCBIGene:7157", "TP53", "TP53", "gene", tax_id="9606"),
    _term("NCBIGene:7157", "TP53", "p53", "gene", tax_id="9606"),
    # HGNC's row, mapped onto NCBI Gene: the id of TP53's mouse orthologue, which mouse Trp53's dbXrefs list
    _term("NCBIGene:7157", "TP53", "tumor protein p53", "gene", source="HGNC", orthologues="MGI:98834"),
    _term("NCBIGene:22059", "Trp53", "Trp53", "gene", tax_id="10090", xrefs="MGI:98834"),
    _term("NCBIGene:22059", "Trp53", "Tp53", "gene", tax_id="10090", xrefs="MGI:98834"),
    _term("NCBIGene:22059", "Trp53", "p53", "gene", tax_id="10090", xrefs="MGI:98834"),
    _term("NCBIGene:68728", "Trp53inp2", "Tp53", "gene", tax_id="10090", xrefs="MGI:1915827"),  # another Tp53
    _term("NCBIGene:3569", "IL6", "IL6", "gene", tax_id="9606"),
    _term("NCBIGene:16193", "Il6", "Il6", "gene", tax_id="10090"),
    _term("NCBIGene:99", "FOO1", "FOO1", "gene", tax_id="9606"),
    _term("NCBIGene:207", "AKT1", "AKT", "gene", tax_id="9606"),
    _term("NCBIGene:11651", "Akt1", "Akt", "gene", tax_id="10090"),  # a human gene with no mouse namesake
    _term("NCBIGene:13595", "Ebp", "CIMP", "gene", tax_id="10090"),  # a mouse synonym no human gene has
    _term("NCBIGene:2149", "F2R", "PAR1", "gene", tax_id="9606"),
    _term("NCBIGene:2932", "GSK3B", "GSK3B", "gene", tax_id="9606"),
    _term("NCBIGene:56637", "Gsk3b", "GSK3", "gene", tax_id="10090"),  # a name only the mouse gene has
    _term("NCBIGene:14062", "F2r", "Par1", "gene", tax_id="10090"),  # F2R's orthologue: F2R's symbol
    _term("NCBIGene:112304", "Par1", "Par1", "gene", tax_id="10090"),  # another gene, the same name
    _term("NCBIGene:21687", "Tek", "Tie2", "gene", tax_id="10090", type_of_gene="protein-coding"),
    _term("NCBIGene:111257", "Tek-ps", "Tie2", "gene", tax_id="10090", type_of_gene="pseudo"),  # its pseudogene
    *PREFERENCE_TERMS,
]


def test_genes_follow_the_species_of_their_document(spark: SparkSession, batch_entities: int) -> None:
    mentions = [  # (entity id, document, mention, class)
        ("m-mice", "mouse-paper", "mice", "species"), ("m-mouse", "mouse-paper", "mouse", "species"),
        ("m-p53", "mouse-paper", "p53", "gene"),  # both species' synonym: the document's species picks
        ("m-TP53", "mouse-paper", "TP53", "gene"),  # the human symbol, in a mouse paper: looked up again
        ("o-mice", "other-mouse-paper", "mice", "species"),
        ("o-TP53", "other-mouse-paper", "TP53", "gene"),  # no other mention pins Trp53: of the two mouse genes
        # called Tp53, TP53's orthologue (HGNC's mgd_id), not Trp53inp2
        ("m-FOO1", "mouse-paper", "FOO1", "gene"),  # no mouse gene of that name: the human one stays
        ("m-PAR1", "mouse-paper", "PAR1", "gene"),  # human F2R; two mouse genes named Par1: its orthologue
        ("m-Tie2", "mouse-paper", "Tie2", "gene"),  # mouse Tek and the pseudogene Tek-ps: the gene
        ("h-p53", "no-species", "p53", "gene"),  # no species named: human
        ("h-Il6", "no-species", "Il6", "gene"),  # the mouse spelling without mice: the human gene
        ("h-Akt", "no-species", "Akt", "gene"),  # normalised "akt", the human synonym "AKT": case folded
        ("h-CIMP", "no-species", "CIMP", "gene"),  # only a mouse gene's name, in a human paper: unlinked
        ("h-GSK3", "no-species", "GSK3", "gene"),  # only a mouse gene's name, but a human gene has its symbol
        ("r-p53", "rat-paper", "p53", "gene"),  # a species no gene source covers: as if none were named
        ("r-rat", "rat-paper", "rats", "species"),
        ("t-mouse", "tie-paper", "mouse", "species"), ("t-human", "tie-paper", "human", "species"),
        ("t-p53", "tie-paper", "p53", "gene"),  # one mouse and one human mention: the tie goes to human
        ("s-Il6", "spelt-mouse", "Il6", "gene"), ("s-Trp53", "spelt-mouse", "Trp53", "gene"),  # two mouse symbols,
        ("s-p53", "spelt-mouse", "p53", "gene"),  # no species named: the symbols' species
        ("n-human", "named-human", "human", "species"), ("n-Il6", "named-human", "Il6", "gene"),
        ("n-Trp53", "named-human", "Trp53", "gene"), ("n-p53", "named-human", "p53", "gene"),  # a name outweighs
        ("a-mice", "mostly-mouse", "mice", "species"), ("a-mouse", "mostly-mouse", "mouse", "species"),
        ("a-human", "mostly-mouse", "human", "species"), ("a-p53", "mostly-mouse", "p53", "gene"),  # most mentions
        ("b-mice", "both-named", "mice", "species"), ("b-mouse", "both-named", "mouse", "species"),
        ("b-human", "both-named", "human", "species"), ("b-TP53", "both-named", "TP53", "gene"),
        ("b-IL6", "both-named", "IL6", "gene"), ("b-p53", "both-named", "p53", "gene"),  # of the species named,
        # the one whose symbols the genes spell: two human symbols outvote a second mouse mention
        ("c-mice", "mouse-spelt-too", "mice", "species"), ("c-mouse", "mouse-spelt-too", "mouse", "species"),
        ("c-human", "mouse-spelt-too", "human", "species"), ("c-TP53", "mouse-spelt-too", "TP53", "gene"),
        ("c-IL6", "mouse-spelt-too", "IL6", "gene"), ("c-FOO1", "mouse-spelt-too", "FOO1", "gene"),
        ("c-Trp53", "mouse-spelt-too", "Trp53", "gene"), ("c-Il6", "mouse-spelt-too", "Il6", "gene"),  # but two
        # mouse symbols too: the mentions' species stays
        ("d-mice", "mouse-spelt-more", "mice", "species"), ("d-mouse", "mouse-spelt-more", "mouse", "species"),
        ("d-human", "mouse-spelt-more", "human", "species"), ("d-TP53", "mouse-spelt-more", "TP53", "gene"),
        ("d-IL6", "mouse-spelt-more", "IL6", "gene"), *((f"d-Il6-{i}", "mouse-spelt-more", "Il6", "gene") for i in
        range(3)),  # one mouse symbol, but written more often than the two human ones: the mentions' species stays
    ]  # fmt: skip
    rows = [(e, d, "body", 0, len(m), m, c, 0.9, "m", "h", "r") for e, d, m, c in mentions]
    terms = spark.createDataFrame(GENE_TERMS, ONTOLOGY_TERMS)
    entities = spark.createDataFrame(rows, schema=ENTITIES)
    genes = [e for e, _, _, c in mentions if c == "gene"]
    links = link_entities(entities, terms, _cfg(batch_entities)).where(F.col("entity_id").isin(genes)).collect()
    got = {(r["entity_id"], r["concept_id"], r["strategy"], r["ambiguous"]) for r in links}
    assert got == {
        ("m-p53", "NCBIGene:22059", "exact", False),
        ("m-TP53", "NCBIGene:22059", "species", False),
        ("o-TP53", "NCBIGene:22059", "species", False),
        ("m-FOO1", "NCBIGene:99", "exact", False),
        ("m-PAR1", "NCBIGene:14062", "species", False),
        ("m-Tie2", "NCBIGene:21687", "exact", False),  # not the pseudogene namesake NCBIGene:111257
        ("h-p53", "NCBIGene:7157", "exact", False),
        ("h-Il6", "NCBIGene:3569", "species", False),
        ("h-Akt", "NCBIGene:207", "species", False),
        ("h-GSK3", "NCBIGene:2932", "species", False),
        ("r-p53", "NCBIGene:7157", "exact", False),
        ("t-p53", "NCBIGene:7157", "exact", False),
        ("s-Il6", "NCBIGene:16193", "exact", False),
        ("s-Trp53", "NCBIGene:22059", "exact", False),
        ("s-p53", "NCBIGene:22059", "exact", False),
        ("n-Il6", "NCBIGene:3569", "species", False),
        ("n-p53", "NCBIGene:7157", "exact", False),
        ("a-p53", "NCBIGene:22059", "exact", False),
        ("b-TP53", "NCBIGene:7157", "exact", False),
        ("b-IL6", "NCBIGene:3569", "exact", False),
        ("b-p53", "NCBIGene:7157", "exact", False),
        ("c-TP53", "NCBIGene:22059", "species", False),
        ("c-IL6", "NCBIGene:16193", "species", False),
        ("c-FOO1", "NCBIGene:99", "exact", False),
        ("c-Trp53", "NCBIGene:22059", "exact", False),
        ("c-Il6", "NCBIGene:16193", "exact", False),
        ("d-TP53", "NCBIGene:22059", "species", False),
        ("d-IL6", "NCBIGene:16193", "species", False),
        *((f"d-Il6-{i}", "NCBIGene:16193", "exact", False) for i in range(3)),
    }
    unspelt = _cfg(batch_entities, {"linking.gene_species.symbol_votes": "0"})
    spelt = link_entities(entities.where("doc_id = 'spelt-mouse'"), terms, unspelt).collect()
    human = [("s-Il6", "NCBIGene:3569"), ("s-p53", "NCBIGene:7157")]  # Trp53 names no human gene: unlinked
    assert sorted((r["entity_id"], r["concept_id"]) for r in spelt) == human
    off = _cfg(batch_entities, {"linking.gene_species.enabled": "false"})
    plain = link_entities(entities.where("entity_id = 'm-p53'"), terms, off).collect()
    assert sorted((r["concept_id"], r["ambiguous"]) for r in plain) == [
        ("NCBIGene:22059", True), ("NCBIGene:7157", True)
    ]  # fmt: skip
    keep = _cfg(batch_entities, {"linking.gene_species.drop_foreign": "false"})
    kept = link_entities(entities.where("entity_id = 'h-CIMP'"), terms, keep).collect()
    assert [(r["concept_id"], r["strategy"]) for r in kept] == [("NCBIGene:13595", "exact")]


def test_a_gene_named_by_its_product_or_phosphorylation_links_it(spark: SparkSession, batch_entities: int) -> None:
    terms = spark.createDataFrame(
        [
            _term("NCBIGene:4137", "MAPT", "MAPT", "gene", tax_id="9606"),
            _term("NCBIGene:4137", "MAPT", "TAU", "gene", tax_id="9606"),
            _term("NCBIGene:10971", "YWHAQ", "14-3-3 protein tau", "gene", tax_id="9606"),  # fuzzy's nearest
            _term("NCBIGene:2475", "MTOR", "mTOR", "gene", tax_id="9606"),
            _term("NCBIGene:207", "AKT1", "AKT", "gene", tax_id="9606"),
        ],
        ONTOLOGY_TERMS,
    )
    mentions = {"tau": "Tau protein", "gene": "mTOR gene", "p": "p-mTOR", "pAKT": "pAKT", "kinase": "AKT kinase"}
    rows = [(e, e, "body", 0, len(m), m, "gene", 0.9, "m", "h", "r") for e, m in mentions.items()]
    links = link_entities(spark.createDataFrame(rows, schema=ENTITIES), terms, _cfg(batch_entities)).collect()
    assert sorted((r["entity_id"], r["concept_id"]) for r in links if r["strategy"] == "variant") == [
        ("gene", "NCBIGene:2475"),
        ("p", "NCBIGene:2475"),
        ("pAKT", "NCBIGene:207"),
        ("tau", "NCBIGene:4137"),
    ]  # not "AKT kinase": a kinase of something is not that something
    assert [r["concept_id"] for r in links if r["entity_id"] == "tau"] == ["NCBIGene:4137"]  # not YWHAQ, fuzzy's


def test_insulin_links_the_gene_not_a_readthrough_listing_its_name(spark: SparkSession, batch_entities: int) -> None:
    coding = {"tax_id": "9606", "type_of_gene": "protein-coding"}
    terms = spark.createDataFrame(
        [
            _term("NCBIGene:3630", "INS", "INS", "gene", **coding),
            _term("NCBIGene:3630", "INS", "insulin", "gene", **coding),
            _term("NCBIGene:723961", "INS-IGF2", "INS-IGF2", "gene", **coding),
            _term("NCBIGene:723961", "INS-IGF2", "insulin", "gene", **coding),  # one of its other designations
        ],
        ONTOLOGY_TERMS,
    )
    rows = [("e", "d", "body", 0, 7, "insulin", "gene", 0.9, "m", "h", "r")]
    links = link_entities(spark.createDataFrame(rows, schema=ENTITIES), terms, _cfg(batch_entities)).collect()
    assert [(r["concept_id"], r["ambiguous"]) for r in links] == [("NCBIGene:3630", False)]


def test_genes_only_a_curation_names_keep_to_papers_on_their_species(spark: SparkSession, batch_entities: int) -> None:
    """A train split's rat gene (``species_from_documents``) is a rat paper's link, and a human paper's "mTOR"
    is looked up again among human genes; a species whose genes only curations give comes after the symbols."""
    curation = OntologySource(
        name="C", format="pubtator", entity_class="gene", path="train.txt", annotation_types=["GeneOrGeneProduct"],
        species_from_documents=True, tier=0,
    )  # fmt: skip
    curated = [  # the curation's majority ids: a rat gene and a yeast gene, which no gene source here holds
        _term("NCBIGene:56718", "mTOR", "mTOR", "gene", source="C", tax_id="10116"),
        _term("NCBIGene:856096", "CTR9", "Cdp1", "gene", source="C", tax_id="4932"),
    ]
    taxa = [
        _term("NCBITaxon:10116", "Rattus norvegicus", "rats", "species", rank="species"),
        _term("NCBITaxon:4932", "Saccharomyces cerevisiae", "yeast", "species", rank="species"),
    ]
    human_mtor = _term("NCBIGene:2475", "MTOR", "MTOR", "gene", tax_id="9606")
    mentions = [  # (entity id, document, mention, class)
        ("h-human", "human-paper", "human", "species"), ("h-mTOR", "human-paper", "mTOR", "gene"),
        ("r-rats", "rat-paper", "rats", "species"), ("r-mTOR", "rat-paper", "mTOR", "gene"),
        ("r-p53", "rat-paper", "p53", "gene"),  # no rat gene of that name: the default species' stays
        ("y-yeast", "yeast-named", "yeast", "species"), ("y-Il6", "yeast-named", "Il6", "gene"),
        ("y-Trp53", "yeast-named", "Trp53", "gene"), ("y-p53", "yeast-named", "p53", "gene"),  # mouse symbols
    ]  # fmt: skip
    rows = [(e, d, "body", 0, len(m), m, c, 0.9, "m", "h", "r") for e, d, m, c in mentions]
    terms = spark.createDataFrame([*GENE_TERMS, *curated, *taxa, human_mtor], ONTOLOGY_TERMS)
    cfg = _cfg(batch_entities)
    cfg = cfg.model_copy(update={"ontologies": [*cfg.ontologies, curation]})
    genes = [e for e, _, _, c in mentions if c == "gene"]
    links = link_entities(spark.createDataFrame(rows, schema=ENTITIES), terms, cfg)
    got = {
        (r["entity_id"], r["concept_id"], r["strategy"]) for r in links.where(F.col("entity_id").isin(genes)).collect()
    }
    assert got == {
        ("h-mTOR", "NCBIGene:2475", "species"),
        ("r-mTOR", "NCBIGene:56718", "exact"),
        ("r-p53", "NCBIGene:7157", "exact"),
        ("y-Il6", "NCBIGene:16193", "exact"),
        ("y-Trp53", "NCBIGene:22059", "exact"),
        ("y-p53", "NCBIGene:22059", "exact"),
    }


def test_a_gene_the_text_names_a_species_for_is_that_species_gene(spark: SparkSession, batch_entities: int) -> None:
    """'human interleukin 6 (IL-6)' in a mouse paper is the human gene, its short form too; a phrase named after
    two species, or after a species no gene source covers, keeps its document's species."""
    texts = {
        "transgene": "Mice that express human interleukin 6 (IL-6) and mouse p53 were crossed; IL-6 rose in mice.",
        "both": "The mouse p53 and the human p53 differ in humans, human cells and patients.",
        "uncovered": "The rat Il6 was measured in mice.",
    }
    mentions = [  # (entity id, document, mention, class)
        ("t-Mice", "transgene", "Mice", "species"), ("t-human", "transgene", "human", "species"),
        ("t-mouse", "transgene", "mouse", "species"), ("t-mice", "transgene", "mice", "species"),
        ("t-long", "transgene", "interleukin 6", "gene"),  # named human in a mouse paper: human
        ("t-IL-6", "transgene", "IL-6", "gene"),  # its short form, alone later too: human
        ("t-p53", "transgene", "p53", "gene"),  # named mouse: as the document
        ("b-mouse", "both", "mouse", "species"), ("b-human", "both", "human", "species"),
        ("b-humans", "both", "humans", "species"), ("b-human2", "both", "human", "species"),
        ("b-p53", "both", "p53", "gene"),  # named mouse and human: the document's species, human
        ("u-rat", "uncovered", "rat", "species"), ("u-mice", "uncovered", "mice", "species"),
        ("u-Il6", "uncovered", "Il6", "gene"),  # no rat genes here: the document's species, mouse
    ]  # fmt: skip
    rows = [(e, d, "body", 0, len(m), m, c, 0.9, "m", "h", "r") for e, d, m, c in mentions]
    interleukin = [
        _term("NCBIGene:3569", "IL6", "interleukin 6", "gene", tax_id="9606"),
        _term("NCBIGene:16193", "Il6", "interleukin 6", "gene", tax_id="10090"),
        _term("NCBITaxon:10116", "Rattus norvegicus", "rat", "species", rank="species"),
    ]
    terms = spark.createDataFrame([*GENE_TERMS, *interleukin], ONTOLOGY_TERMS)
    entities = spark.createDataFrame(rows, schema=ENTITIES)
    documents = spark.createDataFrame(list(texts.items()), "doc_id string, text string")
    genes = [e for e, _, _, c in mentions if c == "gene"]

    def linked(overrides: dict[str, str] | None = None) -> set[tuple[str, str]]:
        links = link_entities(entities, terms, _cfg(batch_entities, overrides), documents)
        return {(r["entity_id"], r["concept_id"]) for r in links.where(F.col("entity_id").isin(genes)).collect()}

    assert linked() == {
        ("t-long", "NCBIGene:3569"), ("t-IL-6", "NCBIGene:3569"), ("t-p53", "NCBIGene:22059"),
        ("b-p53", "NCBIGene:7157"), ("u-Il6", "NCBIGene:16193"),
    }  # fmt: skip
    off = linked({"linking.gene_species.named_species": "false"})
    assert {("t-long", "NCBIGene:16193"), ("t-IL-6", "NCBIGene:16193")} <= off
    alone = linked({"linking.abbreviations": "false", "linking.disambiguation.enabled": "false"})
    assert ("t-long", "NCBIGene:3569") in alone  # the texts reach the rule without the other text rules


FAMILY_TERMS = [  # mouse PAR-1 and PAR-2, and a gene whose alias is the family's name; BMPs; CD3 and CD31
    _term("NCBIGene:14063", "F2rl1", "Par2", "gene", tax_id="10090"),
    _term("NCBIGene:245877", "Map7d1", "Par", "gene", tax_id="10090"),
    _term("NCBIGene:650", "BMP2", "BMP2", "gene", tax_id="9606"),
    _term("NCBIGene:652", "BMP4", "BMP4", "gene", tax_id="9606"),
    _term("NCBIGene:652", "BMP4", "BMP", "gene", tax_id="9606"),
    _term("NCBIGene:916", "CD3E", "CD3", "gene", tax_id="9606"),
    _term("NCBIGene:5175", "PECAM1", "CD31", "gene", tax_id="9606"),
]


def test_a_gene_family_links_the_members_its_document_names(spark: SparkSession, batch_entities: int) -> None:
    mentions = [  # (entity id, document, mention, class)
        ("p-mice", "par-paper", "mice", "species"),
        ("p-PAR", "par-paper", "PAR", "gene"),  # an alias of Map7d1, no member: the members replace it
        ("p-PARs", "par-paper", "PARs", "gene"),  # no link of its own: the members'
        ("p-PAR1", "par-paper", "PAR1", "gene"), ("p-PAR2", "par-paper", "PAR2", "gene"),
        ("b-BMP", "bmp-paper", "BMP", "gene"),  # its own link, BMP4, is a member's: kept
        ("b-BMP2", "bmp-paper", "BMP2", "gene"), ("b-BMP4", "bmp-paper", "BMP4", "gene"),
        ("c-CD3", "cd-paper", "CD3", "gene"), ("c-CD31", "cd-paper", "CD31", "gene"),  # CD31 is no CD3
    ]  # fmt: skip
    rows = [(e, d, "body", 0, len(m), m, c, 0.9, "m", "h", "r") for e, d, m, c in mentions]
    terms = spark.createDataFrame([*GENE_TERMS, *FAMILY_TERMS], ONTOLOGY_TERMS)
    entities = spark.createDataFrame(rows, schema=ENTITIES)
    families = ["p-PAR", "p-PARs", "b-BMP", "c-CD3"]
    links = link_entities(entities, terms, _cfg(batch_entities)).where(F.col("entity_id").isin(families)).collect()
    got = {(r["entity_id"], r["concept_id"], r["strategy"], r["ambiguous"]) for r in links}
    assert got == {
        ("p-PAR", "NCBIGene:14062", "family", True), ("p-PAR", "NCBIGene:14063", "family", True),
        ("p-PARs", "NCBIGene:14062", "family", True), ("p-PARs", "NCBIGene:14063", "family", True),
        ("b-BMP", "NCBIGene:652", "exact", False),
        ("c-CD3", "NCBIGene:916", "exact", False),
    }  # fmt: skip
    off = _cfg(batch_entities, {"linking.gene_families": "false"})
    alone = link_entities(entities.where("doc_id = 'par-paper'"), terms, off).where("entity_id = 'p-PAR'").collect()
    assert [r["concept_id"] for r in alone] == ["NCBIGene:245877"]


def test_links_append_to_an_entity_links_table_of_an_older_version(
    spark: SparkSession, terms: DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lakehouse = str(tmp_path / "lake")
    older = StructType([f for f in ENTITY_LINKS.fields if f.name != "generic"])
    old_row = {f: "x" for f in older.fieldNames()} | {"link_id": "old", "score": 1.0, "ambiguous": False}
    with monkeypatch.context() as before:  # a lakehouse written before entity_links had `generic`
        before.setitem(TABLES, "entity_links", older)
        append_table(spark, spark.createDataFrame([old_row], older), lakehouse, "entity_links")
    rows = [("e", "d", "body", 0, 6, "B-cells", "cell_type", 0.9, "m", "h", "r")]
    links = link_entities(spark.createDataFrame(rows, schema=ENTITIES), terms).withColumn("run_id", F.lit("r2"))
    append_table(spark, links, lakehouse, "entity_links")
    table = read_table(spark, lakehouse, "entity_links")
    assert sorted(table.columns) == sorted(ENTITY_LINKS.fieldNames())  # evolution appends the new column
    assert sorted((r["link_id"] == "old", r["generic"]) for r in table.collect()) == [(False, False), (True, None)]


def test_term_index_counts_ambiguity_per_tier_and_keeps_concept_facts(spark: SparkSession) -> None:
    rows = [
        _term("NCBITaxon:9606", "Homo sapiens", "human", "species", rank="species", parents="NCBITaxon:9605"),
        {**_term("X:1", "Human", "Human", "species"), "source": "U"},  # tier 2: "human" names two concepts there
    ]
    index = build_term_index(spark.createDataFrame(rows, ONTOLOGY_TERMS), {"T": 1, "U": 2})
    tier1 = {(r.key, r.concept_id, r.ambiguous) for r in index.dictionary_keys("normalised", tier=1).collect()}
    tier2 = {(r.key, r.concept_id, r.ambiguous) for r in index.dictionary_keys("normalised", tier=2).collect()}
    every = {(r.key, r.concept_id, r.ambiguous) for r in index.dictionary_keys("normalised").collect()}
    key = normalise("human", "species")
    assert tier1 == {(key, "NCBITaxon:9606", False)} and tier2 == {(key, "X:1", False)}
    assert every == {(key, "NCBITaxon:9606", True), (key, "X:1", True)}  # ambiguous across the tiers
    exact = {(r.key, r.source) for r in index.dictionary_keys("exact").collect()}
    assert exact == {("human", "T"), ("Human", "U")}  # the exact keys keep their case
    facts = {r.concept_id: (r.rank, r.parents, r.tax_id, r.label) for r in index.concepts.collect()}
    assert facts == {
        "NCBITaxon:9606": ("species", "NCBITaxon:9605", None, "Homo sapiens"),
        "X:1": (None, None, None, "Human"),
    }
