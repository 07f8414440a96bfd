"""How many tokens the NER stage computes per document token, for several window sizes and strides (not a test).

The stage cuts every section into windows of ``ner.window`` ids ([CLS] and [SEP] included) sharing
``ner.stride`` sub-tokens, then runs the windows of each batch of ``ner.arrow_batch_rows`` documents in
length-sorted forward passes of at most ``ner.max_batch_tokens`` padded tokens. Overlap, the two special
tokens and padding are all computed and thrown away. For each ``WINDOW/STRIDE`` setting this script runs the
stage's own planning code (:func:`~kazu_spark.ner.subtokens.subtokenize`,
:func:`~kazu_spark.ner.windows.plan_windows`, :func:`~kazu_spark.ner.batching.plan_batches`) over the shared
corpus, no model forward, and prints per document sub-token (title and body, no special tokens):

- ``computed``: the windows' ids, [CLS]/[SEP] included (what a forward without padding costs);
- ``padded CPU`` / ``padded GPU``: the padded forward passes at the CPU (4,096) and GPU (65,536) default budgets;
- ``server xK``: the padded passes of a forward server (``ner.forward_server``) at the GPU budget when it gets the
  requests of K tasks at once (K consecutive batches of documents merged, planned by
  :func:`~kazu_spark.ner.batching.plan_buckets`, as :class:`~kazu_spark.ner.forward_server.Forwards` plans them);
- ``encoder FLOPs``: the model's encoder FLOPs over the padded CPU passes (per layer ``2 n (4 h^2 + 2 h i)``
  for the dense layers and ``4 n^2 h`` for attention, ``n`` the padded width, from the model's
  ``config.json``), relative to the first setting: long windows compute fewer tokens but pay more per
  token in attention.

A setting whose window exceeds the model's ``max_position_embeddings`` is an error.

Run:  PYTHONPATH=$PWD .venv/bin/python bench/ner_windows.py --settings 128/32,64/16,256/32,512/64
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import numpy as np
from ner_throughput import CORPUS, load_documents, section_texts
from rich.console import Console
from rich.table import Table
from transformers import AutoConfig

from kazu_spark.config import load_config
from kazu_spark.ner.batching import DEFAULT_BATCH_TOKENS, plan_batches, plan_buckets
from kazu_spark.ner.model import load_tokenizer
from kazu_spark.ner.subtokens import subtokenize
from kazu_spark.ner.windows import plan_windows
from kazu_spark.paths import resolve_path

DEFAULT_SETTINGS = "128/32,64/16,256/32,256/64,384/64,512/64,512/128"
#: how many tasks' requests a forward server gets at once, in the ``server xK`` columns
SERVER_TASKS = (1, 4, 16)


def encoder_flops(widths: np.ndarray, layers: int, hidden: int, intermediate: int) -> float:
    """Encoder FLOPs of one padded pass per window of the given padded ``widths`` (dense layers and attention)."""
    n = widths.astype(np.float64)
    return float(layers * (2 * n * (4 * hidden**2 + 2 * hidden * intermediate) + 4 * n**2 * hidden).sum())


def padded_widths(lengths: np.ndarray, budget: int, plan=plan_batches) -> np.ndarray:  # noqa: ANN001
    """Each window's padded width when the windows of one NER batch are run as the tagger (``plan_batches``) or the
    forward server (``plan_buckets``) runs them."""
    widths = np.empty(len(lengths), dtype=np.int64)
    for batch in plan(lengths.tolist(), budget):
        widths[batch] = lengths[batch].max()
    return widths


def measure(sizes: list[np.ndarray], window: int, stride: int, shape: tuple[int, int, int]) -> dict[str, float]:
    """Windows, computed and padded tokens, and encoder FLOPs of one setting over batches of section ``sizes``."""
    totals = dict.fromkeys(("windows", "computed", "padded_cpu", "padded_gpu", "flops"), 0.0)
    batches = [plan_windows(batch_sizes, window, stride).length + 2 for batch_sizes in sizes]
    for tasks in SERVER_TASKS:
        merged = [np.concatenate(batches[i : i + tasks]) for i in range(0, len(batches), tasks)]
        padded = (padded_widths(m, DEFAULT_BATCH_TOKENS["cuda"], plan_buckets).sum() for m in merged)
        totals[f"server_x{tasks}"] = float(sum(padded))
    for lengths in batches:
        cpu = padded_widths(lengths, DEFAULT_BATCH_TOKENS["cpu"])
        totals["windows"] += len(lengths)
        totals["computed"] += lengths.sum()
        totals["padded_cpu"] += cpu.sum()
        totals["padded_gpu"] += padded_widths(lengths, DEFAULT_BATCH_TOKENS["cuda"]).sum()
        totals["flops"] += encoder_flops(cpu, *shape)
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="JSON lines of PubMed abstracts (gzip)")
    parser.add_argument("--docs", type=int, default=None, help="documents (default: the corpus once)")
    parser.add_argument("--model", default=None, help="model folder (default: the configured ner.model)")
    parser.add_argument("--settings", default=DEFAULT_SETTINGS, help="comma-separated WINDOW/STRIDE pairs")
    args = parser.parse_args()
    ner = load_config().ner
    model = Path(resolve_path(args.model or ner.model))
    config = AutoConfig.from_pretrained(model)
    settings = [tuple(map(int, item.split("/"))) for item in args.settings.split(",")]
    too_long = [w for w, _ in settings if w > config.max_position_embeddings]
    if too_long:
        raise SystemExit(f"windows {too_long} exceed the model's {config.max_position_embeddings} positions")
    with gzip.open(args.corpus, "rt", encoding="utf-8") as fh:
        corpus_docs = sum(1 for _ in fh)
    docs = load_documents(args.corpus, args.docs or corpus_docs)
    tokenizer = load_tokenizer(model)
    rows = ner.arrow_batch_rows
    sizes = [
        subtokenize([t for d in docs[i : i + rows] for t in section_texts(d)], tokenizer).sizes
        for i in range(0, len(docs), rows)
    ]
    tokens = int(sum(s.sum() for s in sizes))
    shape = (config.num_hidden_layers, config.hidden_size, config.intermediate_size)
    results = {f"{w}/{s}": measure(sizes, w, s, shape) for w, s in settings}
    first = next(iter(results.values()))
    table = Table(
        title=f"NER windows, {len(docs):,} abstracts, {tokens:,} sub-tokens ({tokens / len(docs):.1f} per abstract)"
    )
    servers = [f"server x{tasks}" for tasks in SERVER_TASKS]
    for column in ("window/stride", "windows", "computed / doc token", "padded CPU", "padded GPU", *servers,
                   "encoder FLOPs"):  # fmt: skip
        table.add_column(column, justify="right")
    for name, r in results.items():
        table.add_row(name, f"{r['windows']:,.0f}", f"{r['computed'] / tokens:.3f}", f"{r['padded_cpu'] / tokens:.3f}",
                      f"{r['padded_gpu'] / tokens:.3f}", *(f"{r[f'server_x{k}'] / tokens:.3f}" for k in SERVER_TASKS),
                      f"{r['flops'] / first['flops']:.3f}")  # fmt: skip
    Console().print(table)
    summary = {"docs": len(docs), "tokens": tokens, "max_positions": config.max_position_embeddings,
               "model_shape": shape, "settings": results}  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
