"""The NER steps of ``ner.steps``, run in order and merged into one set of entity rows.

Built-in steps: ``model`` (the transformer, :func:`kazu_spark.ner.spark.tag_documents`) and ``dictionary``
(ontology synonyms, :func:`kazu_spark.ner.spark.dictionary_entities`); any other name is an entry point
``package.module:function`` (:mod:`kazu_spark.runtime.steps`). ``ner.merge`` combines the steps' rows:

* ``first_wins``: a span of a later step that overlaps a span of the same class from an earlier step is dropped
  (``[model, dictionary]``: the dictionary only adds what the model missed; ``[dictionary, model]``: the reverse);
* ``union``: every step's spans are kept, the same span and class (the same ``entity_id``) once.

Example (needs a SparkSession):
    >>> entities = ner_entities(documents, StepContext(load_config(), terms))  # doctest: +SKIP
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from kazu_spark.errors import ConfigError
from kazu_spark.ner.spark import dictionary_entities, tag_documents
from kazu_spark.runtime.steps import PartitionWrapper, StepContext, conform_step_output, load_step
from kazu_spark.schemas import ENTITY_ROWS


def _dictionary(documents: DataFrame, context: StepContext) -> DataFrame:
    if context.terms is None:
        raise ConfigError("the dictionary NER step needs the ontology terms: configure linking.ontologies")
    return dictionary_entities(
        documents, context.terms, context.cfg.ner.dictionary, memory_limit_mb=context.cfg.worker_memory_limit_mb
    )


def merge_step_entities(frames: list[DataFrame], policy: str) -> DataFrame:
    """The steps' entity rows (in step order) combined by ``policy``: ``first_wins`` or ``union``."""
    if policy not in ("first_wins", "union"):
        raise ValueError(f"unknown ner.merge policy {policy!r}: first_wins or union")
    merged = frames[0]
    for later in frames[1:]:
        if policy == "union":
            merged = merged.unionByName(later.join(merged.select("entity_id"), "entity_id", "left_anti"))
            continue
        spans = merged.select("doc_id", "entity_class", F.col("start").alias("w_start"), F.col("end").alias("w_end"))
        overlapping = (
            later.join(spans, ["doc_id", "entity_class"])
            .where((F.col("start") < F.col("w_end")) & (F.col("w_start") < F.col("end")))
            .select("entity_id")
        )
        merged = merged.unionByName(later.join(overlapping, "entity_id", "left_anti"))
    return merged


def ner_entities(
    documents: DataFrame, context: StepContext, wrap_partition: PartitionWrapper | None = None
) -> DataFrame:
    """Entity rows (ENTITIES but ``run_id``) of ``documents`` by every step of ``context.cfg.ner.steps``, merged.

    ``wrap_partition`` (a pipeline hook) wraps the model step's partitions.
    """
    cfg = context.cfg.ner
    frames = []
    for step in cfg.steps:
        if step == "model":
            found = tag_documents(
                documents.sparkSession,
                documents,
                cfg,
                wrap_partition,
                memory_limit_mb=context.cfg.worker_memory_limit_mb,
            )
        elif step == "dictionary":
            found = _dictionary(documents, context)
        else:
            found = conform_step_output(load_step(step)(documents, context), ENTITY_ROWS.fieldNames(), step)
        frames.append(found)
    return merge_step_entities(frames, cfg.merge)
