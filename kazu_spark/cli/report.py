"""``kazu-spark report``: the HTML report of a lakehouse (counts, top concepts, throughput, documents)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kazu_spark.cli.common import load, session, with_conf
from kazu_spark.report.data import report_data
from kazu_spark.report.render import render_report


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``report``'s flags."""
    with_conf(p)
    p.add_argument("--out", default="report.html", help="HTML file to write")
    p.add_argument("--top", type=int, default=8, help="concepts shown per class")
    p.add_argument("--documents", type=int, default=3, help="documents shown with highlighted entities")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> None:
    """Write the HTML report of the lakehouse to ``--out``."""
    cfg = load(args, {"lakehouse": args.lakehouse})
    spark = session(cfg, "kazu-spark-report")
    data = report_data(spark, cfg.lakehouse, top=args.top, documents=args.documents)
    Path(args.out).write_text(render_report(data, f"kazu-spark report · {cfg.lakehouse}"), encoding="utf-8")
    print(f"report: {args.out}")
