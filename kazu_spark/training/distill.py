"""Distil a TinyBERN2-shaped student from a teacher's soft labels (``kazu-spark train distill``).

The student is a BERT token classifier (default 4 layers, hidden 312, 12 heads, intermediate 1200:
TinyBERN2's shape) over the teacher's tokenizer and label columns. Its loss is the BCE between its
sigmoid outputs and the teacher's stored probabilities (``soft_labels`` rows, see
:mod:`kazu_spark.training.soft_labels`) on every window sub-token and every B-/I- column (O is not
trained, as for the teacher). Options:

- ``gold_corpora`` + ``alpha``: mix in the gold corpora's masked hard-label BCE
  (:func:`kazu_spark.training.train.masked_bce`): ``loss = (1 - alpha) * soft + alpha * gold``, one
  gold batch per soft batch;
- ``hidden_weight``: MSE between student and teacher hidden states (embeddings and layer ``i`` of
  the student against layer ``round(i * T / S)`` of the teacher) through a learned linear
  projection of the student's width to the teacher's; ``attention_weight``: MSE between the mapped
  layers' attention maps (needs equal head counts). Both run the teacher alongside the student.
- ``init="teacher"``: start from the teacher's first layers (needs the same width); ``init="pruned"``:
  the teacher's first layers cut down to the student's width (:mod:`kazu_spark.training.prune`,
  ranked on the first soft-labelled windows); else random.

Rows are read from the Delta table with Spark (``toLocalIterator``) into memory: ~13 bytes per
sub-token (uint8 probabilities) plus 4 per id, so 10 M windows of 128 tokens need ~20 GB; shard
larger tables by ``doc_id`` first. The loop (progress bar, checkpoints, resume) is the teacher's
(:func:`kazu_spark.training.loop.fit`).

Example (a two-window table, 3 steps of a tiny student):
    >>> import tempfile
    >>> from pathlib import Path
    >>> from kazu_spark.paths import resolve_path
    >>> teacher = Path(resolve_path("pkg://kazu_spark/resources/model"))  # the bundled student as the teacher
    >>> rows = [SoftRow([101, 7592, 102], np.full((1, 13), 0.9, np.float32)),
    ...         SoftRow([101, 2088, 2088, 102], np.full((2, 13), 0.1, np.float32))]
    >>> info = distill(rows, teacher, Path(tempfile.mkdtemp()) / "student", layers=1, hidden=24, heads=2,
    ...                intermediate=32, training=TrainingSettings(batch_size=2, epochs=3, show_progress=False))
    >>> info["steps"], info["student"]["hidden_size"]
    (3, 24)
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from transformers import BertConfig, BertForTokenClassification, PreTrainedModel

from kazu_spark.config import TrainingConfig
from kazu_spark.documents.conll import DEFAULT_LABEL_MAP, as_label_map
from kazu_spark.ner.model import load_token_classifier
from kazu_spark.training.loop import TrainingSettings, fit
from kazu_spark.training.model_card import write_model_card
from kazu_spark.training.prune import prune_to_shape
from kazu_spark.training.soft_labels import dequantise
from kazu_spark.training.train import (
    INITIAL_BIAS,
    TRAINING_ARGS_FILE,
    Example,
    check_train_files,
    collate,
    encode,
    length_pooled_batches,
    load_training_corpora,
    loop_summary,
    masked_bce,
    save_model_folder,
    word_spans,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

#: TinyBERN2's encoder shape
TINYBERN2_SHAPE = {"layers": 4, "hidden": 312, "heads": 12, "intermediate": 1200}
#: soft-labelled windows that rank the teacher's hidden dimensions for ``init="pruned"``
CALIBRATION_WINDOWS = 256
#: the student's default run settings: the config's ``training.student`` defaults (the teacher's, with a higher
#: learning rate: the student starts from scratch)
STUDENT_TRAINING = TrainingSettings.from_config(TrainingConfig().student)


@dataclass(frozen=True)
class SoftRow:
    """One soft-labelled window: ``[CLS] ... [SEP]`` ids and ``[len(input_ids) - 2, labels]`` probabilities."""

    input_ids: list[int]
    probs: np.ndarray


def read_soft_labels(spark: SparkSession, path: str, teacher: str) -> tuple[list[SoftRow], list[str]]:
    """The windows of ``teacher`` in the Delta table ``path`` and their label columns, streamed to the driver.

    Raises ValueError naming the teachers present when ``teacher`` has no rows.
    """
    table = spark.read.format("delta").load(path)
    rows = table.where(table.teacher == teacher).select("input_ids", "probs", "labels")
    out: list[SoftRow] = []
    labels: list[str] = []
    for row in rows.toLocalIterator():
        labels = labels or list(row.labels)
        out.append(SoftRow(list(row.input_ids), dequantise(bytes(row.probs), len(row.labels))))
    if not out:
        found = [r.teacher for r in table.select("teacher").distinct().collect()]
        raise ValueError(f"{path} has no soft labels of teacher {teacher!r}; teachers present: {found}")
    return out, labels


def soft_examples(rows: Iterable[SoftRow], labels: Sequence[str]) -> list[Example]:
    """Soft rows as training examples: probability targets on the inner tokens, B-/I- columns trained.

    Example:
        >>> [ex] = soft_examples([SoftRow([101, 5, 102], np.array([[0.2, 0.8]], np.float32))], ["O", "B-gene"])
        >>> ex.targets.tolist(), ex.column_mask.tolist()
        ([[0.0, 0.0], [0.20000000298023224, 0.800000011920929], [0.0, 0.0]], [0.0, 1.0])
    """
    mask = np.array([float(label != "O") for label in labels], dtype=np.float32)
    examples = []
    for row in rows:
        targets = np.zeros((len(row.input_ids), len(labels)), dtype=np.float32)
        targets[1:-1] = row.probs
        examples.append(Example(list(row.input_ids), targets, mask))
    return examples


def layer_map(student_layers: int, teacher_layers: int) -> list[int]:
    """Teacher hidden-state index for each student hidden state (index 0 is the embeddings).

    Example:
        >>> layer_map(4, 6)
        [0, 2, 3, 4, 6]
    """
    return [round(i * teacher_layers / student_layers) for i in range(student_layers + 1)]


class Distiller(torch.nn.Module):
    """Student plus the learned student->teacher projection that the hidden-state loss needs."""

    def __init__(self, student: BertForTokenClassification, teacher_hidden: int | None) -> None:
        super().__init__()
        self.student = student
        self.projection = (
            torch.nn.Linear(student.config.hidden_size, teacher_hidden) if teacher_hidden is not None else None
        )


def build_student(
    teacher: PreTrainedModel,
    labels: Sequence[str],
    *,
    layers: int,
    hidden: int,
    heads: int,
    intermediate: int,
    init: str,
    calibration_ids: torch.Tensor | None = None,
) -> BertForTokenClassification:
    """A BERT token classifier over the teacher's vocabulary: random init, the teacher's first layers, or pruned.

    ``calibration_ids`` (``init="pruned"`` only): padded input ids that rank the hidden dimensions.
    """
    label_kwargs = {"id2label": dict(enumerate(labels)), "label2id": {lab: i for i, lab in enumerate(labels)}}
    if init == "teacher":
        tc = teacher.config
        if (tc.hidden_size, tc.num_attention_heads, tc.intermediate_size) != (hidden, heads, intermediate):
            raise ValueError(
                "init=teacher needs the teacher's width: teacher hidden/heads/intermediate "
                f"{tc.hidden_size}/{tc.num_attention_heads}/{tc.intermediate_size}, "
                f"student {hidden}/{heads}/{intermediate}"
            )
        config = BertConfig.from_dict({**tc.to_dict(), "num_hidden_layers": layers, **label_kwargs})
        student = BertForTokenClassification(config)
        student.load_state_dict(teacher.state_dict(), strict=False)  # extra teacher layers are simply not used
        return student
    if init == "pruned":
        if teacher.config.num_attention_heads != heads or calibration_ids is None:
            raise ValueError("init=pruned keeps the teacher's head count and needs calibration ids")
        student = prune_to_shape(teacher, calibration_ids, layers=layers, hidden=hidden, intermediate=intermediate)
        student.config.update(label_kwargs)
        return student
    if init != "random":
        raise ValueError(f"init must be random, teacher or pruned; got {init!r}")
    config = BertConfig(
        vocab_size=teacher.config.vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=intermediate, max_position_embeddings=teacher.config.max_position_embeddings,
        pad_token_id=teacher.config.pad_token_id, **label_kwargs,
    )  # fmt: skip
    student = BertForTokenClassification(config)
    torch.nn.init.constant_(student.classifier.bias, INITIAL_BIAS)
    return student


def _masked_mse(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the positions where ``mask`` ([batch, tokens]) is 1."""
    cells = ((a.float() - b.float()) ** 2).mean(dim=-1)
    while cells.dim() > mask.dim():
        cells = cells.mean(dim=1)  # attention maps: average over heads first
    return (cells * mask).sum() / mask.sum().clamp(min=1.0)


def distill(
    rows: Sequence[SoftRow],
    teacher_dir: str | Path,
    out_dir: str | Path,
    *,
    layers: int = TINYBERN2_SHAPE["layers"],
    hidden: int = TINYBERN2_SHAPE["hidden"],
    heads: int = TINYBERN2_SHAPE["heads"],
    intermediate: int = TINYBERN2_SHAPE["intermediate"],
    init: str = "random",
    labels: Sequence[str] | None = None,
    gold_corpora: str | Path | None = None,
    alpha: float = 0.0,
    label_map: str | Path | Mapping[str, Mapping[str, str]] = DEFAULT_LABEL_MAP,
    gold_files: Mapping[str, str | Path] | None = None,
    hidden_weight: float = 0.0,
    attention_weight: float = 0.0,
    training: TrainingSettings = STUDENT_TRAINING,
    soft_labels_source: str | None = None,
    model_name: str = "kazu-spark-tinybern2-student",
) -> dict:
    """Train a student on soft-labelled windows and save a model folder (same layout as the teacher's).

    Args:
        rows: soft-labelled windows (:func:`read_soft_labels`); ``labels`` their columns (default:
            the teacher's).
        teacher_dir: the teacher's model folder: tokenizer, vocabulary and label columns; weights
            for ``init="teacher"`` and the intermediate losses.
        layers, hidden, heads, intermediate: student shape (default TinyBERN2's).
        gold_corpora, alpha, label_map: optional gold hard-label BCE mixed in with weight ``alpha`` (``label_map``: a
            YAML path or a mapping, as the teacher's); ``gold_files``: more gold files, beside ``gold_corpora``'s or
            alone, corpus -> CoNLL or PubTator file (the teacher's ``train_files``, checked the same way).
        hidden_weight, attention_weight: intermediate-layer loss weights (0 = off).
        training: the run settings shared with teacher training
            (:class:`~kazu_spark.training.loop.TrainingSettings`; default ``STUDENT_TRAINING``, the config's
            ``training.student`` defaults).
        soft_labels_source: where ``rows`` came from, recorded in the summary and the model card.
        model_name: saved as the config's ``kazu_spark_name``; taggers report it with the weights' hash.

    Returns:
        the training summary also saved as ``training_args.json``.
    """
    teacher_dir = Path(teacher_dir)
    if not rows:
        raise ValueError("no soft-labelled windows to train on")
    check_train_files(gold_files or {}, as_label_map(label_map))
    device = training.start_torch()
    teacher_loaded = load_token_classifier(teacher_dir)
    labels = list(labels or teacher_loaded.labels)
    tokenizer = teacher_loaded.tokenizer
    examples = soft_examples(rows, labels)
    calibration = collate(examples[:CALIBRATION_WINDOWS], tokenizer.pad_token_id)["input_ids"]
    student = build_student(
        teacher_loaded.model, labels, layers=layers, hidden=hidden, heads=heads, intermediate=intermediate, init=init,
        calibration_ids=calibration,
    )  # fmt: skip
    student.config.kazu_spark_name = model_name
    intermediate_losses = bool(hidden_weight or attention_weight)
    teacher = teacher_loaded.model.to(device).eval() if intermediate_losses else None
    if attention_weight and teacher is not None and teacher.config.num_attention_heads != heads:
        raise ValueError(
            f"attention-map loss needs equal head counts: teacher {teacher.config.num_attention_heads}, student {heads}"
        )
    if intermediate_losses:
        for model in (student, teacher):
            model.config._attn_implementation = "eager"  # attention maps are returned by the eager kernel only
    module = Distiller(student, teacher.config.hidden_size if hidden_weight else None).to(device)
    mapping = layer_map(layers, teacher.config.num_hidden_layers) if teacher is not None else []

    gold: list[Example] = []
    if (gold_corpora is not None or gold_files) and alpha > 0:
        sentences, annotated = load_training_corpora(
            gold_corpora, as_label_map(label_map), None, gold_files, word_spans(tokenizer)
        )
        gold = encode(sentences, tokenizer, annotated, max_len=max(len(r.input_ids) for r in rows), labels=labels)
    total_steps = training.planned_steps(len(examples))
    lengths = [len(ex.input_ids) for ex in examples]
    gold_lengths = [len(ex.input_ids) for ex in gold]

    def epoch_batches(epoch: int) -> list[tuple[list[int], list[int]]]:
        soft = length_pooled_batches(lengths, training.batch_size, random.Random(f"{training.seed}-{epoch}"))
        if not gold:
            return [(b, []) for b in soft]
        hard = length_pooled_batches(gold_lengths, training.batch_size, random.Random(f"{training.seed}-gold-{epoch}"))
        return [(b, hard[i % len(hard)]) for i, b in enumerate(soft)]

    def loss_fn(batch: tuple[list[int], list[int]]) -> torch.Tensor:
        soft_ids, gold_ids = batch
        soft = {k: v.to(device) for k, v in collate([examples[i] for i in soft_ids], tokenizer.pad_token_id).items()}
        inputs = {"input_ids": soft["input_ids"], "attention_mask": soft["attention_mask"]}
        wanted = {"output_hidden_states": bool(hidden_weight), "output_attentions": bool(attention_weight)}
        out = student(**inputs, **wanted)
        loss = masked_bce(out.logits, soft["targets"], soft["loss_mask"])
        if teacher is not None:
            with torch.no_grad():
                ref = teacher(
                    **inputs, output_hidden_states=bool(hidden_weight), output_attentions=bool(attention_weight)
                )
            tokens = soft["attention_mask"].float()
            if hidden_weight:
                loss = loss + hidden_weight * sum(
                    _masked_mse(module.projection(out.hidden_states[i]), ref.hidden_states[t], tokens)
                    for i, t in enumerate(mapping)
                )
            if attention_weight:
                loss = loss + attention_weight * sum(
                    _masked_mse(out.attentions[i - 1], ref.attentions[t - 1], tokens)
                    for i, t in enumerate(mapping)
                    if i > 0
                )
        if gold_ids:
            hard = {k: v.to(device) for k, v in collate([gold[i] for i in gold_ids], tokenizer.pad_token_id).items()}
            logits = student(input_ids=hard["input_ids"], attention_mask=hard["attention_mask"]).logits
            loss = (1 - alpha) * loss + alpha * masked_bce(logits, hard["targets"], hard["loss_mask"])
        return loss

    done = fit(module, epoch_batches, loss_fn, training.loop_settings(total_steps, device), description="student")
    summary = {
        "model_name": model_name,
        "teacher": str(teacher_dir),
        "soft_labels": soft_labels_source,
        "windows": len(examples),
        "student": {"layers": layers, "hidden_size": hidden, "heads": heads, "intermediate_size": intermediate},
        "init": init,
        "gold_corpora": str(gold_corpora) if gold and gold_corpora is not None else None,
        "gold_files": {corpus: str(path) for corpus, path in sorted((gold_files or {}).items())} if gold else {},
        "alpha": alpha if gold else 0.0,
        "hidden_weight": hidden_weight,
        "attention_weight": attention_weight,
        **training.summary(),
        **loop_summary(done, total_steps, device),
    }
    out_dir = Path(out_dir)
    save_model_folder(student, tokenizer, out_dir)
    (out_dir / TRAINING_ARGS_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    write_model_card(out_dir, summary)
    return summary
