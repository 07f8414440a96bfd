"""PySpark's worker daemon, with torch and transformers imported once before it forks any worker.

Spark starts a daemon per executor (``python -m pyspark.daemon``) and forks a Python worker from it for
each task slot; stock workers import torch and transformers themselves (~1 GiB resident, seconds each).
Imported in the daemon, those pages are shared copy-on-write by every forked worker. ``gc.freeze()``
keeps the collector from touching (and so copying) the imported objects' pages in each worker.

Example (what an executor runs with ``spark.python.daemon.module=kazu_spark.runtime.worker_daemon``):
    $ python -m kazu_spark.runtime.worker_daemon  # doctest: +SKIP
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)


def preload() -> None:
    """Import torch and the transformers classes the tagger loads; on failure the workers import them lazily.

    The libraries, not ``kazu_spark.ner``: the runtime layer imports no stage (docs/layout.md), and the
    package's own modules are small next to the ~1 GiB these bring in.
    """
    try:
        import torch  # noqa: F401
        from transformers import AutoConfig, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerFast  # noqa: F401
    except Exception as exc:  # a broken import must not take every Python UDF down with the daemon
        print(f"kazu_spark.runtime.worker_daemon: preload failed, workers import lazily: {exc!r}", file=sys.stderr)
    gc.collect()
    gc.freeze()


def _passthrough(batches: Iterator[Any]) -> Iterator[Any]:
    return batches


def warm_workers(spark: Any) -> threading.Thread:
    """Start the Python worker daemon now, in a background job, while the driver reads its input and tables.

    The daemon's imports (:func:`preload`) take seconds and would otherwise fall on the run's first Python
    UDF; a small increment's whole run is a few tens of seconds. One task, so the other slots stay free for
    the driver's first jobs (the input sample, the table reads): a task per slot would hold them all for the
    seconds the daemon imports. A failure is logged and changes nothing: the first real task starts the
    daemon then. Returns the (daemon) thread.

    Example (needs a SparkSession):
        >>> warm_workers(spark).join()  # doctest: +SKIP
    """

    def run() -> None:
        try:
            spark.range(1, numPartitions=1).mapInPandas(_passthrough, "id long").collect()
        except Exception as exc:  # noqa: BLE001  (best effort: the run itself reports real failures)
            log.debug("warming the Python workers failed: %r", exc)

    thread = threading.Thread(target=run, name="kazu-spark-warm-workers", daemon=True)
    thread.start()
    return thread


if __name__ == "__main__":
    from pyspark.daemon import manager

    preload()
    manager()
