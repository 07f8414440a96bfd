"""NER throughput benchmark (not a test): bare model forward vs our Spark NER stage vs a Hugging Face pipeline.

One run, three measurements over the same documents with the same TinyBERN2-shaped model (BERT, 4 layers,
hidden 312, 12 heads, intermediate 1200, 13 BIO labels, random weights, the bundled model's WordPiece
tokenizer):

(i)   bare: ``model(**batch).logits`` over the documents' pre-tokenised windows, batched exactly as the
      stage batches them (length-sorted, token budget), same precision, torch threads = Spark cores;
(ii)  spark: the job's composition ``annotate_frames`` with the default ``ner`` settings (linking off) on
      ``local[CORES]``, documents read from a Parquet file as the job reads its input, the entities
      materialised as the job does (``localCheckpoint``; Spark start-up excluded; the scan, broadcast,
      model load, tokenisation, windows, forward, decoding and entity rows included);
(iii) hf: ``pipeline("token-classification", aggregation_strategy="simple")`` in fp32, one call per document
      (``--hf-docs M`` runs it on the first M documents and reports per-document rates, which scale).

Tokens are the documents' WordPiece sub-tokens (title and body tokenised separately, no special tokens), the
same count for all three. Each row runs in a fresh child process, so no row inherits another's memory or
warm caches; its peak memory is the largest summed PSS (and RSS) of that child and all its descendants (for (ii):
the Python driver, the Spark JVM and its Python workers), polled every 0.2 s. Prints a rich table and
one JSON line.

Run:  PYTHONPATH=$PWD .venv/bin/python bench/ner_throughput.py --docs 20000 --hf-docs 500
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql.pandas.types import to_arrow_schema
from rich.console import Console
from rich.table import Table

from kazu_spark.config import load_config
from kazu_spark.documents.ingest import ingest_row
from kazu_spark.ner.labels import BIO_LABELS
from kazu_spark.paths import resolve_path
from kazu_spark.schemas import NER_INPUT

# torch and transformers are imported inside the rows that use them: the (ii) child is a Spark driver,
# which in the product never imports torch (~0.75 GiB resident), so its measured tree must not either.

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "corpus" / "abstracts.jsonl.gz"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
#: the documents table's columns the NER stage reads, as Arrow types (the input file of (ii))
DOC_SCHEMA = to_arrow_schema(NER_INPUT)
DRIVER_MEMORY = "512m"
MODEL, DOCS = "tinybern2", "docs.parquet"
console = Console()


def build_tinybern2(out: Path) -> Path:
    """A TinyBERN2-shaped token classifier with random weights and the bundled model's tokenizer.

    The classifier's bias is -1 so that, like a trained model, it tags a few percent of the sub-tokens.
    """
    import torch
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(0)
    config = BertConfig(
        hidden_size=312, num_hidden_layers=4, num_attention_heads=12, intermediate_size=1200,
        num_labels=len(BIO_LABELS), id2label=dict(enumerate(BIO_LABELS)),
        label2id={label: i for i, label in enumerate(BIO_LABELS)},
    )  # fmt: skip
    model = BertForTokenClassification(config)
    with torch.no_grad():  # random logits near 0 would fire every tag on half the tokens: far more spans to
        model.classifier.bias.fill_(-1.0)  # decode than a trained model finds; -1 gives ~5-10 spans per abstract
    model.save_pretrained(out)
    bundled = Path(resolve_path(load_config().ner.model))
    for name in TOKENIZER_FILES:
        shutil.copy(bundled / name, out / name)
    (out / "labels.txt").write_text("\n".join(BIO_LABELS) + "\n", encoding="utf-8")
    return out


def load_documents(corpus: Path, n: int) -> list[dict]:
    """``n`` documents (ingested like the pipeline does): the corpus repeated, each copy with distinct doc ids."""
    with gzip.open(corpus, "rt", encoding="utf-8") as fh:
        raw = [json.loads(line) for line in fh]
    docs: list[dict] = []
    while len(docs) < n:
        copy = len(docs) // len(raw)
        for row in raw[: n - len(docs)]:
            doc = ingest_row({"source_id": f"{row['pmid']}-{copy}", "title": row.get("title"),
                              "text": row.get("abstract"), "source": "bench"})  # fmt: skip
            if isinstance(doc, dict):
                docs.append(doc)
    return docs


def section_texts(doc: dict) -> list[str]:
    return [doc["text"][s["start"] : s["end"]] for s in doc["sections"]]


def _role(proc: psutil.Process, root: psutil.Process) -> str:
    """A short name for a process of a row's tree: the row's own process, the JVM, python worker/daemon."""
    if proc.pid == root.pid:
        return "row process (driver)"
    cmd = " ".join(proc.cmdline())
    if "java" in proc.name():
        return "spark jvm"
    return "pyspark worker" if "pyspark" in cmd else proc.name()


class PeakMemory:
    """Polls a process and all its descendants: peak summed PSS and RSS, and who held what at the PSS peak.

    PSS (proportional set size) charges each shared page to the processes mapping it in equal parts, so
    the summed PSS is the physical memory the tree uses. Summed RSS counts a shared page once per process
    (torch's ~0.4 GiB of shared libraries in every Python worker) and overstates it; both are reported.
    """

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.peak = {"pss": 0, "rss": 0}
        self.breakdown: list[tuple[str, int]] = []  # (process role, PSS) at the PSS peak
        self._root = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, args=(interval,), daemon=True)
        self._thread.start()

    def _poll(self, interval: float) -> None:
        while not self._stop.is_set():
            sizes: list[tuple[str, int, int]] = []
            with contextlib.suppress(psutil.Error):  # the root exited
                for proc in (self._root, *self._root.children(recursive=True)):
                    with contextlib.suppress(psutil.Error):  # a worker that exited between listing and reading
                        info = proc.memory_full_info()
                        sizes.append((_role(proc, self._root), info.pss, info.rss))
            pss, rss = sum(s[1] for s in sizes), sum(s[2] for s in sizes)
            if pss > self.peak["pss"]:
                self.breakdown = sorted(((role, p) for role, p, _ in sizes), key=lambda item: -item[1])
            self.peak = {"pss": max(self.peak["pss"], pss), "rss": max(self.peak["rss"], rss)}
            self._stop.wait(interval)

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join()
        return self.peak


def progress(label: str, done: int, total: int, start: float) -> None:
    elapsed = time.perf_counter() - start
    left = f"~{elapsed / done * (total - done):,.0f} s left" if done else "time left unknown yet"
    console.print(f"  {label}: {done:,}/{total:,} after {elapsed:,.0f} s, {left}", highlight=False)


def bare_forward(workdir: Path, cores: int, overrides: dict[str, str]) -> float:
    """Seconds for the bare forward over the documents' windows (tokenising and padding done before, not timed)."""
    import torch

    from kazu_spark.ner.batching import pad_ids, plan_batches
    from kazu_spark.ner.tagger import DEFAULT_BATCH_TOKENS, Tagger, resolve_precision
    from kazu_spark.ner.windows import make_windows_batch

    ner = load_config(overrides={"ner.model": str(workdir / MODEL), **overrides}).ner
    tagger = Tagger.from_dir(workdir / MODEL, precision=resolve_precision("cpu", ner.precision), num_threads=cores)
    texts = [t for d in read_documents(workdir) for t in section_texts(d)]
    windows = [  # tokenised in chunks of a NER batch's size: one call over 40,000 texts holds GiBs of encodings
        w.input_ids
        for start in range(0, len(texts), 2 * ner.arrow_batch_rows)
        for doc in make_windows_batch(
            texts[start : start + 2 * ner.arrow_batch_rows], tagger.tokenizer, window=ner.window, stride=ner.stride
        )
        for w in doc.windows
    ]
    batches = plan_batches([len(w) for w in windows], ner.max_batch_tokens or DEFAULT_BATCH_TOKENS["cpu"])
    padded = [pad_ids([windows[i] for i in b], tagger.tokenizer.pad_token_id) for b in batches]
    start = time.perf_counter()
    with torch.inference_mode():
        for k, inputs in enumerate(padded, 1):
            tagger.model(**inputs).logits.float()
            if k % max(1, len(padded) // 5) == 0:
                progress("bare batches", k, len(padded), start)
    return time.perf_counter() - start


def spark_stage(workdir: Path, cores: int, overrides: dict[str, str]) -> float:
    """Seconds for the job's composition, NER only, over the documents' Parquet file (entities materialised).

    The input is scanned, not cached: a cache would park every document in the driver JVM (0.4 GiB for
    20,000 abstracts), which the job, reading its input table, never does.
    """
    from kazu_spark.pipeline.frames import annotate_frames
    from kazu_spark.runtime.session import build_session

    spark = build_session(
        "kazu-spark-bench",
        master=f"local[{cores}]",  # the 4 GiB default heap only grows RSS
        extra_conf={"spark.ui.enabled": "false", "spark.driver.memory": DRIVER_MEMORY},
    )
    documents = spark.read.parquet(str(workdir / DOCS))
    cfg = load_config(overrides={"ner.model": str(workdir / MODEL), "linking.enabled": "false", **overrides})
    tracker, done = spark.sparkContext.statusTracker(), threading.Event()

    def report(start: float) -> None:
        while not done.wait(30):
            for stage in map(tracker.getStageInfo, tracker.getActiveStageIds()):
                if stage and stage.numTasks > 1:
                    progress(f"spark stage {stage.stageId} tasks", stage.numCompletedTasks, stage.numTasks, start)

    start = time.perf_counter()
    threading.Thread(target=report, args=(start,), daemon=True).start()
    annotate_frames(documents, cfg)  # runs NER once: the entities are materialised (localCheckpoint)
    seconds = time.perf_counter() - start
    done.set()
    spark.stop()
    return seconds


def hf_pipeline(workdir: Path, cores: int, overrides: dict[str, str], limit: int | None) -> float:
    """Seconds for the HF token-classification pipeline (fp32, aggregation "simple"), one call per document."""
    import torch
    from transformers import pipeline

    torch.set_num_threads(cores)
    docs = read_documents(workdir)[:limit]
    tagger = pipeline("token-classification", model=str(workdir / MODEL), aggregation_strategy="simple", device=-1)
    start = time.perf_counter()
    for k, doc in enumerate(docs, 1):
        tagger(doc["text"], stride=32)  # long documents in overlapping 512-token windows, none truncated
        if k % max(1, len(docs) // 5) == 0:
            progress("hf documents", k, len(docs), start)
    return time.perf_counter() - start


ROWS = {"(i) bare forward": "bare", "(ii) spark stage": "spark", "(iii) hf pipeline": "hf"}
#: (summary key, the row (ii) is divided by, target)
RATIOS = (("spark_over_bare", "(i) bare forward", 0.7), ("spark_over_hf", "(iii) hf pipeline", 3))


def run_row(name: str, args: argparse.Namespace, workdir: Path) -> tuple[float, PeakMemory]:
    """Run one row in a child process (``--row``); its seconds, and the peak PSS and RSS of its process tree."""
    console.print(f"[bold]{name}[/bold] ...")
    command = [sys.executable, __file__, "--row", ROWS[name], "--workdir", str(workdir), "--cores", str(args.cores)]
    command += [f"--set={item}" for item in args.set] + ([f"--hf-docs={args.hf_docs}"] if args.hf_docs else [])
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    memory = PeakMemory(child.pid)
    out, _ = child.communicate()
    memory.stop()
    if child.returncode:
        raise SystemExit(f"{name} failed with exit code {child.returncode}")
    seconds = float(out.strip().splitlines()[-1])
    gib = {kind: size / 2**30 for kind, size in memory.peak.items()}
    console.print(
        f"  {name}: {seconds:,.1f} s, peak of its process tree: PSS {gib['pss']:.2f} GiB, RSS {gib['rss']:.2f} GiB"
    )
    return seconds, memory


def rows(results: dict[str, dict]) -> Iterator[list[str]]:
    for name, r in results.items():
        yield [name, f"{r['docs']:,}", f"{r['seconds']:,.1f}", f"{r['tokens_per_s']:,.0f}", f"{r['docs_per_s']:,.1f}",
               f"{r['peak_pss_gib']:.2f}", f"{r['peak_rss_gib']:.2f}"]  # fmt: skip


def write_documents(docs: list[dict], path: Path) -> None:
    """The documents as one Parquet file with the pipeline's document columns (the input of (ii))."""
    columns = {name: [d[name] for d in docs] for name in DOC_SCHEMA.names}
    pq.write_table(pa.table(columns, schema=DOC_SCHEMA), path)


def read_documents(workdir: Path) -> list[dict]:
    return pq.read_table(workdir / DOCS).to_pylist()


def child_main(args: argparse.Namespace, overrides: dict[str, str]) -> None:
    """``--row``: run one row and print its seconds as the last line of stdout (progress goes to stderr)."""
    console.stderr = True
    run = {
        "bare": lambda: bare_forward(args.workdir, args.cores, overrides),
        "spark": lambda: spark_stage(args.workdir, args.cores, overrides),
        "hf": lambda: hf_pipeline(args.workdir, args.cores, overrides, args.hf_docs),
    }[args.row]
    print(run(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=20_000, help="documents (the shared corpus repeated)")
    parser.add_argument("--hf-docs", type=int, default=None, help="run (iii) on the first M documents only")
    parser.add_argument("--cores", type=int, default=2, help="Spark local[N]; torch threads of (i) and (iii)")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="ner config override")
    parser.add_argument(
        "--rows", default="bare,spark,hf", help="rows to run (ratios need their rows), e.g. spark for memory alone"
    )
    parser.add_argument("--row", choices=sorted(ROWS.values()), help=argparse.SUPPRESS)  # internal: one row
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    if args.row:
        child_main(args, overrides)
        return

    from transformers import PreTrainedTokenizerFast

    from kazu_spark.ner.tagger import DEFAULT_BATCH_TOKENS, resolve_precision

    workdir = Path(tempfile.mkdtemp(prefix="kazu-spark-bench-"))
    model_dir = build_tinybern2(workdir / MODEL)
    docs = load_documents(args.corpus, args.docs)
    write_documents(docs, workdir / DOCS)
    hf_docs = docs[: args.hf_docs] if args.hf_docs else docs
    ner = load_config(overrides={"ner.model": str(model_dir), **overrides}).ner
    precision = resolve_precision("cpu", ner.precision)
    budget = ner.max_batch_tokens or DEFAULT_BATCH_TOKENS["cpu"]
    tokenizer = PreTrainedTokenizerFast.from_pretrained(model_dir)
    texts = [t for d in docs for t in section_texts(d)]
    counts = [len(ids) for ids in tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]]
    tokens = sum(counts)
    hf_tokens = sum(counts[: sum(len(d["sections"]) for d in hf_docs)])
    console.print(
        f"{len(docs):,} documents, {tokens:,} sub-tokens; precision {precision}, max_batch_tokens {budget}, "
        f"local[{args.cores}]; (iii) on {len(hf_docs):,} documents"
    )
    wanted = set(args.rows.split(","))
    measured = {name: run_row(name, args, workdir) for name, row in ROWS.items() if row in wanted}
    shutil.rmtree(workdir, ignore_errors=True)
    sizes = {"bare": (len(docs), tokens), "spark": (len(docs), tokens), "hf": (len(hf_docs), hf_tokens)}
    results = {}
    for name, (secs, memory) in measured.items():
        n_docs, n_tokens = sizes[ROWS[name]]
        results[name] = {
            "docs": n_docs, "seconds": secs, "tokens_per_s": n_tokens / secs, "docs_per_s": n_docs / secs,
            "peak_pss_gib": memory.peak["pss"] / 2**30, "peak_rss_gib": memory.peak["rss"] / 2**30,
            "peak_breakdown_pss_gib": [(role, pss / 2**30) for role, pss in memory.breakdown],
        }  # fmt: skip
    table = Table(title=f"NER throughput, {len(docs):,} abstracts, local[{args.cores}], {precision}")
    for column in ("run", "docs", "seconds", "tokens/s", "docs/s", "peak PSS GiB", "peak RSS GiB"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for row in rows(results):
        table.add_row(*row)
    console.print(table)
    ratios = {}
    spark = results.get("(ii) spark stage")
    if spark is not None:
        for key, other, target in RATIOS:
            if other in results:
                ratios[key] = spark["tokens_per_s"] / results[other]["tokens_per_s"]
                console.print(f"(ii)/{other.split()[0]} = {ratios[key]:.2f} (target >= {target})", highlight=False)
        console.print(
            f"peak memory (PSS) of (ii)'s process tree = {spark['peak_pss_gib']:.2f} GiB (target <= 3); at its peak: "
            + ", ".join(f"{role} {gib:.2f} GiB" for role, gib in spark["peak_breakdown_pss_gib"]),
            highlight=False,
        )
    if args.hf_docs and "(iii) hf pipeline" in results:
        console.print(f"(iii) ran on {len(hf_docs):,} of {len(docs):,} documents, rates per document", highlight=False)
    summary = {
        "docs": len(docs), "tokens": tokens, "hf_docs": len(hf_docs), "cores": args.cores, "precision": precision,
        "max_batch_tokens": budget, "overrides": overrides, "results": results, **ratios,
    }  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
