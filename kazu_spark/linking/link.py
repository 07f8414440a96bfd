"""Link entity mentions to ontology concepts with two dictionary strategies, as distributed joins.

1. ``exact``: the mention equals a synonym of a concept of the entity's class (score 1.0).
2. ``normalised``: for mentions without an exact match, ``normalise(mention, class)`` equals a term's
   ``normalised_synonym`` (score 0.9: the key forgives case, punctuation, plurals and Greek/Roman
   spelling, which occasionally merges names a human would keep apart).

A mention links to every concept its key names, one row per (entity, concept); when that is more than
one concept the rows are flagged ``ambiguous`` for disambiguation downstream. Both strategies are
equi-joins on ``(entity_class, key)`` against terms first reduced to distinct
``(class, key, source, concept)``, so memory stays bounded and nothing is collected to the driver.

Example (needs a SparkSession; ``entities`` in the ENTITIES schema, ``terms`` in ONTOLOGY_TERMS):
    >>> links = link_entities(entities, terms)  # doctest: +SKIP
    >>> links.select("mention", "concept_id", "strategy").show()  # doctest: +SKIP
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import StringType

from kazu_spark.linking.normalise import normalise
from kazu_spark.schemas import ENTITY_LINKS

EXACT_SCORE = 1.0
NORMALISED_SCORE = 0.9

#: ENTITY_LINKS columns this stage fills (run_id is added by the pipeline)
LINK_COLUMNS = tuple(name for name in ENTITY_LINKS.fieldNames() if name != "run_id")


@pandas_udf(StringType())
def normalise_udf(text: pd.Series, entity_class: pd.Series) -> pd.Series:
    """``normalise`` over Arrow batches of (text, entity_class)."""
    return pd.Series([normalise(t, c) for t, c in zip(text, entity_class, strict=True)], index=text.index)


def _term_keys(terms: DataFrame, key: Column) -> DataFrame:
    """Distinct ``(entity_class, key, source, concept_id)`` with a representative synonym and label, and
    ``ambiguous`` set when the key names more than one concept within the class."""
    per_concept = (
        terms.select("entity_class", key.alias("key"), "source", "concept_id", "default_label", "synonym")
        .where(F.col("key") != "")
        .groupBy("entity_class", "key", "source", "concept_id")
        .agg(F.min("default_label").alias("default_label"), F.min("synonym").alias("matched_synonym"))
    )
    same_key = Window.partitionBy("entity_class", "key")
    return per_concept.withColumn("ambiguous", F.size(F.collect_set("concept_id").over(same_key)) > 1)


def _matches(mentions: DataFrame, keys: DataFrame, strategy: str, score: float) -> DataFrame:
    return mentions.join(keys, ["entity_class", "key"]).select(
        F.sha1(F.concat_ws("|", "entity_id", "concept_id", "source")).alias("link_id"),
        "entity_id",
        "doc_id",
        "concept_id",
        "source",
        "default_label",
        "matched_synonym",
        F.lit(strategy).alias("strategy"),
        F.lit(score).alias("score"),
        "ambiguous",
    )


def link_entities(entities: DataFrame, terms: DataFrame) -> DataFrame:
    """Links of ``entities`` (ENTITIES columns) to ``terms`` (ONTOLOGY_TERMS columns): the ENTITY_LINKS
    columns except ``run_id``. Entities that match nothing get no row."""
    mentions = entities.select("entity_id", "doc_id", "mention", "entity_class")
    exact = _matches(
        mentions.withColumn("key", F.col("mention")), _term_keys(terms, F.col("synonym")), "exact", EXACT_SCORE
    )
    unmatched = mentions.join(exact.select("entity_id"), "entity_id", "left_anti")
    normalised = _matches(
        unmatched.withColumn("key", normalise_udf("mention", "entity_class")),
        _term_keys(terms, F.col("normalised_synonym")),
        "normalised",
        NORMALISED_SCORE,
    )
    return exact.unionByName(normalised).select(*LINK_COLUMNS)
