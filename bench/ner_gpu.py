"""GPU NER throughput (not a test): bare fp16 forward at its best batch vs the NER stage's per-batch work.

For each model shape (TinyBERN2: 4 layers, hidden 312; the MiniLM teacher: 6 layers, hidden 384; random
weights, the bundled tokenizer), over the same documents as ``bench/ner_throughput.py``:

- bare: ``model(**batch).logits`` in fp16 over the documents' pre-tokenised 128-token windows, already
  padded and on the GPU, length-sorted batches of a token budget; every budget in ``--budgets`` is run
  and the best is reported ("the bare forward at its best batch");
- engine: :func:`kazu_spark.ner.tagger.entities_for_batch`, the function the Spark NER stage's
  pandas UDF runs on each batch of ``ner.arrow_batch_rows`` documents, with a fp16 ``Tagger`` on cuda and
  the default cuda token budget: tokenisation, windows, forward, decoding and entity rows included.
  Spark itself (JVM, Arrow transfer) is not in this row: the GPU machine has no Java.

A third shape, no encoder layers (embeddings and classifier only), measures the work around the encoder:
its engine rate is what one Python worker can feed at most, however fast the GPU.

Rates are document sub-tokens (title and body, no special tokens) per second, as in ``ner_throughput.py``.
Prints a table and one JSON line, including what the rates mean for PubMed's 36 million abstracts.

Run (on a machine with a GPU):  PYTHONPATH=$PWD python bench/ner_gpu.py --docs 20000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from ner_throughput import CORPUS, build_tinybern2, load_documents, section_texts
from rich.console import Console
from rich.table import Table
from transformers import BertConfig, BertForTokenClassification

from kazu_spark.config import load_config
from kazu_spark.ner.batching import pad_ids, plan_batches
from kazu_spark.ner.tagger import Tagger, entities_for_batch
from kazu_spark.ner.windows import make_windows_batch
from kazu_spark.schemas import NER_INPUT

PUBMED_ABSTRACTS = 36_000_000
#: name -> (layers, hidden, intermediate), None for TinyBERN2 itself. The 0-layer model keeps the embeddings
#: and the classifier only: its engine row is the work around the encoder, the ceiling of one Python worker.
SHAPES = {"tinybern2 (4x312)": None, "teacher (6x384)": (6, 384, 1536), "no encoder (0x312)": (0, 312, 1200)}
console = Console(stderr=True)
BEGAN = time.perf_counter()


def note(what: str) -> None:
    """Progress on stderr, with the seconds since start (a run cut by a time limit still says where it was)."""
    console.print(f"[{time.perf_counter() - BEGAN:6.1f} s] {what}", highlight=False)


def reshape(model_dir: Path, out: Path, layers: int, hidden: int, intermediate: int) -> Path:
    """The TinyBERN2 folder with a model of another shape (random weights, same tokenizer and labels)."""
    source = BertForTokenClassification.from_pretrained(model_dir)
    config = BertConfig.from_dict(
        {**source.config.to_dict(), "num_hidden_layers": layers, "hidden_size": hidden,
         "intermediate_size": intermediate}
    )  # fmt: skip
    model = BertForTokenClassification(config)
    with torch.no_grad():
        model.classifier.bias.fill_(-1.0)
    model.save_pretrained(out)
    for f in model_dir.iterdir():
        if f.suffix in {".json", ".txt"} and f.name != "config.json":
            (out / f.name).write_bytes(f.read_bytes())
    return out


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def bare_forward(tagger: Tagger, windows: list[list[int]], budget: int) -> float:
    """Seconds of the forward over the pre-padded, on-device ``windows`` in batches of ``budget`` tokens."""
    batches = plan_batches([len(w) for w in windows], budget)
    device = tagger.model.device
    pad = tagger.tokenizer.pad_token_id
    padded = [{k: v.to(device) for k, v in pad_ids([windows[i] for i in b], pad).items()} for b in batches]
    with torch.inference_mode():
        for inputs in padded[:3]:  # warm-up: kernels, allocator
            tagger.model(**inputs)
        sync()
        start = time.perf_counter()
        for inputs in padded:
            tagger.model(**inputs).logits.float()
        sync()
    return time.perf_counter() - start


def engine(tagger: Tagger, docs: list[dict], rows: int) -> float:
    """Seconds of ``entities_for_batch`` over the documents in batches of ``rows`` (the UDF's work)."""
    frame = pd.DataFrame([{k: d[k] for k in NER_INPUT.fieldNames()} for d in docs])
    entities_for_batch(tagger, frame.iloc[:rows])  # warm-up
    sync()
    start = time.perf_counter()
    for begin in range(0, len(frame), rows):
        entities_for_batch(tagger, frame.iloc[begin : begin + rows])
    sync()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--budgets", default="8192,16384,32768,65536,131072", help="bare forward token budgets")
    parser.add_argument("--device", default="cuda", help="cuda (fp16) or cpu (fp32, to try the script)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated subset of: {', '.join(SHAPES)}")
    args = parser.parse_args()
    precision = "fp16" if args.device == "cuda" else "fp32"
    workdir = Path(tempfile.mkdtemp(prefix="kazu-spark-gpu-bench-"))
    tiny = build_tinybern2(workdir / "tinybern2")
    docs = load_documents(args.corpus, args.docs)
    texts = [t for d in docs for t in section_texts(d)]
    ner = load_config().ner
    results = {}
    windows: list[list[int]] = []
    for name in args.shapes.split(","):
        shape = SHAPES[name]
        folder = tiny if shape is None else reshape(tiny, workdir / f"shape-{shape[0]}x{shape[1]}", *shape)
        tagger = Tagger.from_dir(folder, device=args.device, precision=precision)
        tokens = sum(len(ids) for ids in tagger.tokenizer(texts, add_special_tokens=False)["input_ids"])
        windows = windows or [  # the shapes share the tokenizer
            w.input_ids for doc in make_windows_batch(texts, tagger.tokenizer) for w in doc.windows
        ]
        note(f"{name}: {tokens:,} tokens, {len(windows):,} windows")
        bare = {}
        for budget in map(int, args.budgets.split(",")):
            bare[budget] = tokens / bare_forward(tagger, windows, budget)
            note(f"{name}: bare forward, budget {budget}: {bare[budget]:,.0f} tokens/s")
        best = max(bare, key=bare.get)
        seconds = engine(tagger, docs, ner.arrow_batch_rows)
        note(f"{name}: engine {tokens / seconds:,.0f} tokens/s")
        results[name] = {
            "tokens": tokens, "bare_tokens_per_s": bare, "best_budget": best, "engine_seconds": seconds,
            "engine_tokens_per_s": tokens / seconds, "engine_docs_per_s": len(docs) / seconds,
            "engine_over_best_bare": tokens / seconds / bare[best],
            "pubmed_hours_one_gpu": PUBMED_ABSTRACTS / (len(docs) / seconds) / 3600,
        }  # fmt: skip
        del tagger
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    device = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    table = Table(title=f"GPU NER, {len(docs):,} abstracts, {precision}, {device}")
    for column in ("model", "bare best tok/s (budget)", "engine tok/s", "engine docs/s", "engine/bare", "PubMed h"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, r in results.items():
        table.add_row(
            name, f"{r['bare_tokens_per_s'][r['best_budget']]:,.0f} ({r['best_budget']})",
            f"{r['engine_tokens_per_s']:,.0f}", f"{r['engine_docs_per_s']:,.0f}",
            f"{r['engine_over_best_bare']:.2f}", f"{r['pubmed_hours_one_gpu']:.1f}",
        )  # fmt: skip
    Console().print(table)
    print(json.dumps({"docs": len(docs), "device": device, "precision": precision, "results": results}))


if __name__ == "__main__":
    main()
