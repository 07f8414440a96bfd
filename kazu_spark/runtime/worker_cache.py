"""The one per-worker cache, and a pandas map over a DataFrame with a large object broadcast once per job.

:func:`worker_cached` keeps what a Python worker built (the NER tagger, unpickled broadcasts) for its later
batches and tasks (``spark.python.worker.reuse``, on by default): the last few entries, in a module-level
dict, so a long-lived worker serving many jobs does not grow without bound. :func:`clear_worker_cache`
drops them all (the memory guard's release).

:func:`map_with_broadcast`: the object (a dictionary matcher, fuzzy indexes) is pickled on the driver and
broadcast, so its bytes travel to each executor once instead of inside every task; each Python worker
unpickles it once (through the cache). Spark Connect has no broadcast variables: there the bytes travel in
the function's closure (sent with each task; bounded by ``spark.connect.grpc.maxInboundMessageSize``).
Used by dictionary NER and fuzzy linking.

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
from pyspark.sql import DataFrame

from kazu_spark.runtime.connect import is_connect
from kazu_spark.runtime.memory_guard import guard_memory

T = TypeVar("T")
#: entries a worker keeps; the oldest is dropped first (a long-lived worker serves many jobs)
_KEEP = 4
#: per Python worker: key -> what was built for it, oldest first
_CACHE: dict[str, Any] = {}


def worker_cached(key: str, build: Callable[[], T]) -> T:
    """This worker's object for ``key``, from ``build()`` on first use; at most ``_KEEP`` entries are kept.

    Example:
        >>> clear_worker_cache()
        >>> worker_cached("answer", lambda: 42), worker_cached("answer", lambda: 0)
        (42, 42)
    """
    if key not in _CACHE:
        while len(_CACHE) >= _KEEP:
            del _CACHE[next(iter(_CACHE))]
        _CACHE[key] = build()
    return _CACHE[key]


def clear_worker_cache() -> None:
    """Drop everything this worker cached (the next use builds it again)."""
    _CACHE.clear()


def map_with_broadcast(
    frame: DataFrame,
    obj: T,
    fn: Callable[[T, pd.DataFrame], pd.DataFrame],
    schema: str,
    *,
    memory_limit_mb: float | None = None,
    whole_partitions: bool = False,
) -> DataFrame:
    """``frame.mapInPandas`` of ``fn(obj, batch)`` per Arrow batch; ``obj`` is broadcast once, unpickled once a worker.
    The worker memory guard (:mod:`kazu_spark.runtime.memory_guard`, ``memory_limit_mb``; None: off) checks
    between batches; what it may release is this cache (``obj`` is unpickled again on the next batch).
    ``whole_partitions``: ``fn`` gets each partition's batches concatenated, once (rows that must be seen
    together, such as a document's, are partitioned together first).

    Example: see the module docstring.
    """
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    key = hashlib.sha256(payload).hexdigest()
    if is_connect(frame.sparkSession):  # no broadcast variables: the bytes travel in the function's closure
        read = lambda: payload  # noqa: E731
    else:
        shipped = frame.sparkSession.sparkContext.broadcast(payload)
        read = lambda: shipped.value  # noqa: E731

    def map_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        guarded = guard_memory(batches, memory_limit_mb, release=clear_worker_cache)
        if whole_partitions:
            frames = list(guarded)
            guarded = iter([pd.concat(frames, ignore_index=True)] if frames else [])
        for batch in guarded:
            yield fn(worker_cached(f"broadcast-{key}", lambda: pickle.loads(read())), batch)

    return frame.mapInPandas(map_partition, schema)
