"""``kazu-spark ontologies build``: parse the configured ontology sources into the ontology_terms table (and,
with ``linking.embedding.model`` set, embed their synonyms into concept_embeddings)."""

from __future__ import annotations

import argparse

from kazu_spark.cli.common import load, session, with_conf
from kazu_spark.errors import ConfigError
from kazu_spark.lakehouse.delta import read_table
from kazu_spark.ontologies.embeddings import ensure_concept_embeddings
from kazu_spark.ontologies.terms import write_ontology_terms


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``ontologies build``."""
    actions = p.add_subparsers(dest="action", required=True)
    build = with_conf(actions.add_parser("build", help="build the ontology_terms Delta table"))
    build.set_defaults(func=cmd_ontologies_build)


def cmd_ontologies_build(args: argparse.Namespace) -> None:
    """Parse the configured ontology sources into the lakehouse's ontology_terms table."""
    cfg = load(args, {"lakehouse": args.lakehouse})
    if not cfg.linking.ontologies:
        raise ConfigError("linking.ontologies is empty: nothing to build")
    spark = session(cfg, "kazu-spark-ontologies")
    rows = write_ontology_terms(spark, cfg.linking.ontologies, cfg.lakehouse)
    print(f"ontology_terms: {rows:,} terms from {len(cfg.linking.ontologies)} sources into {cfg.lakehouse}")
    terms = read_table(spark, cfg.lakehouse, "ontology_terms")
    embeddings = ensure_concept_embeddings(spark, cfg.lakehouse, terms, cfg.linking.embedding)
    if embeddings is not None:
        print(f"concept_embeddings: {embeddings.count():,} rows ({cfg.linking.embedding.model})")
