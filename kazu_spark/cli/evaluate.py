"""``kazu-spark evaluate ner`` and ``evaluate linking``: scores as a table, then one JSON line (last).

``evaluate ner`` runs the job's composition on the CoNLL sentences: in this process (the model step, the
default: this module imports torch through :mod:`kazu_spark.evaluation.ner`), or on Spark when ``--conf`` /
``--set`` list more NER steps (``ner.steps: [model, dictionary]``). The ``annotate`` and ``label`` drivers
never import this module.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from kazu_spark.cli.common import SET_HELP, load, session
from kazu_spark.documents.pubtator import read_pubtator
from kazu_spark.errors import ConfigError
from kazu_spark.evaluation.linking import MISS_COLUMNS, annotated_classes, evaluate_linking
from kazu_spark.evaluation.ner import evaluate_conll, evaluate_corpora
from kazu_spark.ontologies.terms import build_ontology_terms
from kazu_spark.paths import resolve_path
from kazu_spark.training.model_card import f1_table, write_evaluated_card
from kazu_spark.training.train import TRAINING_ARGS_FILE


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``evaluate ner`` and ``evaluate linking``."""
    targets = p.add_subparsers(dest="target", required=True)
    ner = targets.add_parser("ner", help="entity-level P/R/F1 on a CoNLL or PubTator file")
    ner.add_argument("--model", default="pkg://kazu_spark/resources/model")
    target = ner.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--conll", help="token<TAB>tag file, or a PubTator file (e.g. BioRED's devel.txt with --corpus BioRED)"
    )
    target.add_argument("--all-corpora", help="folder of <corpus>/devel.tsv: evaluate every devel split")
    ner.add_argument("--corpus", help="corpus name in conf/labels.yaml (default: the file's folder name)")
    ner.add_argument("--label-map", help="corpus-type to class map (default: conf/labels.yaml)")
    ner.add_argument("--threshold", type=float, default=0.5)
    ner.add_argument("--decoder", choices=("sigmoid", "softmax", "io"), action="append", help="default sigmoid; "
                     "repeat with --all-corpora to compare (e.g. --decoder sigmoid --decoder io)")  # fmt: skip
    ner.add_argument(
        "--precision", choices=("fp32", "bf16", "int8", "auto"), default="fp32", help="inference precision"
    )
    ner.add_argument(
        "--sentences-per-text",
        type=int,
        default=1,
        help="tag every N consecutive sentences as one text (10: "
        "about an abstract, so ner.window and ner.stride show in the scores); default 1, sentence by sentence",
    )
    ner.add_argument(
        "--documents",
        action="store_true",
        help="a PubTator --conll file: tag each document whole (title and abstract), as annotate does, so an "
        "abbreviation defined in one sentence counts in the next (ner.abbreviations)",
    )
    ner.add_argument("--json", action="store_true", help="print only the JSON line")
    ner.add_argument(
        "--write-card",
        action="store_true",
        help="--all-corpora: put the table in the model's MODEL_CARD.md, in place of the table it has (the rest "
        "of the card stays); a new card where the model has none",
    )
    ner.add_argument(
        "--guideline",
        help="tag by a training corpus's convention (a model trained with guideline markers): a corpus name, or own: "
        "each evaluated corpus's own where the model has it",
    )
    ner.add_argument("--device", default="cpu", help="cpu or cuda (a GPU evaluates the devel splits in seconds)")
    ner.add_argument("--conf", help="YAML file layered over conf/default.yaml: ner.steps, ner.merge, ner.dictionary")
    ner.add_argument("--set", action="append", metavar="KEY=VALUE", help=SET_HELP)
    ner.set_defaults(func=cmd_evaluate_ner)

    linking = targets.add_parser("linking", help="linking accuracy@1 on gold mentions and end-to-end P/R/F1 (PubTator)")
    linking.add_argument("--pubtator", required=True, help="PubTator file with gold mentions and concept ids")
    linking.add_argument("--conf", help="YAML file layered over conf/default.yaml (e.g. conf/ontologies-shared.yaml)")
    linking.add_argument("--set", action="append", metavar="KEY=VALUE", help=SET_HELP)
    linking.add_argument("--gold-only", action="store_true", help="skip the end-to-end part (no NER)")
    linking.add_argument("--json", action="store_true", help="print only the JSON line")
    linking.add_argument("--misses", metavar="TSV", help="write every gold mention linked wrong or not at all here")
    linking.set_defaults(func=cmd_evaluate_linking)


def cmd_evaluate_ner(args: argparse.Namespace) -> None:
    """Strict entity-level P/R/F1 of a model on a CoNLL file, or every devel split; the JSON line comes last."""
    decoders = args.decoder or ["sigmoid"]
    if args.documents and (args.all_corpora or args.sentences_per_text != 1):
        raise ConfigError("--documents tags each document of a PubTator --conll file whole: not with --all-corpora "
                          "(the devel splits are sentences) or --sentences-per-text")  # fmt: skip
    kwargs = {"threshold": args.threshold, "device": args.device, "sentences_per_text": args.sentences_per_text}
    kwargs |= {"guideline": args.guideline}
    kwargs |= {"label_map": args.label_map} if args.label_map else {}
    model = resolve_path(args.model)
    cfg = load(args, {})
    kwargs |= {"cfg": cfg}
    if cfg.ner.steps != ["model"]:  # dictionary NER or an entry-point step: the job's Spark composition
        kwargs |= {"spark": session(cfg, "kazu-spark-evaluate-ner")}
    if args.all_corpora:
        _evaluate_all(model, args, decoders, kwargs)
        return
    if len(decoders) > 1:
        raise ConfigError("one --decoder per CoNLL file; several are for --all-corpora")
    result = evaluate_conll(
        model, args.conll, corpus=args.corpus, decoder=decoders[0], precision=args.precision,
        whole_documents=args.documents, **kwargs,
    )  # fmt: skip
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


def _evaluate_all(model: str, args: argparse.Namespace, decoders: list[str], kwargs: dict) -> None:
    """Every devel split under ``--all-corpora``: markdown table, optional model-card rewrite, JSON line."""
    results = evaluate_corpora(model, args.all_corpora, decoders=decoders, **kwargs)
    if not args.json:
        print(f1_table(results))
    if args.write_card:
        args_file = Path(model) / TRAINING_ARGS_FILE
        training = json.loads(args_file.read_text(encoding="utf-8")) if args_file.is_file() else {}
        print(f"wrote {write_evaluated_card(model, training, results)}", file=sys.stderr)
    print(json.dumps(results))


def cmd_evaluate_linking(args: argparse.Namespace) -> None:
    """Gold-mention accuracy@1 and end-to-end P/R/F1 of linking on a PubTator file; the JSON line comes last.

    Only the sources of the classes the corpus annotates are built (a class without one, e.g. BioRED's
    cell lines, is evaluated with every gold id counted as not in the ontology)."""
    cfg = load(args, {})
    classes = annotated_classes(read_pubtator(args.pubtator))
    sources = [s for s in cfg.linking.ontologies if s.entity_class in classes]
    if not sources:
        raise ConfigError(f"linking.ontologies has no source of the corpus's classes ({', '.join(sorted(classes))})")
    spark = session(cfg, "kazu-spark-evaluate-linking")
    terms = build_ontology_terms(spark, sources).cache()
    misses: list[dict[str, object]] = []
    result = evaluate_linking(spark, args.pubtator, terms, cfg, end_to_end=not args.gold_only, misses=misses)
    if args.misses:
        pd.DataFrame(misses, columns=list(MISS_COLUMNS)).to_csv(args.misses, sep="\t", index=False)
    if not args.json:
        table = Table(title=f"linking · {args.pubtator}")
        columns = ("class", "accuracy@1", "in-ontology acc.", "not in ontology", "evaluated", "correct", "unlinked",
                   "without id", "end-to-end F1")  # fmt: skip
        for col in columns:
            table.add_column(col)
        mention_scores = result.get("end_to_end", {}).get("mention", {})
        for name, m in result["gold_mentions"].items():
            ratios = (f"{m[k]:.4f}" for k in ("accuracy", "in_ontology_accuracy", "not_in_ontology_share"))
            counts = (str(m[k]) for k in ("evaluated", "correct", "unlinked", "without_id"))
            f1 = f"{mention_scores[name]['f1']:.4f}" if name in mention_scores else "-"
            table.add_row(name, *ratios, *counts, f1)
        Console().print(table)
    print(json.dumps(result))
