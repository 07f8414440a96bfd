"""A Delta commit that loses a race is redone, told by its error condition in both of the forms it arrives in:
a Spark Connect error, and classic Spark's py4j error around the Java exception (no delta-spark package)."""

from __future__ import annotations

import pytest
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException

from kazu_spark.lakehouse import delta
from kazu_spark.lakehouse.delta import with_retry


class ConnectError(PySparkException):
    """What a Spark Connect client raises: the server's error condition on the exception itself."""

    def __init__(self, condition: str) -> None:
        super().__init__(f"[{condition}] failed")
        self.condition = condition

    def getCondition(self) -> str:
        return self.condition


class JavaException:
    """A Java exception as py4j holds it: a reference into the JVM, asked for its error condition."""

    _target_id = "o59"

    def __init__(self, condition: str | None) -> None:
        self.condition = condition

    def getCondition(self) -> str:
        if self.condition is None:
            raise RuntimeError("not a SparkThrowable")
        return self.condition


class ClassicError(Py4JJavaError):
    """What classic Spark raises for Delta's errors: py4j's Py4JJavaError, the Java exception attached."""

    def __init__(self, condition: str | None) -> None:
        super().__init__("An error occurred while calling o58.sql.\n", JavaException(condition))


def _commit_failing(*errors: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    def commit() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "committed"

    return calls, commit


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delta.time, "sleep", lambda seconds: None)


@pytest.mark.parametrize(
    "error",
    [
        ClassicError("DELTA_CONCURRENT_APPEND.WITHOUT_HINT"),
        ConnectError("DELTA_CONCURRENT_DELETE_READ.WITH_PARTITION_HINT"),
    ],
)
def test_a_lost_commit_race_is_redone(error: Exception) -> None:
    calls, commit = _commit_failing(error, error)
    assert with_retry(commit, "merge") == "committed"
    assert len(calls) == 3


@pytest.mark.parametrize(
    "error", [ClassicError("DELTA_TABLE_NOT_FOUND"), ClassicError(None), ConnectError("PARSE_SYNTAX_ERROR"), KeyError()]
)
def test_any_other_error_is_raised_at_once(error: Exception) -> None:
    calls, commit = _commit_failing(error)
    with pytest.raises(type(error)):
        with_retry(commit, "merge")
    assert len(calls) == 1


def test_a_conflict_on_every_try_is_raised_after_the_last() -> None:
    calls, commit = _commit_failing(*[ClassicError("DELTA_METADATA_CHANGED")] * 3)
    with pytest.raises(ClassicError):
        with_retry(commit, "merge", retries=3)
    assert len(calls) == 3
