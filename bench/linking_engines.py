"""Linking engines side by side: the driver's pandas pass against the Spark joins, on the same mentions.

``link_entities`` links up to ``linking.batch_entities`` entities on the driver (:mod:`kazu_spark.linking.batch`)
and more with Spark joins (:mod:`kazu_spark.linking.spark`). This times both on the same synthetic mentions
(``bench/linking_throughput.py``'s mix: ontology synonyms varied, 15 % unknown) for each size of ``--mentions``,
and prints seconds, mentions/s and the ratio, to choose the default threshold. Each timed call includes
everything ``link_entities`` does (the driver pass collects the terms table first: no cache key is given here,
so every driver call pays that collection, as a job's first call on a new table version does), forced by a
``noop`` write. Steps as the exact row of ``linking_throughput.py``: ``linking.steps`` [exact, normalised],
disambiguation off.

    PYTHONPATH=$PWD .venv/bin/python bench/linking_engines.py --mentions 10000,50000 --conf conf/ontologies-shared.yaml
"""

from __future__ import annotations

import argparse
import time

from linking_throughput import VARIANTS, linking_configs, synth_mentions
from pyspark.sql import DataFrame

from kazu_spark.config import LinkingConfig, load_config
from kazu_spark.linking.spark import link_entities
from kazu_spark.ontologies.terms import build_ontology_terms
from kazu_spark.runtime.precision import cpu_description
from kazu_spark.runtime.session import build_session


def seconds_to_link(mentions: DataFrame, terms: DataFrame, cfg: LinkingConfig) -> float:
    """Wall seconds of one ``link_entities`` call and a ``noop`` write of its links."""
    start = time.perf_counter()
    link_entities(mentions, terms, cfg).write.format("noop").mode("overwrite").save()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", default="10000,50000", help="comma-separated batch sizes")
    parser.add_argument("--conf", default="conf/ontologies-shared.yaml", help="config whose linking.ontologies to use")
    parser.add_argument("--mix", default="0.45,0.15,0.05,0.1,0.1,0.15", help=f"weights of {', '.join(VARIANTS)}")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    cfg = load_config(args.conf)
    spark = build_session("bench-linking-engines", cfg.spark.master, extra_conf=cfg.spark.conf)
    spark.sparkContext.setLogLevel("ERROR")
    terms = build_ontology_terms(spark, cfg.linking.ontologies).cache()
    print(f"{cpu_description()}\nterms: {terms.count():,} synonyms from {len(cfg.linking.ontologies)} sources")
    exact, _ = linking_configs(args.conf)
    weights = [float(w) for w in args.mix.split(",")]
    rows = []
    for n in (int(x) for x in args.mentions.split(",")):
        mentions = synth_mentions(spark, terms, n, weights, args.seed).cache()
        mentions.count()
        driver = seconds_to_link(mentions, terms, exact.model_copy(update={"batch_entities": n}))
        joins = seconds_to_link(mentions, terms, exact.model_copy(update={"batch_entities": 0}))
        rows.append((n, driver, joins))
        mentions.unpersist()
    print("\n| mentions | driver pandas s | mentions/s | Spark joins s | mentions/s | joins / driver |")
    print("|---|---|---|---|---|---|")
    for n, driver, joins in rows:
        print(f"| {n:,} | {driver:.1f} | {n / driver:,.0f} | {joins:.1f} | {n / joins:,.0f} | {joins / driver:.1f}x |")
    spark.stop()


if __name__ == "__main__":
    main()
