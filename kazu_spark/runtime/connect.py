"""Classic Spark or Spark Connect: what the job asks of a session, answered for both.

Spark Connect (Databricks serverless, shared/standard access-mode clusters, ``SPARK_REMOTE``) has no
``sparkContext``: no broadcast variables, no status tracker, no JVM gateway. The job's path uses DataFrame
and SQL APIs only; the few places that would use the context ask this module first.

Example:
    >>> is_connect(object())
    False
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pyspark.errors import PySparkException
from pyspark.sql import Column
from pyspark.sql.functions import pandas_udf
from pyspark.sql.utils import is_remote

try:  # classic Spark talks to its JVM through py4j; a Spark Connect client (pyspark-client) has no py4j
    from py4j.protocol import Py4JJavaError
except ImportError:
    JAVA_ERRORS: tuple[type[Exception], ...] = ()
else:
    JAVA_ERRORS = (Py4JJavaError,)

#: what a failed Spark call raises: pyspark's errors, and (classic Spark) py4j's for Java errors pyspark has
#: no class for, which carry the Java exception as ``java_exception``
SPARK_ERRORS: tuple[type[Exception], ...] = (PySparkException, *JAVA_ERRORS)


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (the Java one for a py4j error), for one-line error messages.

    Example:
        >>> first_line(ValueError("no such path\\n  at ...")), first_line(ValueError())
        ('no such path', 'ValueError')
    """
    message = str(exc.java_exception if isinstance(exc, JAVA_ERRORS) else exc).strip()  # type: ignore[attr-defined]
    return message.splitlines()[0] if message else type(exc).__name__


def is_connect(spark: Any) -> bool:
    """Whether ``spark`` is a Spark Connect session (``pyspark.sql.connect``), not a classic one."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def default_parallelism(spark: Any) -> int:
    """Tasks a stage over the whole cluster should have: the context's ``defaultParallelism`` in classic
    Spark; through Spark Connect (no context) ``spark.default.parallelism`` if set, else
    ``spark.sql.shuffle.partitions``."""
    if not is_connect(spark):
        return spark.sparkContext.defaultParallelism
    value = spark.conf.get("spark.default.parallelism", None) or spark.conf.get("spark.sql.shuffle.partitions")
    return int(value)


def session_pandas_udf(return_type: Any) -> Callable[[Callable[..., Any]], Callable[..., Column]]:
    """Like ``@pandas_udf(return_type)`` for a module-level function, but the UDF is made when first applied:
    ``pandas_udf`` picks a classic or a Spark Connect UDF when it is called, and a module imported before the
    session exists would otherwise hold a classic UDF that a Connect session cannot use.

    Example:
        >>> @session_pandas_udf("string")
        ... def upper(text):
        ...     return text.str.upper()
        >>> upper.__name__
        'upper'
    """

    def decorate(function: Callable[..., Any]) -> Callable[..., Column]:
        made: dict[bool, Any] = {}

        @functools.wraps(function)
        def apply(*columns: Any) -> Column:
            remote = is_remote()
            if remote not in made:
                made[remote] = pandas_udf(function, return_type)  # type: ignore[call-overload]
            return made[remote](*columns)

        return apply

    return decorate
