"""The stage contract for steps a user adds or swaps: a DataFrame in, a DataFrame out, over named columns.

A step is named in the config (``ner.steps``, ``linking.steps``): a built-in name, or a Python entry point
``package.module:function`` that is imported on the driver when the job starts, so a second NER model or a
custom linker needs no change to this package. Every step is called as ``step(frame, context)``:

* a NER step gets the documents (``doc_id, text, sections, content_hash``) and returns entity rows (the
  ``entities`` columns but ``run_id``; offsets into ``text``, ``entity_id`` from
  :func:`kazu_spark.ner.spans.entity_id`);
* a linking step gets the lookups no earlier step matched (``entity_id, doc_id, via, query, entity_class``) and
  returns candidate links (``entity_id, doc_id, via, concept_id, source, default_label, matched_synonym,
  strategy, score, ambiguous``).

The :class:`StepContext` carries the configuration and the ontology terms. Steps run on the driver and build
DataFrames; any Python they run on executors must be importable there (ship the module with ``--py-files``).

Example:
    >>> load_step("os.path:join")("a", "b")
    'a/b'
    >>> load_step("os.path:no_such_thing")
    Traceback (most recent call last):
    ...
    kazu_spark.errors.ConfigError: step 'os.path:no_such_thing': module os.path has no attribute no_such_thing
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from kazu_spark.config import Config
from kazu_spark.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

#: wraps the iterator of a NER partition's document batches (a pipeline hook; runs on executors, so it pickles)
PartitionWrapper = Callable[[Iterator["pd.DataFrame"]], Iterator["pd.DataFrame"]]


@dataclass(frozen=True)
class StepContext:
    """What a step may read besides its input frame: the job's configuration, the ontology terms (None when the
    run needs none), the documents the entities' offsets point into (for linking steps), and the lakehouse's
    ``concept_embeddings`` (None: the ``embedding`` step embeds the synonyms it needs itself). ``terms_key``
    names the lakehouse's ontology_terms commit that ``terms`` were read at (None: terms from elsewhere): the
    small-batch linker keeps its driver copy of the terms under it."""

    cfg: Config
    terms: DataFrame | None = None
    documents: DataFrame | None = None
    concept_embeddings: DataFrame | None = None
    terms_key: str | None = None


def load_step(spec: str) -> Callable[..., Any]:
    """The function an entry point ``package.module:function`` names; a ConfigError if it cannot be loaded."""
    module_name, _, attr = spec.partition(":")
    try:
        module = import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"step {spec!r}: cannot import {module_name}: {exc}") from exc
    function = getattr(module, attr, None)
    if not callable(function):
        raise ConfigError(f"step {spec!r}: module {module_name} has no attribute {attr}")
    return function


def check_steps(cfg: Config) -> None:
    """Import every entry-point step of ``cfg`` now, so a typo fails before a job reads or writes anything."""
    for spec in (*cfg.ner.steps, *cfg.linking.steps):
        if ":" in spec:
            load_step(spec)


def conform_step_output(frame: DataFrame, columns: list[str], step: str) -> DataFrame:
    """``frame`` reduced to ``columns`` in that order; a ConfigError naming the step if one is missing."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"step {step!r} returned no column(s) {missing}; it must return {columns}")
    return frame.select(*columns)
