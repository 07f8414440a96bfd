"""Strict entity-level precision, recall and F1 (conlleval semantics).

An entity counts as found only if a prediction has exactly its start, end and class; anything else is
a false positive (the prediction) plus a false negative (the gold entity) — a boundary or type error
costs both. Scores are micro-averaged over all entities (``overall``) and per class. Empty ratios are
0.0, as in conlleval.

Example:
    >>> gold = [{(0, 5, "gene"), (10, 20, "disease")}]
    >>> pred = [{(0, 5, "gene"), (10, 19, "disease")}]
    >>> scores = entity_scores(gold, pred)
    >>> scores["overall"]
    {'precision': 0.5, 'recall': 0.5, 'f1': 0.5, 'tp': 1, 'fp': 1, 'fn': 1}
    >>> scores["per_class"]["gene"]["f1"]
    1.0
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

Entity = tuple[int, int, str]


def prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    """Precision, recall, F1 and the counts they come from.

    Example:
        >>> round(prf(3, 1, 2)["f1"], 3)
        0.667
    """
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def entity_scores(
    gold: Sequence[Iterable[Entity]], pred: Sequence[Iterable[Entity]], classes: Iterable[str] = ()
) -> dict:
    """Score predicted against gold ``(start, end, class)`` entities, sentence by sentence.

    ``classes`` are always reported in ``per_class`` (with zero counts if absent); any other class
    seen in gold or predictions is reported too. Example: see the module docstring.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted ones")
    counts = {kind: Counter() for kind in ("tp", "fp", "fn")}
    for gold_set, pred_set in zip(map(set, gold), map(set, pred), strict=True):
        for kind, entities in (("tp", gold_set & pred_set), ("fp", pred_set - gold_set), ("fn", gold_set - pred_set)):
            counts[kind].update(cls for _, _, cls in entities)
    names = sorted(set(classes) | set().union(*(set(c) for c in counts.values())))
    return {
        "overall": prf(*(sum(counts[kind].values()) for kind in ("tp", "fp", "fn"))),
        "per_class": {name: prf(counts["tp"][name], counts["fp"][name], counts["fn"][name]) for name in names},
    }
