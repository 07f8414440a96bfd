"""Build and load the BERT token classifier from a local Hugging Face model folder.

A model folder holds ``config.json``, ``model.safetensors``, the tokenizer files (``tokenizer.json``
for a fast tokenizer) and ``labels.txt``. Only safetensors weights are accepted: pickled
``pytorch_model.bin`` files can run arbitrary code when loaded. Nothing is ever fetched from a hub.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "pytorch_model.bin").write_bytes(b"")
    >>> load_token_classifier(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kazu_spark.ner.model.UnsafeWeightsError: ... only model.safetensors is accepted, pickled weights are refused)
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)
from transformers.utils import logging as hf_logging

from kazu_spark.ner.labels import LabelManifestError, read_label_manifest

WEIGHTS_FILE = "model.safetensors"
PICKLE_WEIGHTS = ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "model.ckpt.index")


class UnsafeWeightsError(ValueError):
    """The model folder has no safetensors weights (pickled or other formats are refused)."""


def check_weights(model_dir: Path) -> Path:
    """Return the path of ``model.safetensors`` or explain why the folder is refused."""
    weights = model_dir / WEIGHTS_FILE
    if weights.is_file():
        return weights
    found = [name for name in PICKLE_WEIGHTS if (model_dir / name).exists()]
    raise UnsafeWeightsError(
        f"{model_dir}: no {WEIGHTS_FILE}"
        + (f" (found {found}; only model.safetensors is accepted, pickled weights are refused)" if found else "")
    )


def load_tokenizer(model_dir: str | Path) -> PreTrainedTokenizerFast:
    """Load the folder's fast tokenizer (offsets mapping needs a fast one, i.e. tokenizer.json)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True, use_fast=True)
    if not tokenizer.is_fast:
        raise ValueError(f"{model_dir}: a fast tokenizer (tokenizer.json) is required for character offsets")
    return tokenizer


def load_token_classifier(
    model_dir: str | Path, *, dtype: torch.dtype = torch.float32
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast, list[str]]:
    """Load ``(model, tokenizer, labels)`` from a model folder, in eval mode and ``dtype``.

    The labels come from ``labels.txt`` and are checked against the config's id2label and the
    classifier head's width. Weights stored as fp16 are upcast to ``dtype`` on load.
    """
    model_dir = Path(model_dir)
    check_weights(model_dir)
    labels = read_label_manifest(model_dir)
    hf_logging.disable_progress_bar()  # one bar per Python worker is noise in executor logs
    model = AutoModelForTokenClassification.from_pretrained(
        model_dir, local_files_only=True, use_safetensors=True, dtype=dtype
    )
    head_width = model.classifier.out_features
    if head_width != len(labels):
        raise LabelManifestError(
            f"labels.txt {labels} has {len(labels)} labels but the classifier head has {head_width} outputs"
        )
    model.eval()
    return model, load_tokenizer(model_dir), labels
