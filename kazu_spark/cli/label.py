"""``kazu-spark label``: a teacher's soft labels for a corpus, into a Delta table (weak supervision).

Apart from ``train`` so that this Spark driver stays torch-free: the Python workers run the teacher.
"""

from __future__ import annotations

import argparse
import json

from kazu_spark.cli.common import load, session, with_conf
from kazu_spark.paths import resolve_path
from kazu_spark.training.label_job import write_soft_labels


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``label``'s flags."""
    with_conf(p)
    p.add_argument("--model", required=True, help="teacher model folder (config: ner.model)")
    p.add_argument("--input", required=True, help="documents: JSONL, Parquet, Delta, text (config: input.path)")
    p.add_argument(
        "--format",
        help="auto, jsonl, parquet, delta, text, pubtator, pubmed_xml or table (a catalog table's name: "
        "schema.table or catalog.schema.table; config: input.format)",
    )
    p.add_argument("--out", required=True, help="Delta table path for the soft labels")
    p.add_argument("--master", help="Spark master for local runs (config: spark.master)")
    p.set_defaults(func=cmd_label)


def cmd_label(args: argparse.Namespace) -> None:
    """Write the soft labels and print the summary as one JSON line."""
    flags = {"input.path": args.input, "input.format": args.format, "ner.model": args.model}
    cfg = load(args, {**flags, "spark.master": args.master})
    spark = session(cfg, "kazu-spark-label")
    summary = write_soft_labels(
        spark, resolve_path(cfg.input.path), cfg.input.format, args.out, cfg.ner, max_chars=cfg.input.max_chars
    )
    print(json.dumps(summary))
