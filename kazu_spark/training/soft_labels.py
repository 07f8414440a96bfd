"""Weak supervision: a teacher model labels unlabelled documents with per-token probabilities (``soft_labels``).

Each document section (title, body) is cut into the same windows the NER stage uses
(:mod:`kazu_spark.ner.windows`) and the teacher's probabilities for every window are stored as one
``SOFT_LABELS`` row: its ``input_ids`` and a ``[len(input_ids) - 2, len(labels)]`` probability
matrix ([CLS]/[SEP] excluded, as :meth:`Tagger.window_probs` returns it). A student then trains on
these rows without ever running the teacher (``kazu-spark train distill``). This module is the pure part
(one batch of documents -> rows, the quantisation); :mod:`kazu_spark.training.label_job` runs it on Spark.

Storage: probabilities are quantised to uint8 (``round(p * 255)``, error at most 1/510 ≈ 0.002,
far below what BCE targets need) and stored row-major as bytes: 13 bytes per sub-token, half of
fp16 and a quarter of float32; Parquet compresses the many near-zero bytes well.

Example:
    >>> p = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    >>> blob = quantise(p)
    >>> list(blob), [round(float(x), 3) for x in dequantise(blob, 3)[0]]
    ([0, 128, 255], [0.0, 0.502, 1.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kazu_spark.ner.windows import make_windows
from kazu_spark.schemas import SOFT_LABELS

if TYPE_CHECKING:
    from kazu_spark.ner.tagger import Tagger

#: uint8 quantisation scale of the stored probabilities
SCALE = 255.0


def quantise(probs: np.ndarray) -> bytes:
    """``[tokens, labels]`` probabilities -> row-major uint8 bytes (``round(p * 255)``). Example: module docstring."""
    if not np.isfinite(probs).all():
        raise ValueError("the teacher returned non-finite probabilities (NaN/inf): its weights are broken")
    return np.rint(np.clip(probs, 0.0, 1.0) * SCALE).astype(np.uint8).tobytes()


def dequantise(blob: bytes, n_labels: int) -> np.ndarray:
    """Stored bytes -> float32 ``[tokens, n_labels]`` probabilities. Example: see the module docstring."""
    return (np.frombuffer(blob, dtype=np.uint8).astype(np.float32) / SCALE).reshape(-1, n_labels)


def soft_label_rows(tagger: Tagger | Sequence[Tagger], docs: pd.DataFrame) -> pd.DataFrame:
    """One ``SOFT_LABELS`` row per window of every section of the documents (``NER_INPUT`` columns).

    Several taggers are an ensemble of teachers (seeds, taggings of one recipe): each window's probabilities are
    their mean, and ``teacher`` joins their names with ``+``. They must share the vocabulary, the labels, and the
    windows (``window``, ``stride``), so that their rows line up; else ValueError.

    Example (the bundled model as the teacher, 8-token windows sharing 2 tokens):
        >>> from kazu_spark.ner.tagger import Tagger
        >>> from kazu_spark.paths import resolve_path
        >>> tagger = Tagger.from_dir(resolve_path("pkg://kazu_spark/resources/model"), window=8, stride=2)
        >>> docs = pd.DataFrame({"doc_id": ["d1"], "text": ["BRCA1 causes breast cancer in mice"],
        ...     "sections": [[{"name": "body", "start": 0, "end": 34}]], "content_hash": ["h"]})
        >>> rows = soft_label_rows(tagger, docs)
        >>> rows[["window", "first_token"]].values.tolist()
        [[0, 0], [1, 2]]
        >>> probs = dequantise(rows["probs"][0], len(rows["labels"][0]))
        >>> probs.shape  # the window's 6 tokens between [CLS] and [SEP]: br ##ca ##1 causes breast cancer
        (6, 13)
        >>> [[rows["labels"][0][j] for j in np.flatnonzero(token > 0.5)] for token in probs]
        [['B-gene'], ['I-gene'], ['I-gene'], [], ['B-disease'], ['I-disease']]
    """
    taggers = list(tagger) if isinstance(tagger, Sequence) else [tagger]
    tagger = taggers[0]
    _check_ensemble(taggers)
    pieces: list[tuple[int, str]] = []  # (row, section name)
    windowed = []
    for row, (text, sections) in enumerate(zip(docs["text"], docs["sections"], strict=True)):
        for section in sections:
            pieces.append((row, section["name"]))
            piece = text[section["start"] : section["end"]]
            windowed.append(make_windows(piece, tagger.tokenizer, window=tagger.window, stride=tagger.stride))
    runs = [t.window_probs(windowed) for t in taggers]
    probs = [[np.mean(same, axis=0) for same in zip(*doc, strict=True)] for doc in zip(*runs, strict=True)]
    teacher = "+".join(t.name for t in taggers)
    records, window_index, last_row = [], 0, -1
    for (row, name), doc, doc_probs in zip(pieces, windowed, probs, strict=True):
        window_index = 0 if row != last_row else window_index
        last_row = row
        for win, win_probs in zip(doc.windows, doc_probs, strict=True):
            records.append(
                {
                    "doc_id": docs["doc_id"].iat[row],
                    "section": name,
                    "window": window_index,
                    "first_token": win.first_token,
                    "input_ids": list(win.input_ids),
                    "probs": quantise(win_probs),
                    "labels": list(tagger.labels),
                    "teacher": teacher,
                    "content_hash": docs["content_hash"].iat[row],
                }
            )
            window_index += 1
    return pd.DataFrame.from_records(records, columns=SOFT_LABELS.fieldNames())


def _check_ensemble(taggers: Sequence[Tagger]) -> None:
    """Teachers whose windows would not line up cannot be averaged."""
    first = taggers[0]
    for other in taggers[1:]:
        same = (other.labels, other.window, other.stride) == (first.labels, first.window, first.stride)
        if not same or other.tokenizer.get_vocab() != first.tokenizer.get_vocab():
            raise ValueError(
                f"teachers {first.name} and {other.name} cannot be averaged: their vocabulary, labels, window or "
                "stride differ"
            )
