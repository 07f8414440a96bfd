"""A live progress bar for the NER stage: documents done/total, documents per second and ETA.

Spark's status tracker reports tasks, not documents; :func:`track_documents` runs the NER job in a job
group and a background thread polls that group's last stage (the result stage of the job, where the
tagger runs) for ``numCompletedTasks`` / ``numTasks``. :func:`documents_progress` maps those counts to
documents (documents are hash-partitioned by ``doc_id``, so each task holds about ``total / numTasks``)
and derives the rate and ETA. The bar is drawn with ``rich.progress`` on stderr, by default only when
stderr is a terminal (``progress: auto``), so logs of scheduled jobs stay free of it.

Example:
    >>> documents_progress(completed_tasks=3, total_tasks=4, documents=1000, elapsed_seconds=10.0)
    DocumentsProgress(done=750, total=1000, rate=75.0, eta_seconds=3.3333333333333335)
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from pyspark.sql import SparkSession
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

ProgressMode = Literal["auto", "on", "off"]


@dataclass(frozen=True)
class DocumentsProgress:
    """Documents done of ``total``, documents per second so far, and seconds left (None before any rate)."""

    done: int
    total: int
    rate: float
    eta_seconds: float | None


def documents_progress(
    completed_tasks: int, total_tasks: int, documents: int, elapsed_seconds: float
) -> DocumentsProgress:
    """Map a stage's task counts to documents done, documents/s and ETA.

    Example:
        >>> documents_progress(0, 0, 50, 2.0)
        DocumentsProgress(done=0, total=50, rate=0.0, eta_seconds=None)
        >>> documents_progress(4, 4, 50, 5.0).eta_seconds
        0.0
    """
    done = min(documents, round(documents * completed_tasks / total_tasks)) if total_tasks else 0
    rate = done / elapsed_seconds if elapsed_seconds > 0 else 0.0
    eta = (documents - done) / rate if rate > 0 else None
    return DocumentsProgress(done, documents, rate, eta)


def progress_enabled(mode: ProgressMode, stream: object = None) -> bool:
    """``on``/``off`` as given; ``auto`` draws the bar only when ``stream`` (stderr) is a terminal."""
    if mode != "auto":
        return mode == "on"
    isatty = getattr(stream if stream is not None else sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def group_task_counts(spark: SparkSession, group: str) -> tuple[int, int]:
    """(completed, total) tasks of the last stage of the job group's latest job; (0, 0) before it starts."""
    tracker = spark.sparkContext.statusTracker()
    jobs = [tracker.getJobInfo(j) for j in tracker.getJobIdsForGroup(group)]
    stages = sorted((s for job in jobs if job is not None for s in job.stageIds), reverse=True)
    info = tracker.getStageInfo(stages[0]) if stages else None
    return (info.numCompletedTasks, info.numTasks) if info is not None else (0, 0)


def _render(progress: Progress, task: int, point: DocumentsProgress) -> None:
    eta = "-" if point.eta_seconds is None else time.strftime("%H:%M:%S", time.gmtime(point.eta_seconds))
    progress.update(task, completed=point.done, rate=f"{point.rate:.1f}", eta=eta)
    progress.refresh()


def _feed(
    poll: Callable[[], tuple[int, int]], documents: int, progress: Progress, stop: threading.Event, interval: float
) -> None:
    task = progress.add_task("NER", total=documents, rate="0.0", eta="-")
    started = time.monotonic()
    while not stop.wait(interval):
        _render(progress, task, documents_progress(*poll(), documents, time.monotonic() - started))
    _render(progress, task, documents_progress(*poll(), documents, time.monotonic() - started))


@contextmanager
def track_documents(
    spark: SparkSession,
    documents: int,
    mode: ProgressMode = "auto",
    *,
    console: Console | None = None,
    interval: float = 0.5,
) -> Iterator[None]:
    """Run the enclosed Spark actions in a job group and show their progress in documents, if enabled."""
    console = console or Console(stderr=True)
    if not progress_enabled(mode, console.file):
        yield
        return
    group = f"kazu-spark-ner-{uuid.uuid4().hex[:8]}"
    context = spark.sparkContext
    context.setJobGroup(group, "kazu-spark NER", interruptOnCancel=False)
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} documents · {task.fields[rate]} docs/s · ETA {task.fields[eta]}"),
    )  # fmt: skip
    stop = threading.Event()
    with Progress(*columns, console=console, auto_refresh=False) as progress:  # redrawn by the feeder only
        feeder = threading.Thread(
            target=_feed, args=(lambda: group_task_counts(spark, group), documents, progress, stop, interval)
        )
        feeder.daemon = True
        feeder.start()
        try:
            yield
        finally:
            stop.set()
            feeder.join()
            context.setLocalProperty("spark.jobGroup.id", None)
            context.setLocalProperty("spark.job.description", None)
