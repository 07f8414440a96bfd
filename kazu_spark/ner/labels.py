"""The token classifier's label list: where it comes from, how it is checked, how names are mapped.

Decoding reads probabilities by column, so the label list must be the head's exact column order. It
comes from ``labels.txt`` in the model folder (one label per line) or from an explicit ``labels=``
list (``ner.labels``); one of the two is required, because ``config.json`` alone is not trusted:
Kazu's published TinyBERN2 ``config.json`` carries numeric names (``{"0": "LABEL_0"}`` or
``{"0": "0"}``) and its label order differs between Kazu's YAML and its ``labels.txt``.
:func:`resolve_labels` refuses a list whose length differs from the head's width, a ``labels.txt``
that differs from an explicit list, and a config whose id2label has real names that differ.

Labels are ``O``, ``B-<class>`` or ``I-<class>``. Class names are mapped to ours through
:data:`CLASS_ALIASES` (case-insensitive); an unknown class is refused rather than silently dropped.

Example:
    >>> BIO_LABELS[:3]
    ('O', 'B-cell_line', 'I-cell_line')
    >>> normalise_labels(["B-Chemical", "I-chemical", "O", "B-gene"])
    ['B-drug', 'I-drug', 'O', 'B-gene']
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from kazu_spark.errors import LabelManifestError
from kazu_spark.schemas import ENTITY_CLASSES

#: "O" then B-/I- for each entity class, in ENTITY_CLASSES order; the bundled model's column order
BIO_LABELS: tuple[str, ...] = ("O", *(f"{tag}-{cls}" for cls in ENTITY_CLASSES for tag in ("B", "I")))

#: IO tagging: "O" then one I- label per class (every entity sub-token is I; decode with the io decoder)
IO_LABELS: tuple[str, ...] = ("O", *(f"I-{cls}" for cls in ENTITY_CLASSES))

LABELS_FILE = "labels.txt"

#: lower-cased class names other models use -> our class (our own names map to themselves)
CLASS_ALIASES: dict[str, str] = {
    **{cls: cls for cls in ENTITY_CLASSES},
    "chemical": "drug",
    "cell line": "cell_line",
    "cell type": "cell_type",
}

_NUMERIC_LABEL = re.compile(r"(LABEL_)?\d+")


def ensure_same_labels(manifest: Sequence[str], other: Sequence[str], where: str, what: str = LABELS_FILE) -> None:
    """Raise :class:`LabelManifestError` naming both lists unless they are equal, in order.

    Example:
        >>> ensure_same_labels(["O", "B-gene"], ["O", "B-gene"], "config.json id2label")
        >>> ensure_same_labels(["O", "B-gene"], ["B-gene", "O"], "config.json id2label")
        Traceback (most recent call last):
        ...
        kazu_spark.errors.LabelManifestError: labels.txt ['O', 'B-gene'] does not match config.json id2label ['B-gene', 'O']
    """  # noqa: E501
    if list(manifest) != list(other):
        raise LabelManifestError(f"{what} {list(manifest)} does not match {where} {list(other)}")


def normalise_labels(labels: Sequence[str]) -> list[str]:
    """Map every label's class through :data:`CLASS_ALIASES`; refuse unknown classes and duplicates.

    Example:
        >>> normalise_labels(["O", "B-protein"])
        Traceback (most recent call last):
        ...
        kazu_spark.errors.LabelManifestError: label 'B-protein': unknown entity class 'protein'; known: cell_line, cell_type, disease, drug, gene, species (aliases: chemical, cell line, cell type)
    """  # noqa: E501
    out = []
    for label in labels:
        if label == "O":
            out.append(label)
            continue
        tag, sep, name = label.partition("-")
        if tag not in ("B", "I") or not sep:
            raise LabelManifestError(f"label {label!r}: expected O, B-<class> or I-<class>")
        cls = CLASS_ALIASES.get(name.lower())
        if cls is None:
            aliases = ", ".join(a for a in CLASS_ALIASES if a not in ENTITY_CLASSES)
            raise LabelManifestError(
                f"label {label!r}: unknown entity class {name!r}; "
                f"known: {', '.join(ENTITY_CLASSES)} (aliases: {aliases})"
            )
        out.append(f"{tag}-{cls}")
    duplicates = sorted({label for label in out if out.count(label) > 1})
    if duplicates:
        raise LabelManifestError(f"labels {list(labels)} name {duplicates} more than once (after aliasing)")
    return out


def read_labels_file(model_dir: str | Path) -> list[str] | None:
    """The non-blank lines of ``model_dir/labels.txt``, or None if there is no such file."""
    path = Path(model_dir) / LABELS_FILE
    if not path.is_file():
        return None
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def resolve_labels(
    model_dir: str | Path, id2label: Mapping[int, str], labels: Sequence[str] | None = None
) -> list[str]:
    """The model's labels in column order, normalised, from ``labels.txt`` or the explicit ``labels``.

    ``id2label`` is the config's (its length is the head's width). Refuses: no list at all; a
    ``labels.txt`` that differs from ``labels``; a length that differs from the head's width; real
    (non-numeric) id2label names that differ. Numeric id2label names (``LABEL_0``, ``0``) are ignored.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> id2label = {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
        >>> resolve_labels(d, id2label, ["B-chemical", "I-chemical", "O"])
        ['B-drug', 'I-drug', 'O']
        >>> resolve_labels(d, id2label)
        Traceback (most recent call last):
        ...
        kazu_spark.errors.LabelManifestError: ... config.json id2label has only numeric names (['LABEL_0', 'LABEL_1', 'LABEL_2']): put labels.txt in the model folder or pass labels= (ner.labels)
    """  # noqa: E501
    configured = [id2label[i] for i in range(len(id2label))]
    numeric = all(_NUMERIC_LABEL.fullmatch(str(name)) for name in configured)
    manifest = read_labels_file(model_dir)
    if manifest is not None and labels is not None:
        ensure_same_labels(manifest, labels, "the explicit labels list")
    chosen, what = (list(labels), "labels list") if labels is not None else (manifest, LABELS_FILE)
    if chosen is None:
        raise LabelManifestError(
            f"{model_dir}: no {LABELS_FILE} and no labels list; "
            + (
                f"config.json id2label has only numeric names ({configured}): "
                if numeric
                else "the model's label order must be stated explicitly: "
            )
            + f"put {LABELS_FILE} in the model folder or pass labels= (ner.labels)"
        )
    if len(chosen) != len(configured):
        raise LabelManifestError(
            f"{what} has {len(chosen)} labels {chosen} but the classifier head has {len(configured)} outputs"
        )
    normalised = normalise_labels(chosen)
    if not numeric:
        ensure_same_labels(normalised, normalise_labels(configured), "config.json id2label", what)
    return normalised
