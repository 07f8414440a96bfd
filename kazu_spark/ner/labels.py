"""The BIO label set of the token classifier and the check that a model folder agrees with it.

A model folder carries its label order twice: ``labels.txt`` (one label per line, the manifest that
humans and other tools read) and ``config.json``'s ``id2label``. Decoding reads probabilities by
column, so a disagreement between the two — or with the classifier head's width — would silently
swap classes; :func:`read_label_manifest` turns it into a clear error instead.

Example:
    >>> BIO_LABELS[:3]
    ('O', 'B-cell_line', 'I-cell_line')
    >>> len(BIO_LABELS)
    13
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from transformers import AutoConfig

from kazu_spark.schemas import ENTITY_CLASSES

#: "O" then B-/I- for each entity class, in ENTITY_CLASSES order; the classifier's column order
BIO_LABELS: tuple[str, ...] = ("O", *(f"{tag}-{cls}" for cls in ENTITY_CLASSES for tag in ("B", "I")))

LABELS_FILE = "labels.txt"


class LabelManifestError(ValueError):
    """A model folder's labels.txt disagrees with its config or classifier head."""


def ensure_same_labels(manifest: Sequence[str], other: Sequence[str], where: str) -> None:
    """Raise :class:`LabelManifestError` naming both lists unless they are equal, in order.

    Example:
        >>> ensure_same_labels(["O", "B-gene"], ["O", "B-gene"], "config.json id2label")
        >>> ensure_same_labels(["O", "B-gene"], ["B-gene", "O"], "config.json id2label")
        Traceback (most recent call last):
        ...
        kazu_spark.ner.labels.LabelManifestError: labels.txt ['O', 'B-gene'] does not match config.json id2label ['B-gene', 'O']
    """  # noqa: E501
    if list(manifest) != list(other):
        raise LabelManifestError(f"{LABELS_FILE} {list(manifest)} does not match {where} {list(other)}")


def read_label_manifest(model_dir: str | Path) -> list[str]:
    """Read ``labels.txt`` from ``model_dir`` and check it against ``config.json``'s id2label.

    Returns the labels in column order. The classifier head's width is checked when the model is
    loaded (:func:`kazu_spark.ner.model.load_token_classifier`), because reading it needs the weights.

    Example:
        >>> import json, tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "labels.txt").write_text("O\\nB-gene\\nI-gene\\n")
        >>> cfg = {"model_type": "bert", "id2label": {"0": "O", "1": "B-gene", "2": "I-gene"}}
        >>> _ = (d / "config.json").write_text(json.dumps(cfg))
        >>> read_label_manifest(d)
        ['O', 'B-gene', 'I-gene']
    """
    model_dir = Path(model_dir)
    path = model_dir / LABELS_FILE
    if not path.is_file():
        raise LabelManifestError(f"{path} is missing: a model folder must list its labels, one per line")
    labels = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    ensure_same_labels(labels, [config.id2label[i] for i in range(config.num_labels)], "config.json id2label")
    return labels
