"""Shared fixtures: one local Delta-enabled SparkSession for the whole test run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from kazu_spark.session import build_session


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """A local[2] SparkSession with Delta Lake, small shuffles and the project's interpreter on workers."""
    session = build_session(
        "kazu-spark-tests",
        master="local[2]",
        extra_conf={"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"},
    )
    yield session
    session.stop()
