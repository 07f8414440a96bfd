"""The ``concept_embeddings`` table: every synonym of ``ontology_terms`` as the synonym encoder's fp16 vector.

Built beside ``ontology_terms`` (``kazu-spark ontologies build``, or an annotate run) when
``linking.embedding.model`` is set, and versioned per source: a source is re-embedded only when its rows'
``encoder_version`` or ``source_checksum`` differ from the current encoder's and terms' (a new encoder, a
new release of the source); its old rows are replaced in one commit (``replaceWhere``), other sources'
rows stay, and a source gone from the terms loses its rows. Embedding runs on the executors
(:func:`kazu_spark.linking.embedding_spark.embed_terms`); Delta keeps the earlier versions (time travel).

Example (needs a Delta-enabled SparkSession):
    >>> embeddings = ensure_concept_embeddings(spark, "/tmp/lake", terms, cfg.linking.embedding)  # doctest: +SKIP
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from kazu_spark.config import EmbeddingConfig
from kazu_spark.lakehouse.delta import conform, ensure_table, read_table, sql_string, with_retry
from kazu_spark.linking.embedding_spark import EncoderRef, embed_terms

log = logging.getLogger(__name__)


def stale_sources(
    current: dict[str, str], stored: set[tuple[str, str, str]], version: str
) -> tuple[list[str], list[str]]:
    """(sources to embed, sources to delete): ``current`` maps each source of the terms to its checksum,
    ``stored`` holds the table's distinct (source, checksum, encoder version).

    Example:
        >>> stored = {("MEDIC", "a", "v1"), ("CL", "old", "v1"), ("HGNC", "c", "v1")}
        >>> stale_sources({"MEDIC": "a", "CL": "b"}, stored, "v1")
        (['CL'], ['HGNC'])
        >>> stale_sources({"MEDIC": "a"}, {("MEDIC", "a", "v1")}, "v2")
        (['MEDIC'], [])
    """
    by_source: dict[str, set[tuple[str, str]]] = {}
    for source, checksum, encoder in stored:
        by_source.setdefault(source, set()).add((checksum, encoder))
    embed = sorted(s for s, checksum in current.items() if by_source.get(s) != {(checksum, version)})
    return embed, sorted(set(by_source) - set(current))


def ensure_concept_embeddings(
    spark: SparkSession, lakehouse: str, terms: DataFrame, cfg: EmbeddingConfig
) -> DataFrame | None:
    """The lakehouse's ``concept_embeddings`` for ``terms`` and the encoder of ``cfg.model``, (re)embedding only
    the sources whose terms or encoder changed (see the module doc); None when ``cfg.model`` is unset."""
    if cfg.model is None:
        return None
    encoder = EncoderRef.of(cfg, int(spark.conf.get("spark.task.cpus", "1")))
    current = {
        r["source"]: r["source_checksum"] for r in terms.select("source", "source_checksum").distinct().collect()
    }
    table = ensure_table(spark, lakehouse, "concept_embeddings")
    stored = {
        (r["source"], r["source_checksum"], r["encoder_version"])
        for r in read_table(spark, lakehouse, "concept_embeddings")
        .select("source", "source_checksum", "encoder_version")
        .distinct()
        .collect()
    }
    embed, gone = stale_sources(current, stored, encoder.version)
    if embed:
        log.info("embedding the synonyms of %s with %s into concept_embeddings", embed, encoder.version)
        rows = conform(embed_terms(terms.where(F.col("source").isin(embed)), encoder), "concept_embeddings")
        quoted = ", ".join(map(sql_string, embed))
        writer = rows.write.format("delta").mode("overwrite").option("replaceWhere", f"source IN ({quoted})")
        with_retry(lambda: table.save(writer), "replace concept_embeddings")
    if gone:
        where = f"source IN ({', '.join(map(sql_string, gone))})"
        with_retry(
            lambda: spark.sql(f"DELETE FROM {table.sql} WHERE {where}"),
            "deleting concept_embeddings of gone sources",
        )
    if not embed and not gone:
        log.info("concept_embeddings up to date for %s (%s)", sorted(current), encoder.version)
    return read_table(spark, lakehouse, "concept_embeddings")
