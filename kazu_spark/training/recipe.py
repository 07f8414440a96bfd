"""The whole distillation recipe in one process, without Spark: teacher -> soft labels -> student -> devel F1.

``kazu-spark train all`` is for a single training box (a GPU machine with no Java, a laptop): it runs
the same functions as the four separate commands (docs/distillation.md), except that the soft
labels come from :func:`~kazu_spark.training.soft_labels.soft_label_rows` called in this process
instead of from the ``kazu-spark label`` Spark job, and are kept as a Parquet file in the output
folder instead of a Delta table. The unlabelled text is JSONL (one document per line, the fields
``kazu-spark annotate`` reads) plus, optionally, the corpora's train sentences as documents.

Output folder: ``teacher/``, ``student/`` (model folders, cards with their devel tables),
``soft_labels.parquet`` and ``summary.json`` (F1 per corpus for both, the mean gap, timings).

Example (a two-sentence corpus, a few steps of a 1-layer teacher and student, on CPU):
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "NCBI-disease-IOB").mkdir()
    >>> conll = "Breast\\tB-Disease\\ncancer\\tI-Disease\\nis\\tO\\nrare\\tO\\n\\n"
    >>> for split in ("train", "devel"):
    ...     _ = (root / "NCBI-disease-IOB" / f"{split}.tsv").write_text(conll * 2)
    >>> quick = TrainingSettings(epochs=1, batch_size=2, show_progress=False)
    >>> s = train_all(root, [], root / "out", teacher_layers=1, student_shape={"layers": 1, "hidden": 24,
    ...     "heads": 12, "intermediate": 32}, teacher_training=quick, student_training=quick, init="pruned")
    >>> sorted(s["teacher"]["f1"]), s["soft_labels"]["windows"], (root / "out" / "student" / "labels.txt").is_file()
    (['NCBI-disease-IOB'], 2, True)
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import pandas as pd

from kazu_spark.documents.conll import DEFAULT_LABEL_MAP, load_label_map, restrict_label_map
from kazu_spark.documents.ingest import Rejection, ingest_row
from kazu_spark.documents.readers import PARSED_COLUMNS, parse_jsonl_line
from kazu_spark.evaluation.ner import evaluate_corpora
from kazu_spark.evaluation.thresholds import save_tuned, tune_thresholds
from kazu_spark.ner.tagger import Tagger
from kazu_spark.schemas import NER_INPUT
from kazu_spark.training.distill import STUDENT_TRAINING, TINYBERN2_SHAPE, SoftRow, distill
from kazu_spark.training.loop import TrainingSettings
from kazu_spark.training.mlm import pretrain_mlm
from kazu_spark.training.model_card import write_model_card
from kazu_spark.training.soft_labels import dequantise, soft_label_rows
from kazu_spark.training.train import TEACHER_TRAINING, check_train_files, load_training_corpora, train

#: documents tagged per soft-labelling call (bounds the memory of one call's windows)
LABEL_CHUNK = 512


def unlabelled_documents(
    jsonl_paths: Sequence[str | Path],
    corpora_root: str | Path | None,
    label_map: Mapping | None = None,
    train_files: Mapping[str, str | Path] | None = None,
) -> pd.DataFrame:
    """Documents (``NER_INPUT`` columns) from JSONL files (gzip allowed) and the train sentences.

    JSONL lines go through the same parser and ingestion rule as ``kazu-spark annotate``; lines it
    would quarantine are skipped. Each train sentence of ``corpora_root`` and of ``train_files`` (corpus -> CoNLL or
    PubTator file) becomes a one-section document.
    """
    rows = []
    for path in map(Path, jsonl_paths):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as lines:
            for raw in lines:
                parsed = parse_jsonl_line(raw.rstrip(b"\r\n"), str(path))
                if parsed is not None:
                    rows.append(ingest_row({**dict(zip(PARSED_COLUMNS, parsed, strict=True)), "source": str(path)}))
    if corpora_root is not None or train_files:
        label_map = label_map or load_label_map(DEFAULT_LABEL_MAP)
        sentences, _ = load_training_corpora(corpora_root, label_map, None, train_files)
        for i, sentence in enumerate(sentences):
            rows.append(ingest_row({"source_id": f"{sentence.corpus}:{i}", "text": sentence.text, "source": "train"}))
    docs = [r for r in rows if not isinstance(r, Rejection)]
    return pd.DataFrame(docs, columns=NER_INPUT.fieldNames())


def label_locally(tagger: Tagger | Sequence[Tagger], docs: pd.DataFrame) -> Iterator[pd.DataFrame]:
    """``SOFT_LABELS`` rows of ``docs``, ``LABEL_CHUNK`` documents at a time (the Spark job's per-partition work);
    several taggers: their mean (an ensemble of teachers)."""
    for start in range(0, len(docs), LABEL_CHUNK):
        yield soft_label_rows(tagger, docs.iloc[start : start + LABEL_CHUNK].reset_index(drop=True))


def _train_teachers(runs: Sequence[Mapping], *, parallel: bool) -> None:
    """:func:`~kazu_spark.training.train.train` once per keyword set; ``parallel``: each in its own process at the
    same time (one GPU runs several small models faster together than one after the other), without progress bars."""
    if not parallel or len(runs) == 1:
        for run in runs:
            train(**run)
        return
    quiet = [{**run, "training": replace(run["training"], show_progress=False)} for run in runs]
    with ProcessPoolExecutor(len(runs), mp_context=multiprocessing.get_context("spawn")) as pool:
        for done in [pool.submit(train, **run) for run in quiet]:
            done.result()


def _f1s(evaluations: Sequence[Mapping]) -> dict[str, float]:
    return {ev["corpus"]: ev["overall"]["f1"] for ev in evaluations}


def train_all(
    corpora_root: str | Path,
    unlabelled: Sequence[str | Path],
    out_dir: str | Path,
    *,
    base_model: str | Path | None = None,
    teacher_layers: int = 6,
    teacher_training: TrainingSettings = TEACHER_TRAINING,
    empty_keep: float = 1.0,
    student_shape: Mapping[str, int] = TINYBERN2_SHAPE,
    student_training: TrainingSettings = STUDENT_TRAINING,
    init: str = "pruned",
    alpha: float = 0.3,
    train_sentences_as_text: bool = True,
    threshold_gain: float | None = 0.005,
    mlm_training: TrainingSettings | None = None,
    teachers: int = 1,
    train_classes: Mapping[str, Sequence[str]] | None = None,
    train_files: Mapping[str, str | Path] | None = None,
    guidelines: float = 0.0,
    device: str | None = None,
) -> dict:
    """Train a teacher, soft-label ``unlabelled`` (+ the train sentences), distil a student, evaluate both.

    Optionally first continue the base encoder's MLM pretraining on the same text (``mlm_training``), and train
    an ensemble of teachers (``teachers`` seeds) whose mean probabilities are the soft labels.

    Args:
        corpora_root: ``<corpus>/train.tsv`` for training and ``<corpus>/devel.tsv`` for the tables.
        unlabelled: JSONL files of unlabelled documents.
        base_model, teacher_layers, teacher_training, empty_keep: :func:`~kazu_spark.training.train.train`'s.
        student_shape, student_training, init, alpha: :func:`~kazu_spark.training.distill.distill`'s
            (``alpha``: weight of the gold corpora's loss).
        train_sentences_as_text: also soft-label the corpora's train sentences.
        threshold_gain: tune per-class thresholds of the teacher and of the student on devel
            (:func:`~kazu_spark.evaluation.thresholds.tune_thresholds`) and keep them in the model folder when the
            two-fold mean F1 rises by at least this much; None: decode every class at 0.5.
        mlm_training: when given, :func:`~kazu_spark.training.mlm.pretrain_mlm` on the unlabelled documents and the
            train sentences (never devel) into ``mlm/``, which the teachers then start from.
        teachers: teachers trained with seeds ``seed``, ``seed + 1``, ... (``teacher/``, ``teacher-1/``, ...; on a GPU
            at the same time, each in its own process); the soft labels are their mean
            (:func:`~kazu_spark.training.soft_labels.soft_label_rows`). The student's gap is to ``teacher/``.
        train_classes: corpus -> the classes the teachers and the student's gold loss learn from it, fewer than it
            annotates (:func:`~kazu_spark.documents.conll.restrict_label_map`); the devel tables score them all.
        train_files: corpus -> one more training file of it, CoNLL or PubTator (BioRED's ``train.txt``), for the
            teachers, the student's gold loss and, with ``train_sentences_as_text``, the soft-labelled text.
        guidelines: the teachers' share of sentences shown with their corpus's guideline marker
            (:func:`~kazu_spark.training.train.train`); the soft labels are the teachers' blend (no marker), and the
            student learns the blend.
        device: where the soft labels and the evaluations run (default: cuda when torch sees it).

    Returns:
        the summary written to ``summary.json``.
    """
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    full_map = load_label_map(DEFAULT_LABEL_MAP)
    label_map = restrict_label_map(full_map, train_classes or {})  # checked before any output
    check_train_files(train_files or {}, label_map)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"device": device, "seconds": {}}
    if train_classes:
        summary["train_classes"] = {corpus: sorted(classes) for corpus, classes in train_classes.items()}
    if train_files:
        summary["train_files"] = {corpus: str(path) for corpus, path in train_files.items()}
    if guidelines:
        summary["guidelines"] = guidelines
    began = time.perf_counter()

    def timed(stage: str, start: float) -> None:
        summary["seconds"][stage] = round(time.perf_counter() - start, 1)
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    def tune(model: Path, stage: str) -> None:
        start = time.perf_counter()
        result = tune_thresholds(model, corpora_root, device=device)
        cv = result["cross_validated"]
        kept = cv["after"] - cv["before"] >= threshold_gain
        if kept:
            save_tuned(model, result)
        summary[f"{stage}_thresholds"] = {"thresholds": result["thresholds"], "cross_validated": cv, "kept": kept}
        timed(f"thresholds_{stage}", start)

    def evaluate(model: Path, stage: str) -> dict[str, float]:
        if threshold_gain is not None:
            tune(model, stage)
        start = time.perf_counter()
        evaluations = evaluate_corpora(model, corpora_root, device=device)
        card = json.loads((model / "training_args.json").read_text(encoding="utf-8"))
        write_model_card(model, card, evaluations)
        summary[stage] = {"f1": _f1s(evaluations), "mean_f1": sum(_f1s(evaluations).values()) / len(evaluations)}
        timed(f"evaluate_{stage}", start)
        return summary[stage]["f1"]

    docs = unlabelled_documents(unlabelled, corpora_root if train_sentences_as_text else None, label_map, train_files)
    if mlm_training is not None:
        start = time.perf_counter()
        mlm_docs = (
            docs if train_sentences_as_text else unlabelled_documents(unlabelled, corpora_root, label_map, train_files)
        )
        summary["mlm"] = pretrain_mlm(
            mlm_docs["text"].tolist(), out / "mlm", base_model=base_model, num_layers=teacher_layers,
            training=mlm_training,
        )  # fmt: skip
        base_model = out / "mlm"
        timed("mlm", start)

    start = time.perf_counter()
    teacher_dirs = [out / ("teacher" if k == 0 else f"teacher-{k}") for k in range(teachers)]
    runs = [
        {"corpora_root": corpora_root, "out_dir": folder, "base_model": base_model, "num_layers": teacher_layers,
         "empty_keep": empty_keep, "label_map": full_map, "train_classes": train_classes, "train_files": train_files,
         "guidelines": guidelines, "training": replace(teacher_training, seed=teacher_training.seed + k)}
        for k, folder in enumerate(teacher_dirs)
    ]  # fmt: skip
    _train_teachers(runs, parallel=device.startswith("cuda"))
    timed("teacher", start)
    teacher_f1 = evaluate(out / "teacher", "teacher")
    for folder in teacher_dirs[1:]:
        evaluate(folder, folder.name)

    start = time.perf_counter()
    taggers = [Tagger.from_dir(folder, device=device, precision="fp32") for folder in teacher_dirs]
    table = pd.concat(list(label_locally(taggers, docs)), ignore_index=True)
    del taggers
    table.to_parquet(out / "soft_labels.parquet", index=False)
    n_labels = len(table["labels"].iat[0])
    pairs = zip(table["input_ids"], table["probs"], strict=True)
    rows = [SoftRow(list(ids), dequantise(probs, n_labels)) for ids, probs in pairs]
    summary["soft_labels"] = {
        "documents": int(table["doc_id"].nunique()),
        "windows": len(rows),
        "tokens": sum(len(r.input_ids) - 2 for r in rows),
    }
    timed("soft_labels", start)

    start = time.perf_counter()
    distill(
        rows, out / "teacher", out / "student", **student_shape, init=init, gold_corpora=corpora_root, alpha=alpha,
        label_map=label_map, gold_files=train_files, training=student_training,
        soft_labels_source=str(out / "soft_labels.parquet"),
    )  # fmt: skip
    timed("student", start)
    student_f1 = evaluate(out / "student", "student")
    summary["mean_gap_f1_points"] = round(
        100 * sum(teacher_f1[c] - student_f1[c] for c in teacher_f1) / len(teacher_f1), 2
    )
    timed("total", began)
    return summary
