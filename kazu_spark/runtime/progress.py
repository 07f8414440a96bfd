"""A live progress bar for the NER stage: documents done/total, documents per second and ETA.

Spark's status tracker reports tasks, not documents; :func:`track_documents` runs the NER job in a job
group and a background thread polls that group's last stage (the result stage of the job, where the
tagger runs) for ``numCompletedTasks`` / ``numTasks``. Spark Connect has no status tracker; there a
progress handler keeps the latest stage's counts from the progress the server streams with each query.
:func:`documents_progress` maps those counts to
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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from pyspark.sql import SparkSession
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from kazu_spark.runtime.connect import is_connect

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


class LastStage:
    """A Spark Connect progress handler (``spark.registerProgressHandler``) keeping the (completed, total) tasks
    of the latest stage it was told about: the result stage, where the tagger runs.

    Example:
        >>> from types import SimpleNamespace as Stage
        >>> last = LastStage()
        >>> last([Stage(stage_id=1, num_completed_tasks=4, num_tasks=4),
        ...       Stage(stage_id=2, num_completed_tasks=1, num_tasks=8)], 0, "op", False)
        >>> last.counts
        (1, 8)
    """

    def __init__(self) -> None:
        self.counts = (0, 0)

    def __call__(self, stages: Iterable[Any] | None, inflight_tasks: int, operation_id: str | None, done: bool) -> None:
        latest = max(stages or (), key=lambda stage: stage.stage_id, default=None)
        if latest is not None:
            self.counts = (latest.num_completed_tasks, latest.num_tasks)


@contextmanager
def _connect_progress(spark: SparkSession) -> Iterator[Callable[[], tuple[int, int]]]:
    """Through Spark Connect (no status tracker): the counts the server reports with each query's progress."""
    last = LastStage()
    spark.registerProgressHandler(last)
    try:
        yield lambda: last.counts
    finally:
        spark.removeProgressHandler(last)


@contextmanager
def _job_group_progress(spark: SparkSession) -> Iterator[Callable[[], tuple[int, int]]]:
    """In classic Spark: the enclosed jobs run in a job group whose last stage the status tracker reports."""
    group = f"kazu-spark-ner-{uuid.uuid4().hex[:8]}"
    context = spark.sparkContext
    context.setJobGroup(group, "kazu-spark NER", interruptOnCancel=False)
    try:
        yield lambda: group_task_counts(spark, group)
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
        context.setLocalProperty("spark.job.description", None)


@contextmanager
def track_documents(
    spark: SparkSession,
    documents: int,
    mode: ProgressMode = "auto",
    *,
    console: Console | None = None,
    interval: float = 0.5,
) -> Iterator[None]:
    """Show the enclosed Spark actions' progress in documents, if enabled (classic Spark: through a job group
    and the status tracker; Spark Connect: through the progress the server reports)."""
    console = console or Console(stderr=True)
    if not progress_enabled(mode, console.file):
        yield
        return
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} documents · {task.fields[rate]} docs/s · ETA {task.fields[eta]}"),
    )  # fmt: skip
    stop = threading.Event()
    counts = _connect_progress if is_connect(spark) else _job_group_progress
    with counts(spark) as poll, Progress(*columns, console=console, auto_refresh=False) as progress:
        feeder = threading.Thread(target=_feed, args=(poll, documents, progress, stop, interval))
        feeder.daemon = True  # redrawn by the feeder only
        feeder.start()
        try:
            yield
        finally:
            stop.set()
            feeder.join()
