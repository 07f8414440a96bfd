"""Linking throughput: one million synthetic mentions through the exact path and the fuzzy path.

Mentions are drawn from the ontology terms' own synonyms with realistic variation -- verbatim, lower
case, upper case, a plural ``s``, a word dropped -- plus unknown strings that must miss, in the mix set
by ``--mix``. The terms and the mentions are built and cached first, so the timed part is linking only,
forced by a ``noop`` write. Peak memory is the largest resident set of this process and all of its
children (the JVM, Python workers) sampled every 0.2 s during the timed part. The join strategy Spark
picked (broadcast vs shuffle sort-merge) is read from the executed plan: terms are broadcast only when
small, so an ontology with millions of synonyms is shuffled, not collected anywhere.

Both paths call ``link_entities``. Where the configuration has ``linking.fuzzy`` (TF-IDF matching of the
misses, on another branch), the exact path runs with ``linking.fuzzy.enabled=false`` (and
``linking.variants=false`` where it exists) and the fuzzy path with them on (context disambiguation
off for both, no documents: no abbreviations); otherwise it prints
``fuzzy: not available`` and the exact path still runs.

    PYTHONPATH=$PWD .venv/bin/python bench/linking_throughput.py --mentions 1000000 \\
        --conf conf/ontologies-shared.yaml
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import random
import threading
import time
from collections.abc import Callable

import pandas as pd
import psutil
from pyspark.sql import DataFrame, SparkSession

from kazu_spark.config import LinkingConfig, load_config
from kazu_spark.errors import ConfigError
from kazu_spark.linking.spark import link_entities
from kazu_spark.ontologies.terms import build_ontology_terms
from kazu_spark.runtime.session import build_session
from kazu_spark.schemas import ENTITIES

VARIANTS = ("verbatim", "lower", "upper", "plural", "drop_word", "unknown")


class PeakRss:
    """Largest summed RSS of this process and its descendants while the ``with`` block runs."""

    def __enter__(self) -> PeakRss:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # a worker that just exited
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(0.2)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def vary(synonym: str, variant: str, rng: random.Random) -> str:
    """One mention from an ontology synonym (``unknown``: random letters that match nothing)."""
    if variant == "lower":
        return synonym.lower()
    if variant == "upper":
        return synonym.upper()
    if variant == "plural":
        return synonym + "s"
    if variant == "drop_word" and " " in synonym:
        return synonym.rsplit(" ", 1)[0]
    if variant == "unknown":
        return "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(rng.randint(6, 14)))
    return synonym


def synth_mentions(spark: SparkSession, terms: DataFrame, n: int, mix: list[float], seed: int) -> DataFrame:
    """``n`` ENTITIES rows whose mentions vary synonyms sampled from ``terms`` (20 mentions a document)."""
    pool = terms.select("synonym", "entity_class").sample(fraction=min(1.0, 4 * n / max(terms.count(), 1)), seed=seed)
    synonyms = [(r["synonym"], r["entity_class"]) for r in pool.limit(min(n, 200_000)).collect()]
    rng = random.Random(seed)
    picks = rng.choices(range(len(synonyms)), k=n)
    variants = rng.choices(VARIANTS, weights=mix, k=n)
    rows = pd.DataFrame(
        {
            "entity_id": [f"e{i}" for i in range(n)],
            "doc_id": [f"d{i // 20}" for i in range(n)],
            "section": "body",
            "start": 0,
            "end": 0,
            "mention": [vary(synonyms[p][0], v, rng) for p, v in zip(picks, variants, strict=True)],
            "entity_class": [synonyms[p][1] for p in picks],
            "confidence": 1.0,
            "model": "bench",
            "content_hash": "",
            "run_id": "bench",
        }
    )
    rows["end"] = rows["mention"].str.len()
    return spark.createDataFrame(rows, schema=ENTITIES).cache()


def join_strategies(df: DataFrame) -> str:
    """The join operators of the executed plan, e.g. ``SortMergeJoin x3, BroadcastHashJoin x1``."""
    plan = df._jdf.queryExecution().executedPlan().toString()  # noqa: SLF001 - the plan string has no public API
    found = {op: plan.count(op) for op in ("BroadcastHashJoin", "SortMergeJoin", "ShuffledHashJoin")}
    return ", ".join(f"{op} x{k}" for op, k in found.items() if k) or "none"


def timed(name: str, link: Callable[[DataFrame, DataFrame], DataFrame], mentions: DataFrame, terms: DataFrame) -> dict:
    """Link every mention with ``link``, write to ``noop``; mentions/s, peak RSS and link counts."""
    links = link(mentions, terms)
    n = mentions.count()
    with PeakRss() as rss:
        start = time.perf_counter()
        links.write.format("noop").mode("overwrite").save()
        seconds = time.perf_counter() - start
    linked = link(mentions, terms).select("entity_id").distinct().count()
    return {
        "path": name,
        "mentions": n,
        "seconds": round(seconds, 1),
        "mentions_per_s": round(n / seconds),
        "peak_rss_mib": round(rss.peak / 2**20),
        "linked_fraction": round(linked / n, 3),
        "joins": join_strategies(links),
    }


def linking_configs(conf: str) -> tuple[LinkingConfig, LinkingConfig] | None:
    """(exact-only, with-fuzzy) linking configs, or None where this checkout has no ``linking.fuzzy``."""

    def overrides(on: str) -> dict[str, str]:  # variant keys (linking.variants) go with the fuzzy path
        keys = ("linking.fuzzy.enabled", "linking.variants") if "variants" in LinkingConfig.model_fields else ()
        return {"linking.disambiguation.enabled": "false", **dict.fromkeys(keys or ("linking.fuzzy.enabled",), on)}

    try:
        return tuple(load_config(conf, overrides(on)).linking for on in ("false", "true"))  # type: ignore[return-value]
    except ConfigError:
        return None


def _with_config(mentions: DataFrame, terms: DataFrame, cfg: LinkingConfig) -> DataFrame:
    return link_entities(mentions, terms, cfg)  # type: ignore[call-arg]  # the signature with a config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--fuzzy-mentions", type=int, default=100_000, help="mentions for the (slower) fuzzy path")
    parser.add_argument("--conf", default="conf/ontologies-shared.yaml", help="config whose linking.ontologies to use")
    parser.add_argument("--mix", default="0.45,0.15,0.05,0.1,0.1,0.15", help=f"weights of {', '.join(VARIANTS)}")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    cfg = load_config(args.conf)
    spark = build_session("bench-linking", cfg.spark.master, extra_conf=cfg.spark.conf)
    spark.sparkContext.setLogLevel("ERROR")
    start = time.perf_counter()
    terms = build_ontology_terms(spark, cfg.linking.ontologies).cache()
    print(f"terms: {terms.count():,} synonyms from {len(cfg.linking.ontologies)} sources "
          f"({time.perf_counter() - start:.0f} s to build)")  # fmt: skip
    mentions = synth_mentions(spark, terms, args.mentions, [float(w) for w in args.mix.split(",")], args.seed)
    print(f"mentions: {mentions.count():,} (mix {dict(zip(VARIANTS, args.mix.split(','), strict=True))})")

    configs = linking_configs(args.conf)
    if configs is None:
        results = [timed("exact+normalised", link_entities, mentions, terms)]
        print("fuzzy: not available (no linking.fuzzy in this checkout's configuration)")
    else:
        exact, fuzzy = (functools.partial(_with_config, cfg=cfg) for cfg in configs)
        results = [timed("exact+normalised", exact, mentions, terms)]
        results.append(timed("+fuzzy", fuzzy, mentions.limit(args.fuzzy_mentions).cache(), terms))
    print()
    print("| path | mentions | seconds | mentions/s | peak RSS MiB (driver+JVM+workers) | linked | joins |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['path']} | {r['mentions']:,} | {r['seconds']} | {r['mentions_per_s']:,} | {r['peak_rss_mib']:,} "
              f"| {r['linked_fraction']:.1%} | {r['joins']} |")  # fmt: skip
    spark.stop()


if __name__ == "__main__":
    main()
