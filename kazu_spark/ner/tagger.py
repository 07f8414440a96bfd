"""The NER entry point the Spark job calls: ``Tagger.from_dir(path).tag(texts)``.

``tag`` cuts every text into overlapping windows (:mod:`kazu_spark.ner.windows`), sorts all windows
of the call by length and runs them in batches padded to the longest window of the batch, under
``torch.inference_mode``. Probabilities (softmax for the ``softmax`` decoder, sigmoid otherwise) are
merged back per document (each sub-token from the window where it is most central) and decoded once
per document with the chosen decoder, in the model's own label order (:mod:`kazu_spark.ner.decode`).
Offsets are code points of the input text: ``text[span.start:span.end]`` is the mention.

Example:
    >>> import kazu_spark
    >>> tagger = Tagger.from_dir(Path(kazu_spark.__file__).parent / "resources" / "model")
    >>> text = "Mutations in BRCA1 cause breast cancer."
    >>> [(text[s.start : s.end], s.entity_class) for s in tagger.tag([text])[0]]
    [('BRCA1', 'gene'), ('breast cancer', 'disease')]
    >>> tagger.tag(["", "   "])
    [[], []]
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from kazu_spark.ner.decode import Decoder, Span, check_labels, decode
from kazu_spark.ner.model import load_token_classifier, versioned_name
from kazu_spark.ner.windows import WindowedText, make_windows, merge_window_probs

__all__ = ["Span", "Tagger", "resolve_dtype"]

#: CPU flags under which bf16 matmuls run natively (AMX tiles or AVX-512 BF16)
BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DEFAULT_NAME = "kazu-spark-ner"


def cpu_has_fast_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True if the CPU flags include AMX-BF16 or AVX512-BF16 (False where /proc/cpuinfo is absent)."""
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return False
    return bool(flags & BF16_CPU_FLAGS)


def resolve_dtype(device: str, precision: str) -> torch.dtype:
    """Inference dtype: "auto" is fp16 on CUDA, bf16 on CPUs with native bf16, fp32 otherwise.

    Example:
        >>> resolve_dtype("cpu", "fp32"), resolve_dtype("cuda", "auto")
        (torch.float32, torch.float16)
    """
    if precision == "auto":
        if device.startswith("cuda"):
            return torch.float16
        return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
    if precision not in DTYPES:
        raise ValueError(f"precision must be auto, {', '.join(DTYPES)}; got {precision!r}")
    if precision == "fp16" and not device.startswith("cuda"):
        raise ValueError("fp16 inference is only supported on CUDA; use bf16 or fp32 on CPU")
    return DTYPES[precision]


class Tagger:
    """Tags texts with entity spans using a BERT token classifier. Build it with :meth:`from_dir`.

    ``labels`` are the classifier's columns in order; ``decoder`` must be able to decode them
    (:func:`~kazu_spark.ner.decode.check_labels`), else ValueError.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerFast,
        labels: Sequence[str],
        *,
        name: str,
        threshold: float = 0.5,
        decoder: Decoder = "sigmoid",
        window: int = 128,
        stride: int = 32,
        batch_size: int = 32,
    ) -> None:
        check_labels(labels, decoder)
        self.model = model
        self.tokenizer = tokenizer
        self.labels = list(labels)
        self.name = name
        self.threshold = threshold
        self.decoder = decoder
        self.window = window
        self.stride = stride
        self.batch_size = batch_size

    @classmethod
    def from_dir(
        cls,
        path: str | Path,
        *,
        device: str = "cpu",
        precision: str = "auto",
        threshold: float = 0.5,
        decoder: Decoder = "sigmoid",
        labels: Sequence[str] | None = None,
        allow_pickle_weights: bool = False,
        window: int = 128,
        stride: int = 32,
        batch_size: int = 32,
        num_threads: int | None = None,
    ) -> Tagger:
        """Load a model folder or Kazu model pack (see :mod:`kazu_spark.ner.model`) onto ``device``.

        ``labels`` (explicit label list, else the folder's labels.txt) and ``allow_pickle_weights``
        go to :func:`~kazu_spark.ner.model.load_token_classifier`. ``name`` is the config's
        ``kazu_spark_name`` (else the model folder's name) ``@`` the first 12 hex digits of the
        weights' sha256, so output rows say exactly which weights produced them. ``num_threads``
        sets torch's intra-op threads for this process (None leaves it unchanged).
        """
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        dtype = resolve_dtype(device, precision)
        loaded = load_token_classifier(path, dtype=dtype, labels=labels, allow_pickle_weights=allow_pickle_weights)
        return cls(
            loaded.model.to(device),
            loaded.tokenizer,
            loaded.labels,
            name=versioned_name(loaded),
            threshold=threshold,
            decoder=decoder,
            window=window,
            stride=stride,
            batch_size=batch_size,
        )

    def window_probs(self, docs: Sequence[WindowedText]) -> list[list[np.ndarray]]:
        """Per document, per window: the ``[window.n_tokens, labels]`` probabilities ([CLS]/[SEP] cut off).

        Windows of all documents are sorted by length and run in padded batches under inference mode;
        the activation is softmax for the ``softmax`` decoder, sigmoid otherwise.
        """
        jobs = sorted(
            ((d, w) for d, doc in enumerate(docs) for w in range(len(doc.windows))),
            key=lambda job: len(docs[job[0]].windows[job[1]].input_ids),
        )
        probs: list[list[np.ndarray]] = [[np.empty(0)] * len(doc.windows) for doc in docs]
        device = self.model.device
        activation = partial(torch.softmax, dim=-1) if self.decoder == "softmax" else torch.sigmoid
        with torch.inference_mode():
            for b in range(0, len(jobs), self.batch_size):
                batch = jobs[b : b + self.batch_size]
                ids = [docs[d].windows[w].input_ids for d, w in batch]
                inputs = self.tokenizer.pad({"input_ids": ids}, return_tensors="pt").to(device)
                out = activation(self.model(**inputs).logits.float()).cpu().numpy()
                for (d, w), row, n in zip(batch, out, map(len, ids), strict=True):
                    probs[d][w] = row[1 : n - 1]
        return probs

    def tag(self, texts: Sequence[str]) -> list[list[Span]]:
        """Entity spans of each text, sorted by (start, end, class); [] for empty/whitespace texts."""
        docs = [make_windows(text, self.tokenizer, window=self.window, stride=self.stride) for text in texts]
        probs = self.window_probs(docs)
        return [
            decode(
                merge_window_probs(doc.windows, doc_probs, len(doc.offsets)),
                doc.offsets,
                text,
                self.labels,
                self.threshold,
                self.decoder,
            )
            if doc.windows
            else []
            for text, doc, doc_probs in zip(texts, docs, probs, strict=True)
        ]
