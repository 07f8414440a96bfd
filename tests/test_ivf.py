"""The IVF index of the embedding step: k-means lists that hold each cluster of synonyms, a search that finds
the exact neighbours where it probes every list and a mention's own cluster where it probes a few, and the
index the driver saves beside a matrix and the workers search (``linking.embedding.search: ivf``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kazu_spark.config import EmbeddingConfig
from kazu_spark.linking import embedding_spark, ivf
from kazu_spark.linking.embedding import nearest, save_matrix
from kazu_spark.linking.embedding_spark import match_batch
from kazu_spark.linking.ivf import build_ivf, ensure_ivf, has_ivf, ivf_nearest, load_ivf


def _clusters(concepts: int, per_concept: int, dim: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit synonym vectors, ``per_concept`` noisy copies of each concept's centre, and the centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(concepts, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rows = np.repeat(centres, per_concept, axis=0) + noise * rng.normal(size=(concepts * per_concept, dim))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float16), centres


def test_probing_every_list_gives_the_exact_neighbours_and_scores() -> None:
    matrix, _ = _clusters(200, 5, 32, 0.3, seed=0)
    queries = np.random.default_rng(1).normal(size=(40, 32)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    index = build_ivf(matrix, lists=30)
    scores, rows = ivf_nearest(queries, index, k=5, probes=30)
    exact_scores, exact_rows = nearest(queries, matrix, k=5)
    assert rows.tolist() == exact_rows.tolist()
    np.testing.assert_allclose(scores, exact_scores, atol=1e-6)


def test_a_mention_near_a_concept_finds_its_synonyms_in_a_few_lists() -> None:
    """Mentions close to a concept's synonyms (as a misspelling or a paraphrase is): probing 4 of 160 lists
    finds the same nearest synonyms as scoring every row."""
    matrix, centres = _clusters(400, 4, 48, 0.05, seed=2)
    mentions = centres[::4] + 0.05 * np.random.default_rng(3).normal(size=(100, 48)).astype(np.float32)
    mentions /= np.linalg.norm(mentions, axis=1, keepdims=True)
    index = build_ivf(matrix)
    assert len(index.centroids) == ivf.default_lists(len(matrix)) == 160
    assert sorted(index.order.tolist()) == list(range(len(matrix)))  # every row in exactly one list
    _, rows = ivf_nearest(mentions, index, k=4, probes=4)
    _, exact = nearest(mentions, matrix, k=4)
    assert [set(found) for found in rows.tolist()] == [set(found) for found in exact.tolist()]


def test_the_same_matrix_gives_the_same_index() -> None:
    matrix, _ = _clusters(100, 3, 16, 0.2, seed=4)
    first, second = build_ivf(matrix, lists=12), build_ivf(matrix, lists=12)
    assert first.order.tolist() == second.order.tolist()
    assert first.offsets.tolist() == second.offsets.tolist()


def test_fewer_rows_in_the_probed_lists_than_k_leaves_no_made_up_match() -> None:
    matrix, _ = _clusters(10, 2, 8, 0.05, seed=5)
    index = build_ivf(matrix, lists=10)
    scores, rows = ivf_nearest(matrix[:1].astype(np.float32), index, k=6, probes=1)
    assert np.isfinite(scores[0]).sum() == np.diff(index.offsets)[np.argmax(index.centroids @ matrix[0])]
    assert np.isneginf(scores[0][np.isfinite(scores[0]).sum() :]).all()


class _Lookup:
    """An encoder that embeds a key as the vector stored for it."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)


def test_match_batch_with_an_index_keeps_the_matches_of_exact_scoring(tmp_path: Path, monkeypatch) -> None:
    """The driver builds the index of a large enough matrix once (``ensure_ivf``); ``match_batch`` under
    ``search: ivf`` searches it and keeps what exact scoring keeps; smaller matrices get no index."""
    monkeypatch.setattr(ivf, "MIN_ROWS", 1000)  # the test's matrix counts as large
    matrix, centres = _clusters(300, 4, 32, 0.15, seed=6)
    texts = [f"synonym {i}" for i in range(len(matrix))]
    save_matrix(tmp_path, "disease-big", texts, matrix)
    save_matrix(tmp_path, "drug-small", texts[:50], matrix[:50])
    ensure_ivf(tmp_path, ["disease-big", "drug-small"])
    assert has_ivf(tmp_path, "disease-big") and not has_ivf(tmp_path, "drug-small")
    built = (tmp_path / "disease-big.ivf.npy").stat().st_mtime_ns
    ensure_ivf(tmp_path, ["disease-big"])
    assert (tmp_path / "disease-big.ivf.npy").stat().st_mtime_ns == built  # found, not built again
    assert len(load_ivf(tmp_path, "disease-big").centroids) == ivf.default_lists(len(matrix))

    noisy = centres[::10] + 0.1 * np.random.default_rng(7).normal(size=(30, 32)).astype(np.float32)
    keys = {f"mention {i}": v / np.linalg.norm(v) for i, v in enumerate(noisy)}
    batch = pd.DataFrame({"entity_class": "disease", "key": list(keys)})
    names = {"disease": "disease-big"}
    searched = []
    monkeypatch.setattr(embedding_spark, "ivf_nearest", lambda *args: searched.append(args) or ivf_nearest(*args))
    exact = match_batch(_Lookup(keys), str(tmp_path), names, batch, EmbeddingConfig(min_score=0.5))
    assert not searched
    found = match_batch(_Lookup(keys), str(tmp_path), names, batch, EmbeddingConfig(min_score=0.5, search="ivf"))
    assert len(searched) == 1  # the index was searched, not every row
    assert len(exact) >= len(keys)  # every mention has a synonym above 0.5
    pd.testing.assert_frame_equal(found, exact, atol=1e-6)
