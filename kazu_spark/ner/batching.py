"""Group model windows into batches under a token budget, and survive out-of-memory by halving batches.

Windows are sorted by length so that each batch holds windows of similar length and is padded only
to its own longest window (dynamic padding). A batch grows while its *padded* size, windows x longest
window, stays within ``max_tokens``; short windows therefore travel in large batches and long ones in
small batches, which keeps the work (and memory) per forward pass roughly constant. A single window
longer than the budget still gets a batch of its own.

:func:`run_batches` calls ``forward`` on each batch and returns the results in the caller's order. If
``forward`` runs out of memory (``torch.cuda.OutOfMemoryError``, or a RuntimeError saying "out of
memory", as CPU allocators and older CUDA builds raise), the batch is split in half and each half is
retried, down to single windows; only a single window that still does not fit raises. No window is
dropped or repeated.

Example:
    >>> plan_batches([5, 2, 9, 3], max_tokens=12)
    [[1, 3], [0], [2]]
    >>> run_batches([5, 2, 9, 3], lambda idx: [f"w{i}" for i in idx], max_tokens=12)
    ['w0', 'w1', 'w2', 'w3']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from typing import TypeVar

import numpy as np
import torch

__all__ = ["is_out_of_memory", "pad_ids", "plan_batches", "run_batches"]

T = TypeVar("T")

#: padded tokens per forward pass when ``max_batch_tokens`` is not given: a few dozen windows keep CPU
#: caches warm; a GPU needs far larger batches to be kept busy
DEFAULT_BATCH_TOKENS = {"cpu": 4096, "cuda": 65536}


def plan_batches(lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Indices of ``lengths`` grouped into batches, shortest first, each padded size within ``max_tokens``.

    The padded size of a batch is its window count times its longest window. A window longer than
    ``max_tokens`` forms a batch alone.

    Example:
        >>> plan_batches([4, 4, 4, 8, 1], max_tokens=8)
        [[4, 0], [1, 2], [3]]
    """
    if max_tokens <= 0:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    batches: list[list[int]] = []
    current: list[int] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        if current and (len(current) + 1) * lengths[index] > max_tokens:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def plan_buckets(lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """:func:`plan_batches`, with the windows of at most half the longest one's length batched apart from the others.

    In one length-sorted plan the short windows (a title's, a document's last) share a batch with the first long
    ones and are padded to their length. Apart, they are padded to their own. The forward server plans the windows
    of all its waiting requests this way (:mod:`kazu_spark.ner.forward_server`): merged, the short windows of
    several tasks make a batch large enough to keep a GPU busy.

    Example:
        >>> plan_batches([30, 130, 20, 130], max_tokens=300), plan_buckets([30, 130, 20, 130], max_tokens=300)
        ([[2, 0], [1, 3]], [[2, 0], [1, 3]])
        >>> plan_batches([30, 130, 20, 130], max_tokens=400), plan_buckets([30, 130, 20, 130], max_tokens=400)
        ([[2, 0, 1], [3]], [[2, 0], [1, 3]])
    """
    longest = max(lengths, default=0)
    parts = [[i for i, n in enumerate(lengths) if (2 * n <= longest) == short] for short in (True, False)]
    return [
        [part[j] for j in batch]
        for part in parts
        if part
        for batch in plan_batches([lengths[i] for i in part], max_tokens)
    ]


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA out-of-memory errors and RuntimeErrors whose message says "out of memory".

    Example:
        >>> is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")), is_out_of_memory(
        ...     RuntimeError("shape mismatch")
        ... )
        (True, False)
    """
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def _forward_halving(batch: list[int], forward: Callable[[list[int]], Sequence[T]]) -> list[T]:
    """``forward(batch)``; on out-of-memory, the two halves separately (recursively), down to one window."""
    try:
        return list(forward(batch))
    except (RuntimeError, torch.cuda.OutOfMemoryError) as exc:
        if len(batch) == 1 or not is_out_of_memory(exc):
            raise
    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # hand the failed attempt's blocks back before retrying smaller
    half = len(batch) // 2
    return _forward_halving(batch[:half], forward) + _forward_halving(batch[half:], forward)


def run_batches(
    lengths: Sequence[int],
    forward: Callable[[list[int]], Sequence[T]],
    *,
    max_tokens: int,
    plan: Callable[[Sequence[int], int], list[list[int]]] = plan_batches,
) -> list[T]:
    """One result per window, in input order: ``forward(indices)`` over the batches of ``plan`` (:func:`plan_batches`
    or :func:`plan_buckets`), halving on OOM.

    ``forward`` gets a list of window indices and returns one result per index, in that order.

    Example: see the module docstring.
    """
    results: list[T | None] = [None] * len(lengths)
    for batch in plan(lengths, max_tokens):
        for index, result in zip(batch, _forward_halving(batch, forward), strict=True):
            results[index] = result
    return results  # type: ignore[return-value]  # every index is filled: plan_batches covers them all


def pad_ids(rows: Sequence[Sequence[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """``input_ids`` right-padded with ``pad_id`` to the longest row, and the matching ``attention_mask``.

    One numpy fill instead of the tokenizer's per-row ``pad`` (which showed up in profiles of GPU runs,
    where the forward pass itself is cheap).

    Example:
        >>> batch = pad_ids([[101, 7, 102], [101, 102]], pad_id=0)
        >>> batch["input_ids"].tolist(), batch["attention_mask"].tolist()
        ([[101, 7, 102], [101, 102, 0]], [[1, 1, 1], [1, 1, 0]])
    """
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    mask = np.arange(int(lengths.max(initial=0)))[None, :] < lengths[:, None]
    ids = np.full(mask.shape, pad_id, dtype=np.int64)
    ids[mask] = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum()))
    return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask.astype(np.int64))}
