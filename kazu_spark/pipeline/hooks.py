"""Hooks: the points where code outside the job's logic (fault injection, instrumentation) may act.

The job calls a :class:`Hooks` object at three points: it asks for a wrapper of each NER partition's document
batches (running on executors), it runs each stage inside ``hooks.stage(name)`` (the base logs the time; the
job's progress bar wraps the ``ner`` stage), and it reports each table it has committed (on the driver). The
base class wraps nothing, so a run without hooks pays nothing: no wrapper is shipped to executors, and the NER
partition is the plain batch loop. The reliability suite's fault injection is a subclass
(:class:`kazu_spark.pipeline.faults.FaultHooks`), returned by :func:`kazu_spark.pipeline.faults.hooks_from_env`
only when ``KAZU_SPARK_FAULTS`` is set.

Example:
    >>> Hooks().ner_partition() is None
    True
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from kazu_spark.runtime.steps import PartitionWrapper

log = logging.getLogger(__name__)


class Hooks:
    """No-op hooks; subclass and override to act at these points."""

    def ner_partition(self) -> PartitionWrapper | None:
        """A wrapper for each NER partition's batches, or None to run them as they are."""
        return None

    def committed(self, stage: str) -> None:
        """Called on the driver right after ``stage`` (quarantine, entities, links, documents) is committed."""

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Around a stage of the composition (``ner``, ``linking``) or of the commit: logs how long it took."""
        t0 = time.perf_counter()
        yield
        log.info("stage %s took %.1fs", name, time.perf_counter() - t0)
