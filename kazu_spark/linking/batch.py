"""Link a small batch of entities in one pandas pass: the cascade of :mod:`kazu_spark.linking.spark` without Spark jobs.

A scheduled ETL that adds ten abstracts to a lakehouse would otherwise pay for about 200 Spark jobs of joins,
windows and checkpoints over a few hundred mentions (``bench/increment.py``). Below
``linking.small_batch_entities`` entities, :func:`kazu_spark.linking.spark.link_entities` collects the
entities, their documents and the ontology rows they can match to the driver and calls :func:`link_batch`,
which applies the same rules in the same order: the dictionary steps tier by tier, variants, fuzzy (through
the ``fuzzy`` callable the Spark glue builds from the class indexes), abbreviations, preferences, genes of the
document's species, disambiguation, tiers. The Spark path stays the reference: a test links the same
documents both ways and compares every row.

``terms`` is the part of ``ontology_terms`` the batch can reach, with ``rank``, ``parents``, ``tax_id`` and
``type_of_gene`` taken out of ``metadata``: every row whose synonym, normalised synonym or its upper case
equals a lookup key (:func:`lookup_keys`), plus every row of the concepts those rows name; ``concept_rows``
fetches the rows of concepts found otherwise (fuzzy). ``versions``, ``gene_taxa`` and ``curated_taxa`` are
facts of the whole table: each source's ``source_version``, the taxa of the gene classes' concepts that a
gene source (not a curation) gives, and those only curations give (``species_from_documents``).

Example (a disease mention, one MEDIC synonym):
    >>> entities = pd.DataFrame({"entity_id": ["e"], "doc_id": ["d"], "mention": ["Asthma"],
    ...                          "entity_class": ["disease"]})
    >>> terms = pd.DataFrame({"entity_class": ["disease"], "synonym": ["Asthma"], "normalised_synonym": ["asthma"],
    ...                       "source": ["MEDIC"], "concept_id": ["MESH:D001249"], "default_label": ["Asthma"],
    ...                       "rank": [None], "parents": [None], "tax_id": [None], "type_of_gene": [None],
    ...                       "xrefs": [None], "orthologues": [None]})
    >>> cfg = LinkingConfig(steps=["exact", "normalised"])
    >>> sources = TermFacts(versions={"MEDIC": "2024"}, gene_taxa=set(), concept_rows=lambda ids: terms[:0])
    >>> link_batch(entities, None, terms, sources, cfg)[["concept_id", "strategy", "confidence_tier"]].values.tolist()
    [['MESH:D001249', 'exact', 'high']]
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Collection, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from kazu_spark.config import GeneSpeciesConfig, LinkingConfig
from kazu_spark.linking.abbreviations import short_forms_batch, spelled_short_forms
from kazu_spark.linking.disambiguate import CONCEPT_TEXT_SEPARATOR, ontology_named, resolve_document
from kazu_spark.linking.embedding import encoder_keys
from kazu_spark.linking.families import family_members
from kazu_spark.linking.fuzzy import class_indexes, fuzzy_batch, indexable
from kazu_spark.linking.genus import ANCESTOR_HOPS, is_genus_rank, is_species_rank, model_species, species_of_genus
from kazu_spark.linking.named_species import NAMED_COLUMNS, species_named_before
from kazu_spark.linking.normalise import normalise
from kazu_spark.linking.preferences import Concept, concept_of, is_broad, is_pseudogene, prefer_widened
from kazu_spark.linking.scores import (
    ABBREVIATION_SCALE,
    EMBEDDING_SCALE,
    EXACT_SCORE,
    FAMILY_SCORE,
    LOOSE_STRATEGIES,
    NORMALISED_SCORE,
    SPECIES_SCORE,
    VARIANT_SCORE,
)
from kazu_spark.linking.variants import variant_keys
from kazu_spark.schemas import LINK_MATCH_COLUMNS, LINK_ROWS_COLUMNS, column_names

#: the LINK_MATCH and LINK_ROWS columns, in order
MATCH, ROWS = column_names(LINK_MATCH_COLUMNS), column_names(LINK_ROWS_COLUMNS)
#: the term columns :func:`link_batch` reads
TERM_COLUMNS = ["entity_class", "synonym", "normalised_synonym", "source", "concept_id", "default_label", "rank",
                "parents", "tax_id", "type_of_gene", "xrefs", "orthologues"]  # fmt: skip
#: steps the batch path runs itself; a configuration with any other (a custom step) links through Spark
BATCH_STEPS = frozenset({"exact", "normalised", "variants", "fuzzy", "embedding"})

#: synonyms of a concept joined into the text that context disambiguation compares with the document
CONCEPT_TEXT_SYNONYMS = 30


@dataclass(frozen=True)
class TermFacts:
    """What the batch needs from the whole ``ontology_terms`` table beyond its reachable rows."""

    versions: dict[str, str | None]
    gene_taxa: set[str]
    concept_rows: Callable[[set[str]], pd.DataFrame]
    #: the taxa of gene concepts that only curations give (the species of their training documents)
    curated_taxa: set[str] = field(default_factory=set)
    #: concept_id -> its ``|``-joined is_a parents, of every concept that has some (genus-to-species walks it)
    parents: Mapping[str, str] = field(default_factory=dict)
    #: keyed lookups (entity_id, doc_id, via, key, entity_class) -> fuzzy LINK_MATCH rows
    fuzzy: Callable[[pd.DataFrame], pd.DataFrame] = field(default=lambda keyed: pd.DataFrame(columns=MATCH))
    #: missed lookups (entity_id, doc_id, via, query, entity_class) -> embedding LINK_MATCH rows
    embedding: Callable[[pd.DataFrame], pd.DataFrame] = field(default=lambda missed: pd.DataFrame(columns=MATCH))
    #: upper-cased labels -> the rows (TERM_COLUMNS) with a ``tax_id`` whose label is one (genes' symbols)
    symbol_rows: Callable[[set[str]], pd.DataFrame] = field(default=lambda symbols: pd.DataFrame(columns=TERM_COLUMNS))


class Embedder(Protocol):
    """What the ``embedding`` step needs (:class:`kazu_spark.linking.embedding_spark.ClassMatrices`): how the
    encoder reads texts, and the nearest synonym texts (``entity_class, key, text, cosine``) of distinct
    ``(entity_class, key)`` rows."""

    @property
    def lowercase(self) -> bool: ...

    def match(self, keys: pd.DataFrame) -> pd.DataFrame: ...


def batch_supported(cfg: LinkingConfig) -> bool:
    """Whether :func:`link_batch` can run ``cfg``'s cascade (built-in steps only).

    Example:
        >>> batch_supported(LinkingConfig(steps=["exact", "fuzzy"])), batch_supported(LinkingConfig(steps=["my:step"]))
        (True, False)
    """
    return all(step in BATCH_STEPS for step in cfg.steps)


def queries_of(entities: pd.DataFrame, documents: pd.DataFrame | None, abbreviations: bool) -> pd.DataFrame:
    """The lookups (entity_id, doc_id, via, query, entity_class): each mention, and with ``abbreviations`` the
    long form of every mention that is a short form defined in its document (``documents``: doc_id, text), or
    else an acronym another mention of its document and class spells (``spelled_short_forms``)."""
    mentions = entities[["entity_id", "doc_id", "mention", "entity_class"]]
    queries = mentions.rename(columns={"mention": "query"}).assign(via="mention")
    if abbreviations:
        forms = pd.DataFrame(columns=["doc_id", "mention", "long"])
        if documents is not None:
            texts = documents[documents["doc_id"].isin(mentions["doc_id"])]
            forms = short_forms_batch(texts.reset_index(drop=True)).rename(columns={"short": "mention"})
        spelled = spelled_short_forms(mentions)
        known = set(zip(forms["doc_id"], forms["mention"], strict=True))
        undefined = [key not in known for key in zip(spelled["doc_id"], spelled["mention"], strict=True)]
        spelled = spelled[np.array(undefined, dtype=bool)]
        defined = _merge_text(mentions, forms[["doc_id", "mention", "long"]], ["doc_id", "mention"])
        spelled = _merge_text(mentions, spelled, ["doc_id", "mention", "entity_class"])
        queries = _concat(
            [
                queries,
                defined.assign(via="abbreviation", query=defined["long"]),
                spelled.assign(via="spelled", query=spelled["long"]),
            ],
            list(queries.columns),
        )
    return queries[["entity_id", "doc_id", "via", "query", "entity_class"]].reset_index(drop=True)


def lookup_keys(queries: pd.DataFrame, variants: bool = True) -> tuple[set[str], set[str], set[str]]:
    """The keys ``queries`` can match: (exact synonyms, normalised synonyms, upper-cased normalised synonyms);
    the normalised ones include the variant keys unless ``variants`` is False (no ``variants`` step).

    Example:
        >>> sorted(lookup_keys(pd.DataFrame({"query": ["Breast cancers"], "entity_class": ["disease"]}))[1])
        ['breast cancer', 'breast neoplasm', 'breast tumor']
        >>> lookup_keys(pd.DataFrame({"query": ["Breast cancers"], "entity_class": ["disease"]}), variants=False)[1]
        {'breast cancer'}
    """
    exact = set(queries["query"])
    normalised, upper = set(), set()
    distinct = queries[["query", "entity_class"]].drop_duplicates()
    for query, entity_class in zip(distinct["query"], distinct["entity_class"], strict=True):
        key = normalise(query, entity_class)
        normalised.update([key, *(variant_keys(query, entity_class) if variants else ())])
        upper.add(key.upper())
    return exact - {""}, normalised - {""}, upper - {""}


def least_per_group(frame: pd.DataFrame, keys: list[str], **columns: str) -> pd.DataFrame:
    """Per group of ``keys``, the least non-null value of each source column (null where the group has none),
    named ``name=source``, sorted by ``keys``: ``groupby(keys).agg(name=(source, "min"))`` without pandas'
    per-group Python loop over string columns (seconds on the 24,000 gene synonyms the fuzzy index groups).
    Each column is compared by its sorted codes (:func:`_order_codes`), so strings are sorted once per distinct
    value, not once per row.

    Example:
        >>> rows = pd.DataFrame({"k": ["a", "a", "b"], "label": ["y", "x", None], "synonym": ["p", "q", "r"]})
        >>> least_per_group(rows, ["k"], label="label", first="synonym").values.tolist()
        [['a', 'x', 'p'], ['b', None, 'r']]
    """
    return _ranked_per_group(frame, keys, columns, "min")


def _ranked_per_group(frame: pd.DataFrame, keys: list[str], columns: dict[str, str], pick: str) -> pd.DataFrame:
    """Per group of ``keys`` (sorted), the ``pick`` ("min" or "max") of each source column by its sorted codes
    (:func:`_order_codes`), named ``name=source``: the body of :func:`least_per_group` and
    :func:`greatest_per_group`."""
    grouped = frame.groupby(keys, sort=True, dropna=False)
    ids = grouped.ngroup().to_numpy()
    picked = grouped.size().index.to_frame(index=False)
    for name, source in columns.items():
        codes, values = _order_codes(frame[source])
        picked[name] = values[pd.Series(codes).groupby(ids).agg(pick).to_numpy()]
    return picked


def _order_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(codes, values): ``values[codes]`` is ``column``, codes rank the values (a null is ranked last, as
    ``len(values) - 1``, and read back as None).

    Example:
        >>> codes, values = _order_codes(pd.Series(["b", None, "a"]))
        >>> codes.tolist(), values.tolist()
        ([1, 2, 0], ['a', 'b', None])
    """
    codes, uniques = pd.factorize(column, sort=True)
    values = np.append(np.asarray(uniques, dtype=object), None)
    return np.where(codes < 0, len(uniques), codes), values


def is_in(column: pd.Series, values: AbstractSet[str]) -> np.ndarray:
    """Mask of the rows of ``column`` whose value is in ``values``: ``Series.isin`` by a set's own lookup, a third
    of the time ``isin`` takes over the hundreds of thousands of term rows a batch reaches.

    Example:
        >>> is_in(pd.Series(["a", "b", None]), {"a", "z"}).tolist()
        [True, False, False]
    """
    return np.fromiter(map(values.__contains__, column.to_numpy()), dtype=bool, count=len(column))


def _term_keys(terms: pd.DataFrame, key: pd.Series, wanted: pd.Series) -> pd.DataFrame:
    """Distinct (entity_class, key, source, concept_id) with their least label and synonym, ``ambiguous`` when
    the key names several concepts of the class (the Spark path's ``TermIndex`` keys), of the keys in ``wanted``
    only (the lookups' keys: every row of a key is kept, so its ambiguity is that of the whole table)."""
    asked = is_in(key, set(wanted) - {""})
    keyed = terms[asked].assign(key=key[asked])
    keys = ["entity_class", "key", "source", "concept_id"]
    per_concept = least_per_group(keyed, keys, default_label="default_label", matched_synonym="synonym")
    concepts = per_concept.groupby(["entity_class", "key"], sort=False)["concept_id"].transform("nunique")
    return per_concept.assign(ambiguous=concepts > 1)


def index_rows(terms: pd.DataFrame, classes: Collection[str], skip_sources: Collection[str] = ()) -> pd.DataFrame:
    """The rows a fuzzy index is built from, of ``terms`` (:data:`TERM_COLUMNS`) but ``skip_sources``: per
    (entity_class, normalised_synonym, source, concept_id) the least ``default_label`` and synonym
    (``matched_synonym``), as :func:`kazu_spark.linking.spark.build_fuzzy_indexes` groups them in Spark."""
    kept = terms[
        terms["entity_class"].isin(classes) & (terms["normalised_synonym"] != "") & ~terms["source"].isin(skip_sources)
    ]
    keys = ["entity_class", "normalised_synonym", "source", "concept_id"]
    return least_per_group(kept, keys, default_label="default_label", matched_synonym="synonym")


def greatest_per_group(frame: pd.DataFrame, keys: list[str], column: str) -> pd.DataFrame:
    """Per group of ``keys`` that has a value of ``column``, the greatest (``groupby(keys)[column].max()`` of
    the non-null values, by codes: ``least_per_group``'s reason), as ``keys`` and ``column``.

    Example:
        >>> rows = pd.DataFrame({"k": ["a", "a", "b"], "rank": ["genus", "species", None]})
        >>> greatest_per_group(rows, ["k"], "rank").values.tolist()
        [['a', 'species']]
    """
    return _ranked_per_group(frame[frame[column].notna()], keys, {column: column}, "max")


def _several_concepts(links: pd.DataFrame) -> pd.Series:
    """True on the rows of entities linked to more than one concept (``term_index.several_concepts`` in Spark)."""
    return links.groupby("entity_id", sort=False)["concept_id"].transform("nunique") > 1


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The rows of ``frames`` in order, as ``columns`` (empty frames skipped: their dtypes would leak)."""
    rows = [frame if list(frame.columns) == columns else frame[columns] for frame in frames if len(frame)]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def _merge_text(left: pd.DataFrame, right: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """``left.merge(right, on=on)`` on text columns, also when a side is empty (its key columns may come typed
    float, which pandas refuses to merge with text)."""
    as_text = dict.fromkeys(on, object)
    return left.astype(as_text).merge(right.astype(as_text), on=on)


def _matches(lookups: pd.DataFrame, keys: pd.DataFrame, strategy: str, score: float, on: list[str]) -> pd.DataFrame:
    joined = _merge_text(lookups[["entity_id", "doc_id", "via", *on]], keys, on)
    return joined.assign(strategy=strategy, score=score)[MATCH]


def _missed(queries: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    """The lookups of ``queries`` that ``found`` has no row of (by entity_id and via)."""
    done = np.zeros(len(queries), dtype=bool)
    for via in set(found["via"]):
        of_via = (queries["via"] == via).to_numpy()
        done[of_via] = queries.loc[of_via, "entity_id"].isin(set(found.loc[found["via"] == via, "entity_id"]))
    return queries[~done]


def _normalised(lookups: pd.DataFrame) -> pd.Series:
    pairs = zip(lookups["query"], lookups["entity_class"], strict=True)
    return pd.Series([normalise(q, c) for q, c in pairs], index=lookups.index, dtype=object)


def _dictionary(missed: pd.DataFrame, terms: pd.DataFrame, step: str) -> pd.DataFrame:
    if step == "exact":
        lookups, synonyms, score = missed.assign(key=missed["query"]), terms["synonym"], EXACT_SCORE
    else:
        lookups, synonyms, score = missed.assign(key=_normalised(missed)), terms["normalised_synonym"], NORMALISED_SCORE
    return _matches(lookups, _term_keys(terms, synonyms, lookups["key"]), step, score, ["entity_class", "key"])


def _variants(missed: pd.DataFrame, terms: pd.DataFrame) -> pd.DataFrame:
    ranked = missed.assign(
        key=[variant_keys(q, c) for q, c in zip(missed["query"], missed["entity_class"], strict=True)]
    ).explode("key")
    ranked = ranked.dropna(subset=["key"]).assign(rank=lambda f: f.groupby(level=0, sort=False).cumcount())
    on = ["entity_class", "key"]
    matched = _merge_text(ranked, _term_keys(terms, terms["normalised_synonym"], ranked["key"]), on)
    best = matched.groupby(["entity_id", "via"], sort=False)["rank"].transform("min")
    return matched[matched["rank"] == best].assign(strategy="variant", score=VARIANT_SCORE)[MATCH]


def _stages(cfg: LinkingConfig, terms: pd.DataFrame, facts: TermFacts) -> list[Callable[[pd.DataFrame], pd.DataFrame]]:
    """The cascade's stages, as the Spark path orders them: a run of dictionary steps once per source tier."""
    tier_of = {source.name: source.tier for source in cfg.ontologies}
    named = terms["source"].map(tier_of).fillna(1)  # sources the config does not list are in the default tier
    stages: list[Callable[[pd.DataFrame], pd.DataFrame]] = []
    steps = list(cfg.steps)
    while steps:
        step = steps.pop(0)
        if step in ("exact", "normalised"):
            run = [step]
            while steps and steps[0] in ("exact", "normalised"):
                run.append(steps.pop(0))
            for tier in sorted({*tier_of.values(), 1}):
                in_tier = terms[named == tier]
                stages.append(lambda q, t=in_tier, r=run: _run_dictionary(q, t, r))
        elif step == "variants":
            stages.append(lambda q: _variants(q, terms))
        elif step == "fuzzy":
            stages.append(lambda q: _fuzzy(q, facts))
        elif step == "embedding":
            stages.append(facts.embedding)
    return stages


def _run_dictionary(queries: pd.DataFrame, terms: pd.DataFrame, steps: list[str]) -> pd.DataFrame:
    found = pd.DataFrame(columns=MATCH)
    for step in steps:
        found = _concat([found, _dictionary(_missed(queries, found), terms, step)], MATCH)
    return found


def _fuzzy(missed: pd.DataFrame, facts: TermFacts) -> pd.DataFrame:
    keyed = missed.assign(key=_normalised(missed))
    keyed = keyed[keyed["key"] != ""][["entity_id", "doc_id", "via", "key", "entity_class"]]
    return facts.fuzzy(keyed.reset_index(drop=True)) if len(keyed) else pd.DataFrame(columns=MATCH)


def embedding_matches(
    missed: pd.DataFrame, table: TermTable, embedder: Embedder, classes: Collection[str] | None
) -> pd.DataFrame:
    """MATCH rows of the lookups ``missed`` (of ``classes``; None: all) by the synonym encoder, as
    :func:`kazu_spark.linking.embedding_spark.embedding_matches` makes them in Spark: each distinct (class, key)
    is matched once, its synonym texts joined back to every row of ``table`` with that text, and per concept
    the best cosine kept (then the least synonym); score ``EMBEDDING_SCALE`` x cosine, ambiguous when a lookup
    names several concepts.

    Example (an encoder that finds "asthma" for any key):
        >>> class Stub:
        ...     lowercase = True
        ...     def match(self, keys): return keys.assign(text="asthma", cosine=0.5)
        >>> table = TermTable(pd.DataFrame({"entity_class": ["disease"], "synonym": ["Asthma"],
        ...     "source": ["MEDIC"], "concept_id": ["MESH:D001249"], "default_label": ["Asthma"]}))
        >>> missed = pd.DataFrame({"entity_id": ["e"], "doc_id": ["d"], "via": ["mention"],
        ...     "query": ["Asthmatic attack"], "entity_class": ["disease"]})
        >>> embedding_matches(missed, table, Stub(), None)[["concept_id", "strategy", "score"]].values.tolist()
        [['MESH:D001249', 'embedding', 0.4]]
    """
    keyed = missed.assign(key=encoder_keys(missed["query"], embedder.lowercase))
    keyed = keyed[(keyed["key"] != "") & (keyed["entity_class"].isin(classes) if classes is not None else True)]
    matched = embedder.match(keyed[["entity_class", "key"]].drop_duplicates(ignore_index=True)) if len(keyed) else None
    if matched is None or matched.empty:
        return pd.DataFrame(columns=MATCH)
    texts = table.encoder_texts(embedder.lowercase)
    hit = texts.isin(set(matched["text"])) & table.table["entity_class"].isin(set(matched["entity_class"]))
    rows = table.table[hit].assign(text=texts[hit])
    per_text = least_per_group(
        rows, ["entity_class", "source", "concept_id", "text"], default_label="default_label", matched_synonym="synonym"
    )
    joined = _merge_text(_merge_text(keyed, matched, ["entity_class", "key"]), per_text, ["entity_class", "text"])
    query, synonym = joined["query"], joined["matched_synonym"]  # a word spelling a symbol: see embedding_spark
    word = (query == query.str.lower()) & (synonym != synonym.str.lower()) & (query == synonym.str.lower())
    joined = joined[~word]
    best = joined.sort_values(["cosine", "matched_synonym"], ascending=[False, True], kind="stable")
    best = best.drop_duplicates(["entity_id", "via", "source", "concept_id"])
    concepts = best.groupby(["entity_id", "via"], sort=False)["concept_id"].transform("nunique")
    return best.assign(strategy="embedding", score=EMBEDDING_SCALE * best["cosine"], ambiguous=concepts > 1)[MATCH]


def _cascade(queries: pd.DataFrame, terms: pd.DataFrame, cfg: LinkingConfig, facts: TermFacts) -> pd.DataFrame:
    found = pd.DataFrame(columns=MATCH)
    for stage in _stages(cfg, terms, facts):
        found = _concat([found, stage(_missed(queries, found))], MATCH)
    return found.astype({"score": float, "ambiguous": bool})


def _with_abbreviations(links: pd.DataFrame) -> pd.DataFrame:
    """An entity's long-form links replace its own (strategy abbreviation, score x 0.95), except loose ones
    (``LOOSE_STRATEGIES``) where the entity has a link by name of its own; the long form another mention
    spells (via ``spelled``) is used only by an entity without a link by name of its own (a fuzzy or embedding
    link of an acronym is a guess), and a loose link of the long form only by an entity without any link."""
    own = links["via"] == "mention"
    affected = links["entity_id"].isin(links.loc[~own, "entity_id"].unique())
    if not affected.any():  # no short form in the batch: nothing to judge (grouping every link costs seconds)
        return links
    part = links[affected]
    own, loose, entity = own[affected], part["strategy"].isin(LOOSE_STRATEGIES), part["entity_id"]
    named = (own & ~loose).groupby(entity, sort=False).transform("max")
    spelled = (part["via"] == "spelled") & ~named & ~(loose & own.groupby(entity, sort=False).transform("max"))
    usable = ((part["via"] == "abbreviation") & ~(loose & named)) | spelled
    has_long = usable.groupby(entity, sort=False).transform("max")
    keep = ~affected
    keep[part.index] = usable | (own & ~has_long)
    kept = links[keep].copy()
    long = kept["via"] != "mention"
    kept.loc[long, "strategy"] = "abbreviation"
    kept["score"] = np.where(long, ABBREVIATION_SCALE, 1.0) * kept["score"]
    return kept


def _concept_facts(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (concept_id, source): max rank, parents and type_of_gene (NaN when no row has one), least label
    (``_candidate_facts`` of the Spark path); by sorts, not pandas' per-group Python loop over string columns
    with nulls."""
    keys = ["concept_id", "source"]
    facts = least_per_group(rows, keys, label="default_label")
    for column in ("rank", "parents", "type_of_gene"):
        facts = facts.merge(greatest_per_group(rows, keys, column), on=keys, how="left")
    return facts


def _concept(row: pd.Series | tuple) -> Concept:
    rank, parents, gene = (None if pd.isna(v) else v for v in (row.rank, row.parents, row.type_of_gene))
    return concept_of(row.concept_id, rank, parents, row.label, gene)


def _concepts(facts: pd.DataFrame) -> dict[tuple[str, str], Concept]:
    """(concept_id, source) -> its ``Concept``, of :func:`_concept_facts` rows."""
    return {(f.concept_id, f.source): _concept(f) for f in facts.itertuples(index=False)}


@functools.lru_cache(maxsize=1 << 16)  # a batch's mentions repeat their candidates (every mention of a symbol)
def _kept(original: tuple[Concept, ...], widened: tuple[Concept, ...], generic: frozenset[str]) -> frozenset[str]:
    """:func:`~kazu_spark.linking.preferences.prefer_widened` of one entity's candidates, memoised."""
    return frozenset(prefer_widened(original, widened, generic))


def _prefer_specific(
    links: pd.DataFrame, queries: pd.DataFrame, terms: pd.DataFrame, generic: frozenset[str]
) -> pd.DataFrame:
    """Each entity's candidates narrowed to the most specific (``_prefer_specific`` of the Spark path).

    Only the rows of concepts with a rank, parents, a place in ``generic``, a pseudogene's ``type_of_gene`` or
    a gene's hyphenated symbol (a readthrough's) are grouped into facts: the rules cannot tell the others apart
    (a gene's other types only beat a pseudogene), so an entity whose candidates are all such keeps them all,
    ambiguous (most ambiguous gene symbols), without its rows being grouped or the rules called."""
    rows = terms[is_in(terms["concept_id"], set(links["concept_id"]))]
    pseudo = rows["type_of_gene"].isin({t for t in rows["type_of_gene"].dropna().unique() if is_pseudogene(t)})
    joined = rows["type_of_gene"].notna() & rows["default_label"].str.contains("-", regex=False, na=False)
    with_facts = rows["rank"].notna() | rows["parents"].notna() | rows["concept_id"].isin(generic) | pseudo | joined
    ruled = set(rows.loc[with_facts, "concept_id"])  # concepts the rules may tell from others
    linked = _concept_facts(rows[is_in(rows["concept_id"], ruled)])
    concepts = _concepts(linked)
    broad = {key for key, concept in concepts.items() if is_broad(concept, generic)}
    is_broad_link = pd.Series([(c, s) in broad for c, s in zip(links["concept_id"], links["source"], strict=True)],
                              index=links.index, dtype=bool)  # fmt: skip
    any_broad = is_broad_link.groupby(links["entity_id"], sort=False).transform("max")
    several = _several_concepts(links)
    any_ruled = links["concept_id"].isin(ruled).groupby(links["entity_id"], sort=False).transform("max")
    alike = several & ~any_ruled  # several concepts the rules cannot tell apart: all kept, ambiguous
    judge = any_broad | (several & any_ruled)
    original = links[judge]
    lookups = (
        original[any_broad[judge]][["entity_id", "via", "source"]].drop_duplicates()
        .merge(queries, on=["entity_id", "via"])
    )  # fmt: skip
    lookups = lookups.assign(key=_normalised(lookups))
    keys = _term_keys(terms, terms["normalised_synonym"], lookups["key"])
    widened = _matches(lookups, keys, "normalised", NORMALISED_SCORE, ["entity_class", "key", "source"])
    seen = pd.MultiIndex.from_frame(original[["entity_id", "concept_id"]])
    widened = widened[~pd.MultiIndex.from_frame(widened[["entity_id", "concept_id"]]).isin(seen)]
    candidates = _concat([original.assign(widened=False), widened.assign(widened=True)], [*MATCH, "widened"])
    unruled = set(candidates["concept_id"]) - set(linked["concept_id"])  # judged with a ruled one, or widened
    concepts.update(_concepts(_concept_facts(terms[is_in(terms["concept_id"], unruled)])))
    found: dict[str, tuple[list[Concept], list[Concept]]] = {}
    columns = (candidates[c] for c in ("entity_id", "concept_id", "source", "widened"))
    for entity_id, concept_id, source, wide in zip(*columns, strict=True):  # a groupby loop: a frame per entity
        concept = concepts.get((concept_id, source)) or concept_of(concept_id, None, None, None)  # no row: no facts
        found.setdefault(entity_id, ([], []))[bool(wide)].append(concept)
    kept = {entity_id: _kept(tuple(original), tuple(wider), generic) for entity_id, (original, wider) in found.items()}
    pairs = zip(candidates["entity_id"], candidates["concept_id"], strict=True)
    keep = np.array([c in kept.get(e, ()) for e, c in pairs], dtype=bool)
    chosen = candidates[keep].copy()
    chosen["ambiguous"] = chosen["entity_id"].map({e: len(k) > 1 for e, k in kept.items()}).astype(bool)
    return _concat([links[~judge & ~alike], links[alike].assign(ambiguous=True), chosen], MATCH)


def _species_links(links: pd.DataFrame, queries: pd.DataFrame, taxa: set[str], cfg: GeneSpeciesConfig) -> pd.DataFrame:
    """The links of species mentions to one of ``taxa``, each with its lookup's text (``query``)."""
    species = queries[queries["entity_class"] == cfg.species_class][["entity_id", "via", "query"]]
    linked = links.merge(species, on=["entity_id", "via"])
    return linked[linked["concept_id"].isin(taxa)]


def _document_taxa(linked: pd.DataFrame, cfg: GeneSpeciesConfig) -> dict:
    """doc_id -> the taxon its species mentions link to most (distinct mentions; ties: default, then least id);
    ``linked``: :func:`_species_links`."""
    counts = linked.groupby(["doc_id", "concept_id"], as_index=False)["entity_id"].nunique()
    counts["not_default"] = counts["concept_id"] != cfg.default_taxon
    best = counts.sort_values(["doc_id", "entity_id", "not_default", "concept_id"], ascending=[True, False, True, True])
    return dict(best.drop_duplicates("doc_id")[["doc_id", "concept_id"]].itertuples(index=False))


def _named_taxa(
    links: pd.DataFrame, queries: pd.DataFrame, documents: pd.DataFrame | None, taxa: set[str], cfg: GeneSpeciesConfig
) -> dict:
    """entity_id -> the taxon its document's text names right before its mention or long form (one of ``taxa``;
    :mod:`kazu_spark.linking.named_species`)."""
    if documents is None or not cfg.named_species:
        return {}
    linked = _species_links(links, queries, taxa, cfg).rename(columns={"query": "phrase", "concept_id": "taxon"})
    genes = queries[queries["entity_class"].isin(cfg.gene_classes) & queries["doc_id"].isin(set(linked["doc_id"]))]
    phrases = _concat([linked, genes.rename(columns={"query": "phrase"}).assign(taxon=None)], list(NAMED_COLUMNS))
    texts = documents[documents["doc_id"].isin(set(linked["doc_id"]))]
    named = species_named_before(phrases.drop_duplicates(), texts).rename(columns={"phrase": "query"})
    found = least_per_group(genes.merge(named, on=["doc_id", "query"]), ["entity_id"], taxon="taxon")
    return dict(zip(found["entity_id"], found["taxon"], strict=True))


def _spelt_votes(judged: pd.DataFrame) -> pd.DataFrame:
    """(doc_id, taxon, symbols, mentions): per document and taxon, the distinct official symbols (labels) its gene
    mentions spell exactly, case included, and the mentions that do (linking.species); ``judged``: gene links with
    their concept's ``taxon``."""
    spelt = judged[
        (judged["strategy"] == "exact")
        & (judged["matched_synonym"] == judged["default_label"])
        & judged["taxon"].notna()
    ]
    return spelt.groupby(["doc_id", "taxon"], as_index=False).agg(
        symbols=("matched_synonym", "nunique"), mentions=("entity_id", "nunique")
    )


def _symbol_taxa(votes: pd.DataFrame, cfg: GeneSpeciesConfig) -> dict:
    """doc_id -> the taxon whose official symbols its gene mentions spell: at least ``cfg.symbol_votes`` distinct
    ones, more than any other taxon's (linking.species); ``votes``: :func:`_spelt_votes`."""
    if cfg.symbol_votes == 0:
        return {}
    votes = votes.sort_values(["doc_id", "symbols"], ascending=[True, False])
    runner_up = votes.groupby("doc_id", sort=False)["symbols"].shift(-1).fillna(0)
    first = votes.groupby("doc_id", sort=False).cumcount() == 0
    best = votes[first & (votes["symbols"] >= cfg.symbol_votes) & (votes["symbols"] > runner_up)]
    return dict(zip(best["doc_id"], best["taxon"], strict=True))


def _spelt_over_named(
    votes: pd.DataFrame, spelt: dict, named: dict, in_text: set[tuple[str, str]], cfg: GeneSpeciesConfig
) -> dict:
    """doc_id -> its spelt taxon (``spelt``) where that overrides the taxon its species mentions name most
    (``named``): the text names it too (``in_text``: (doc_id, taxon) pairs), the named taxon has fewer than
    ``cfg.symbol_votes`` distinct symbols spelt its way, and no more spelt mentions (linking.species)."""
    counts = {
        (d, t): (s, m) for d, t, s, m in votes[["doc_id", "taxon", "symbols", "mentions"]].itertuples(index=False)
    }
    over = {}
    for doc, taxon in spelt.items():
        top = named.get(doc)
        if top is None or top == taxon or (doc, taxon) not in in_text:
            continue
        symbols, mentions = counts.get((doc, top), (0, 0))
        if symbols < cfg.symbol_votes and counts[(doc, taxon)][1] >= mentions:
            over[doc] = taxon
    return over


def orthologue_pairs(rows: pd.DataFrame) -> pd.DataFrame:
    """(concept_id, orthologue) of gene rows, both ways: a gene whose metadata ``orthologues`` lists an id that
    another gene's ``xrefs`` has (HGNC gives human TP53 the mouse orthologue MGI:98834, mouse Trp53's id).

    Example:
        >>> rows = pd.DataFrame({"concept_id": ["NCBIGene:7157", "NCBIGene:22059", "NCBIGene:7157"],
        ...     "orthologues": ["MGI:98834|RGD:3889", None, None], "xrefs": [None, "MGI:98834", "HGNC:11998"]})
        >>> orthologue_pairs(rows).values.tolist()
        [['NCBIGene:22059', 'NCBIGene:7157'], ['NCBIGene:7157', 'NCBIGene:22059']]
    """

    def ids(column: str) -> dict[str, set[str]]:
        """id -> the concepts whose ``column`` lists it"""
        out: dict[str, set[str]] = {}
        for concept, cell in zip(rows["concept_id"], rows[column], strict=True):
            for i in cell.split("|") if isinstance(cell, str) else ():
                out.setdefault(i, set()).add(concept)
        return out

    xrefs = ids("xrefs")
    pairs = {(a, b) for i, named in ids("orthologues").items() for a in named for b in xrefs.get(i, ()) if a != b}
    both = sorted(pairs | {(b, a) for a, b in pairs})
    return pd.DataFrame(both, columns=["concept_id", "orthologue"], dtype=object)


def _orthologues(found: pd.DataFrame, foreign: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Of a mention's genes of its document's species (``found``), those that are one of its foreign candidates'
    orthologue (``pairs``: :func:`orthologue_pairs`) or have, case aside, its symbol (label), where any is (human
    F2R: mouse F2r, not Par1; human TP53: mouse Trp53, not Trp53inp2, whose alias is Tp53; linking.species)."""
    symbols = set(zip(foreign["entity_id"], foreign["default_label"].str.upper(), strict=True))
    theirs = foreign[["entity_id", "concept_id"]].merge(pairs, on="concept_id")
    orthologues = set(zip(theirs["entity_id"], theirs["orthologue"], strict=True))
    keys = zip(found["entity_id"], found["default_label"].str.upper(), found["concept_id"], strict=True)
    same = pd.Series(
        [(e, symbol) in symbols or (e, c) in orthologues for e, symbol, c in keys], index=found.index, dtype=bool
    )
    return found[same | ~same.groupby(found["entity_id"], sort=False).transform("max").astype(bool)]


def _taxed_genes(rows: pd.DataFrame, gene_classes: list[str]) -> pd.DataFrame:
    """The rows of ``gene_classes`` whose metadata has a ``tax_id``."""
    return rows[rows["entity_class"].isin(gene_classes) & rows["tax_id"].notna()]


def _symbols(rows: pd.DataFrame, gene_classes: list[str]) -> pd.DataFrame:
    """(concept_id, source, default_label, doc_taxon, symbol) of the gene rows with a ``tax_id``."""
    rows = _taxed_genes(rows, gene_classes)[["concept_id", "source", "default_label", "tax_id"]].drop_duplicates()
    symbols = rows.assign(doc_taxon="NCBITaxon:" + rows["tax_id"], symbol=rows["default_label"].str.upper())
    return symbols[["concept_id", "source", "default_label", "doc_taxon", "symbol"]]


def _symbol_orthologues(
    stranded: pd.DataFrame, taxed: pd.DataFrame, facts: TermFacts, cfg: GeneSpeciesConfig
) -> pd.DataFrame:
    """MATCH rows: for gene links of other species than their document's, that a lookup could not place, the
    document's species' genes with the same symbol, case aside (mouse Gsk3b: human GSK3B; linking.species)."""
    if stranded.empty:
        return pd.DataFrame(columns=MATCH)
    own = _symbols(taxed[taxed["concept_id"].isin(set(stranded["concept_id"]))], cfg.gene_classes)
    asked = stranded[["entity_id", "doc_id", "via", "matched_synonym", "doc_taxon", "concept_id"]].merge(
        least_per_group(own, ["concept_id"], symbol="symbol"), on="concept_id"
    )  # a stranded concept always has its row in ``taxed``: it is a taxed gene the mention reached
    symbols = _symbols(facts.symbol_rows(set(asked["symbol"])), cfg.gene_classes)
    lookup = ["entity_id", "doc_id", "via", "concept_id", "source", "default_label"]
    pairs = asked.drop(columns="concept_id").merge(symbols, on=["doc_taxon", "symbol"])
    found = least_per_group(pairs, lookup, matched_synonym="matched_synonym")
    return found.assign(strategy="species", score=SPECIES_SCORE, ambiguous=_several_concepts(found))[MATCH]


def _prefer_document_species(
    links: pd.DataFrame,
    queries: pd.DataFrame,
    terms: pd.DataFrame,
    facts: TermFacts,
    cfg: GeneSpeciesConfig,
    documents: pd.DataFrame | None,
) -> pd.DataFrame:
    """Gene mentions narrowed to, or looked up again among, their document's species' genes (linking.species), or
    the genes of the species the text names right before them (linking.named_species)."""
    genes = queries[queries["entity_class"].isin(cfg.gene_classes)][["entity_id", "via"]]
    taxed = _taxed_genes(terms, cfg.gene_classes)
    taxon_of = dict(zip(taxed["concept_id"], "NCBITaxon:" + taxed["tax_id"], strict=True))
    gene_terms = terms[is_in(terms["concept_id"], taxon_of.keys())]  # every source's synonyms of those genes
    judged = links.merge(genes, on=["entity_id", "via"])
    judged["taxon"] = judged["concept_id"].map(taxon_of)
    covered = {f"NCBITaxon:{t}" for t in facts.gene_taxa}
    curated_taxa = {f"NCBITaxon:{t}" for t in facts.curated_taxa}
    curated = _document_taxa(_species_links(links, queries, curated_taxa, cfg), cfg)
    votes = _spelt_votes(judged[judged["taxon"].isin(covered)])
    spelt = _symbol_taxa(votes, cfg)
    in_text = _species_links(links, queries, covered, cfg)
    most_named = _document_taxa(in_text, cfg)
    pairs = set(zip(in_text["doc_id"], in_text["concept_id"], strict=True))
    over = _spelt_over_named(votes, spelt, most_named, pairs, cfg)
    doc_taxa = curated | spelt | most_named | over  # the order of linking.species
    named = _named_taxa(links, queries, documents, covered | curated_taxa, cfg)
    judged["doc_taxon"] = judged["entity_id"].map(named).fillna(judged["doc_id"].map(doc_taxa))
    judged["doc_taxon"] = judged["doc_taxon"].fillna(cfg.default_taxon)
    of_document = judged["taxon"] == judged["doc_taxon"]
    any_of_document = of_document.groupby(judged["entity_id"], sort=False).transform("max").astype(bool)
    all_foreign = (
        judged["taxon"].notna().groupby(judged["entity_id"], sort=False).transform("min").astype(bool)
        & ~any_of_document
    )
    narrowed = judged[any_of_document & (judged["taxon"].isna() | of_document)]
    foreign = judged[all_foreign]
    lookups = foreign[["entity_id", "via", "doc_taxon"]].drop_duplicates().merge(queries, on=["entity_id", "via"])
    lookups = lookups.assign(key=_normalised(lookups).str.upper())
    keys = _term_keys(gene_terms, gene_terms["normalised_synonym"].str.upper(), lookups["key"])
    found = _matches(lookups, keys, "species", SPECIES_SCORE, ["entity_class", "key"])
    wanted = foreign[["entity_id", "doc_taxon"]].drop_duplicates().merge(found, on="entity_id")
    found = wanted[wanted["concept_id"].map(taxon_of) == wanted["doc_taxon"]][MATCH]
    involved = set(found["concept_id"]) | set(foreign["concept_id"])  # the pairs that can matter here
    found = _orthologues(found, foreign, orthologue_pairs(gene_terms[is_in(gene_terms["concept_id"], involved)]))
    kept = _concat([narrowed, found], MATCH)
    kept["ambiguous"] = _several_concepts(kept)
    untouched = judged[~any_of_document & ~judged["entity_id"].isin(found["entity_id"])]
    orthologues = _symbol_orthologues(untouched[all_foreign.loc[untouched.index]], taxed, facts, cfg)
    kept = _concat([kept, orthologues], MATCH)
    untouched = untouched[~untouched["entity_id"].isin(orthologues["entity_id"])]
    if cfg.drop_foreign:
        untouched = untouched[untouched["taxon"].isna() | (untouched["taxon"] == cfg.default_taxon)]
        untouched = untouched.assign(ambiguous=_several_concepts(untouched))
    others = links[~is_in(links["entity_id"], set(genes["entity_id"]))]  # an entity's lookups share its class
    return _concat([others, kept, untouched], MATCH)


def _family_links(links: pd.DataFrame, queries: pd.DataFrame, gene_classes: list[str]) -> pd.DataFrame:
    """Family mentions linked to the concepts of the members their document names, unless one of their own
    links already is one of those (``linking.gene_families``, :mod:`kazu_spark.linking.families`)."""
    genes = queries[(queries["via"] == "mention") & queries["entity_class"].isin(gene_classes)]
    genes = genes[["entity_id", "doc_id", "query", "entity_class"]].rename(columns={"query": "mention"})
    pairs = family_members(genes[["doc_id", "mention", "entity_class"]].drop_duplicates())
    if pairs.empty:
        return links
    named = genes.rename(columns={"entity_id": "member_id", "mention": "member"})
    members = genes.merge(pairs, on=["doc_id", "mention", "entity_class"]).merge(
        named, on=["doc_id", "entity_class", "member"]
    )[["entity_id", "member_id"]]
    found = links.rename(columns={"entity_id": "member_id"}).merge(members.drop_duplicates(), on="member_id")
    own = set(zip(links["entity_id"], links["concept_id"], strict=True))
    kept = {e for e, c in zip(found["entity_id"], found["concept_id"], strict=True) if (e, c) in own}
    found = found[~found["entity_id"].isin(kept)]
    keys = ["entity_id", "doc_id", "concept_id", "source"]
    family = least_per_group(found, keys, default_label="default_label", matched_synonym="matched_synonym")
    family = family.assign(via="mention", strategy="family", score=FAMILY_SCORE, resolution=None)
    family["ambiguous"] = _several_concepts(family)
    return _concat([links[~links["entity_id"].isin(set(family["entity_id"]))], family], list(links.columns))


def concept_texts(rows: pd.DataFrame) -> dict[str, str]:
    """concept_id -> its least label and first 30 distinct synonyms in order, ``CONCEPT_TEXT_SEPARATOR``-joined
    (what context disambiguation compares with the document)."""
    texts = {}
    for concept_id, part in rows.groupby("concept_id"):
        names = [part["default_label"].min(), *sorted(set(part["synonym"]))[:CONCEPT_TEXT_SYNONYMS]]
        texts[concept_id] = CONCEPT_TEXT_SEPARATOR.join(names)
    return texts


def _disambiguate(
    links: pd.DataFrame, terms: pd.DataFrame, documents: pd.DataFrame | None, margin: float, cfg: LinkingConfig
) -> pd.DataFrame:
    """Ambiguous entities narrowed by their document (``resolve_document``, once per document), with ``cfg``'s
    curated sources (their labels are not names) and those whose disagreements the ontology settles."""
    curated = cfg.curated_sources()
    flags = links["ambiguous"].astype(bool)  # typed: an empty object column would select columns, not rows
    ambiguous = links[flags]
    settled = links[~flags].assign(resolution=None)
    if ambiguous.empty:
        return settled
    linked = settled.groupby("doc_id")["concept_id"].agg(lambda c: sorted(set(c))).to_dict()
    candidates = terms[is_in(terms["concept_id"], set(ambiguous["concept_id"]))]
    texts = concept_texts(candidates)
    context = dict(zip(documents["doc_id"], documents["text"], strict=True)) if documents is not None else {}
    ambiguous = ambiguous.assign(
        concept_text=ambiguous["concept_id"].map(texts),
        ontology_named=ontology_named(ambiguous, candidates, curated, cfg.ontology_judged_sources()),
    )
    resolved = []
    for doc_id, group in ambiguous.groupby("doc_id"):
        document = pd.DataFrame({"linked": [linked.get(doc_id)], "context": [context.get(doc_id)]})
        resolved.append(resolve_document(group.reset_index(drop=True), document, margin, curated))
    return _concat([settled, *resolved], [*MATCH, "resolution"])


def _ancestors(ids: set[str], parents: Mapping[str, str]) -> dict[str, list[str]]:
    """Each of ``ids``' ancestors within ``ANCESTOR_HOPS`` is_a steps of ``parents`` (concept -> ``|``-joined ids).

    Example:
        >>> _ancestors({"s"}, {"s": "g1|g2", "g1": "f"})
        {'s': ['g1', 'g2', 'f']}
    """
    found: dict[str, list[str]] = {}
    for concept in ids:
        seen: list[str] = []
        step = {concept}
        for _ in range(ANCESTOR_HOPS):
            step = {p for c in step for p in parents.get(c, "").split("|") if p and p not in seen}
            seen += sorted(step)
        found[concept] = seen
    return found


def _species_of_genus(
    links: pd.DataFrame, terms: pd.DataFrame, facts: TermFacts, model_organisms: Mapping[str, str]
) -> pd.DataFrame:
    """Genus mentions relinked to their document's one species of that genus, or to the genus's model organism
    (:mod:`kazu_spark.linking.genus`); only the documents with a genus link are looked at."""
    ranked = terms.loc[terms["rank"].notna(), ["concept_id", "rank"]].drop_duplicates("concept_id")
    ranks = links["concept_id"].map(dict(zip(ranked["concept_id"], ranked["rank"], strict=True)))
    genus_rank = ranks.map(is_genus_rank).astype(bool)
    if not genus_rank.any():
        return links
    in_play = links["doc_id"].isin(set(links.loc[genus_rank, "doc_id"]))
    part = links[in_play]
    ancestors = _ancestors(set(part.loc[ranks[in_play].map(is_species_rank), "concept_id"]), facts.parents)
    lineage = part["concept_id"].map(lambda concept: ancestors.get(concept, []))
    models = (
        model_species(model_organisms, facts.concept_rows(set(model_organisms.values()))) if model_organisms else None
    )
    moved = species_of_genus(part.assign(genus_rank=genus_rank[in_play], ancestors=lineage), models)
    return pd.concat([links[~in_play], moved], ignore_index=True)


def _confidence_tier(links: pd.DataFrame, cfg: LinkingConfig) -> np.ndarray:
    # typed: with no links at all the columns are empty object arrays, which np.select refuses
    by_context = (links["resolution"] == "context").to_numpy(dtype=bool)
    score = links["score"].to_numpy(dtype=float)
    ambiguous = links["ambiguous"].to_numpy(dtype=bool)
    return np.select(
        [ambiguous, (score >= cfg.tiers.high) & ~by_context, score >= cfg.tiers.medium],
        ["ambiguous", "high", "medium"],
        "low",
    )


def _with_rows(terms: pd.DataFrame, links: pd.DataFrame, facts: TermFacts) -> pd.DataFrame:
    """``terms`` and the rows of the concepts ``links`` name that it lacks (fuzzy, embedding and orthologue
    candidates are not reachable by the mentions' keys): preferences and disambiguation read them."""
    missing = set(links["concept_id"]) - set(terms["concept_id"])
    return _concat([terms, facts.concept_rows(missing)], TERM_COLUMNS) if missing else terms


def link_batch(
    entities: pd.DataFrame,
    documents: pd.DataFrame | None,
    terms: pd.DataFrame,
    facts: TermFacts,
    cfg: LinkingConfig,
    queries: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Links (the LINK_ROWS columns) of ``entities`` (entity_id, doc_id, mention, entity_class) by ``cfg``'s
    cascade and rules, against ``terms`` (the reachable rows, module doc); ``documents`` (doc_id, text) enable
    abbreviations and context disambiguation, as in the Spark path. ``queries`` are the entities' lookups
    (:func:`queries_of`) when the caller has them already: finding the spelled acronyms again costs a tenth of
    the pass."""
    if queries is None:
        queries = queries_of(entities, documents, cfg.abbreviations)
    links = _cascade(queries, terms, cfg, facts)
    if links.empty:  # nothing matched (e.g. mentions of undecodable bytes): no rule has anything to narrow
        return pd.DataFrame(columns=ROWS)
    terms = _with_rows(terms, links, facts)
    if cfg.abbreviations:
        links = _with_abbreviations(links)
    generic = frozenset(c for concepts in cfg.generic_concepts.values() for c in concepts)
    if cfg.prefer_specific:
        links = _prefer_specific(links, queries, terms, generic)
    if cfg.gene_species.enabled:
        links = _prefer_document_species(links, queries, terms, facts, cfg.gene_species, documents)
        terms = _with_rows(terms, links, facts)
    if cfg.disambiguation.enabled:
        links = _disambiguate(links, terms, documents, cfg.disambiguation.margin, cfg)
    else:
        links = links.assign(resolution=None)
    if cfg.gene_families:
        links = _family_links(links, queries, cfg.gene_species.gene_classes)
    if cfg.genus_to_species:
        links = _species_of_genus(links, terms, facts, cfg.model_organisms)
    links = links.reset_index(drop=True)
    ids = links["entity_id"] + "|" + links["concept_id"] + "|" + links["source"]
    return links.assign(
        link_id=[hashlib.sha1(i.encode()).hexdigest() for i in ids],
        confidence_tier=_confidence_tier(links, cfg),
        generic=links["concept_id"].isin(generic),
        source_version=links["source"].map(facts.versions),
    )[ROWS]


class TermTable:
    """The whole ``ontology_terms`` table in pandas (:data:`TERM_COLUMNS`, ``source_version`` and
    ``source_checksum``) with what every batch linked against it reuses: its normalised synonyms upper-cased and
    the fuzzy indexes built so far (per set of classes). Pickled, it carries the table only; the rest is rebuilt
    where it is used (a Spark task linking many batches builds each once).

    Example:
        >>> TermTable(pd.DataFrame({"normalised_synonym": ["p53"]})).upper.tolist()
        ['P53']
    """

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table
        self._upper: pd.Series | None = None
        self._labels: pd.Series | None = None
        self._indexes: dict[tuple[frozenset[str], int], dict] = {}
        self._versions: dict[str, str | None] | None = None
        self._taxa: dict[tuple[tuple[str, ...], ...], tuple[set[str], set[str]]] = {}
        self._parents: dict[str, str] | None = None
        self._encoder_texts: dict[bool, pd.Series] = {}
        self._codes: dict[str, tuple[np.ndarray, pd.Index]] = {}

    def __getstate__(self) -> dict:
        return {"table": self.table}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["table"])

    @property
    def upper(self) -> pd.Series:
        """The normalised synonyms upper-cased (the gene-species step's case-folded keys)."""
        if self._upper is None:
            self._upper = self.table["normalised_synonym"].str.upper()
        return self._upper

    @property
    def labels(self) -> pd.Series:
        """The labels upper-cased (the gene-species step's symbols, case aside)."""
        if self._labels is None:
            self._labels = self.table["default_label"].str.upper()
        return self._labels

    def rows_in(self, column: str, values: Collection[str]) -> np.ndarray:
        """Mask of the rows whose ``column`` (a table column, or the derived ``upper`` or ``labels``) is one of
        ``values``: by the column's codes, factorised on first use (a string ``isin`` over a million rows costs
        ~0.3 s a batch).

        Example:
            >>> TermTable(pd.DataFrame({"synonym": ["a", "b", "a"]})).rows_in("synonym", {"a", "z"}).tolist()
            [True, False, True]
        """
        if column not in self._codes:
            derived = column in ("upper", "labels")
            self._codes[column] = pd.factorize(getattr(self, column) if derived else self.table[column])
        codes, uniques = self._codes[column]
        found = uniques.get_indexer(list(values))
        return np.isin(codes, found[found >= 0])

    def encoder_texts(self, lowercase: bool) -> pd.Series:
        """The synonyms as the synonym encoder reads them (:func:`~kazu_spark.linking.embedding.encoder_keys`)."""
        if lowercase not in self._encoder_texts:
            self._encoder_texts[lowercase] = encoder_keys(self.table["synonym"], lowercase)
        return self._encoder_texts[lowercase]

    def versions(self) -> dict[str, str | None]:
        """Each source's (greatest) ``source_version``."""
        if self._versions is None:
            versions = self.table.groupby("source")["source_version"].max()
            self._versions = {source: None if pd.isna(v) else v for source, v in versions.items()}
        return self._versions

    def parents(self) -> dict[str, str]:
        """concept_id -> its (greatest) ``|``-joined parents, of the concepts that have some."""
        if self._parents is None:
            rows = greatest_per_group(self.table, ["concept_id"], "parents")
            self._parents = dict(zip(rows["concept_id"], rows["parents"], strict=True))
        return self._parents

    def gene_taxa(self, gene_classes: Collection[str], curated: Collection[str] = ()) -> tuple[set[str], set[str]]:
        """The ``tax_id`` values of the concepts of ``gene_classes``: those the sources other than ``curated``
        give, and those only ``curated`` sources give."""
        key = (tuple(sorted(gene_classes)), tuple(sorted(curated)))
        if key not in self._taxa:
            rows = self.table[self.table["entity_class"].isin(key[0])]
            by_curation = rows["source"].isin(key[1])
            covered = set(rows.loc[~by_curation, "tax_id"].dropna())
            self._taxa[key] = covered, set(rows.loc[by_curation, "tax_id"].dropna()) - covered
        return self._taxa[key]

    def fuzzy_indexes(self, classes: Collection[str], max_index_terms: int, skip_sources: frozenset[str]) -> dict:
        """:func:`~kazu_spark.linking.fuzzy.class_indexes` of ``classes`` that have at most ``max_index_terms``
        distinct normalised synonyms, without ``skip_sources``' synonyms, built on first use."""
        key = (frozenset(classes), max_index_terms, skip_sources)
        if key not in self._indexes:
            rows = index_rows(self.table, classes, skip_sources)
            sizes = rows.groupby("entity_class")["normalised_synonym"].nunique().to_dict()
            self._indexes[key] = class_indexes(rows[rows["entity_class"].isin(indexable(sizes, max_index_terms))])
        return self._indexes[key]


def link_with_table(
    entities: pd.DataFrame,
    documents: pd.DataFrame | None,
    table: pd.DataFrame | TermTable,
    cfg: LinkingConfig,
    embedder: Embedder | None = None,
) -> pd.DataFrame:
    """:func:`link_batch` against the whole ``ontology_terms`` table held in pandas (``table``: the
    :data:`TERM_COLUMNS` and ``source_version``, or a :class:`TermTable` of them): the reachable rows, the
    sources' versions, the gene taxa, the rows of fuzzy and embedding candidates and the fuzzy indexes of the
    classes that need one all come from it. ``embedder`` runs the ``embedding`` step (None: it finds nothing).

    Example (a misspelt disease, found by the fuzzy step):
        >>> entities = pd.DataFrame({"entity_id": ["e"], "doc_id": ["d"], "mention": ["Asthmma"],
        ...                          "entity_class": ["disease"]})
        >>> table = pd.DataFrame({"entity_class": ["disease"], "synonym": ["Asthma"],
        ...                       "normalised_synonym": ["asthma"], "source": ["MEDIC"], "concept_id": ["MESH:D001249"],
        ...                       "default_label": ["Asthma"], "rank": [None], "parents": [None], "tax_id": [None],
        ...                       "type_of_gene": [None], "xrefs": [None], "orthologues": [None],
        ...                       "source_version": ["2024"]})
        >>> links = link_with_table(entities, None, table, LinkingConfig(steps=["exact", "fuzzy"]))
        >>> links[["concept_id", "strategy", "source_version"]].values.tolist()
        [['MESH:D001249', 'fuzzy_tfidf', '2024']]
    """
    whole = table if isinstance(table, TermTable) else TermTable(table)
    table = whole.table
    queries = queries_of(entities, documents, cfg.abbreviations)
    exact, normalised, upper = lookup_keys(queries, "variants" in cfg.steps)
    hit = whole.rows_in("synonym", exact) | whole.rows_in("normalised_synonym", normalised)
    hit |= whole.rows_in("upper", upper)
    reachable = table[whole.rows_in("concept_id", set(table.loc[hit, "concept_id"]))]

    def fuzzy(keyed: pd.DataFrame) -> pd.DataFrame:
        indexes = whole.fuzzy_indexes(set(keyed["entity_class"]), cfg.fuzzy.max_index_terms, cfg.unfuzzy_sources())
        return fuzzy_batch(indexes, keyed, cfg.fuzzy)

    def embedding(missed: pd.DataFrame) -> pd.DataFrame:
        if embedder is None:
            return pd.DataFrame(columns=MATCH)
        return embedding_matches(missed, whole, embedder, cfg.embedding.classes)

    gene_taxa, curated_taxa = whole.gene_taxa(cfg.gene_species.gene_classes, cfg.curated_sources())
    facts = TermFacts(
        versions=whole.versions(),
        gene_taxa=gene_taxa,
        curated_taxa=curated_taxa,
        concept_rows=lambda ids: table[whole.rows_in("concept_id", ids)][TERM_COLUMNS],
        parents=whole.parents() if cfg.genus_to_species else {},
        fuzzy=fuzzy,
        embedding=embedding,
        symbol_rows=lambda symbols: table[whole.rows_in("labels", symbols) & table["tax_id"].notna()][TERM_COLUMNS],
    )
    return link_batch(entities, documents, reachable[TERM_COLUMNS].reset_index(drop=True), facts, cfg, queries)
