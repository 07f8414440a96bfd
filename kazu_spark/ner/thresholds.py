"""Per-class decision thresholds that travel with a model folder (``thresholds.json``).

A sigmoid head is not equally calibrated for every class: one class's best F1 may lie at a probability of
0.35, another's at 0.65. ``kazu-spark train thresholds`` tunes one threshold per class on the devel splits
(:mod:`kazu_spark.evaluation.thresholds`) and writes them beside the weights, with the decoder and word
aggregation they were tuned for: they belong to those weights and that decoding, so they ship with the
folder (broadcast, ``--archives``, volumes) and change with it. The tagger reads them when
``ner.class_thresholds`` is ``model`` (the default) and its decoder and aggregation match; a class the file
lacks keeps ``ner.threshold``. ``ner.class_thresholds: {}`` decodes every class at ``ner.threshold``, and a
mapping in the config replaces the file. Torch-free: the driver and the config docs read it. Limits: the tuning
runs in fp32, so where ``precision: auto`` picks bf16 a probability right at a threshold may fall the other
way; the ``softmax`` decoder takes no threshold at all.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_class_thresholds(folder, {"gene": 0.45, "drug": 0.6}, decoder="sigmoid", aggregation="first")
    PosixPath('.../thresholds.json')
    >>> from kazu_spark.config import NerConfig
    >>> resolve_class_thresholds(NerConfig(), folder)
    {'drug': 0.6, 'gene': 0.45}
    >>> resolve_class_thresholds(NerConfig(aggregation="max"), folder) is None  # tuned for another decoding
    True
    >>> resolve_class_thresholds(NerConfig(class_thresholds={}), folder) is None
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from kazu_spark.errors import ModelError

if TYPE_CHECKING:
    from kazu_spark.config import NerConfig

THRESHOLDS_FILE = "thresholds.json"


def read_class_thresholds(model_dir: str | Path, *, decoder: str, aggregation: str) -> dict[str, float] | None:
    """The folder's per-class thresholds if it has them for this ``decoder`` and ``aggregation``, else None."""
    path = Path(model_dir) / THRESHOLDS_FILE
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        thresholds = {str(cls): float(t) for cls, t in saved["thresholds"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ModelError(f"{path}: not a thresholds file ({err})") from err
    if any(not 0 < t <= 1 for t in thresholds.values()):
        raise ModelError(f"{path}: thresholds must be in (0, 1]; got {thresholds}")
    if saved.get("decoder") != decoder or saved.get("aggregation") != aggregation:
        return None
    return dict(sorted(thresholds.items()))


def write_class_thresholds(
    model_dir: str | Path,
    thresholds: Mapping[str, float],
    *,
    decoder: str,
    aggregation: str,
    tuning: Mapping[str, object] | None = None,
) -> Path:
    """Write ``thresholds`` (class -> probability) into the model folder, with what they were tuned for."""
    path = Path(model_dir) / THRESHOLDS_FILE
    body = {"decoder": decoder, "aggregation": aggregation, "thresholds": dict(sorted(thresholds.items()))}
    path.write_text(json.dumps(body | {"tuning": dict(tuning or {})}, indent=1) + "\n", encoding="utf-8")
    return path


def resolve_class_thresholds(cfg: NerConfig, model_dir: str | Path) -> dict[str, float] | None:
    """The per-class thresholds a tagger with these settings uses (None: ``cfg.threshold`` for every class).

    ``cfg.class_thresholds`` ``model``: the folder's file (:func:`read_class_thresholds`); a mapping: itself.
    Classes left out keep ``cfg.threshold`` (the tagger fills them in). Example: see the module docstring.
    """
    if cfg.class_thresholds == "model":
        return read_class_thresholds(model_dir, decoder=cfg.decoder, aggregation=cfg.aggregation)
    return dict(cfg.class_thresholds) or None
