"""Load the BERT token classifier from a local Hugging Face model folder or a Kazu model pack.

A model folder holds ``config.json``, weights, the tokenizer files (``tokenizer.json`` for a fast
tokenizer) and, usually, ``labels.txt`` (see :mod:`kazu_spark.ner.labels` for how labels are
resolved). A Kazu model pack holds the TinyBERN2 model folder as ``<pack>/tinybern2`` or
``<pack>/tinybern``; either the pack root or the model folder itself may be given.

Finding the folder and the weights file (safetensors first, pickled weights only on opt-in) is
:mod:`kazu_spark.ner.model_files`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from transformers import (
    MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING,
    AutoConfig,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from kazu_spark.ner.labels import resolve_labels
from kazu_spark.ner.model_files import WEIGHTS_FILE, find_weights, resolve_model_dir
from kazu_spark.runtime.precision import DTYPES, quantize_int8
from kazu_spark.runtime.pretrained import load_pretrained, require_fit


@dataclass(frozen=True)
class LoadedModel:
    """A loaded classifier: model (eval mode), fast tokenizer, labels in column order, and where they came from."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerFast
    labels: list[str]
    model_dir: Path
    weights: Path


def versioned_name(loaded: LoadedModel) -> str:
    """``kazu_spark_name`` of the config (else the folder's name) ``@`` the first 12 hex of the weights' sha256.

    Output rows carry it (``entities.model``, ``soft_labels.teacher``) so they say which weights made them.
    """
    digest = hashlib.sha256(loaded.weights.read_bytes()).hexdigest()[:12]
    base = getattr(loaded.model.config, "kazu_spark_name", None) or loaded.model_dir.resolve().name
    return f"{base}@{digest}"


def load_tokenizer(model_dir: str | Path) -> PreTrainedTokenizerFast:
    """Load the folder's fast tokenizer (offsets mapping needs a fast one, i.e. tokenizer.json)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True, use_fast=True)
    if not tokenizer.is_fast:
        raise ValueError(f"{model_dir}: a fast tokenizer (tokenizer.json) is required for character offsets")
    return tokenizer


def load_token_classifier(
    path: str | Path,
    *,
    dtype: torch.dtype = torch.float32,
    labels: Sequence[str] | None = None,
    allow_pickle_weights: bool = False,
) -> LoadedModel:
    """Load a model folder or Kazu model pack in eval mode and ``dtype``.

    ``labels`` is the explicit label list (else ``labels.txt``), checked by
    :func:`~kazu_spark.ner.labels.resolve_labels` before any weights are read. fp16 weights are
    upcast to ``dtype`` on load.

    Example:
        >>> import kazu_spark
        >>> loaded = load_token_classifier(Path(kazu_spark.__file__).parent / "resources" / "model")
        >>> loaded.labels[:3], loaded.weights.name
        (['O', 'B-cell_line', 'I-cell_line'], 'model.safetensors')
    """
    model_dir = resolve_model_dir(path)
    weights = find_weights(model_dir, allow_pickle=allow_pickle_weights)
    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    resolved = resolve_labels(model_dir, config.id2label, labels)
    if weights.name == WEIGHTS_FILE:
        source, extra = model_dir, {"use_safetensors": True}
    else:
        source, extra = None, {"state_dict": torch.load(weights, map_location="cpu", weights_only=True)}
    model_class = MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING[type(config)]  # the state_dict route takes no folder
    model, info = load_pretrained(model_class, source, config=config, dtype=dtype, **extra)
    require_fit(info, weights)
    model.eval()
    return LoadedModel(model, load_tokenizer(model_dir), resolved, model_dir, weights)


def load_for_inference(
    path: str | Path,
    *,
    device: str,
    precision: str,
    labels: Sequence[str] | None = None,
    allow_pickle_weights: bool = False,
) -> LoadedModel:
    """The model folder loaded for tagging: in ``precision``'s dtype on ``device``, or int8-quantised on the CPU.

    :meth:`~kazu_spark.ner.tagger.Tagger.from_dir` and the forward server (:mod:`kazu_spark.ner.forward_server`)
    load through it, so both run the same model. ``precision`` must be resolved already (not ``auto``).
    """
    loaded = load_token_classifier(
        path, dtype=DTYPES[precision], labels=labels, allow_pickle_weights=allow_pickle_weights
    )
    return replace(loaded, model=quantize_int8(loaded.model) if precision == "int8" else loaded.model.to(device))
