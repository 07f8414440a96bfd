"""Decoding benchmark (not a test): one ``decode()`` call per text vs one ``decode_batch()`` call per batch.

The NER stage decodes each batch of ``ner.arrow_batch_rows`` documents with one
:func:`~kazu_spark.ner.decode.decode_batch` call; calling :func:`~kazu_spark.ner.decode.decode` per
section is what it did before. Both run here, side by side, over the same merged per-sub-token
probabilities of the shared abstracts (the TinyBERN2-shaped random model of ``ner_throughput.py``
without its encoder layers: realistic span density, computed fast), for every decoder; the best of
``--repeats`` is reported, in ms per abstract, with the ratio and a check that the spans agree.

Run:  PYTHONPATH=$PWD .venv/bin/python bench/ner_decode.py --docs 1993
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ner_throughput import CORPUS, build_tinybern2, load_documents, section_texts
from rich.console import Console
from rich.table import Table

from kazu_spark.config import load_config
from kazu_spark.ner.decode import DECODERS, decode, decode_batch
from kazu_spark.ner.tagger import Tagger


def best_seconds(run: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        timings.append(time.perf_counter() - start)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=1993, help="abstracts (the shared corpus repeated)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = load_config().ner.arrow_batch_rows
    tagger = Tagger.from_dir(build_tinybern2(Path(tempfile.mkdtemp(prefix="kazu-spark-decode-bench-")) / "m"))
    tagger.model.bert.encoder.layer = tagger.model.bert.encoder.layer[:0]  # probabilities fast; decoding is timed
    docs = load_documents(CORPUS, args.docs)
    batches = []  # per batch of `rows` documents: (merged probs, offsets, texts) of its sections with tokens
    for begin in range(0, len(docs), rows):
        texts = [t for d in docs[begin : begin + rows] for t in section_texts(d)]
        sub, merged = tagger.merged_probs(texts)
        kept = [(p, o, t) for p, o, t in zip(sub.split(merged), sub.split(sub.offsets), texts, strict=True) if len(o)]
        batches.append(tuple(map(list, zip(*kept, strict=True))))
    labels, results = tagger.labels, {}
    for decoder in DECODERS:

        def per_text(decoder: str = decoder) -> list:
            return [
                decode(p, o, t, labels, 0.5, decoder)
                for ps, os, ts in batches
                for p, o, t in zip(ps, os, ts, strict=True)
            ]

        def per_batch(decoder: str = decoder) -> list:
            return [spans for ps, os, ts in batches for spans in decode_batch(ps, os, ts, labels, 0.5, decoder)]

        same = [[(s.start, s.end, s.entity_class) for s in spans] for spans in per_text()] == [
            [(s.start, s.end, s.entity_class) for s in spans] for spans in per_batch()
        ]
        text_s, batch_s = best_seconds(per_text, args.repeats), best_seconds(per_batch, args.repeats)
        results[decoder] = {
            "per_text_ms_per_doc": text_s / len(docs) * 1000, "per_batch_ms_per_doc": batch_s / len(docs) * 1000,
            "speed_up": text_s / batch_s, "spans": sum(map(len, per_batch())), "same_spans": same,
        }  # fmt: skip
    table = Table(title=f"Decoding {len(docs):,} abstracts in batches of {rows}, best of {args.repeats}")
    for column in ("decoder", "per text ms/doc", "per batch ms/doc", "speed-up", "spans", "same spans"):
        table.add_column(column, justify="left" if column == "decoder" else "right")
    for decoder, r in results.items():
        table.add_row(decoder, f"{r['per_text_ms_per_doc']:.3f}", f"{r['per_batch_ms_per_doc']:.3f}",
                      f"{r['speed_up']:.1f}x", f"{r['spans']:,}", str(r["same_spans"]))  # fmt: skip
    Console().print(table)
    print(json.dumps({"docs": len(docs), "batch_rows": rows, "results": results}))


if __name__ == "__main__":
    main()
