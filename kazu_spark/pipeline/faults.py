"""Fault injection for the reliability suite, reached only through :class:`FaultHooks` (off unless
``KAZU_SPARK_FAULTS`` is set: :func:`kazu_spark.pipeline.hooks.hooks_from_env` then returns it).

``KAZU_SPARK_FAULTS`` holds comma-separated ``name=value`` pairs, read on the driver when a job is
defined (so a fault travels to the executors inside the task closure, whatever their environment):

* ``kill_worker_after_docs=N``: a Python NER worker SIGKILLs itself once it has tagged N documents of
  its partition, on the task's first attempt only, so Spark's retry (``spark.task.maxFailures`` >= 2,
  or a ``local[N,F]`` master) finishes the job;
* ``kill_driver_after=STAGE``: the driver SIGKILLs itself right after the pipeline stage ``STAGE``
  (one of ``DRIVER_STAGES``), as a crashed or pre-empted driver would stop.

Never set it in production: it exists to prove that a lost worker or driver costs no document.

Example:
    >>> parse_faults("kill_worker_after_docs=3, kill_driver_after=entities")
    Faults(kill_worker_after_docs=3, kill_driver_after='entities')
    >>> parse_faults("") == Faults()
    True
    >>> parse_faults("kill_everything=1")
    Traceback (most recent call last):
    ...
    ValueError: KAZU_SPARK_FAULTS: unknown fault 'kill_everything'; known: kill_worker_after_docs, kill_driver_after
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from functools import partial

import pandas as pd

from kazu_spark.pipeline.hooks import Hooks
from kazu_spark.runtime.steps import PartitionWrapper

log = logging.getLogger(__name__)

#: the environment variable that turns fault injection on
ENV_VAR = "KAZU_SPARK_FAULTS"


#: pipeline points after which ``kill_driver_after`` can stop the driver, in the order annotate reaches them
DRIVER_STAGES: tuple[str, ...] = ("quarantine", "entities", "links", "documents")


@dataclass(frozen=True)
class Faults:
    """The faults to inject; the defaults inject none."""

    kill_worker_after_docs: int | None = None
    kill_driver_after: str | None = None


def parse_faults(spec: str) -> Faults:
    """Parse a ``KAZU_SPARK_FAULTS`` value; an unknown fault or stage is a ValueError, not silently ignored."""
    known = {f.name: f for f in fields(Faults)}
    values: dict[str, int | str] = {}
    for pair in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = pair.partition("=")
        if name not in known:
            raise ValueError(f"{ENV_VAR}: unknown fault {name!r}; known: {', '.join(known)}")
        values[name] = int(value) if name == "kill_worker_after_docs" else value
    faults = Faults(**values)  # type: ignore[arg-type]
    if faults.kill_driver_after not in (None, *DRIVER_STAGES):
        stage = faults.kill_driver_after
        raise ValueError(f"{ENV_VAR}: kill_driver_after must be one of {DRIVER_STAGES}, got {stage!r}")
    return faults


def _sigkill_self(why: str) -> None:
    log.warning("fault injection: %s; SIGKILL to pid %d", why, os.getpid())
    os.kill(os.getpid(), signal.SIGKILL)


def kill_worker_after(batches: Iterator[pd.DataFrame], docs: int | None) -> Iterator[pd.DataFrame]:
    """Pass ``batches`` through; with ``docs`` set, SIGKILL this Python worker once that many documents of
    the partition were handed on and tagged, on the task's first attempt only (a no-op outside a task)."""
    from pyspark import TaskContext

    context = TaskContext.get()
    armed = docs is not None and context is not None and context.attemptNumber() == 0
    seen = 0
    for batch in batches:
        yield batch
        seen += len(batch)
        if armed and seen >= docs:  # type: ignore[operator]
            _sigkill_self(f"kill_worker_after_docs={docs} in partition {context.partitionId()}")  # type: ignore[union-attr]


class FaultHooks(Hooks):
    """Hooks that inject ``faults``: kill a NER worker after N documents, or the driver after a commit."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults

    def ner_partition(self) -> PartitionWrapper | None:
        """Wrap NER partitions with :func:`kill_worker_after` when ``kill_worker_after_docs`` is set."""
        docs = self.faults.kill_worker_after_docs
        return None if docs is None else partial(kill_worker_after, docs=docs)

    def committed(self, table: str) -> None:
        """SIGKILL the driver after ``table`` is committed if ``kill_driver_after`` names it."""
        if self.faults.kill_driver_after == table:
            _sigkill_self(f"kill_driver_after={table}")


def hooks_from_env(environ: Mapping[str, str] = os.environ) -> Hooks:
    """Fault-injection hooks when ``KAZU_SPARK_FAULTS`` is set (the reliability suite), else no-op hooks.

    Example:
        >>> type(hooks_from_env({})).__name__, type(hooks_from_env({ENV_VAR: "kill_driver_after=entities"})).__name__
        ('Hooks', 'FaultHooks')
    """
    spec = environ.get(ENV_VAR, "")
    return FaultHooks(parse_faults(spec)) if spec.strip() else Hooks()
