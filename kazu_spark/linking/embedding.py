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
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import pandas as pd

from kazu_spark.linking.encoder import SETTINGS_FILE, int8_first_pass, top_k

if TYPE_CHECKING:  # torch loads in the workers that score, not on the driver that imports this module
    import torch

log = logging.getLogger(__name__)

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


def to_bytes(vectors: np.ndarray, dtype: type[np.floating] = VECTOR_DTYPE) -> list[bytes]:
    """One byte string per row of ``vectors``: fp16 by default (the ``concept_embeddings.vector`` column), or
    ``dtype`` (a mention's float32 vector, scored as the encoder gave it).

    Example:
        >>> from_bytes(to_bytes(np.array([[0.5, -1.0]], dtype=np.float32)), dim=2).tolist()
        [[0.5, -1.0]]
    """
    rows = np.ascontiguousarray(vectors, dtype=dtype)
    return [row.tobytes() for row in rows]


def from_bytes(blobs: Iterable[bytes], dim: int, dtype: type[np.floating] = VECTOR_DTYPE) -> np.ndarray:
    """The matrix ``[n, dim]`` of byte strings made by :func:`to_bytes` with the same ``dtype`` (read-only: it
    shares their buffer)."""
    data = b"".join(blobs)
    return np.frombuffer(data, dtype=dtype).reshape(-1, dim)


def save_files(folder: str | Path, writers: Sequence[tuple[str, Callable[[BinaryIO], object]]]) -> None:
    """Write each ``(file name, write(handle))`` of ``writers`` beside its place in ``folder`` (a name of this
    process), then rename them into place in that order: a reader that finds the last file finds them all
    complete (the files of a concept matrix, :func:`save_matrix`, and of its IVF index)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = f".{os.getpid()}.tmp"
    for file, write in writers:
        with (folder / f"{file}{suffix}").open("wb") as handle:
            write(handle)
    for file, _ in writers:
        os.replace(folder / f"{file}{suffix}", folder / file)


def save_matrix(folder: str | Path, name: str, texts: list[str], vectors: np.ndarray) -> None:
    """Write ``<name>.npy`` (fp16 ``[n, dim]``) and ``<name>.json`` (the row texts) into ``folder``; each file
    is written beside and renamed into place, so a reader never sees half a matrix (:func:`save_files`; the
    ``.npy`` last: its presence means complete)."""
    save_files(
        folder,
        [
            (f"{name}.json", lambda handle: handle.write(json.dumps(texts).encode())),
            (f"{name}.npy", lambda handle: np.save(handle, np.ascontiguousarray(vectors, dtype=VECTOR_DTYPE))),
        ],
    )


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


def _blocks(matrix: np.ndarray, block_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, rows)`` of ``matrix``, ``block_rows`` at a time: the one split :func:`nearest` scores and
    :func:`int8_blocks` quantises, so a first pass always belongs to its block."""
    for start in range(0, len(matrix), block_rows):
        yield start, np.asarray(matrix[start : start + block_rows])


def nearest(
    queries: np.ndarray,
    matrix: np.ndarray,
    k: int,
    block_rows: int = BLOCK_ROWS,
    *,
    shortlist: bool = False,
    first_passes: Sequence[torch.nn.Module] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores and row indices of each query's ``k`` nearest rows of ``matrix`` (unit vectors, any float
    dtype), best first: :func:`~kazu_spark.linking.encoder.top_k` per block of ``block_rows`` rows, merged
    (``shortlist``: a bf16 first pass; ``first_passes``: :func:`int8_blocks` of the matrix; exact scores either
    way, see ``top_k``)."""
    k = min(k, len(matrix))
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for number, (start, block) in enumerate(_blocks(matrix, block_rows)):
        first_pass = first_passes[number] if first_passes is not None else None
        scores, rows = top_k(queries, block, k, shortlist=shortlist, first_pass=first_pass)
        best_scores = np.concatenate([best_scores, scores], axis=1)
        best_rows = np.concatenate([best_rows, rows + start], axis=1)
        order = np.argsort(-best_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(best_scores, order, axis=1)
        best_rows = np.take_along_axis(best_rows, order, axis=1)
    return best_scores, best_rows


def int8_blocks(matrix: np.ndarray, block_rows: int = BLOCK_ROWS) -> list[torch.nn.Module] | None:
    """The int8 first pass (:func:`~kazu_spark.linking.encoder.int8_first_pass`) of each block of ``matrix``
    that :func:`nearest` scores: a quarter of the float32 rows' memory, built once per worker and matrix.
    None, logged, where this torch has no int8 quantised ``Linear`` (``torch.ao``'s are deprecated): the
    blocks are then scored in float32, the same scores."""
    try:
        return [int8_first_pass(block) for _, block in _blocks(matrix, block_rows)]
    except (AttributeError, NotImplementedError, RuntimeError) as exc:
        log.warning("no int8 first pass for the embedding step's scoring (%s): every row scored in float32", exc)
        return None


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
