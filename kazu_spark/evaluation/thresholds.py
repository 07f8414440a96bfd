"""Tune one decision threshold per entity class on the devel splits (issue 16: per-class thresholds).

The sigmoid and IO decoders decide each class from its own columns, so a class's spans, and its true and false
positives, depend on its threshold alone. The model runs once per corpus (:meth:`~kazu_spark.ner.tagger.Tagger.
merged_probs`); each threshold of ``grid`` is decoded for every class at once and scored per class
(:func:`class_counts`). :func:`choose_thresholds` then picks, class by class (coordinate ascent, a few rounds,
from ``ner.threshold``), the threshold that maximises the **mean over corpora of the overall F1**, the figure
the model card reports: a class several corpora annotate (disease: NCBI-disease, BC5CDR, BioNLP13CG) gets the
threshold that serves them together. Only devel splits are read.

Tuned and scored on the same sentences, a gain is optimistic, so :func:`tune_thresholds` also reports a
two-fold estimate: thresholds tuned on the first half of each devel file are scored on the second half and
the other way round (``cross_validated``). A gain that holds there is worth shipping.

Example (counts of two corpora sharing ``gene``; 0.3 suits both best):
    >>> counts = {"A": {"gene": {0.3: (8, 2, 2), 0.5: (6, 1, 4)}}, "B": {"gene": {0.3: (5, 1, 1), 0.5: (4, 0, 2)}}}
    >>> choose_thresholds(counts, (0.3, 0.5), start=0.5)
    {'gene': 0.3}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kazu_spark.config import NerConfig
from kazu_spark.documents.conll import DEFAULT_LABEL_MAP, Sentence, corpus_type_map, load_label_map, read_conll
from kazu_spark.evaluation.metrics import entity_scores, prf
from kazu_spark.ner.decode import decode_stacked
from kazu_spark.ner.subtokens import Subtokens
from kazu_spark.ner.tagger import Tagger
from kazu_spark.ner.thresholds import write_class_thresholds

#: thresholds tried for every class: 0.20, 0.25, ..., 0.80
GRID: tuple[float, ...] = tuple(round(0.2 + 0.05 * i, 2) for i in range(13))
#: (tp, fp, fn) of one class at one threshold
Counts = tuple[int, int, int]
#: corpus -> class -> threshold -> counts
CountTable = Mapping[str, Mapping[str, Mapping[float, Counts]]]


@dataclass(frozen=True)
class CorpusProbs:
    """One devel split's sentences, the classes it annotates, and the model's merged sub-token probabilities."""

    corpus: str
    sentences: list[Sentence]
    classes: frozenset[str]
    sub: Subtokens
    probs: np.ndarray


def corpus_probs(tagger: Tagger, conll_path: str | Path, label_map: Mapping[str, Mapping[str, str]]) -> CorpusProbs:
    """Run the model over one IOB file's sentences (each sentence one text, as ``evaluate ner`` tags them)."""
    conll_path = Path(conll_path)
    types = corpus_type_map(label_map, conll_path.parent.name)
    sentences = read_conll(conll_path, types)
    sub, probs = tagger.merged_probs([s.text for s in sentences])
    return CorpusProbs(conll_path.parent.name, sentences, frozenset(types.values()), sub, probs)


def class_counts(
    tagger: Tagger, data: CorpusProbs, grid: Sequence[float], folds: int = 1
) -> list[dict[str, dict[float, Counts]]]:
    """Per fold (contiguous blocks of the sentences, in file order), class -> threshold -> (tp, fp, fn).

    Each threshold is decoded once for every class (``tagger``'s decoder and aggregation) and scored strictly,
    as :func:`~kazu_spark.evaluation.ner.evaluate_conll` scores: only the corpus's classes count.
    """
    texts = [s.text for s in data.sentences]
    bounds = np.linspace(0, len(texts), folds + 1).astype(int)
    out: list[dict[str, dict[float, Counts]]] = [{cls: {} for cls in data.classes} for _ in range(folds)]
    for t in grid:
        spans = decode_stacked(
            data.probs, data.sub.offsets, data.sub.sizes, texts, tagger.labels, t, tagger.decoder,
            word_ids=data.sub.word_ids, aggregation=tagger.aggregation,
        )  # fmt: skip
        predicted = [[(s.start, s.end, s.entity_class) for s in f if s.entity_class in data.classes] for f in spans]
        for fold, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            gold = [s.entities for s in data.sentences[lo:hi]]
            scores = entity_scores(gold, predicted[lo:hi], classes=data.classes)["per_class"]
            for cls in data.classes:
                out[fold][cls][t] = (scores[cls]["tp"], scores[cls]["fp"], scores[cls]["fn"])
    return out


def mean_f1(counts: CountTable, thresholds: Mapping[str, float]) -> float:
    """Mean over corpora of the overall (micro) F1 with each class at its threshold in ``thresholds``."""
    f1s = []
    for per_class in counts.values():
        tp, fp, fn = (sum(per_class[cls][thresholds[cls]][k] for cls in per_class) for k in range(3))
        f1s.append(prf(tp, fp, fn)["f1"])
    return float(np.mean(f1s)) if f1s else 0.0


def choose_thresholds(counts: CountTable, grid: Sequence[float], *, start: float, rounds: int = 3) -> dict[str, float]:
    """Class by class, the threshold of ``grid`` maximising :func:`mean_f1`; ties keep the one nearest ``start``.
    Rounds repeat until nothing changes (classes shared by corpora interact through their overall F1). ``counts``
    must hold ``start`` and every ``grid`` value for each class (:func:`tune_thresholds` adds ``start`` to its grid).
    Example: see the module docstring."""
    classes = sorted({cls for per_class in counts.values() for cls in per_class})
    chosen = dict.fromkeys(classes, start)
    for _ in range(rounds):
        before = dict(chosen)
        for cls in classes:
            chosen[cls] = max(grid, key=lambda t, c=cls: (mean_f1(counts, chosen | {c: t}), -abs(t - start)))
        if chosen == before:
            break
    return chosen


def _summed(folds: Sequence[Mapping[str, Mapping[float, Counts]]]) -> dict[str, dict[float, Counts]]:
    """One corpus's per-fold counts added up: class -> threshold -> (tp, fp, fn)."""
    return {
        cls: {t: tuple(int(sum(f[cls][t][k] for f in folds)) for k in range(3)) for t in folds[0][cls]}
        for cls in folds[0]
    }


def tune_thresholds(
    model_dir: str | Path,
    corpora_root: str | Path,
    *,
    ner: NerConfig | None = None,
    label_map: str | Path = DEFAULT_LABEL_MAP,
    grid: Sequence[float] = GRID,
    device: str = "cpu",
) -> dict:
    """Per-class thresholds of the model in ``model_dir`` tuned on every ``<root>/<corpus>/devel.tsv``.

    ``ner``: the decoding settings (decoder, aggregation, window, stride; ``threshold`` is the start and the
    baseline); fp32. Returns ``{"thresholds", "baseline", "grid", "corpora", "mean_f1": {"before", "after"},
    "per_corpus": {corpus: {"before", "after"}}, "cross_validated": {"before", "after", "folds"}}``.
    """
    ner = (ner or NerConfig()).model_copy(update={"precision": "fp32", "class_thresholds": {}})
    grid = sorted({*grid, ner.threshold})
    tagger = Tagger.from_config(model_dir, ner, device=device)
    labels = load_label_map(label_map)
    root = Path(corpora_root)
    paths = [root / c / "devel.tsv" for c in sorted(labels) if (root / c / "devel.tsv").is_file()]
    if not paths:
        raise ValueError(f"no <corpus>/devel.tsv of a label-map corpus under {root}")
    whole: dict[str, dict[str, dict[float, Counts]]] = {}
    halves: list[dict[str, dict[str, dict[float, Counts]]]] = [{}, {}]
    for path in paths:
        data = corpus_probs(tagger, path, labels)
        folds = class_counts(tagger, data, grid, folds=2)
        halves[0][data.corpus], halves[1][data.corpus] = folds
        whole[data.corpus] = _summed(folds)
    baseline = dict.fromkeys({cls for per_class in whole.values() for cls in per_class}, ner.threshold)
    chosen = choose_thresholds(whole, grid, start=ner.threshold)
    # each half's thresholds scored on the other half
    held_out = [mean_f1(halves[1 - k], choose_thresholds(halves[k], grid, start=ner.threshold)) for k in range(2)]
    return {
        "thresholds": chosen,
        "baseline": ner.threshold,
        "decoder": ner.decoder,
        "aggregation": ner.aggregation,
        "grid": list(grid),
        "corpora": sorted(whole),
        "mean_f1": {"before": mean_f1(whole, baseline), "after": mean_f1(whole, chosen)},
        "per_corpus": {
            corpus: {"before": mean_f1({corpus: counts}, baseline), "after": mean_f1({corpus: counts}, chosen)}
            for corpus, counts in sorted(whole.items())
        },
        "cross_validated": {
            "folds": 2,
            "before": float(np.mean([mean_f1(half, baseline) for half in halves])),
            "after": float(np.mean(held_out)),
        },
    }


def threshold_table(result: Mapping) -> str:
    """:func:`tune_thresholds`'s result as markdown: the thresholds, then F1 per corpus before and after.

    Example:
        >>> f1 = {"before": 0.7, "after": 0.71}
        >>> print(threshold_table({"thresholds": {"gene": 0.45}, "baseline": 0.5, "mean_f1": f1,
        ...     "per_corpus": {"BC2GM": f1}, "cross_validated": {"before": 0.7, "after": 0.705}}))
        | class | threshold |
        |---|---|
        | gene | 0.45 |
        <BLANKLINE>
        | corpus (devel) | F1 at 0.5 | F1, per-class thresholds |
        |---|---|---|
        | BC2GM | 0.7000 | 0.7100 |
        | **mean** | 0.7000 | 0.7100 |
        | mean, two-fold (tuned on one half, scored on the other) | 0.7000 | 0.7050 |
    """
    lines = ["| class | threshold |", "|---|---|"]
    lines += [f"| {cls} | {t:g} |" for cls, t in sorted(result["thresholds"].items())]
    lines += ["", f"| corpus (devel) | F1 at {result['baseline']:g} | F1, per-class thresholds |", "|---|---|---|"]
    rows = [*result["per_corpus"].items(), ("**mean**", result["mean_f1"])]
    rows.append(("mean, two-fold (tuned on one half, scored on the other)", result["cross_validated"]))
    lines += [f"| {name} | {f1['before']:.4f} | {f1['after']:.4f} |" for name, f1 in rows]
    return "\n".join(lines)


def save_tuned(model_dir: str | Path, result: Mapping) -> Path:
    """Write :func:`tune_thresholds`'s thresholds into the model folder, with how they were tuned and what they gave."""
    tuning = {k: result[k] for k in ("baseline", "grid", "corpora", "mean_f1", "cross_validated")}
    return write_class_thresholds(
        model_dir, result["thresholds"], decoder=result["decoder"], aggregation=result["aggregation"], tuning=tuning
    )
