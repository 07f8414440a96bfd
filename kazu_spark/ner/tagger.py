"""The NER entry point the Spark job calls: ``Tagger.from_dir(path).tag(texts)``.

``tag`` cuts every text into overlapping windows (:mod:`kazu_spark.ner.windows`), sorts all windows
of the call by length and runs them in batches of at most ``max_batch_tokens`` padded tokens, each
padded to its own longest window, under ``torch.inference_mode``; a batch that runs out of memory is
halved and retried (:mod:`kazu_spark.ner.batching`). Probabilities (softmax for the ``softmax``
decoder, sigmoid otherwise) are merged back per document (each sub-token from the window where it is
most central), pooled per pre-tokenizer word by ``aggregation`` (a word's first sub-token, or the mean
or max over its sub-tokens; ``none`` keeps sub-tokens) so spans never split a word, and decoded once per
batch with the chosen decoder, in the model's own label order (:mod:`kazu_spark.ner.decode`).
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

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from kazu_spark.config import Aggregation, Decoder
from kazu_spark.ner.abbreviations import propagate_abbreviations
from kazu_spark.ner.batching import DEFAULT_BATCH_TOKENS, pad_ids, run_batches
from kazu_spark.ner.decode import AGGREGATIONS, Span, Threshold, check_labels, classes_of, decode_stacked
from kazu_spark.ner.forward_server import ForwardClient
from kazu_spark.ner.guidelines import guideline_prefix
from kazu_spark.ner.known_names import KnownNames, load_names
from kazu_spark.ner.model import load_for_inference, load_token_classifier, versioned_name
from kazu_spark.ner.model_files import resolve_model_dir
from kazu_spark.ner.spans import Found, entity_rows
from kazu_spark.ner.subtokens import Subtokens, subtokenize
from kazu_spark.ner.thresholds import resolve_class_thresholds
from kazu_spark.ner.windows import WindowedText, kept_rows, plan_windows, window_inputs
from kazu_spark.runtime.precision import resolve_precision

if TYPE_CHECKING:
    from kazu_spark.config import NerConfig

__all__ = ["DEFAULT_BATCH_TOKENS", "Span", "Tagger", "resolve_precision"]

DEFAULT_NAME = "kazu-spark-ner"
#: a tagger's batch budget with a forward server: every window of a call in one request
REQUEST_TOKENS = 1 << 40


class Tagger:
    """Tags texts with entity spans using a BERT token classifier. Build it with :meth:`from_dir`.

    ``labels`` are the classifier's columns in order; ``decoder`` must be able to decode them
    (:func:`~kazu_spark.ner.decode.check_labels`), else ValueError. ``aggregation`` pools sub-tokens
    into words before decoding (:func:`~kazu_spark.ner.decode.word_probs`; ``none``: decode sub-tokens).
    ``class_thresholds`` give some classes a threshold of their own (:mod:`kazu_spark.ner.thresholds`); the
    others decode at ``threshold``. ``self.threshold`` is what the decoder gets: one float, or one per class.
    ``prefix``: ids every window carries after [CLS], a corpus guideline's marker (:mod:`kazu_spark.ner.guidelines`).
    ``server``: the machine's forward server runs the forwards (:mod:`kazu_spark.ner.forward_server`), and ``model``
    is None; every window of a call goes in one request, and the server batches it with other tasks' windows under
    its own budget (the client's ``max_batch_tokens``).
    """

    def __init__(
        self,
        model: PreTrainedModel | None,
        tokenizer: PreTrainedTokenizerFast,
        labels: Sequence[str],
        *,
        name: str,
        threshold: float = 0.5,
        class_thresholds: Mapping[str, float] | None = None,
        decoder: Decoder = "sigmoid",
        aggregation: Aggregation = "first",
        window: int = 128,
        stride: int = 32,
        max_batch_tokens: int | None = None,
        known_names: KnownNames | None = None,
        prefix: Sequence[int] = (),
        server: ForwardClient | None = None,
    ) -> None:
        check_labels(labels, decoder)
        if (model is None) == (server is None):
            raise ValueError("a tagger runs its forwards with a model or with a forward server: give exactly one")
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}; got {aggregation!r}")
        self.model = model
        self.tokenizer = tokenizer
        self.labels = list(labels)
        self.name = name
        self.threshold: Threshold = threshold
        if class_thresholds:
            self.threshold = {cls: class_thresholds.get(cls, threshold) for cls in classes_of(labels)}
        self.decoder = decoder
        self.aggregation = aggregation
        self.window = window
        self.stride = stride
        if server is not None:  # one request per call: the server batches what its tasks send together
            self.max_batch_tokens = REQUEST_TOKENS
        else:
            self.max_batch_tokens = max_batch_tokens or DEFAULT_BATCH_TOKENS[model.device.type]
        self.known_names = known_names
        self.prefix = tuple(prefix)
        self.server = server

    @classmethod
    def from_dir(
        cls,
        path: str | Path,
        *,
        device: str = "cpu",
        precision: str = "auto",
        threshold: float = 0.5,
        class_thresholds: Mapping[str, float] | None = None,
        decoder: Decoder = "sigmoid",
        aggregation: Aggregation = "first",
        labels: Sequence[str] | None = None,
        allow_pickle_weights: bool = False,
        window: int = 128,
        stride: int = 32,
        max_batch_tokens: int | None = None,
        num_threads: int | None = None,
        known_names: KnownNames | None = None,
        guideline: str | None = None,
        forward_server: bool = False,
    ) -> Tagger:
        """Load a model folder or Kazu model pack (see :mod:`kazu_spark.ner.model`) onto ``device``.

        ``labels`` (explicit label list, else the folder's labels.txt) and ``allow_pickle_weights``
        go to :func:`~kazu_spark.ner.model.load_token_classifier`. ``name`` is the config's
        ``kazu_spark_name`` (else the model folder's name) ``@`` the first 12 hex digits of the
        weights' sha256, so output rows say exactly which weights produced them. ``precision`` goes
        through :func:`resolve_precision`. ``max_batch_tokens`` bounds each forward pass's padded size
        (None: :data:`DEFAULT_BATCH_TOKENS` for the device). ``num_threads`` sets torch's intra-op
        threads for this process (None leaves it unchanged). ``class_thresholds``: see :class:`Tagger` (here
        they are only what is passed; :meth:`from_config` reads the folder's ``thresholds.json``). ``known_names``:
        names added where the model finds none (:mod:`kazu_spark.ner.known_names`; None: none). ``guideline``: the
        training corpus whose convention to tag by, if the model was trained with guideline markers
        (:func:`~kazu_spark.ner.guidelines.guideline_prefix`; None: the blend of all). ``forward_server``: the
        machine's forward server for this model, device and precision runs the forwards, started if none runs
        (:mod:`kazu_spark.ner.forward_server`); this process reads the model's files but keeps no weights.
        """
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        precision = resolve_precision(device, precision)
        if forward_server:
            loaded = load_token_classifier(path, labels=labels, allow_pickle_weights=allow_pickle_weights)
            model, server = None, ForwardClient(
                loaded.model_dir, name=versioned_name(loaded), device=device, precision=precision, labels=labels,
                allow_pickle_weights=allow_pickle_weights, max_batch_tokens=max_batch_tokens,
            )  # fmt: skip
        else:
            loaded = load_for_inference(
                path, device=device, precision=precision, labels=labels, allow_pickle_weights=allow_pickle_weights
            )
            model, server = loaded.model, None
        return cls(
            model,
            loaded.tokenizer,
            loaded.labels,
            name=versioned_name(loaded),
            threshold=threshold,
            class_thresholds=class_thresholds,
            decoder=decoder,
            aggregation=aggregation,
            window=window,
            stride=stride,
            max_batch_tokens=max_batch_tokens,
            known_names=known_names,
            prefix=guideline_prefix(resolve_model_dir(path), loaded.tokenizer, guideline),
            server=server,
        )

    @classmethod
    def from_config(
        cls,
        path: str | Path,
        cfg: NerConfig,
        *,
        device: str,
        threads: int | None = None,
        known_names: Sequence[tuple[str, str, float]] | None = None,
    ) -> Tagger:
        """:meth:`from_dir` with the settings of a ``ner`` config: the one mapping of config to tagger.

        The Spark NER stage and :func:`kazu_spark.pipeline.texts.tag_texts` both build their tagger here,
        so a setting added to :class:`~kazu_spark.config.NerConfig` reaches both. ``path`` is the model
        folder already resolved (``cfg.model`` names it in the config, shipped or not); ``device`` is a
        concrete torch device (not ``auto``). torch threads: ``cfg.num_threads``, else ``threads`` (the
        stage passes ``spark.task.cpus``; None leaves torch's setting). Per-class thresholds:
        :func:`~kazu_spark.ner.thresholds.resolve_class_thresholds` (the folder's ``thresholds.json`` by default).
        Known names: ``known_names`` (the Spark stage reads ``cfg.known_names`` once on the driver and ships them),
        else ``cfg.known_names`` read here (:func:`~kazu_spark.ner.known_names.load_names`).

        Example:
            >>> import kazu_spark
            >>> from kazu_spark.config import NerConfig
            >>> folder = Path(kazu_spark.__file__).parent / "resources" / "model"
            >>> cfg = NerConfig(threshold=0.6, window=64, aggregation="max")
            >>> tagger = Tagger.from_config(folder, cfg, device="cpu")
            >>> tagger.threshold, tagger.window, tagger.decoder, tagger.aggregation
            (0.6, 64, 'sigmoid', 'max')
            >>> Tagger.from_config(folder, NerConfig(class_thresholds={"gene": 0.7}), device="cpu").threshold["gene"]
            0.7
        """
        names = load_names(cfg.known_names) if known_names is None else known_names
        return cls.from_dir(
            path,
            device=device,
            precision=cfg.precision,
            threshold=cfg.threshold,
            class_thresholds=resolve_class_thresholds(cfg, resolve_model_dir(path)),
            decoder=cfg.decoder,
            aggregation=cfg.aggregation,
            labels=cfg.labels,
            allow_pickle_weights=cfg.allow_pickle_weights,
            window=cfg.window,
            stride=cfg.stride,
            max_batch_tokens=cfg.max_batch_tokens,
            num_threads=cfg.num_threads or threads,
            known_names=KnownNames(names) if names else None,
            guideline=cfg.guideline,
            forward_server=cfg.forward_server,
        )

    def _activation(self, inputs: dict[str, torch.Tensor]) -> np.ndarray:
        """``[windows, width, labels]`` probabilities of padded inputs (softmax decoder: softmax, else sigmoid)."""
        if self.server is not None:
            logits = self.server(inputs["input_ids"].numpy(), inputs["attention_mask"].numpy()).float()
        else:
            logits = self.model(**{k: v.to(self.model.device) for k, v in inputs.items()}).logits.float()
        return (torch.softmax(logits, dim=-1) if self.decoder == "softmax" else torch.sigmoid(logits)).cpu().numpy()

    def window_probs(self, docs: Sequence[WindowedText]) -> list[list[np.ndarray]]:
        """Per document, per window: the ``[window.n_tokens, labels]`` probabilities ([CLS], a guideline marker and
        [SEP] cut off).

        Windows of all documents are sorted by length and run under inference mode in batches of at most
        ``max_batch_tokens`` padded tokens, halved on out-of-memory (:func:`~kazu_spark.ner.batching.run_batches`);
        the activation is softmax for the ``softmax`` decoder, sigmoid otherwise.
        """
        jobs = [(d, w) for d, doc in enumerate(docs) for w in range(len(doc.windows))]
        ids = [[window[0], *self.prefix, *window[1:]] for window in (docs[d].windows[w].input_ids for d, w in jobs)]
        lead = 1 + len(self.prefix)

        def forward(batch: list[int]) -> list[np.ndarray]:
            chosen = [ids[i] for i in batch]
            out = self._activation(pad_ids(chosen, self.tokenizer.pad_token_id))
            return [row[lead : len(window) - 1] for row, window in zip(out, chosen, strict=True)]

        with torch.inference_mode():
            rows = run_batches([len(i) for i in ids], forward, max_tokens=self.max_batch_tokens)
        probs: list[list[np.ndarray]] = [[] for _ in docs]
        for (d, _), row in zip(jobs, rows, strict=True):  # jobs are in (document, window) order
            probs[d].append(row)
        return probs

    def merged_probs(self, texts: Sequence[str]) -> tuple[Subtokens, np.ndarray]:
        """The texts' stacked sub-tokens and their ``[sub-tokens, labels]`` probabilities, each sub-token's
        from its most central window (:func:`~kazu_spark.ner.windows.plan_windows`).

        The windows are batched as :meth:`window_probs` batches them; each batch's inputs are cut from the
        stacked sub-token ids and its kept rows written into the result with a few numpy calls.
        """
        sub = subtokenize(texts, self.tokenizer)
        plan = plan_windows(sub.sizes, self.window, self.stride)
        merged = np.zeros((len(sub.ids), len(self.labels)), dtype=np.float32)
        special = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id, self.tokenizer.pad_token_id

        def forward(batch: list[int]) -> list[int]:
            windows = np.asarray(batch)
            inputs = window_inputs(sub.ids, plan, windows, *special, prefix=self.prefix)
            probs = self._activation({k: torch.from_numpy(v) for k, v in inputs.items()})
            rows, kept = kept_rows(plan, windows, probs, lead=1 + len(self.prefix))
            merged[rows] = kept
            return batch  # the results are in ``merged``; run_batches wants one per window

        with torch.inference_mode():
            run_batches((plan.length + 2 + len(self.prefix)).tolist(), forward, max_tokens=self.max_batch_tokens)
        return sub, merged

    def tag(self, texts: Sequence[str]) -> list[list[Span]]:
        """Entity spans of each text, sorted by (start, end, class); [] for empty/whitespace texts.

        The whole batch is pooled into words and decoded at once (:func:`~kazu_spark.ner.decode.decode_stacked`).
        """
        sub, merged = self.merged_probs(texts)
        return decode_stacked(
            merged,
            sub.offsets,
            sub.sizes,
            texts,
            self.labels,
            self.threshold,
            self.decoder,
            word_ids=sub.word_ids,
            aggregation=self.aggregation,
        )


def entities_for_batch(tagger: Tagger, docs: pd.DataFrame, *, abbreviations: bool = True) -> pd.DataFrame:
    """Tag one pandas batch of documents (``NER_INPUT`` columns) into ``ENTITY_ROWS``: all its sections in
    one ``tagger.tag`` call, with the tagger's known names where the model found none
    (:meth:`~kazu_spark.ner.known_names.KnownNames.missed`); then, with ``abbreviations`` (``ner.abbreviations``),
    every use of a short form a document defines takes its long form's classes
    (:mod:`kazu_spark.ner.abbreviations`)."""

    names = tagger.known_names

    def find(texts: list[str]) -> Iterator[list[Found]]:
        for text, spans in zip(texts, tagger.tag(texts), strict=True):
            found = [Found(s.start, s.end, s.entity_class, s.confidence, tagger.name) for s in spans]
            if names is not None:
                model = [(f.start, f.end, f.entity_class) for f in found]
                found += [Found(*hit, names.model) for hit in names.missed(text, model)]
            yield found

    rows = entity_rows(docs, find)
    return propagate_abbreviations(docs, rows) if abbreviations else rows
