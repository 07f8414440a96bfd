"""Link entity mentions to ontology concepts: dictionary joins, fuzzy TF-IDF, abbreviations, disambiguation.

``link_entities(entities, terms, cfg=None, documents=None)`` is the one linking entry point (the
pipeline and ``evaluate linking`` call it). Each mention is looked up by a cascade of strategies, the
``linking.steps`` in their order, and the first that finds anything wins; a ``package.module:function``
step takes the lookups the steps before it missed (:mod:`kazu_spark.runtime.steps`). The built-in steps:

1. ``exact``: the mention equals a synonym of a concept of the entity's class (score 1.0);
2. ``normalised``: ``normalise(mention, class)`` equals a term's ``normalised_synonym`` (score 0.9);
   both in ``tier`` order of the sources (``OntologySource.tier``, default 1): a lookup that tier 0's
   synonyms (e.g. train curations) match never reaches tier 1 (MEDIC), whose matches keep tier 2 (e.g.
   Disease Ontology synonyms mapped onto MEDIC) out;
3. ``variant`` (step ``variants``): the first of the mention's ``variant_keys`` (coordination
   conjuncts, adjective -> noun, reordered "A of B", :mod:`kazu_spark.linking.variants`) that equals a
   ``normalised_synonym`` (score 0.85);
4. ``fuzzy_tfidf`` (step ``fuzzy``, settings ``linking.fuzzy``): the normalised mention's nearest synonyms
   of its class by character n-gram TF-IDF cosine (:mod:`kazu_spark.linking.fuzzy`), at least ``min_score``; the best
   and any within ``margin`` of it are kept, up to ``top_k`` synonyms (score 0.8 x cosine, so a fuzzy
   link always ranks below a dictionary one);
5. ``embedding`` (settings ``linking.embedding``): the mention's nearest synonyms of its class by a synonym
   encoder's cosine (:mod:`kazu_spark.linking.embedding_spark`), at least ``min_score``, kept like fuzzy's
   (score 0.8 x cosine); skipped, logged, while ``linking.embedding.model`` is unset.

**Abbreviations** (``linking.abbreviations``): a mention equal to a short form defined in its document
(Schwartz–Hearst, :mod:`kazu_spark.linking.abbreviations`; needs ``documents``) is looked up by the
cascade with its *long form* instead, and when that finds concepts they replace the mention's own
links (strategy ``abbreviation``, score 0.95 x the long form's score). An acronym the document does not
define, spelled by another mention of its class there (``OAB`` and ``overactive bladder``,
``spelled_short_forms``), is looked up by that mention too, but its links are used only when the acronym
has none of its own by name: a fuzzy or embedding link of three letters (``OAB`` -> *Osteoarthritis*) is a
guess, and the long form's link by name (*Urinary Bladder, Overactive*) replaces it; one guess does not replace
another. The long form is looked up in
the *short form's own class*: a link always names a concept of its entity's class (the knowledge graph
relies on it), and linking does not rewrite entities (they are written before it, and their id hashes
the class). So ``COPD`` that the model tagged as a gene next to ``chronic obstructive pulmonary
disease (COPD)`` tagged as a disease gets no disease link; fixing classes belongs to NER.

**Preferences** (``linking.prefer_specific``): of a mention's candidates the most specific are kept
(:mod:`kazu_spark.linking.preferences`): a species over its genus or an ``is_a`` parent, by the terms'
metadata ``rank`` and ``parents``, a gene over a pseudogene or a readthrough (metadata ``type_of_gene``), and
anything over a concept of ``linking.generic_concepts``. A mention with a generic or higher-rank candidate is
also looked up by its normalised name in the same sources (the cascade stopped at its first match: the exact
``humans`` names the genus *Homo* only, the normalised ``human`` also *Homo sapiens*); such a candidate is kept only
when it beats every one the cascade found.
A link to a generic concept that is left is flagged ``generic``.

**Genes of the document's species** (``linking.gene_species``): with gene sources of several organisms
(metadata ``tax_id``), a gene mention keeps the candidates of its document's most mentioned species, or is
looked up again by its normalised name among that species' genes (strategy ``species``,
:mod:`kazu_spark.linking.species`): ``TP53`` in a mouse paper links the mouse ``Trp53``.

**Disambiguation** (``linking.disambiguation``): a mention left with several concepts is narrowed by
its document (:mod:`kazu_spark.linking.disambiguate`): to the candidates the document links
unambiguously elsewhere, then (with ``documents``) by TF-IDF between the document's text and each
candidate's label and synonyms. Losing candidates' links are dropped; when nothing separates them all
stay, flagged ``ambiguous``.

Every link carries ``strategy``, ``score`` and a ``confidence_tier``: ``ambiguous`` for a mention still
linked to several concepts, else ``high`` (score >= ``linking.tiers.high``), ``medium`` (>= ``medium``)
or ``low``; a choice made by context similarity is at most ``medium``.

Dictionary strategies are equi-joins on ``(entity_class, key)`` against terms first reduced to distinct
``(class, key, source, concept)``, so memory stays bounded. The fuzzy indexes are built on the driver
for the classes that have misses and broadcast once (:func:`kazu_spark.runtime.worker_cache.map_with_broadcast`).

Example (needs a SparkSession; ``entities`` in the ENTITIES schema, ``terms`` in ONTOLOGY_TERMS,
``documents`` with ``doc_id`` and ``text`` into which the entities' offsets point):
    >>> links = link_entities(entities, terms, load_config().linking, documents)  # doctest: +SKIP
    >>> links.select("mention", "concept_id", "strategy", "confidence_tier").show()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from functools import partial
from itertools import takewhile

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import ArrayType, BooleanType, StringType, StructType

from kazu_spark.config import Config, DisambiguationConfig, FuzzyConfig, LinkingConfig, TierConfig
from kazu_spark.linking.abbreviations import short_forms_batch, spelled_short_forms
from kazu_spark.linking.batch import CONCEPT_TEXT_SYNONYMS, TermTable, batch_supported, link_with_table
from kazu_spark.linking.disambiguate import CONCEPT_TEXT_SEPARATOR, resolve_document
from kazu_spark.linking.driver_terms import driver_terms
from kazu_spark.linking.embedding_spark import ClassMatrices, class_parts, embedding_matches, partitioned_classes
from kazu_spark.linking.families import FAMILY_SCHEMA, family_members
from kazu_spark.linking.fuzzy import FuzzyIndex, class_indexes, fuzzy_batch, indexable
from kazu_spark.linking.genus import ANCESTOR_HOPS, model_species, species_of_genus
from kazu_spark.linking.normalise import normalise
from kazu_spark.linking.preferences import SPECIES_RANKS, concept_of, is_broad, prefer_widened
from kazu_spark.linking.scores import (
    ABBREVIATION_SCALE,
    EXACT_SCORE,
    FAMILY_SCORE,
    LOOSE_STRATEGIES,
    NORMALISED_SCORE,
    SPECIES_SCORE,
    VARIANT_SCORE,
)
from kazu_spark.linking.species import prefer_document_species
from kazu_spark.linking.term_index import DEFAULT_TIER, TermIndex, build_term_index, several_concepts
from kazu_spark.linking.variants import variant_keys
from kazu_spark.runtime.connect import default_parallelism, is_connect, session_pandas_udf
from kazu_spark.runtime.memory_guard import check_memory, guard_memory
from kazu_spark.runtime.steps import StepContext, conform_step_output, load_step
from kazu_spark.runtime.worker_cache import map_with_broadcast
from kazu_spark.schemas import LINK_MATCH, LINK_ROWS, ddl

log = logging.getLogger(__name__)

#: the cascade's steps that look lookups up by key in the terms, tier by tier
_DICTIONARY_STEPS = ("exact", "normalised")

_MATCH_SCHEMA = ddl(LINK_MATCH)
#: the entity columns a document's row in ``_link_in_tasks`` leaves null
_ENTITY_TEXT = ("entity_id", "mention", "entity_class")
_SHORT_FORM_SCHEMA = "doc_id string, short string, long string, long_start int, long_end int"
_SPELLED_SCHEMA = "doc_id string, mention string, entity_class string, long string"


@session_pandas_udf(StringType())
def normalise_udf(text: pd.Series, entity_class: pd.Series) -> pd.Series:
    """``normalise`` over Arrow batches of (text, entity_class)."""
    return pd.Series([normalise(t, c) for t, c in zip(text, entity_class, strict=True)], index=text.index)


@session_pandas_udf(ArrayType(StringType()))
def variant_keys_udf(text: pd.Series, entity_class: pd.Series) -> pd.Series:
    """``variant_keys`` over Arrow batches of (text, entity_class)."""
    return pd.Series([variant_keys(t, c) for t, c in zip(text, entity_class, strict=True)], index=text.index)


def _select_view(frame: DataFrame, view: StructType, **made: Column) -> DataFrame:
    """The columns of ``view`` in its order: those in ``made`` computed here, the others read from ``frame``
    (by name, so a column added to the table is never filled with a neighbour's values)."""
    names = view.fieldNames()
    unknown = set(made) - set(names)
    if unknown:
        raise KeyError(f"not columns of the view: {sorted(unknown)}")
    return frame.select(*(made[name].alias(name) if name in made else F.col(name) for name in names))


def _matches(queries: DataFrame, keys: DataFrame, strategy: str, score: float) -> DataFrame:
    joined = queries.join(keys, ["entity_class", "key"])
    return _select_view(joined, LINK_MATCH, strategy=F.lit(strategy), score=F.lit(score))


def build_fuzzy_indexes(
    terms: DataFrame, classes: list[str], max_index_terms: int
) -> dict[str, tuple[FuzzyIndex, pd.DataFrame]]:
    """:func:`~kazu_spark.linking.fuzzy.class_indexes` of ``classes``, grouped by Spark; a class with more than
    ``max_index_terms`` distinct normalised synonyms is counted there and skipped (with a warning) before
    anything is collected."""
    rows = (
        terms.where(F.col("entity_class").isin(classes) & (F.col("normalised_synonym") != ""))
        .groupBy("entity_class", "normalised_synonym", "source", "concept_id")
        .agg(F.min("default_label").alias("default_label"), F.min("synonym").alias("matched_synonym"))
    )
    sizes = rows.groupBy("entity_class").agg(F.countDistinct("normalised_synonym").alias("n")).collect()
    small = indexable({r["entity_class"]: r["n"] for r in sizes}, max_index_terms)
    return class_indexes(rows.where(F.col("entity_class").isin(small)).toPandas())


def _fuzzy_matches(
    missed: DataFrame, terms: DataFrame, cfg: FuzzyConfig, memory_limit_mb: float | None
) -> DataFrame | None:
    """Fuzzy links of the lookups no dictionary key matched; None when there is nothing to match."""
    keyed = missed.withColumn("key", normalise_udf("query", "entity_class")).where(F.col("key") != "")
    keyed = keyed.select("entity_id", "doc_id", "via", "key", "entity_class").localCheckpoint(eager=True)
    classes = [r["entity_class"] for r in keyed.select("entity_class").distinct().collect()]
    indexes = build_fuzzy_indexes(terms, classes, cfg.max_index_terms) if classes else {}
    if not indexes:
        return None
    match = partial(fuzzy_batch, cfg=cfg)
    return map_with_broadcast(keyed, indexes, match, _MATCH_SCHEMA, memory_limit_mb=memory_limit_mb)


def _missed(queries: DataFrame, found: DataFrame | None) -> DataFrame:
    """The lookups that ``found`` (candidate links so far; None: none yet) has no link for."""
    if found is None:
        return queries
    return queries.join(found.select("entity_id", "via").distinct(), ["entity_id", "via"], "left_anti")


def _dictionary(queries: DataFrame, index: TermIndex, tier: int, steps: list[str]) -> DataFrame:
    """Candidate links of lookups against the keys of ``tier``'s sources by the dictionary ``steps`` (exact,
    normalised) in order, each on the lookups the ones before it missed."""
    found: DataFrame | None = None
    for step in steps:
        missed = _missed(queries, found)
        if step == "exact":
            lookup, score = F.col("query"), EXACT_SCORE
        else:
            lookup, score = normalise_udf("query", "entity_class"), NORMALISED_SCORE
        links = _matches(missed.withColumn("key", lookup), index.dictionary_keys(step, tier), step, score)
        found = links if found is None else found.unionByName(links)
    assert found is not None, "called with at least one dictionary step"
    return found


def _variant_matches(missed: DataFrame, index: TermIndex) -> DataFrame:
    """Links of each lookup's best-ranked variant key (``variant_keys``) that names a normalised synonym."""
    keyed = missed.select(
        "entity_id", "doc_id", "via", "entity_class",
        F.posexplode(variant_keys_udf("query", "entity_class")).alias("rank", "key"),
    )  # fmt: skip
    matched = keyed.join(index.dictionary_keys("normalised"), ["entity_class", "key"])
    best = F.min("rank").over(Window.partitionBy("entity_id", "via"))
    return (
        matched.withColumn("best", best)
        .where(F.col("rank") == F.col("best"))
        .transform(_select_view, LINK_MATCH, strategy=F.lit("variant"), score=F.lit(VARIANT_SCORE))
    )


def _stages(
    terms: DataFrame, index: TermIndex, cfg: LinkingConfig, context: StepContext
) -> list[Callable[[DataFrame], DataFrame | None]]:
    """The cascade's stages from ``cfg.steps``: a run of dictionary steps (exact, normalised) becomes one stage
    per source tier, the other steps one stage each, in the order listed."""
    tiers = sorted({*(source.tier for source in cfg.ontologies), DEFAULT_TIER})
    limit = context.cfg.worker_memory_limit_mb
    stages: list[Callable[[DataFrame], DataFrame | None]] = []
    steps = list(cfg.steps)
    while steps:
        if steps[0] in _DICTIONARY_STEPS:
            run = list(takewhile(lambda s: s in _DICTIONARY_STEPS, steps))
            steps = steps[len(run) :]
            stages += [lambda missed, tier=tier, run=run: _dictionary(missed, index, tier, run) for tier in tiers]
            continue
        step = steps.pop(0)
        if step == "variants":
            stages.append(lambda missed: _variant_matches(missed, index))
        elif step == "fuzzy":
            unfuzzy = cfg.unfuzzy_sources()
            fuzzy_terms = terms.where(~F.col("source").isin(*unfuzzy)) if unfuzzy else terms
            stages.append(lambda missed, fuzzy_terms=fuzzy_terms: _fuzzy_matches(missed, fuzzy_terms, cfg.fuzzy, limit))
        elif step == "embedding":
            if cfg.embedding.model is None:  # no stage: a no-op stage would still cost the cascade a checkpoint
                log.info("linking step 'embedding' skipped: linking.embedding.model is not set")
                continue
            stages.append(
                lambda missed: embedding_matches(
                    missed, terms, cfg.embedding, context.concept_embeddings, memory_limit_mb=limit
                )
            )
        else:
            function = load_step(step)
            stages.append(
                lambda missed, f=function, name=step: conform_step_output(
                    f(missed, context), LINK_MATCH.fieldNames(), name
                )
            )
    return stages


def _cascade(
    queries: DataFrame, terms: DataFrame, index: TermIndex, cfg: LinkingConfig, context: StepContext
) -> DataFrame:
    """Candidate links of lookups (entity_id, doc_id, via, query, entity_class) by the steps of ``cfg.steps``
    (by default exact, then normalised, tier by tier, then variants, then fuzzy): a lookup gets the rows of
    the first stage that matches. When later stages run, the links found so far are materialised
    (``localCheckpoint``) before each: a stage reads the misses, i.e. the lookups anti-joined with everything
    before it, and without a checkpoint that plan (and the jobs running it) doubles per stage.
    """
    stages = _stages(terms, index, cfg, context)
    found = stages.pop(0)(queries) if stages else None
    for stage in stages:
        found = found.localCheckpoint(eager=True) if found is not None else None
        more = stage(_missed(queries, found))
        if more is not None:
            found = more if found is None else found.unionByName(more)
    return found if found is not None else queries.sparkSession.createDataFrame([], _MATCH_SCHEMA)


def _abbreviation_queries(entities: DataFrame, documents: DataFrame | None, memory_limit_mb: float | None) -> DataFrame:
    """Lookups of the long form, in the entity's own class, for every entity that is a short form
    defined in its document, or else an acronym another mention of its document and class spells."""
    mentions = entities.select("entity_id", "doc_id", "mention", "entity_class")
    spelled = mentions.select("doc_id", "mention", "entity_class").distinct()
    spelled = spelled.groupBy("doc_id").applyInPandas(spelled_short_forms, _SPELLED_SCHEMA)
    long = mentions.join(spelled, ["doc_id", "mention", "entity_class"]).withColumn("via", F.lit("spelled"))
    if documents is not None:
        texts = documents.select("doc_id", "text").join(mentions.select("doc_id").distinct(), "doc_id", "left_semi")
        forms = texts.mapInPandas(
            lambda batches: map(short_forms_batch, guard_memory(batches, memory_limit_mb)), _SHORT_FORM_SCHEMA
        ).withColumnRenamed("short", "mention")
        defined = mentions.join(forms, ["doc_id", "mention"]).withColumn("via", F.lit("abbreviation"))
        long = defined.unionByName(long.join(forms, ["doc_id", "mention"], "left_anti"), allowMissingColumns=True)
    return long.select("entity_id", "doc_id", "via", F.col("long").alias("query"), "entity_class")


def _family_links(links: DataFrame, queries: DataFrame, gene_classes: list[str]) -> DataFrame:
    """Family mentions linked to the concepts of the members their document names, unless one of their own
    links already is one of those (``linking.gene_families``; ``_family_links`` of batch.py in pandas)."""
    mention = (F.col("via") == "mention") & F.col("entity_class").isin(*gene_classes)
    genes = queries.where(mention).select("entity_id", "doc_id", F.col("query").alias("mention"), "entity_class")
    pairs = genes.select("doc_id", "mention", "entity_class").distinct()
    pairs = pairs.groupBy("doc_id").applyInPandas(family_members, FAMILY_SCHEMA)
    named = genes.select(
        F.col("entity_id").alias("member_id"), "doc_id", F.col("mention").alias("member"), "entity_class"
    )
    members = genes.join(pairs, ["doc_id", "mention", "entity_class"]).join(named, ["doc_id", "entity_class", "member"])
    found = links.withColumnRenamed("entity_id", "member_id").join(
        members.select("entity_id", "member_id"), "member_id"
    )
    kept = found.join(links.select("entity_id", "concept_id"), ["entity_id", "concept_id"], "left_semi")
    found = found.join(kept.select("entity_id"), "entity_id", "left_anti")
    family = (
        found.groupBy("entity_id", "doc_id", "concept_id", "source")
        .agg(F.min("default_label").alias("default_label"), F.min("matched_synonym").alias("matched_synonym"))
        .withColumn("via", F.lit("mention"))
        .withColumn("strategy", F.lit("family"))
        .withColumn("score", F.lit(FAMILY_SCORE))
        .withColumn("resolution", F.lit(None).cast("string"))
        .withColumn("ambiguous", several_concepts("entity_id"))
    )
    replaced = links.join(family.select("entity_id").distinct(), "entity_id", "left_anti")
    return replaced.unionByName(family.select(*links.columns))


def _candidate_facts(concepts: DataFrame, candidates: DataFrame, generic: frozenset[str]) -> DataFrame:
    """Per candidate ``(concept_id, source)``: its label, metadata ``rank``, ``parents`` and ``type_of_gene``
    (null when the terms have none; ``concepts`` of a TermIndex) and ``broad``: generic or a taxon above
    species, so its mention is looked up wider."""

    @pandas_udf(BooleanType())
    def broad(concept_id: pd.Series, rank: pd.Series, parents: pd.Series, label: pd.Series) -> pd.Series:
        rows = zip(concept_id, rank, parents, label, strict=True)
        return pd.Series([is_broad(concept_of(*row), generic) for row in rows], index=concept_id.index)

    facts = concepts.join(candidates, ["concept_id", "source"], "left_semi").select(
        "concept_id", "source", "rank", "parents", "label", "type_of_gene"
    )
    return facts.withColumn("broad", broad("concept_id", "rank", "parents", "label"))


def _preferred_batch(candidates: pd.Series, generic: frozenset[str]) -> pd.Series:
    """Per entity (a list of candidate structs: concept_id, rank, parents, label, type_of_gene, widened) the
    concept ids that ``prefer_widened`` keeps."""
    kept = []
    for rows in candidates:
        found = {False: [], True: []}
        for row in rows:
            facts = (row["concept_id"], row["rank"], row["parents"], row["label"], row["type_of_gene"])
            found[bool(row["widened"])].append(concept_of(*facts))
        kept.append(prefer_widened(found[False], found[True], generic))
    return pd.Series(kept, index=candidates.index)


def _prefer_specific(links: DataFrame, queries: DataFrame, index: TermIndex, generic: frozenset[str]) -> DataFrame:
    """``links`` (LINK_MATCH) with each entity's candidates narrowed to the most specific (module doc,
    Preferences); an entity with one candidate that is neither generic nor above species is left as it is."""
    facts = _candidate_facts(index.concepts, links.select("concept_id", "source").distinct(), generic)
    entity = Window.partitionBy("entity_id")
    judged = (
        links.join(facts.select("concept_id", "source", "broad"), ["concept_id", "source"], "left")
        .withColumn("any_broad", F.max(F.coalesce("broad", F.lit(False))).over(entity))
        .withColumn("judge", F.col("any_broad") | several_concepts("entity_id"))
        .localCheckpoint(eager=True)
    )
    original = judged.where("judge").drop("broad", "judge")
    lookups = (
        original.where("any_broad")
        .select("entity_id", "via", "source")
        .distinct()
        .join(queries, ["entity_id", "via"])
        .withColumn("key", normalise_udf("query", "entity_class"))
    )
    keys = index.dictionary_keys("normalised")
    widened = _select_view(
        lookups.join(keys, ["entity_class", "key", "source"]).join(original, ["entity_id", "concept_id"], "left_anti"),
        LINK_MATCH,
        strategy=F.lit("normalised"),
        score=F.lit(NORMALISED_SCORE),
    )
    candidates = (
        original.drop("any_broad")
        .withColumn("widened", F.lit(False))
        .unionByName(widened.withColumn("widened", F.lit(True)))
        .localCheckpoint(eager=True)
    )
    facts = _candidate_facts(index.concepts, candidates.select("concept_id", "source").distinct(), generic)
    described = candidates.join(facts.drop("broad"), ["concept_id", "source"], "left")

    @pandas_udf(ArrayType(StringType()))
    def keep_udf(rows: pd.Series) -> pd.Series:
        return _preferred_batch(rows, generic)

    kept = described.groupBy("entity_id").agg(
        keep_udf(F.collect_list(F.struct("concept_id", "rank", "parents", "label", "type_of_gene", "widened"))).alias(
            "kept"
        )
    )
    chosen = (
        candidates.join(kept, "entity_id")
        .where(F.array_contains("kept", F.col("concept_id")))
        .withColumn("ambiguous", F.size(F.array_distinct("kept")) > 1)
    )
    unjudged = judged.where(~F.col("judge"))
    return unjudged.select(*LINK_MATCH.fieldNames()).unionByName(chosen.select(*LINK_MATCH.fieldNames()))


def _species_lookup(lookups: DataFrame, wanted: DataFrame, index: TermIndex) -> DataFrame:
    """Links of ``lookups`` by their normalised name, case folded, among the concepts in ``wanted``
    (``concept_id``): the gene-species step's second look (the gene normaliser keeps an all-capital symbol's
    case, and ``AKT``/``Akt`` are one gene's spellings in human and mouse)."""
    keyed = lookups.withColumn("key", F.upper(normalise_udf("query", "entity_class")))
    keys = (
        index.dictionary_keys("normalised")
        .join(wanted, "concept_id", "left_semi")
        .withColumn("key", F.upper("key"))
        .drop("ambiguous")
    )
    lookup = ["entity_id", "doc_id", "via"]
    matched = (  # a concept's keys that differ only in case fold into one: one row per lookup and concept
        keyed.join(keys, ["entity_class", "key"])
        .groupBy(*lookup, "concept_id", "source")
        .agg(F.min("default_label").alias("default_label"), F.min("matched_synonym").alias("matched_synonym"))
        .withColumn("ambiguous", several_concepts(*lookup))
    )
    return _select_view(matched, LINK_MATCH, strategy=F.lit("species"), score=F.lit(SPECIES_SCORE))


def _disambiguate(
    links: DataFrame,
    terms: DataFrame,
    documents: DataFrame | None,
    cfg: DisambiguationConfig,
    memory_limit_mb: float | None,
    curated: frozenset[str] = frozenset(),
    judged: frozenset[str] = frozenset(),
) -> DataFrame:
    """``links`` with each ambiguous entity's candidates narrowed by its document (see the module doc);
    ``curated``: sources whose labels are not names (``LinkingConfig.curated_sources``), ``judged``: those of
    them whose disagreements the ontology settles (``LinkingConfig.ontology_judged_sources``).

    The ambiguous links are cogrouped by document with one row per document (its text and unambiguous
    concepts), so a document's text reaches the Python worker once, not once per candidate link (a
    2,000,000-character document with thousands of ambiguous links had made a group of many GiB).
    """
    ambiguous = links.where("ambiguous")
    linked = links.where(~F.col("ambiguous")).groupBy("doc_id").agg(F.collect_set("concept_id").alias("linked"))
    candidates = ambiguous.select("concept_id").distinct()
    concept_text = (
        terms.join(candidates, "concept_id", "left_semi")
        .groupBy("concept_id")
        .agg(
            F.concat_ws(
                CONCEPT_TEXT_SEPARATOR,
                F.min("default_label"),
                F.concat_ws(
                    CONCEPT_TEXT_SEPARATOR, F.slice(F.sort_array(F.collect_set("synonym")), 1, CONCEPT_TEXT_SYNONYMS)
                ),
            ).alias("concept_text")
        )
    )
    if judged:  # step 5's evidence (disambiguate.ontology_named): the ontology's own names of the candidates
        names = terms.join(candidates, "concept_id", "left_semi").where(~F.col("source").isin(*sorted(curated)))
        names = names.select("concept_id", F.lower("synonym").alias("name"), F.lit(True).alias("named")).distinct()
        ambiguous = (
            ambiguous.withColumn("name", F.lower("matched_synonym"))
            .join(names, ["concept_id", "name"], "left")
            .withColumn("ontology_named", ~F.col("source").isin(*sorted(judged)) | F.coalesce("named", F.lit(False)))
            .drop("name", "named")
        )
    per_document = ambiguous.select("doc_id").distinct().join(linked, "doc_id", "left")
    if documents is not None:
        per_document = per_document.join(documents.select("doc_id", F.col("text").alias("context")), "doc_id", "left")
    else:
        per_document = per_document.withColumn("context", F.lit(None).cast("string"))
    # a doc_id of its own: both sides derive from `links`, and a cogroup refuses one lineage's column on both
    per_document = per_document.select(F.col("doc_id").alias("doc_id"), "linked", "context")

    def resolve(group: pd.DataFrame, document: pd.DataFrame) -> pd.DataFrame:
        resolved = resolve_document(group, document, cfg.margin, curated)
        if memory_limit_mb is not None:  # after each document
            check_memory(memory_limit_mb)
        return resolved

    resolved = (
        ambiguous.join(concept_text, "concept_id", "left")
        .groupBy("doc_id")
        .cogroup(per_document.groupBy("doc_id"))
        .applyInPandas(resolve, f"{_MATCH_SCHEMA}, resolution string")
    )
    return links.where(~F.col("ambiguous")).withColumn("resolution", F.lit(None).cast("string")).unionByName(resolved)


def _species_of_genus(links: DataFrame, index: TermIndex, model_organisms: Mapping[str, str]) -> DataFrame:
    """``links`` with genus mentions relinked to their document's one species of that genus, or to the genus's
    model organism (:mod:`kazu_spark.linking.genus`): the documents with a genus link (with none, the links as
    they are, after one small job) go through ``species_of_genus`` in a pandas UDF, each species-rank link with
    its ancestors (``ANCESTOR_HOPS`` joins up the is_a parents, through unranked taxa too, as the pandas pass
    walks them). The model organisms' rows (a few) are collected once and shipped in the UDF's closure."""
    rank = F.lower(F.trim(F.regexp_replace("rank", "_", " ")))

    def facts_of(concepts: DataFrame) -> DataFrame:  # per concept over its sources (a curation has no rank)
        return (
            concepts.where(F.col("rank").isNotNull() | F.col("parents").isNotNull())
            .groupBy("concept_id")
            .agg(F.max("rank").alias("rank"), F.max("parents").alias("parents"))
            .select(
                "concept_id",
                F.coalesce(rank == "genus", F.lit(False)).alias("genus_rank"),
                F.coalesce(rank.isin(*SPECIES_RANKS), F.lit(False)).alias("species_rank"),
                "parents",
            )  # fmt: skip
        )

    facts = facts_of(index.concepts)
    # the linked concepts' facts only: all of them, aggregated and broadcast, had run a 4 GiB driver out of memory
    linked = facts_of(index.concepts.join(links.select("concept_id").distinct(), "concept_id", "left_semi"))
    described = links.join(linked.drop("parents"), "concept_id", "left").localCheckpoint(eager=True)
    genus_docs = described.where("genus_rank").select("doc_id").distinct().localCheckpoint(eager=True)
    if genus_docs.isEmpty():
        return described.select(*links.columns)
    in_play = described.join(genus_docs, "doc_id", "left_semi")
    edges = facts.select("concept_id", F.explode(F.split("parents", r"\|")).alias("ancestor")).where("ancestor != ''")
    up = edges.select(F.col("concept_id").alias("ancestor"), F.col("ancestor").alias("next"))
    frontier = in_play.where("species_rank").select("concept_id").distinct().join(edges, "concept_id")
    found = frontier
    for _ in range(ANCESTOR_HOPS - 1):
        frontier = frontier.join(up, "ancestor").select("concept_id", F.col("next").alias("ancestor"))
        found = found.unionByName(frontier)
    lineage = found.groupBy("concept_id").agg(F.sort_array(F.collect_set("ancestor")).alias("ancestors"))
    affected = in_play.join(lineage, "concept_id", "left").select(
        *links.columns, F.coalesce("genus_rank", F.lit(False)).alias("genus_rank"), "ancestors"
    )
    models = None
    if model_organisms:
        rows = index.concepts.where(F.col("concept_id").isin(sorted(set(model_organisms.values()))))
        rows = rows.select("concept_id", "source", F.col("label").alias("default_label"), "rank").toPandas()
        models = model_species(model_organisms, rows)

    def relink(group: pd.DataFrame) -> pd.DataFrame:
        return species_of_genus(group, models)

    moved = affected.groupBy("doc_id").applyInPandas(relink, links.schema)
    return described.select(*links.columns).join(genus_docs, "doc_id", "left_anti").unionByName(moved)


def _confidence_tier(cfg: TierConfig) -> Column:
    by_context = F.coalesce(F.col("resolution") == "context", F.lit(False))
    return (
        F.when(F.col("ambiguous"), "ambiguous")
        .when((F.col("score") >= cfg.high) & ~by_context, "high")
        .when(F.col("score") >= cfg.medium, "medium")
        .otherwise("low")
    )


def with_source_version(links: DataFrame, terms: DataFrame) -> DataFrame:
    """``links`` with ``source_version``: the ontology_terms version of their ``source``, where a link has none.

    A link made now gets the version of the terms it was matched against; a link read from a table written
    before entity_links had the column (null, or no column at all) gets its source's current version.

    Example (needs a session; links with a ``source`` column, terms in ONTOLOGY_TERMS):
        >>> with_source_version(links, terms).select("source", "source_version").distinct().show()  # doctest: +SKIP
    """
    versions = terms.groupBy("source").agg(F.max("source_version").alias("_version"))
    own = F.col("source_version") if "source_version" in links.columns else F.lit(None).cast("string")
    return (
        links.join(versions, "source", "left")
        .withColumn("source_version", F.coalesce(own, F.col("_version")))
        .drop("_version")
    )


def _class_matrices(
    terms: DataFrame,
    classes: list[str],
    cfg: LinkingConfig,
    threads: int,
    context: StepContext | None,
    table: pd.DataFrame,
) -> ClassMatrices | None:
    """The ``embedding`` step of the pandas pass for entities of ``classes`` (None without a model): the concept
    matrices saved first where they are not, from the context's ``concept_embeddings``; named from ``table``,
    the pass's copy of ``terms``."""
    embeddings = context.concept_embeddings if context else None
    return ClassMatrices.of(terms, classes, cfg.embedding, threads, embeddings, table)


def _flat_under_connect(links: DataFrame) -> DataFrame:
    """``links`` materialised under Spark Connect, else as they are. A Connect client sends a plan as nested
    protobuf messages and refuses one nested past 100 levels (``Exceeded upb_DecodeOptions_MaxDepth``); each of
    the Spark joins engine's steps adds tens (a ``withColumn`` is a level), so the links are checkpointed
    between steps and each step's plan starts from a flat relation. Classic Spark has no such limit."""
    return links.localCheckpoint(eager=True) if is_connect(links.sparkSession) else links


def _embeds_partitioned(table: pd.DataFrame, cfg: LinkingConfig) -> bool:
    """Whether the ``embedding`` step links a class with more synonyms than ``linking.embedding.partition_rows``:
    its synonyms are scored in blocks by Spark tasks (:func:`~kazu_spark.linking.embedding_spark.partitioned_matches`),
    which the pandas engines cannot start, so the batch is linked by Spark joins. Counted in ``table``, the pandas
    engines' copy of the terms (no Spark job)."""
    if "embedding" not in cfg.steps or cfg.embedding.model is None:
        return False
    large = partitioned_classes(class_parts(table, cfg.embedding.classes), cfg.embedding)
    if large:
        log.info("embedding %s in blocks (over linking.embedding.partition_rows): linking by Spark joins", list(large))
    return bool(large)


def _link_on_driver(
    entities: DataFrame,
    terms: DataFrame,
    table: pd.DataFrame,
    cfg: LinkingConfig,
    documents: DataFrame | None,
    context: StepContext | None,
) -> DataFrame:
    """The links of a small batch of entities by :func:`~kazu_spark.linking.batch.link_with_table`: the entities
    and their documents' texts are collected and linked in pandas against ``table``, the whole terms table
    (:func:`~kazu_spark.linking.driver_terms.driver_terms`, cached on the driver under the context's
    ``terms_key``), and returned as a local DataFrame (two or three Spark jobs instead of a cascade of joins).
    The ``embedding`` step runs on the driver too, with a torch thread per core."""
    spark = entities.sparkSession
    local = entities.select("entity_id", "doc_id", "mention", "entity_class").toPandas()
    texts = None
    if documents is not None:
        wanted = F.col("doc_id").isin(sorted(set(local["doc_id"])))
        texts = documents.where(wanted).select("doc_id", "text").toPandas()
    embedder = None
    if "embedding" in cfg.steps:
        classes = sorted(set(local["entity_class"]))
        embedder = _class_matrices(terms, classes, cfg, os.cpu_count() or 1, context, table)
    links = link_with_table(local, texts, table, cfg, embedder)
    schema = ddl(LINK_ROWS)
    return spark.createDataFrame(links, schema) if len(links) else spark.createDataFrame([], schema)


def bulk_partitions(entities: int, per_partition: int, slots: int) -> int:
    """The partitions of ``entities`` for the bulk 'tasks' engine: about ``per_partition`` entities each, their
    count rounded up to a multiple of ``slots`` (the task slots), so no wave leaves a slot idle.

    Example:
        >>> bulk_partitions(1_000_000, 200_000, 2), bulk_partitions(60_000, 200_000, 16), bulk_partitions(0, 10, 4)
        (6, 16, 4)
    """
    needed = max(1, -(-entities // per_partition))
    return -(-needed // slots) * slots


def _link_in_tasks(
    entities: DataFrame,
    terms: DataFrame,
    whole: pd.DataFrame,
    cfg: LinkingConfig,
    documents: DataFrame | None,
    context: StepContext | None,
) -> DataFrame:
    """The links of a large batch by :func:`~kazu_spark.linking.batch.link_with_table` in Spark tasks: the entities
    and their documents' texts are partitioned by document (:func:`bulk_partitions`: about ``cfg.bulk_entities``
    entities a partition, a multiple of the task slots), and each partition is linked in one pandas pass against
    ``whole``, the whole terms table collected on the driver
    (:func:`~kazu_spark.linking.driver_terms.driver_terms`) and broadcast once to every Python worker. Every
    rule is per entity or per document, so partitioning by document gives the links of one pass over all. The
    ``embedding`` step runs in the tasks too: each worker loads the encoder and maps the concept matrices once."""
    spark = entities.sparkSession
    task_cpus = int(spark.conf.get("spark.task.cpus", "1"))
    table = TermTable(whole)
    embedder = None
    if "embedding" in cfg.steps:  # the classes the step links (one job finds them when it links every class)
        classes = cfg.embedding.classes or [r[0] for r in entities.select("entity_class").distinct().collect()]
        embedder = _class_matrices(terms, classes, cfg, task_cpus, context, table.table)
    slots = max(1, default_parallelism(spark) // task_cpus)
    partitions = bulk_partitions(entities.count(), cfg.bulk_entities, slots)
    text = F.lit(None).cast("string")
    rows = entities.select(
        F.lit(False).alias("is_document"), "doc_id", "entity_id", "mention", "entity_class", text.alias("text")
    )
    with_texts = documents is not None  # the closure below must not hold a DataFrame
    named = cfg.gene_species.enabled and cfg.gene_species.named_species
    if documents is not None and (cfg.abbreviations or cfg.disambiguation.enabled or named):
        texts = documents.join(entities.select("doc_id").distinct(), "doc_id", "left_semi")
        rows = rows.unionByName(
            texts.select(F.lit(True).alias("is_document"), "doc_id", *(text.alias(c) for c in _ENTITY_TEXT), "text")
        )

    def link(whole: TermTable, part: pd.DataFrame) -> pd.DataFrame:
        is_document = part["is_document"].astype(bool)
        texts = part.loc[is_document, ["doc_id", "text"]].reset_index(drop=True) if with_texts else None
        found = part.loc[~is_document, ["entity_id", "doc_id", "mention", "entity_class"]]
        return link_with_table(found.reset_index(drop=True), texts, whole, cfg, embedder)

    return map_with_broadcast(
        rows.repartition(partitions, "doc_id"),
        table,
        link,
        ddl(LINK_ROWS),
        memory_limit_mb=context.cfg.worker_memory_limit_mb if context else None,
        whole_partitions=True,
    )


def link_entities(
    entities: DataFrame,
    terms: DataFrame,
    cfg: LinkingConfig | None = None,
    documents: DataFrame | None = None,
    *,
    context: StepContext | None = None,
) -> DataFrame:
    """Links of ``entities`` (ENTITIES columns) to ``terms`` (ONTOLOGY_TERMS columns): the ENTITY_LINKS
    columns except ``run_id``. Entities that match nothing get no row.

    ``cfg`` defaults to ``LinkingConfig()`` (every strategy on); ``documents`` (``doc_id``, ``text``) enables
    abbreviations and context disambiguation, which need the text the entities' offsets point into.
    ``context`` is what a ``package.module:function`` step in ``cfg.steps`` receives (default: ``cfg``, ``terms``
    and ``documents``).
    Up to ``cfg.batch_entities`` entities (counted by one job) are linked on the driver by the same rules in
    pandas (:mod:`kazu_spark.linking.batch`), unless a custom step needs Spark or the embedding step a class
    over ``linking.embedding.partition_rows`` (scored in blocks by Spark tasks); more entities, with
    ``cfg.bulk`` "tasks", by the same pandas pass in Spark tasks, a partition of documents at a time (the
    terms table broadcast to the Python workers). Otherwise (Spark joins), with
    fuzzy matching, variants or source tiers on, the call itself runs Spark jobs: the term index and the dictionary
    links are materialised (``localCheckpoint``), and so are the fuzzy lookups, to find the classes that
    need a fuzzy index, which is built and broadcast. With ``prefer_specific`` the candidates are
    materialised too, before and after the wider lookup of the mentions that have a broad candidate.
    """
    cfg = cfg or LinkingConfig()
    if batch_supported(cfg) and cfg.batch_entities > 0:
        small = entities.limit(cfg.batch_entities + 1).count() <= cfg.batch_entities
        if small or (cfg.bulk == "tasks" and not is_connect(entities.sparkSession)):
            table = driver_terms(terms, context.terms_key if context else None)
            if not _embeds_partitioned(table, cfg):  # a small batch: one pandas pass; a large one: in tasks
                engine = _link_on_driver if small else _link_in_tasks
                return engine(entities, terms, table, cfg, documents, context)
    context = context or StepContext(Config(linking=cfg), terms, documents)
    queries = entities.select(
        "entity_id", "doc_id", F.lit("mention").alias("via"), F.col("mention").alias("query"), "entity_class"
    )
    if cfg.abbreviations:
        queries = queries.unionByName(_abbreviation_queries(entities, documents, context.cfg.worker_memory_limit_mb))
    index = build_term_index(terms, {source.name: source.tier for source in cfg.ontologies})
    links = _cascade(queries, terms, index, cfg, context)
    if cfg.abbreviations:  # an entity's long-form links replace its own (batch.py)
        own = F.col("via") == "mention"
        via_long_form = ~own
        loose = F.col("strategy").isin(*LOOSE_STRATEGIES)
        entity = Window.partitionBy("entity_id")
        named = F.max((own & ~loose).cast("int")).over(entity) == 1
        has_own = F.max(own.cast("int")).over(entity) == 1
        spelled = (F.col("via") == "spelled") & ~named & ~(loose & has_own)
        usable = ((F.col("via") == "abbreviation") & ~(loose & named)) | spelled
        links = (
            links.withColumn("usable", usable)
            .withColumn("has_long_form", F.max(F.col("usable").cast("int")).over(entity))
            .where(F.col("usable") | (own & (F.col("has_long_form") == 0)))
            .drop("usable", "has_long_form")
            .withColumn("strategy", F.when(via_long_form, "abbreviation").otherwise(F.col("strategy")))
            .withColumn("score", F.when(via_long_form, ABBREVIATION_SCALE).otherwise(1.0) * F.col("score"))
        )
    generic = frozenset(c for concepts in cfg.generic_concepts.values() for c in concepts)
    links = _flat_under_connect(links)
    if cfg.prefer_specific:
        links = _flat_under_connect(_prefer_specific(links, queries, index, generic))
    if cfg.gene_species.enabled:
        lookup = partial(_species_lookup, index=index)
        curated = cfg.curated_sources()
        links = prefer_document_species(links, queries, index.concepts, cfg.gene_species, lookup, curated, documents)
        links = _flat_under_connect(links)
    if cfg.disambiguation.enabled:
        limit = context.cfg.worker_memory_limit_mb
        links = _disambiguate(
            links, terms, documents, cfg.disambiguation, limit, cfg.curated_sources(), cfg.ontology_judged_sources()
        )
    else:
        links = links.withColumn("resolution", F.lit(None).cast("string"))
    if cfg.gene_families:  # the family step reads the links three times: materialised once, not recomputed
        links = _family_links(links.localCheckpoint(eager=True), queries, cfg.gene_species.gene_classes)
    if cfg.genus_to_species:
        links = _species_of_genus(links, index, cfg.model_organisms)
    return _select_view(
        with_source_version(links, index.concepts),
        LINK_ROWS,
        link_id=F.sha1(F.concat_ws("|", "entity_id", "concept_id", "source")),
        confidence_tier=_confidence_tier(cfg.tiers),
        generic=F.col("concept_id").isin(list(generic)),
    )
