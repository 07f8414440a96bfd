"""Run a pandas function over a DataFrame with a large Python object pickled and broadcast once per job.

The object (a dictionary matcher, fuzzy indexes) is pickled on the driver and broadcast, so its bytes
travel to each executor once instead of inside every task; each task unpickles it once, before its
first batch. Used by dictionary NER and fuzzy linking.

Example (needs a SparkSession):
    >>> df = spark.createDataFrame([("a",), ("b",)], "key string")  # doctest: +SKIP
    >>> lookup = {"a": 1, "b": 2}
    >>> add = lambda table, batch: batch.assign(value=batch["key"].map(table))
    >>> map_with_broadcast(df, lookup, add, "key string, value long").collect()  # doctest: +SKIP
    [Row(key='a', value=1), Row(key='b', value=2)]
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from typing import TypeVar

import pandas as pd
from pyspark.sql import DataFrame

T = TypeVar("T")


def map_with_broadcast(
    frame: DataFrame, obj: T, fn: Callable[[T, pd.DataFrame], pd.DataFrame], schema: str
) -> DataFrame:
    """``frame.mapInPandas`` of ``fn(obj, batch)`` per Arrow batch; ``obj`` is broadcast once, unpickled once a task.

    Example: see the module docstring.
    """
    shipped = frame.sparkSession.sparkContext.broadcast(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))

    def map_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        unpickled = pickle.loads(shipped.value)
        for batch in batches:
            yield fn(unpickled, batch)

    return frame.mapInPandas(map_partition, schema)
