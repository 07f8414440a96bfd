"""An inverted-file (IVF) index over a concept matrix: score a mention against a few clusters, not every synonym.

Exact scoring (:func:`~kazu_spark.linking.embedding.nearest`) computes every key's cosine with every synonym
of its class, so the step's cost grows with ``keys x synonyms`` (on a 2-core AVX2 CPU it was ~45 % of the
step for ~80,000 synonyms a class; a million gene synonyms would cost 12x more). An IVF index clusters the
matrix's unit rows with spherical k-means into ``lists`` (``4 sqrt(rows)``: ~1,100 for 80,000 rows), and
a key is scored, exactly in float32, against the rows of only the ``probes`` lists whose centroids are
nearest to it (32 of ~1,100: ~3 % of the rows). The nearest synonyms of a mention are close to each other,
so they share its best lists; what it can miss is a match in a list it did not probe (recall, measured in
docs/embedding-linking.md). FAISS does the same, but is no dependency of this project.

The index is built once per matrix, by the driver that writes the matrix (:func:`ensure_ivf`), and saved
beside it: ``<name>.ivf.npz`` (centroids, list offsets, each list's original row numbers) and
``<name>.ivf.npy`` (the fp16 rows in list order, memory-mapped by the workers, so each list is one
contiguous slice and the page cache shares it between a machine's workers). k-means is seeded: the same
matrix gives the same index, and the same matches.

Example:
    >>> rows = np.eye(6, dtype=np.float32)[[0, 0, 1, 1, 2, 2]] + 0.01 * np.arange(6)[:, None]
    >>> rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float16)
    >>> index = build_ivf(rows, lists=3)
    >>> scores, found = ivf_nearest(np.eye(6, dtype=np.float32)[[1]], index, k=2, probes=1)
    >>> sorted(found[0].tolist())  # the two rows of the second cluster
    [2, 3]
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kazu_spark.linking.embedding import load_matrix, save_files

if TYPE_CHECKING:  # torch loads where an index is built or searched, not where this module is imported
    import torch

log = logging.getLogger(__name__)

#: k-means iterations of :func:`build_ivf` (on a sample of ``SAMPLE_PER_LIST`` rows a list, then one pass over all)
ITERATIONS = 8
SAMPLE_PER_LIST = 32
#: k-means++ seeds are drawn from the sample's first ``SEED_PER_LIST`` rows a list (a sequential pass per seed)
SEED_PER_LIST = 8
#: matrices with fewer rows are scored exactly: every row costs little there
MIN_ROWS = 20_000
#: bytes of the candidate scores of the queries scored together (``queries x probes x longest list`` floats)
_CHUNK_BYTES = 64 << 20


@dataclass(frozen=True)
class IvfIndex:
    """A matrix's IVF index: unit ``centroids`` ``[lists, dim]`` (float32), the fp16 ``rows`` in list order,
    ``offsets`` (list ``i`` is ``rows[offsets[i]:offsets[i + 1]]``) and ``order`` (the matrix row of each of
    ``rows``)."""

    centroids: np.ndarray
    rows: np.ndarray
    offsets: np.ndarray
    order: np.ndarray


def default_lists(rows: int) -> int:
    """Lists of a matrix of ``rows`` rows: ``4 sqrt(rows)`` (FAISS's rule of thumb), at least 1.

    Example:
        >>> default_lists(80_000), default_lists(1_000_000)
        (1131, 4000)
    """
    return max(1, round(4 * math.sqrt(rows)))


def _assign(vectors: np.ndarray | torch.Tensor, centroids: torch.Tensor, block: int = 65_536) -> np.ndarray:
    """The nearest centroid (largest dot product) of each row of ``vectors``, a block of rows at a time."""
    import torch

    out = np.empty(len(vectors), dtype=np.int64)
    with torch.inference_mode():
        for start in range(0, len(vectors), block):
            part = torch.from_numpy(np.ascontiguousarray(vectors[start : start + block], dtype=np.float32))
            out[start : start + block] = (part @ centroids.T).argmax(dim=1).numpy()
    return out


def _seeds(sample: torch.Tensor, lists: int, rng: np.random.Generator) -> torch.Tensor:
    """k-means++ seeding (Arthur and Vassilvitskii 2007) of ``lists`` centroids among the unit rows of ``sample``:
    each next seed drawn with probability proportional to its squared cosine distance from the nearest seed so
    far, so the seeds spread over the clusters (random seeds can leave two in one cluster and none in another)."""
    import torch

    chosen = [int(rng.integers(len(sample)))]
    distance = (1 - sample @ sample[chosen[0]]).clamp(min=0).double().numpy()
    for _ in range(lists - 1):
        weights = distance**2
        total = weights.sum()
        chosen.append(int(rng.choice(len(sample), p=weights / total)) if total > 0 else int(rng.integers(len(sample))))
        distance = np.minimum(distance, (1 - sample @ sample[chosen[-1]]).clamp(min=0).double().numpy())
    return sample[torch.tensor(chosen)].clone()


def build_ivf(matrix: np.ndarray, lists: int | None = None, seed: int = 0) -> IvfIndex:
    """Spherical k-means over the unit rows of ``matrix`` (``lists`` clusters, default :func:`default_lists`):
    k-means++ seeds, then ``ITERATIONS`` rounds on a seeded sample of ``SAMPLE_PER_LIST`` rows a list, then
    every row assigned to its nearest centroid. A list left empty in a round takes a random sample row as its
    centroid."""
    import torch

    lists = min(lists or default_lists(len(matrix)), len(matrix))
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(matrix), size=min(len(matrix), lists * SAMPLE_PER_LIST), replace=False)
    sample = torch.from_numpy(np.asarray(matrix[picked], dtype=np.float32))
    centroids = _seeds(sample[: lists * SEED_PER_LIST], lists, rng)  # the sample is in random order
    for _ in range(ITERATIONS):
        members = torch.from_numpy(_assign(sample, centroids))
        sums = torch.zeros_like(centroids).index_add_(0, members, sample)
        empty = torch.bincount(members, minlength=lists) == 0
        sums[empty] = sample[torch.from_numpy(rng.choice(len(sample), size=int(empty.sum()), replace=True))]
        centroids = torch.nn.functional.normalize(sums, dim=1)
    assigned = _assign(matrix, centroids)
    order = np.argsort(assigned, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(assigned, minlength=lists))])
    return IvfIndex(centroids.numpy(), np.ascontiguousarray(matrix[order]), offsets, order)


def ivf_nearest(queries: np.ndarray, index: IvfIndex, k: int, probes: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores and matrix rows of each query's ``k`` nearest rows among those of its ``probes`` nearest
    lists, best first (the layout of :func:`~kazu_spark.linking.embedding.nearest`); the scores are exact
    float32 products. A query whose lists hold fewer than ``k`` rows gets ``-inf`` scores (row 0) for the rest.
    Each list is one product with the queries that probe it, on the process's torch threads."""
    import torch

    lists = len(index.centroids)
    probes = min(probes, lists)
    sizes = np.diff(index.offsets)
    width = max(int(sizes.max()), 1)
    k = min(k, probes * width)
    scores = np.empty((len(queries), k), dtype=np.float32)
    rows = np.empty((len(queries), k), dtype=np.int64)
    centroids = torch.from_numpy(index.centroids)
    step = max(1, min(1024, _CHUNK_BYTES // (probes * width * 4)))
    with torch.inference_mode():
        for start in range(0, len(queries), step):
            chunk = torch.from_numpy(np.ascontiguousarray(queries[start : start + step], dtype=np.float32))
            probed = torch.topk(chunk @ centroids.T, probes, dim=1).indices.numpy()  # [n, probes]
            flat = probed.ravel()
            by_list = np.argsort(flat, kind="stable")
            bounds = np.searchsorted(flat[by_list], np.arange(lists + 1))
            found = np.full((len(chunk), probes, width), -np.inf, dtype=np.float32)
            for number in np.flatnonzero(np.diff(bounds)):  # the lists some query probes
                pairs = by_list[bounds[number] : bounds[number + 1]]
                first, last = index.offsets[number], index.offsets[number + 1]
                block = torch.from_numpy(np.asarray(index.rows[first:last], dtype=np.float32))
                found[pairs // probes, pairs % probes, : last - first] = (chunk[pairs // probes] @ block.T).numpy()
            best, at = torch.topk(torch.from_numpy(found.reshape(len(chunk), -1)), k, dim=1)
            at = at.numpy()
            chosen = np.take_along_axis(probed, at // width, axis=1)
            position = np.minimum(index.offsets[chosen] + at % width, len(index.order) - 1)
            rows[start : start + step] = np.where(np.isfinite(best.numpy()), index.order[position], 0)
            scores[start : start + step] = best.numpy()
    return scores, rows


def has_ivf(folder: str | Path, name: str) -> bool:
    """Whether :func:`save_ivf` completed the index of matrix ``name`` in ``folder``."""
    return (Path(folder) / f"{name}.ivf.npy").exists()


def save_ivf(folder: str | Path, name: str, index: IvfIndex) -> None:
    """Write ``<name>.ivf.npz`` and ``<name>.ivf.npy`` into ``folder``, each beside and renamed into place
    (:func:`~kazu_spark.linking.embedding.save_files`; the ``.npy`` last: its presence means complete)."""
    parts = {"centroids": index.centroids, "offsets": index.offsets, "order": index.order}
    save_files(
        folder,
        [
            (f"{name}.ivf.npz", lambda handle: np.savez(handle, **parts)),
            (f"{name}.ivf.npy", lambda handle: np.save(handle, index.rows)),
        ],
    )


def load_ivf(folder: str | Path, name: str) -> IvfIndex:
    """The index :func:`save_ivf` wrote, its rows memory-mapped.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> save_ivf(folder, "drug", build_ivf(np.eye(4, dtype=np.float16), lists=2))
        >>> index = load_ivf(folder, "drug")
        >>> index.rows.shape, index.offsets.tolist()[-1], sorted(index.order.tolist())
        ((4, 4), 4, [0, 1, 2, 3])
    """
    folder = Path(folder)
    with np.load(folder / f"{name}.ivf.npz") as parts:
        centroids, offsets, order = parts["centroids"], parts["offsets"], parts["order"]
    return IvfIndex(centroids, np.load(folder / f"{name}.ivf.npy", mmap_mode="r"), offsets, order)


def ensure_ivf(folder: str | Path, names: list[str]) -> None:
    """Build and save the index of each matrix of ``names`` in ``folder`` that has ``MIN_ROWS`` rows or more
    and no index yet (the driver, once per matrix: 6-9 s for ~80,000 rows on 2 AVX2 cores); smaller matrices
    are scored exactly."""
    for name in names:
        if has_ivf(folder, name):
            continue
        _, matrix = load_matrix(folder, name)
        if len(matrix) >= MIN_ROWS:
            index = build_ivf(matrix)
            save_ivf(folder, name, index)
            log.info("IVF index of %s: %d rows in %d lists", name, len(matrix), len(index.centroids))
