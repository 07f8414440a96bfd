"""Build the ``ontology_terms`` table: every synonym of every concept of the configured sources.

Sources are parsed on the driver (each is at most ~50k concepts) and handed to Spark in Arrow chunks;
each row carries its normalised synonym, so linking joins on precomputed keys. ``term_id`` is
deterministic, so rebuilding MERGEs onto the same rows.

Example:
    >>> from kazu_spark.ontologies.terms import terms_rows
    >>> from kazu_spark.ontologies.sources import default_sources
    >>> cl = default_sources("pkg://kazu_spark/resources/ontologies")[1]
    >>> row = next(terms_rows(cl))
    >>> row["concept_id"], row["synonym"], row["normalised_synonym"], row["source_version"]
    ('CL:0000000', 'cell', 'cell', 'cl/releases/2022-11-25/cl-basic.owl')
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession

from kazu_spark.config import OntologySource
from kazu_spark.lakehouse.delta import merge_table
from kazu_spark.linking.normalise import is_symbolic, names_something, normalise
from kazu_spark.linking.preferences import HIGHER_RANKS, rank_name
from kazu_spark.ontologies.parsers import parse_source, source_checksum, source_version
from kazu_spark.schemas import ONTOLOGY_TERMS

log = logging.getLogger(__name__)

_CHUNK_ROWS = 50_000
#: the shortest synonym that names a concept of a class (others: 1): a single letter is a gene's alias too often
#: to mean it, where a chemical's (P, H, K: elements, as BC5CDR curates them) is its name
MIN_SYNONYM_CHARS = {"gene": 2}


def term_id(source: str, concept_id: str, synonym: str) -> str:
    """sha1 of ``source|concept_id|synonym``: the ``ontology_terms`` MERGE key.

    Example:
        >>> term_id("HGNC", "HGNC:5", "A1BG")
        '876c1516751fe595a04dd923370f16daa7f9e0c4'
    """
    return hashlib.sha1(f"{source}|{concept_id}|{synonym}".encode()).hexdigest()


_BINOMIAL = re.compile(r"([A-Z])[a-z]+((?: [a-z][a-z-]{2,}){1,2})")
#: words that end a virus's name, not epithets ("Bluetongue virus" is no binomial)
_NOT_EPITHETS = frozenset({"virus", "viruses", "phage", "viroid", "satellite"})


def abbreviate_binomial(name: str) -> str:
    """``name`` with its genus cut to the initial when it is a binomial or trinomial (a capitalised genus,
    then one or two lower-case epithets), else ``""``: the short form a paper uses for a species it has
    named once (the ``abbreviate_binomials`` option of a source).

    Example:
        >>> abbreviate_binomial("Mycobacterium bovis"), abbreviate_binomial("Loxodonta africana africana")
        ('M. bovis', 'L. africana africana')
        >>> abbreviate_binomial("Bluetongue virus"), abbreviate_binomial("Mus")
        ('', '')
    """
    match = _BINOMIAL.fullmatch(name.strip())
    if not match or _NOT_EPITHETS & set(match[2].split()):
        return ""
    return f"{match[1]}.{match[2]}"


def _scientific_species_name(row: dict) -> bool:
    """A label or related (scientific, in NCBI Taxonomy's OBO) synonym of a taxon that is not ranked above
    species: not a common name ("Asian elephant") nor a genus's."""
    rank = rank_name((row["metadata"] or {}).get("rank"))
    return row["synonym_type"] in ("label", "related") and rank not in HIGHER_RANKS


def _key(synonym: str, entity_class: str, shortest: int) -> str:
    """The normalised key of ``synonym``, or ``""`` (no key: linking skips it) when shorter than ``shortest``."""
    key = normalise(synonym, entity_class)
    return key if len(key) >= shortest else ""


def terms_rows(
    source: OntologySource, base: str | Path | None = None, sources: Iterable[OntologySource] = ()
) -> Iterator[dict]:
    """Complete ``ontology_terms`` rows of one source, one per distinct (concept, synonym); ``sources``:
    the configured sources, where an ``xref_target`` is looked up.

    Synonyms are stripped of surrounding whitespace; empty ones, those without a letter (HGNC lists
    ``2`` and ``#945`` as aliases of ATP12A: a mention's stray digit would link the gene;
    :func:`names_something`) and a gene's of one character (1,920 mouse genes have one, ``A`` alone is an
    alias of 63: a stray letter the NER tags would link them all; ``MIN_SYNONYM_CHARS``) are dropped, and a
    gene synonym whose normalised key is one character (``A-``, an alias of Araf) keeps no key: it is found
    as it is written only; when a concept lists one
    synonym twice (e.g. as label and exact synonym) the first, i.e. the label, wins. A source with
    ``abbreviate_binomials`` keeps only its binomial synonyms, abbreviated (``abbreviate_binomial``).
    """
    version, checksum = source_version(source, base), source_checksum(source, base, sources)
    seen: set[tuple[str, str]] = set()
    shortest = MIN_SYNONYM_CHARS.get(source.entity_class, 1)
    for row in parse_source(source, base, sources):
        synonym = row["synonym"].strip()
        if source.abbreviate_binomials:
            synonym = abbreviate_binomial(synonym) if _scientific_species_name(row) else ""
        key = (row["concept_id"], synonym)
        if len(synonym) < shortest or not names_something(synonym) or key in seen:
            continue
        seen.add(key)
        yield {
            "term_id": term_id(source.name, row["concept_id"], synonym),
            "concept_id": row["concept_id"],
            "source": source.name,
            "default_label": row["default_label"],
            "synonym": synonym,
            "synonym_type": row["synonym_type"],
            "normalised_synonym": _key(synonym, source.entity_class, shortest),
            "symbolic": is_symbolic(synonym),
            "entity_class": source.entity_class,
            "metadata": row["metadata"],
            "source_version": version,
            "source_checksum": checksum,
        }


def build_ontology_terms(
    spark: SparkSession, sources: list[OntologySource], base: str | Path | None = None
) -> DataFrame:
    """All sources' terms as one DataFrame in the ``ONTOLOGY_TERMS`` schema.

    Rows go to Spark in chunks of 50k through Arrow (pandas -> ``createDataFrame``), never one by one.

    Example (needs a SparkSession):
        >>> from kazu_spark.config import load_config
        >>> build_ontology_terms(spark, load_config().linking.ontologies).count()  # doctest: +SKIP
        9672
    """
    columns = ONTOLOGY_TERMS.fieldNames()
    frames = []
    for source in sources:
        rows = terms_rows(source, base, sources)
        while chunk := list(itertools.islice(rows, _CHUNK_ROWS)):
            frames.append(spark.createDataFrame(pd.DataFrame(chunk, columns=columns), schema=ONTOLOGY_TERMS))
        log.info("parsed ontology source %s", source.name)
    if not frames:
        return spark.createDataFrame([], schema=ONTOLOGY_TERMS)
    return functools.reduce(DataFrame.unionByName, frames)


def write_ontology_terms(
    spark: SparkSession, sources: list[OntologySource], lakehouse: str, base: str | Path | None = None
) -> int:
    """Build the sources' terms and MERGE them into ``<lakehouse>/ontology_terms``; returns the number of
    rows written. Rerunning on unchanged sources updates the same rows, adding none; the built sources'
    terms that the build no longer yields (gone from a new release, or dropped by a newer parser) are
    deleted. Other sources are untouched.

    Example (needs a Delta-enabled SparkSession):
        >>> write_ontology_terms(spark, sources, "/tmp/lake")  # doctest: +SKIP
        9672
    """
    terms = build_ontology_terms(spark, sources, base)
    count = terms.count()
    # the built sources' rows become exactly the build's: a term gone from a new release, or one the parser
    # no longer yields from the same file (a dropped synonym), is deleted by the same MERGE
    built = ", ".join("'" + source.name.replace("'", "''") + "'" for source in sources)
    merge_table(spark, terms, lakehouse, "ontology_terms", delete_unmatched=f"t.source IN ({built})")
    log.info("merged %d ontology terms from %s into %s", count, [s.name for s in sources], lakehouse)
    return count
