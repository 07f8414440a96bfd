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
import sys


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


if __name__ == "__main__":
    from pyspark.daemon import manager

    preload()
    manager()
