"""Small increments: wall time of ``kazu-spark annotate`` adding N new documents to an existing lakehouse,
with each stage's seconds and Spark job count.

Scheduled ETL on a data lake mostly sees small increments, where a Spark job's fixed costs (JVM start,
Delta table checks, one Spark job per action) dominate. This runs the installed CLI exactly as a user
does, JVM start included, on a copy of a base lakehouse (the bundled 120-abstract sample annotated with
the default configuration, built once under ``--work`` and reused), adding ``--docs`` abstracts of the
shared corpus that the sample does not hold. Per stage it prints the seconds the job logged
(``stage X took``) and the Spark jobs submitted in that window, read from Spark's event log; jobs outside
every stage (table checks, the ``runs`` row) are ``other``, and ``start-up`` is the time from the process
start to the first stage. ``--runs R`` repeats the increment on fresh copies, each at one path as a
scheduled job's lakehouse is, and prints every run: the first pays for cold file caches and collects the
ontology terms for the driver's copy (``linking/driver_terms.py``: cached per table commit, which the copies
share), the later ones read that copy back. Goal (issue 21): <= 25 s wall on 2 cores, JVM start included.

    PYTHONPATH=$PWD .venv/bin/python bench/increment.py --docs 10 --runs 3
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kazu_spark.runtime.precision import cpu_description

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "kazu_spark" / "resources" / "sample" / "abstracts.jsonl"
CORPUS = REPO.parent / "shared" / "data" / "corpus" / "abstracts.jsonl.gz"
CLI = Path(sys.executable).with_name("kazu-spark")
STAGE_SUFFIX = " took "


def new_documents(n: int, out: Path) -> None:
    """The first ``n`` corpus abstracts whose PMID the sample does not hold, as JSONL."""
    sample_ids = {json.loads(line)["pmid"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()}
    rows = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as corpus:
        for line in corpus:
            if json.loads(line)["pmid"] not in sample_ids:
                rows.append(line)
            if len(rows) == n:
                break
    out.write_text("".join(rows), encoding="utf-8")


def run_cli(args: list[str], events: Path, log: Path, spark_conf: dict[str, str]) -> float:
    """Run ``kazu-spark`` with Spark's event log on (and ``spark_conf``); returns its wall seconds. Fails loudly
    on a failed run."""
    events.mkdir(parents=True, exist_ok=True)
    logging = {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": events.as_uri(),
        "spark.eventLog.compress": "false",
    }
    conf = json.dumps(spark_conf | logging)
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(CLI), *args, "--set", f"spark.conf={conf}"],
        stdout=subprocess.DEVNULL, stderr=log.open("w"), env=os.environ | {"PYSPARK_PYTHON": sys.executable},
    )  # fmt: skip
    wall = time.perf_counter() - t0
    if done.returncode:
        sys.exit(f"kazu-spark {' '.join(args)} failed ({done.returncode}): see {log}")
    return wall


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


def stage_windows(log: Path) -> list[tuple[str, float, float]]:
    """(stage, start, end) in epoch seconds, from the JSON log's ``stage X took Ys`` lines."""
    windows = []
    for line in log.read_text(encoding="utf-8").splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        msg = record.get("msg", "")
        if msg.startswith("stage ") and STAGE_SUFFIX in msg:
            name, seconds = msg[len("stage ") :].rsplit(STAGE_SUFFIX, 1)
            end = _epoch(record["ts"])
            windows.append((name, end - float(seconds.rstrip("s")), end))
    return windows


def job_times(events: Path) -> list[float]:
    """Submission times (epoch seconds) of every Spark job in the event log folder's one application."""
    times = []
    for path in events.rglob("events_*"):  # Spark 4 writes eventlog_v2_<app>/events_<n>_<app>
        for line in path.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if event.get("Event") == "SparkListenerJobStart":
                times.append(event["Submission Time"] / 1000)
    return times


def breakdown(log: Path, events: Path, started: float) -> tuple[dict[str, float], Counter]:
    """Seconds and Spark jobs per stage; ``start-up`` (process start to the first stage) and ``other``."""
    windows = stage_windows(log)
    seconds = {"start-up": windows[0][1] - started if windows else 0.0} | {n: e - s for n, s, e in windows}
    jobs: Counter = Counter()
    for t in job_times(events):
        jobs[next((n for n, s, e in windows if s <= t <= e), "other")] += 1
    return seconds, jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10, help="new documents per increment")
    parser.add_argument("--runs", type=int, default=1, help="increments, each on a fresh copy of the base")
    parser.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark setting")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "bench-increment", help="base lakehouse cache")
    args = parser.parse_args()
    spark_conf = dict(item.split("=", 1) for item in args.spark_conf)
    console = Console()
    base = args.work / "base"
    if not (base / "documents").is_dir():
        console.print(f"building the base lakehouse (the bundled sample) in {base} ...")
        run_cli(["annotate", "--lakehouse", str(base)], args.work / "base-events", args.work / "base.log", {})
    docs = args.work / f"new-{args.docs}.jsonl"
    new_documents(args.docs, docs)
    table = Table(title=f"annotate adding {args.docs} documents to a copy of the sample lakehouse (120 documents)")
    table.add_column("stage")
    rows, stages = [], []
    for run in range(1, args.runs + 1):
        lake = args.work / "lh"  # one path: the lakehouse of a scheduled job
        events, log = (args.work / f"run-{run}-{kind}" for kind in ("events", "log"))
        for path in (lake, events):
            shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(base, lake)
        started = time.time()
        wall = run_cli(["annotate", "--input", str(docs), "--lakehouse", str(lake)], events, log, spark_conf)
        seconds, jobs = breakdown(log, events, started)
        stages += [s for s in [*seconds, "other"] if s not in stages]
        rows.append((run, wall, seconds, jobs))
    for run, *_ in rows:
        table.add_column(f"run {run}: s (Spark jobs)", justify="right")
    for stage in stages:
        table.add_row(
            stage, *(f"{s[stage]:.1f} ({j[stage]})" if stage in s else f"- ({j[stage]})" for *_, s, j in rows)
        )
    table.add_row("wall, JVM start included", *(f"{wall:.1f} ({sum(j.values())})" for _, wall, _, j in rows))
    console.print(table)
    console.print(f"CPU: {cpu_description()}; load average {os.getloadavg()[0]:.1f}")
    runs = [{"wall_s": round(w, 2), "stages_s": {k: round(v, 2) for k, v in s.items()}, "jobs": dict(j)}
            for _, w, s, j in rows]  # fmt: skip
    print(json.dumps({"docs": args.docs, "runs": runs}))


if __name__ == "__main__":
    main()
