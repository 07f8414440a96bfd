"""``kazu-spark kg build`` and ``kg export``: the knowledge-graph tables and their exports."""

from __future__ import annotations

import argparse
import uuid

from kazu_spark.cli.common import load, session, with_conf
from kazu_spark.kg.build import build_kg
from kazu_spark.kg.export import export_graphframes, export_neo4j
from kazu_spark.kg.kgx import export_kgx

#: ``kg export --format`` -> the exporter
EXPORTS = {"neo4j": export_neo4j, "kgx": export_kgx, "graphframes": export_graphframes}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``kg build`` and ``kg export``."""
    actions = p.add_subparsers(dest="action", required=True)
    build = with_conf(actions.add_parser("build", help="update kg_nodes and kg_edges from the lakehouse's changes"))
    build.add_argument(
        "--full",
        action="store_true",
        help="rebuild every node and edge instead of only what the inputs' change feed says changed",
    )
    build.set_defaults(func=cmd_kg_build)
    export = with_conf(actions.add_parser("export", help="export the knowledge graph for Neo4j, KGX or GraphFrames"))
    export.add_argument("--format", required=True, choices=tuple(EXPORTS), help="output layout")
    export.add_argument("--out", required=True, help="output folder")
    export.set_defaults(func=cmd_kg_export)


def cmd_kg_build(args: argparse.Namespace) -> None:
    """Bring kg_nodes and kg_edges up to date (in full with --full) and print their counts."""
    cfg = load(args, {"lakehouse": args.lakehouse})
    spark = session(cfg, "kazu-spark-kg-build")
    counts = build_kg(spark, cfg.lakehouse, str(uuid.uuid4()), config_hash=cfg.fingerprint(), full=args.full)
    print(", ".join(f"{name}: {n:,}" for name, n in counts.items()) + f" in {cfg.lakehouse}")


def cmd_kg_export(args: argparse.Namespace) -> None:
    """Export the knowledge graph as Neo4j bulk-import CSVs, KGX TSV or GraphFrames Parquet."""
    cfg = load(args, {"lakehouse": args.lakehouse})
    spark = session(cfg, "kazu-spark-kg-export")
    rows = EXPORTS[args.format](spark, cfg.lakehouse, args.out)
    print(", ".join(f"{name}: {n:,}" for name, n in rows.items()) + f" into {args.out}")
