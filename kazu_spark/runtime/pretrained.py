"""Load a transformers model from local files quietly: no LOAD REPORT table, no per-load progress bar.

transformers prints a table of every weight a checkpoint lacks or leaves over, and a progress bar per load.
Both are noise where the difference is on purpose (a trainer cuts layers; the synonym encoder has no pooler,
which it never reads) and where a model loads once per Python worker (an executor log with a bar per
task). The caller gets the loading info instead and decides what is an error.

Example:
    >>> import kazu_spark
    >>> from transformers import BertModel
    >>> folder = Path(kazu_spark.__file__).parent / "resources" / "model"
    >>> model, info = load_pretrained(BertModel, folder, num_hidden_layers=2, add_pooling_layer=False)
    >>> len(model.encoder.layer), len(info["unexpected_keys"]) > 0, sorted(info["missing_keys"])
    (2, True, [])
    >>> require_fit(info, folder)  # nothing the model uses is missing
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from transformers.utils import logging as hf_logging


def load_pretrained(model_class: Any, source: str | Path | None, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    """``model_class.from_pretrained(source, **kwargs)`` from local files only, with its loading info
    (``missing_keys``, ``unexpected_keys``, ``mismatched_keys``), the report table and progress bar silenced.
    Load errors are still raised."""
    hf_logging.disable_progress_bar()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return model_class.from_pretrained(source, local_files_only=True, output_loading_info=True, **kwargs)
    finally:
        hf_logging.set_verbosity(verbosity)


def require_fit(info: Mapping[str, Any], where: str | Path, *, unused: tuple[str, ...] = ()) -> None:
    """Raise ``ValueError`` when a load (``info``: :func:`load_pretrained`'s) left a weight of the model without a
    value from the checkpoint, or found one of another shape: the model would run with random weights. Missing
    weights whose names start with one of ``unused`` (a part the caller never reads, e.g. ``pooler.``) are allowed.

    Example:
        >>> require_fit({"missing_keys": ["pooler.dense.bias"], "mismatched_keys": []}, "enc", unused=("pooler.",))
        >>> require_fit({"missing_keys": ["layer.0.bias"], "mismatched_keys": []}, "enc")
        Traceback (most recent call last):
        ...
        ValueError: enc: the weights do not fit config.json: missing ['layer.0.bias'], mismatched []
    """
    missing = sorted(key for key in info["missing_keys"] if not key.startswith(unused))
    if missing or info["mismatched_keys"]:
        raise ValueError(
            f"{where}: the weights do not fit config.json: missing {missing}, "
            f"mismatched {sorted(info['mismatched_keys'])}"
        )
