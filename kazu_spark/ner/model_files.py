"""Find a model's folder and weights file without importing torch: the Spark driver only ships files.

A Kazu model pack holds the TinyBERN2 model folder as ``<pack>/tinybern2`` or ``<pack>/tinybern``;
either the pack root or the model folder itself may be given. Kept apart from :mod:`kazu_spark.ner.model`
(which loads the model with torch and transformers) so that the driver, which resolves and broadcasts the
folder, does not pay torch's ~0.8 GiB import.

Weights: ``model.safetensors`` is preferred. Pickled ``pytorch_model.bin`` can run arbitrary code
when unpickled, so it is refused unless the caller opts in (``allow_pickle_weights=True``, config
``ner.allow_pickle_weights: true``), and is then read with ``torch.load(..., weights_only=True)``,
which only rebuilds tensors. Every weight of the model must be in the file (a missing classifier
head would otherwise be randomly initialised). Nothing is ever fetched from a hub.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "pytorch_model.bin").write_bytes(b"")
    >>> find_weights(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kazu_spark.errors.UnsafeWeightsError: ...: no model.safetensors; found pickled pytorch_model.bin, refused unless you opt in with allow_pickle_weights=True (config: ner.allow_pickle_weights: true)
"""  # noqa: E501

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from kazu_spark.errors import ModelError, UnsafeWeightsError
from kazu_spark.ner.labels import resolve_labels

WEIGHTS_FILE = "model.safetensors"
PICKLE_WEIGHTS_FILE = "pytorch_model.bin"
#: model folder names inside a Kazu model pack, in order of preference
PACK_MODEL_DIRS = ("tinybern2", "tinybern")


def resolve_model_dir(path: str | Path) -> Path:
    """The model folder: ``path`` itself if it has ``config.json``, else a Kazu pack's ``tinybern2``/``tinybern``.

    Example:
        >>> import tempfile
        >>> pack = Path(tempfile.mkdtemp())
        >>> (pack / "tinybern2").mkdir()
        >>> _ = (pack / "tinybern2" / "config.json").write_text("{}")
        >>> resolve_model_dir(pack) == resolve_model_dir(pack / "tinybern2") == pack / "tinybern2"
        True
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model path {path} does not exist")
    for folder in (path, *(path / name for name in PACK_MODEL_DIRS)):
        if (folder / "config.json").is_file():
            return folder
    raise FileNotFoundError(
        f"{path}: not a model folder (no config.json) nor a Kazu model pack "
        f"(no {' or '.join(f'{name}/config.json' for name in PACK_MODEL_DIRS)})"
    )


def find_weights(model_dir: Path, *, allow_pickle: bool = False) -> Path:
    """``model.safetensors`` if present, else ``pytorch_model.bin`` when ``allow_pickle``; else explain.

    Example: see the module docstring.
    """
    safe, pickled = model_dir / WEIGHTS_FILE, model_dir / PICKLE_WEIGHTS_FILE
    if safe.is_file():
        return safe
    if pickled.is_file():
        if allow_pickle:
            return pickled
        raise UnsafeWeightsError(
            f"{model_dir}: no {WEIGHTS_FILE}; found pickled {PICKLE_WEIGHTS_FILE}, refused unless you opt in with "
            "allow_pickle_weights=True (config: ner.allow_pickle_weights: true)"
        )
    raise UnsafeWeightsError(f"{model_dir}: no weights ({WEIGHTS_FILE} or {PICKLE_WEIGHTS_FILE})")


def check_model_dir(path: str | Path, *, labels: Sequence[str] | None = None, allow_pickle: bool = False) -> Path:
    """The model folder of ``path``, checked as a worker will load it but without torch and without reading weights.

    Checked: the folder (or a Kazu pack's model folder) exists, its weights are there and allowed
    (:func:`find_weights`), ``config.json`` is a JSON object, and the labels fit its head
    (:func:`~kazu_spark.ner.labels.resolve_labels`). The driver calls it before a job reads or writes
    anything, so a bad model is one :class:`~kazu_spark.errors.ModelError` instead of a traceback in every task.

    Example:
        >>> import kazu_spark
        >>> check_model_dir(Path(kazu_spark.__file__).parent / "resources" / "model").name
        'model'
        >>> check_model_dir("/no/such/model")
        Traceback (most recent call last):
        ...
        kazu_spark.errors.ModelError: model path /no/such/model does not exist
    """
    try:
        model_dir = resolve_model_dir(path)
    except FileNotFoundError as exc:
        raise ModelError(str(exc)) from None
    find_weights(model_dir, allow_pickle=allow_pickle)
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise ValueError("not an object")
        # transformers' default when config.json names no labels: num_labels (2) numbered ones
        names = config.get("id2label") or {i: f"LABEL_{i}" for i in range(int(config.get("num_labels", 2)))}
        id2label = {int(i): str(name) for i, name in names.items()}
        if sorted(id2label) != list(range(len(id2label))):
            raise ValueError(f"id2label keys {sorted(id2label)} are not 0..{len(id2label) - 1}")
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ModelError(f"{model_dir}: config.json is not a JSON object with a usable id2label ({exc})") from None
    resolve_labels(model_dir, id2label, labels)
    return model_dir
