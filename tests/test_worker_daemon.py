"""A local session's Python workers fork from kazu-spark's daemon, which imported torch before forking.

That is what shares the ~1 GiB of torch and transformers between workers and lets a new worker (after a
crash or a memory-guard exit) start at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from kazu_spark.runtime import worker_daemon

pytestmark = pytest.mark.spark


def test_local_workers_fork_from_the_preloading_daemon(spark: SparkSession) -> None:
    def probe(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:  # a closure: pickled by value
        import os
        import sys

        import psutil

        parent = psutil.Process(os.getppid()).cmdline()
        for _ in batches:
            yield pd.DataFrame({"parent": [" ".join(parent[1:3])], "torch_loaded": ["torch" in sys.modules]})

    assert spark.conf.get("spark.python.daemon.module") == worker_daemon.__name__
    rows = spark.range(4, numPartitions=2).mapInPandas(probe, "parent string, torch_loaded boolean").collect()
    assert [(r.parent, r.torch_loaded) for r in rows] == [(f"-m {worker_daemon.__name__}", True)] * 2
