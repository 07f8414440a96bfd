"""``kazu-spark annotate``: tag and link documents into the lakehouse, then print the run summary.

Nothing here imports torch: the driver only resolves and ships the model folder; the Python workers
load the model (``tests/test_cli.py`` checks this module's imports).

A run that succeeds with warnings (nothing annotated: an empty input, every row quarantined; entries of
a text folder not read) prints them under the summary and exits 0, or with ``--strict`` exits
``STRICT_EXIT`` (3), so a scheduled job can fail on them.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from kazu_spark.cli.common import load, session, with_conf
from kazu_spark.config import Config
from kazu_spark.paths import local_size

if TYPE_CHECKING:
    from kazu_spark.pipeline.annotate import RunSummary

#: exit code of ``--strict`` when the run has warnings (1 and 2 are errors, see ``kazu_spark.cli.main``)
STRICT_EXIT = 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``annotate``'s flags."""
    with_conf(p)
    p.add_argument("--input", help="input path (config: input.path)")
    p.add_argument(
        "--format",
        help="auto, jsonl, parquet, delta, text, pubtator, pubmed_xml or table (a catalog table's name: "
        "schema.table or catalog.schema.table; config: input.format)",
    )
    p.add_argument("--model", help="model folder (config: ner.model)")
    p.add_argument("--master", help="Spark master for local runs (config: spark.master)")
    p.add_argument("--progress", choices=("auto", "on", "off"), help="NER progress bar (config: progress)")
    p.add_argument("--json", action="store_true", help="also print the summary as one JSON line")
    p.add_argument(
        "--strict",
        action="store_true",
        help=f"exit with code {STRICT_EXIT} when the run has warnings (nothing annotated, input entries not read)",
    )
    p.set_defaults(func=cmd_annotate)


def annotate_config(args: argparse.Namespace) -> Config:
    """The validated config of an ``annotate`` command line: its flags (taken literally), then ``--set``."""
    return load(
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


def is_small_input(cfg: Config) -> bool:
    """Whether ``cfg``'s input is a local file or folder of at most ``input.driver_parse_bytes``: a small
    increment, whose run the JVM's warm-up dominates (its session gets ``quick_start``).

    Example:
        >>> from kazu_spark.config import load_config
        >>> is_small_input(load_config(overrides={"input.path": "s3a://bucket/in.jsonl"}))
        False
    """
    size = local_size(cfg.input.path) if cfg.input.path else None
    return size is not None and size <= cfg.input.driver_parse_bytes


def cmd_annotate(args: argparse.Namespace) -> None:
    """Annotate documents into the lakehouse and print the run summary."""
    cfg = annotate_config(args)
    with ThreadPoolExecutor(1) as pool:  # the job's imports (pandas, scikit-learn: ~1.6 s) overlap the JVM's start
        job = pool.submit(import_module, "kazu_spark.pipeline.annotate")
        spark = session(cfg, "kazu-spark-annotate", quick_start=is_small_input(cfg))
        summary = job.result().annotate(spark, cfg)
    _print_summary(summary, cfg.lakehouse)
    if args.json:
        print(
            json.dumps(
                {
                    "run_id": summary.run_id,
                    **summary.counts(),
                    "skipped_duplicates": summary.skipped_duplicates,
                    "skipped_files": summary.skipped_files,
                    "warnings": summary.warnings,
                    "fraction_linked": summary.fraction_linked,
                    "elapsed_seconds": summary.elapsed_seconds,
                    "documents_per_second": summary.documents_per_second,
                }
            )
        )
    if args.strict and summary.warnings:
        raise SystemExit(STRICT_EXIT)


def _print_summary(summary: RunSummary, lakehouse: str) -> None:
    table = Table(title=f"kazu-spark annotate · run {summary.run_id}", show_header=False)
    rows = [
        ("documents annotated", f"{summary.documents:,}"),
        ("skipped (unchanged)", f"{summary.skipped_unchanged:,}"),
        ("skipped (duplicates)", f"{summary.skipped_duplicates:,}"),
        ("skipped files", f"{summary.skipped_files:,}"),
        ("quarantined", f"{summary.quarantined:,}"),
        ("documents deleted", f"{summary.deleted_documents:,}"),
        ("entities", f"{summary.entities:,}"),
        *((f"  {cls}", f"{n:,}") for cls, n in summary.entities_per_class.items()),
        ("fraction linked", f"{summary.fraction_linked:.1%}"),
        ("linked entities / links", f"{summary.linked_entities:,} / {summary.links:,}"),
        ("elapsed seconds", f"{summary.elapsed_seconds:.1f}"),
        ("documents / second", f"{summary.documents_per_second:.2f}"),
        ("model", summary.model or "-"),
        ("lakehouse", lakehouse),
        *(("warning", warning) for warning in summary.warnings),
    ]
    for name, value in rows:
        table.add_row(name, value)
    Console().print(table)
