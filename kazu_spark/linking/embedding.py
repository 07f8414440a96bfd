"""Embedding linking without Spark: the encoder's version, fp16 vectors, concept matrices and nearest synonyms.

The ``embedding`` step of the cascade (:mod:`kazu_spark.linking.embedding_spark`) embeds each distinct
mention text with a synonym encoder (:mod:`kazu_spark.linking.encoder`) and finds its nearest synonyms of
the mention's entity class: :func:`nearest` scores the queries against a class's matrix of unit vectors
(stored float16, one row per distinct synonym text) a block of rows at a time, so the float32 copy never
exceeds one block, and :func:`candidates` keeps the best match and those within ``margin`` of it, at least
``min_score``, at most ``top_k``. A concept matrix is one ``.npy`` file of fp16 vectors and one JSON
list of its row texts (:func:`save_matrix`, :func:`load_matrix`), memory-mapped, so the Python workers
of one machine share its pages.

Example:
    >>> unit = np.eye(4, dtype=np.float32)
    >>> scores, rows = nearest(unit[:2], unit.astype(np.float16), k=2, block_rows=3)
    >>> rows.tolist(), scores[:, 0].tolist()
    ([[0, 1], [1, 0]], [1.0, 1.0])
    >>> candidates(np.array([0.91, 0.9, 0.5]), np.array([7, 3, 4]), min_score=0.6, margin=0.02, top_k=5)
    [(7, 0.91), (3, 0.9)]
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from kazu_spark.linking.encoder import SETTINGS_FILE, top_k

#: the little-endian float16 a vector is stored as (``concept_embeddings.vector``)
VECTOR_DTYPE = np.dtype("<f2")
#: matrix rows scored at once; their float32 copy is ``block_rows x dim x 4`` bytes (96 MiB at dim 384)
BLOCK_ROWS = 65_536
#: the files of an encoder folder whose content defines its version (weights, shape, tokenizer, reading)
_VERSIONED = ("config.json", SETTINGS_FILE, "tokenizer.json", "vocab.txt")


def encoder_version(folder: str | Path) -> str:
    """``<folder name>@<12 hex>``: sha256 over the folder's weights (``*.safetensors``), config, tokenizer and
    ``linker.json``, so vectors are recomputed exactly when the encoder would give others. Reads files only
    (no torch): the Spark driver calls it.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp()) / "linker"
        >>> folder.mkdir(); _ = (folder / "model.safetensors").write_bytes(b"w")
        >>> before = encoder_version(folder); _ = (folder / "model.safetensors").write_bytes(b"v")
        >>> before.startswith("linker@"), before != encoder_version(folder)
        (True, True)
    """
    folder = Path(folder)
    digest = hashlib.sha256()
    files = sorted(folder.glob("*.safetensors")) + [folder / name for name in _VERSIONED if (folder / name).exists()]
    if not files:
        raise FileNotFoundError(f"{folder}: no encoder (no *.safetensors weights)")
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return f"{folder.resolve().name}@{digest.hexdigest()[:12]}"


def encoder_keys(texts: pd.Series, lowercase: bool) -> pd.Series:
    """Texts as the encoder reads them: trimmed of spaces, lower-cased when ``lowercase`` (what
    :func:`kazu_spark.linking.embedding_spark.encoder_text` does in Spark), so a mention and a synonym of the
    same text share one key.

    Example:
        >>> encoder_keys(pd.Series([" Heart Attack ", "MI"]), lowercase=True).tolist()
        ['heart attack', 'mi']
    """
    trimmed = texts.str.strip(" ")
    return trimmed.str.lower() if lowercase else trimmed


def to_bytes(vectors: np.ndarray) -> list[bytes]:
    """One fp16 byte string per row of ``vectors`` (the ``concept_embeddings.vector`` column).

    Example:
        >>> from_bytes(to_bytes(np.array([[0.5, -1.0]], dtype=np.float32)), dim=2).tolist()
        [[0.5, -1.0]]
    """
    half = np.ascontiguousarray(vectors, dtype=VECTOR_DTYPE)
    return [row.tobytes() for row in half]


def from_bytes(blobs: Iterable[bytes], dim: int) -> np.ndarray:
    """The fp16 matrix ``[n, dim]`` of byte strings made by :func:`to_bytes`."""
    data = b"".join(blobs)
    return np.frombuffer(data, dtype=VECTOR_DTYPE).reshape(-1, dim)


def save_matrix(folder: str | Path, name: str, texts: list[str], vectors: np.ndarray) -> None:
    """Write ``<name>.npy`` (fp16 ``[n, dim]``) and ``<name>.json`` (the row texts) into ``folder``; each file
    is written beside and renamed into place, so a reader never sees half a matrix."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = f".{os.getpid()}.tmp"
    with (folder / f"{name}.npy{suffix}").open("wb") as handle:
        np.save(handle, np.ascontiguousarray(vectors, dtype=VECTOR_DTYPE))
    (folder / f"{name}.json{suffix}").write_text(json.dumps(texts))
    os.replace(folder / f"{name}.json{suffix}", folder / f"{name}.json")
    os.replace(folder / f"{name}.npy{suffix}", folder / f"{name}.npy")  # last: its presence means complete


def has_matrix(folder: str | Path, name: str) -> bool:
    """Whether :func:`save_matrix` completed ``name`` in ``folder``."""
    return (Path(folder) / f"{name}.npy").exists()


def load_matrix(folder: str | Path, name: str) -> tuple[list[str], np.ndarray]:
    """The row texts and the memory-mapped fp16 matrix saved by :func:`save_matrix`.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> save_matrix(folder, "disease", ["a", "b"], np.eye(2))
        >>> texts, matrix = load_matrix(folder, "disease")
        >>> texts, matrix.dtype.name, matrix.shape
        (['a', 'b'], 'float16', (2, 2))
    """
    folder = Path(folder)
    texts = json.loads((folder / f"{name}.json").read_text())
    return texts, np.load(folder / f"{name}.npy", mmap_mode="r")


def nearest(
    queries: np.ndarray, matrix: np.ndarray, k: int, block_rows: int = BLOCK_ROWS, *, shortlist: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores and row indices of each query's ``k`` nearest rows of ``matrix`` (unit vectors, any float
    dtype), best first: :func:`~kazu_spark.linking.encoder.top_k` per block of ``block_rows`` rows, merged
    (``shortlist``: a bf16 first pass, exact scores; see ``top_k``)."""
    k = min(k, len(matrix))
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(matrix), block_rows):
        scores, rows = top_k(queries, np.asarray(matrix[start : start + block_rows]), k, shortlist=shortlist)
        best_scores = np.concatenate([best_scores, scores], axis=1)
        best_rows = np.concatenate([best_rows, rows + start], axis=1)
        order = np.argsort(-best_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(best_scores, order, axis=1)
        best_rows = np.take_along_axis(best_rows, order, axis=1)
    return best_scores, best_rows


def candidates(
    scores: np.ndarray, rows: np.ndarray, *, min_score: float, margin: float, top_k: int
) -> list[tuple[int, float]]:
    """One query's kept matches ``(row, cosine)``, best first, from its :func:`nearest` results: at least
    ``min_score``, within ``margin`` of the best, at most ``top_k``. Nothing when the best is below ``min_score``.

    Example:
        >>> candidates(np.array([0.7, 0.69]), np.array([1, 2]), min_score=0.75, margin=0.1, top_k=5)
        []
    """
    kept = []
    for score, row in zip(scores[:top_k], rows[:top_k], strict=True):
        if score < min_score or score < scores[0] - margin:
            break
        kept.append((int(row), round(float(score), 6)))
    return kept
