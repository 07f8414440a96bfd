"""The NER progress bar: task counts -> documents, rate and ETA; the feeder thread around a real Spark job."""

from __future__ import annotations

import io
import threading

import pytest
from rich.console import Console

from kazu_spark.runtime.progress import DocumentsProgress, documents_progress, progress_enabled, track_documents


def test_task_counts_map_to_documents_rate_and_eta() -> None:
    assert documents_progress(1, 4, 1000, 5.0) == DocumentsProgress(250, 1000, 50.0, 15.0)
    assert documents_progress(4, 4, 1000, 20.0) == DocumentsProgress(1000, 1000, 50.0, 0.0)
    assert documents_progress(0, 8, 1000, 3.0) == DocumentsProgress(0, 1000, 0.0, None)  # no rate yet: no ETA
    assert documents_progress(0, 0, 10, 0.0) == DocumentsProgress(0, 10, 0.0, None)  # stage not started
    assert documents_progress(2, 3, 7, 1.0).done == 5  # rounded, never above the total


def test_auto_shows_the_bar_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert progress_enabled("auto", Tty()) and not progress_enabled("auto", io.StringIO())
    assert progress_enabled("on", io.StringIO()) and not progress_enabled("off", Tty())


@pytest.mark.spark
def test_bar_follows_a_spark_job_and_its_thread_stops(spark) -> None:
    out = io.StringIO()
    threads = threading.active_count()
    with track_documents(spark, 40, "on", console=Console(file=out, width=120), interval=0.05):
        assert threading.active_count() == threads + 1
        assert spark.sparkContext.parallelize(range(40), 4).map(lambda x: x * 2).sum() == 1560
    assert threading.active_count() == threads
    assert spark.sparkContext.getLocalProperty("spark.jobGroup.id") is None  # later jobs are not tracked
    assert "40/40 documents" in out.getvalue()
    with track_documents(spark, 40, "auto", console=Console(file=io.StringIO())):  # not a terminal: no thread
        assert threading.active_count() == threads
