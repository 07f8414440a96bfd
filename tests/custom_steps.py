"""Steps defined outside the package, as a user's own module would define them (used by tests/test_steps.py).

A NER step that finds the made-up drug name "Zorblax" and a linking step that links it to a concept of a
private vocabulary, both with DataFrame expressions only.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from kazu_spark.runtime.steps import StepContext

NAME = "Zorblax"


def find_zorblax(documents: DataFrame, context: StepContext) -> DataFrame:
    """Entity rows for the first "Zorblax" in each document's body (documents without a title here)."""
    start = F.locate(NAME, "text") - 1
    found = documents.where(start >= 0).select("doc_id", "content_hash", start.alias("start"))
    end = F.col("start") + len(NAME)
    key = F.concat_ws("\x1f", "doc_id", F.lit("body"), "start", end, F.lit("drug"))
    return found.select(
        F.sha1(key).alias("entity_id"),
        "doc_id",
        F.lit("body").alias("section"),
        "start",
        end.alias("end"),
        F.lit(NAME).alias("mention"),
        F.lit("drug").alias("entity_class"),
        F.lit(1.0).alias("confidence"),
        F.lit("custom:zorblax").alias("model"),
        "content_hash",
        F.lit("ignored extra column").alias("note"),  # extra columns are dropped by the stage contract
    )


def link_zorblax(lookups: DataFrame, context: StepContext) -> DataFrame:
    """Candidate links of the lookups whose text is "Zorblax" to the private concept ``PRIV:0001``."""
    return lookups.where(F.col("query") == NAME).select(
        "entity_id",
        "doc_id",
        "via",
        F.lit("PRIV:0001").alias("concept_id"),
        F.lit("private-vocabulary").alias("source"),
        F.lit("zorblax").alias("default_label"),
        F.lit(NAME).alias("matched_synonym"),
        F.lit("private_lookup").alias("strategy"),
        F.lit(0.99).alias("score"),
        F.lit(False).alias("ambiguous"),
    )


def forgets_columns(documents: DataFrame, context: StepContext) -> DataFrame:
    """A broken NER step: returns documents, not entity rows."""
    return documents
