"""Run a pandas function over a DataFrame with a large Python object pickled and broadcast once per job.

The object (a dictionary matcher, fuzzy indexes) is pickled on the driver and broadcast, so its bytes
travel to each executor once instead of inside every task; each Python worker unpickles it once and
keeps it for its later tasks (``spark.python.worker.reuse``, on by default) in a module-level cache of
the last few broadcasts. Used by dictionary NER and fuzzy linking.

Example (needs a SparkSession):
    >>> df = spark.createDataFrame([("a",), ("b",)], "key string")  # doctest: +SKIP
    >>> lookup = {"a": 1, "b": 2}
    >>> add = lambda table, batch: batch.assign(value=batch["key"].map(table))
    >>> map_with_broadcast(df, lookup, add, "key string, value long").collect()  # doctest: +SKIP
    [Row(key='a', value=1), Row(key='b', value=2)]
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pandas as pd
from pyspark.broadcast import Broadcast
from pyspark.sql import DataFrame

T = TypeVar("T")
#: broadcasts a worker keeps unpickled; older ones are dropped (a long-lived worker serves many jobs)
_KEEP = 4
#: per Python worker: sha256 of the pickled bytes -> unpickled object, oldest first
_UNPICKLED: dict[str, Any] = {}


def _unpickled(key: str, shipped: Broadcast) -> Any:
    """The broadcast's object, unpickled on this worker's first use; a module-level function so that the
    cache is this worker's module dict, not a copy shipped inside each task's closure."""
    if key not in _UNPICKLED:
        while len(_UNPICKLED) >= _KEEP:
            del _UNPICKLED[next(iter(_UNPICKLED))]
        _UNPICKLED[key] = pickle.loads(shipped.value)
    return _UNPICKLED[key]


def map_with_broadcast(
    frame: DataFrame, obj: T, fn: Callable[[T, pd.DataFrame], pd.DataFrame], schema: str
) -> DataFrame:
    """``frame.mapInPandas`` of ``fn(obj, batch)`` per Arrow batch; ``obj`` is broadcast once, unpickled once a worker.

    Example: see the module docstring.
    """
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    key = hashlib.sha256(payload).hexdigest()
    shipped = frame.sparkSession.sparkContext.broadcast(payload)

    def map_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        unpickled = _unpickled(key, shipped)
        for batch in batches:
            yield fn(unpickled, batch)

    return frame.mapInPandas(map_partition, schema)
