"""GPU NER throughput (not a test): bare fp16 forward at its best batch vs the NER stage's per-batch work.

For each model shape (TinyBERN2: 4 layers, hidden 312; the MiniLM teacher: 6 layers, hidden 384; random
weights, the bundled tokenizer), over the same documents as ``bench/ner_throughput.py``:

- bare: ``model(**batch).logits`` in fp16 over the documents' pre-tokenised 128-token windows, already
  padded and on the GPU, length-sorted batches of a token budget; every budget in ``--budgets`` is run
  and the best is reported ("the bare forward at its best batch");
- engine: :func:`kazu_spark.ner.tagger.entities_for_batch`, the function the Spark NER stage's
  pandas UDF runs on each batch of ``ner.arrow_batch_rows`` documents, with a fp16 ``Tagger`` on cuda and
  the default cuda token budget: tokenisation, windows, forward, decoding and entity rows included, and the
  known-names step (``ner.known_names``, on by default since session 37; ``--known-names none`` leaves it out, as
  the runs before it did). Spark itself (JVM, Arrow transfer) is not in this row: the GPU machine has no Java.

A third shape, no encoder layers (embeddings and classifier only), measures the work around the encoder:
its engine rate is what one Python worker can feed at most, however fast the GPU. On a CPU its forward
(embeddings, classifier) still costs, so each shape also gets "around": the engine's seconds minus the
seconds spent inside the model's forward during that same run (timed by forward hooks), per document:
tokenising, windows, padding, the activation and its copy to the host, merging, decoding, entity rows.

``--workers 1,2,4,8,16`` adds the many-workers table: N processes (spawned, one torch thread each), each
running ``entities_for_batch`` over its share of the documents (every N-th), all on the same device, the way
N Spark tasks share a GPU with ``ner.gpu_amount_per_task = 1/N``. They load their model and documents, warm
up, meet at a barrier and then run; the aggregate rate is all documents' sub-tokens over the time from the
barrier to the last worker's end, compared with the bare fp16 forward at its best budget. The smallest N
reaching 0.6 x bare (else the fastest) is the recommendation printed with the Spark settings it implies.
``--server`` runs the table a second time with ``ner.forward_server`` on: the workers hold no model and no CUDA
context, and send their forwards to one server process on the device (:mod:`kazu_spark.ner.forward_server`),
started by the first worker and kept between the rows.

Rates are document sub-tokens (title and body, no special tokens) per second, as in ``ner_throughput.py``.
Prints a table and one JSON line, including what the rates mean for PubMed's 36 million abstracts.

Run (on a machine with a GPU):  PYTHONPATH=$PWD python bench/ner_gpu.py --docs 20000 --workers 1,2,4,8,16
(``bench/gpu_job.sh`` runs it on the lent GPU machine.) On a CPU, to try it: ``--device cpu --docs 1000
--budgets 4096 --workers 1,2``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
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
from kazu_spark.ner.known_names import KnownNames, load_names
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


def input_frame(docs: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{k: d[k] for k in NER_INPUT.fieldNames()} for d in docs])


class ForwardClock:
    """Wall and CPU seconds spent inside ``model``'s forward calls (hooks; the device synchronised at both ends)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.seconds, self.cpu_seconds, self._began = 0.0, 0.0, (0.0, 0.0)
        model.register_forward_pre_hook(self._start)
        model.register_forward_hook(self._stop)

    def _start(self, *_: object) -> None:
        sync()
        self._began = (time.perf_counter(), time.process_time())

    def _stop(self, *_: object) -> None:
        sync()
        self.seconds += time.perf_counter() - self._began[0]
        self.cpu_seconds += time.process_time() - self._began[1]


def engine(tagger: Tagger, frame: pd.DataFrame, rows: int) -> dict[str, float]:
    """Wall and CPU seconds of ``entities_for_batch`` over the documents in batches of ``rows``, and of the
    model's forward inside it."""
    entities_for_batch(tagger, frame.iloc[:rows])  # warm-up
    sync()
    clock = ForwardClock(tagger.model)
    start, cpu = time.perf_counter(), time.process_time()
    for begin in range(0, len(frame), rows):
        entities_for_batch(tagger, frame.iloc[begin : begin + rows])
    sync()
    return {"engine_seconds": time.perf_counter() - start, "engine_cpu_seconds": time.process_time() - cpu,
            "engine_forward_seconds": clock.seconds, "engine_forward_cpu_seconds": clock.cpu_seconds}  # fmt: skip


def stage_tagger(folder: Path, args: argparse.Namespace, *, served: bool = False) -> Tagger:
    """The tagger the NER stage's per-batch function runs with: fp16 on cuda (fp32 on a CPU), with the known names of
    ``--known-names`` (the configuration's by default, ``none``: without), as the Spark stage ships them; ``served``:
    its forwards run by the forward server (``ner.forward_server``)."""
    names = None if args.known_names.lower() == "none" else KnownNames(load_names(args.known_names))
    precision = "fp16" if args.device == "cuda" else "fp32"
    return Tagger.from_dir(folder, device=args.device, precision=precision, known_names=names, forward_server=served)


def worker(  # noqa: PLR0913 - what a spawned process gets
    rank: int,
    n: int,
    args: argparse.Namespace,
    folder: Path,
    rows: int,
    served: bool,
    barrier,
    results,  # noqa: ANN001
) -> None:
    """One of ``n`` workers: its share of the documents through ``entities_for_batch``, timed from the barrier
    (``served``: through the forward server, and without touching CUDA itself)."""
    torch.set_num_threads(args.threads)
    tagger = stage_tagger(folder, args, served=served)
    frame = input_frame(load_documents(args.corpus, args.docs)[rank::n])
    entities_for_batch(tagger, frame.iloc[:rows])  # warm-up
    if not served:
        sync()
    barrier.wait(timeout=600)
    start, cpu = time.perf_counter(), time.process_time()
    for begin in range(0, len(frame), rows):
        entities_for_batch(tagger, frame.iloc[begin : begin + rows])
    if not served:
        sync()
    results.put({"rank": rank, "start": start, "end": time.perf_counter(), "cpu": time.process_time() - cpu,
                 "docs": len(frame)})  # fmt: skip


def many_workers(n: int, args: argparse.Namespace, folder: Path, rows: int, *, served: bool = False) -> dict:
    """Seconds (barrier to the last worker's end) and CPU seconds of ``n`` spawned workers sharing the device (the
    workers' own: a forward server's are not in them)."""
    client = stage_tagger(folder, args, served=True).server if served else None
    before = client.stats() if client else {}  # starts the server, if none runs, before the workers come
    context = mp.get_context("spawn")  # CUDA cannot be used in forked children
    barrier, results = context.Barrier(n), context.Queue()
    procs = [
        context.Process(target=worker, args=(r, n, args, folder, rows, served, barrier, results)) for r in range(n)
    ]
    for proc in procs:
        proc.start()
    done = [results.get(timeout=1800) for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode:
            raise RuntimeError(f"a worker exited with {proc.exitcode}")
    seconds = max(d["end"] for d in done) - min(d["start"] for d in done)
    run = {"seconds": seconds, "cpu_seconds": sum(d["cpu"] for d in done),
           "slowest_worker_seconds": max(d["end"] - d["start"] for d in done)}  # fmt: skip
    if client:  # what the server ran for this row (the workers' warm-up included): padding, forwards, merging
        after = client.stats()
        client.close()
        ran = {key: after[key] - before[key] for key in after}
        run["server"] = {**ran, "padded_per_token": ran["padded"] / ran["tokens"],
                         "requests_per_group": ran["requests"] / ran["groups"]}  # fmt: skip
    return run


def recommend(workers: dict[int, dict], target: float = 0.6) -> int:
    """The fewest workers whose aggregate reaches ``target`` x the bare forward, else the fastest count."""
    reaching = [n for n, r in sorted(workers.items()) if r["over_best_bare"] >= target]
    return reaching[0] if reaching else max(workers, key=lambda n: workers[n]["tokens_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--budgets", default="8192,16384,32768,65536,131072", help="bare forward token budgets")
    parser.add_argument("--device", default="cuda", help="cuda (fp16) or cpu (fp32, to try the script)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated subset of: {', '.join(SHAPES)}")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (a Spark task: 1)")
    parser.add_argument("--workers", default="", help="worker counts for the many-workers table, e.g. 1,2,4,8,16")
    parser.add_argument("--workers-shapes", default="tinybern2 (4x312)", help="shapes the workers table runs")
    parser.add_argument("--server", action="store_true", help="also run the workers table through a forward server")
    parser.add_argument(
        "--known-names",
        default=load_config().ner.known_names or "none",
        help="the known names the engine rows run with (default: the configuration's, as annotate; none: without)",
    )
    parser.add_argument("--json", type=Path, help="also write the JSON line to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    precision = "fp16" if args.device == "cuda" else "fp32"
    workdir = Path(tempfile.mkdtemp(prefix="kazu-spark-gpu-bench-"))
    tiny = build_tinybern2(workdir / "tinybern2")
    docs = load_documents(args.corpus, args.docs)
    frame = input_frame(docs)
    texts = [t for d in docs for t in section_texts(d)]
    rows = load_config().ner.arrow_batch_rows
    results, many = {}, {}
    windows: list[list[int]] = []
    for name in args.shapes.split(","):
        shape = SHAPES[name]
        folder = tiny if shape is None else reshape(tiny, workdir / f"shape-{shape[0]}x{shape[1]}", *shape)
        tagger = stage_tagger(folder, args)
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
        timed = engine(tagger, frame, rows)
        seconds = timed["engine_seconds"]
        around = seconds - timed["engine_forward_seconds"]
        around_cpu = timed["engine_cpu_seconds"] - timed["engine_forward_cpu_seconds"]
        note(f"{name}: engine {tokens / seconds:,.0f} tokens/s, around {around / len(docs) * 1e3:.3f} ms/doc")
        results[name] = {
            "tokens": tokens, "bare_tokens_per_s": bare, "best_budget": best, "engine_budget": tagger.max_batch_tokens,
            **timed, "around_cpu_ms_per_doc": around_cpu / len(docs) * 1e3,
            "engine_tokens_per_s": tokens / seconds, "engine_docs_per_s": len(docs) / seconds,
            "engine_over_best_bare": tokens / seconds / bare[best], "around_ms_per_doc": around / len(docs) * 1e3,
            "pubmed_hours_one_gpu": PUBMED_ABSTRACTS / (len(docs) / seconds) / 3600,
        }  # fmt: skip
        del tagger
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        for served in (False, True) if args.server else (False,):
            if name not in args.workers_shapes.split(",") or not args.workers:
                break
            table = f"{name}, forward server" if served else name
            many[table] = {}
            for n in map(int, args.workers.split(",")):
                run = many_workers(n, args, folder, rows, served=served)
                rate = tokens / run["seconds"]
                many[table][n] = {**run, "tokens_per_s": rate, "docs_per_s": len(docs) / run["seconds"],
                                  "over_best_bare": rate / bare[best]}  # fmt: skip
                note(f"{table}: {n} workers, {many[table][n]['tokens_per_s']:,.0f} tokens/s "
                     f"({many[table][n]['over_best_bare']:.2f} x bare)")  # fmt: skip
    device = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    table = Table(title=f"NER per-batch work vs bare forward, {len(docs):,} abstracts, {precision}, {device}")
    columns = ("model", "bare best tok/s (budget)", "engine tok/s", "engine docs/s", "engine/bare", "around ms/doc",
               "PubMed h")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, r in results.items():
        table.add_row(
            name, f"{r['bare_tokens_per_s'][r['best_budget']]:,.0f} ({r['best_budget']})",
            f"{r['engine_tokens_per_s']:,.0f}", f"{r['engine_docs_per_s']:,.0f}",
            f"{r['engine_over_best_bare']:.2f}", f"{r['around_ms_per_doc']:.3f}", f"{r['pubmed_hours_one_gpu']:.1f}",
        )  # fmt: skip
    Console().print(table)
    for name, counts in many.items():
        server = ", ner.forward_server: true" if name.endswith("forward server") else ""
        table = Table(title=f"{name}: N workers sharing one {device}, {args.threads} torch thread(s) each")
        for column in ("workers", "tok/s", "docs/s", "x bare best", "CPU ms/doc", "PubMed h", "padded/token",
                       "requests/group"):  # fmt: skip
            table.add_column(column, justify="right")
        for n, r in counts.items():
            ran = r.get("server")
            table.add_row(str(n), f"{r['tokens_per_s']:,.0f}", f"{r['docs_per_s']:,.0f}", f"{r['over_best_bare']:.2f}",
                          f"{r['cpu_seconds'] / len(docs) * 1e3:.3f}",
                          f"{PUBMED_ABSTRACTS / r['docs_per_s'] / 3600:.2f}",
                          f"{ran['padded_per_token']:.3f}" if ran else "-",
                          f"{ran['requests_per_group']:.2f}" if ran else "-")  # fmt: skip
        Console().print(table)
        n = recommend(counts)
        print(f"{name}: {n} NER tasks per {device} ({counts[n]['over_best_bare']:.2f} x bare): "
              f"ner.gpu_amount_per_task: {1 / n:g}, spark.executor.cores >= {n}, spark.task.cpus=1, "
              f"spark.executor.resource.gpu.amount=1{server}")  # fmt: skip
    line = json.dumps({"docs": len(docs), "device": device, "precision": precision, "threads": args.threads,
                       "known_names": args.known_names, "results": results, "workers": many})  # fmt: skip
    print(line)
    if args.json:
        args.json.write_text(line + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
