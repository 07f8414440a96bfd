"""Entity linking on a PubTator corpus (NCBI-disease, BC5CDR, BioRED, S800): gold-mention accuracy@1, end to end.

(a) **Gold-mention accuracy@1.** Every gold mention of an evaluated corpus type (``CORPUS_CLASSES``) is
linked on its own with ``link_entities`` -- the project's linking entry, so every strategy it gains
applies here -- and its *top concept* (``top_concepts``) is compared with the gold ids. A mention is
correct when the top concept is one of its gold ids (a composite mention, ``D020225|D020227``, is
correct with either part: a single-concept linker cannot return both). Mentions whose gold id is ``-1``
(no concept) are counted under ``without_id`` and left out of the accuracy; an unlinked mention is wrong.
Gold ids are taken with their ontology aliases (:func:`~kazu_spark.ontologies.parsers.id_index`: alternative
and old ids, cross-references): NCBI-disease annotates some diseases with OMIM ids that MEDIC lists as
``AltDiseaseIDs`` of a MeSH concept, and linking to that concept is right.

A mention is *in the ontology* when one of its gold ids is a concept of its class in the terms; per class
the result gives ``in_ontology_accuracy`` (correct / in the ontology: what linking can reach) and
``not_in_ontology_share`` (e.g. S800 taxa missing from the shared slim taxonomy, BioRED's NCBI Gene ids
against HGNC-keyed genes, Cellosaurus cell lines that no configured ontology has). A miss is counted under
the first kind that applies:

* ``gold_id_not_in_ontology``: no gold id is a concept of any class in the terms;
* ``gold_id_in_other_class``: a gold id is a concept of another class only (e.g. a BioRED phenotype whose
  MeSH id sits in the drug tree): linking, which stays in the mention's class, cannot reach it;
* ``no_candidate``: the mention got no link;
* ``ambiguous_unresolved``: a gold id was among the concepts tied at the top score, and the tie-break
  (``top_concepts``) chose another;
* ``composite_mention``: several gold ids (a single-concept linker names one) and none was chosen;
* ``wrong_concept``: any other wrong top concept.

(b) **End to end.** The job's own composition (:func:`~kazu_spark.pipeline.frames.annotate_frames`: every
step of ``ner.steps``, dictionary NER included when configured, then the linking cascade) annotates the
documents; each predicted entity of an evaluated class gets its top concept. With ``pairs`` = (doc, start,
end, concept) in PubTator offsets:

* predicted pairs: one per linked predicted entity, except those whose span is exactly a ``-1`` gold
  span (nothing to judge against);
* a predicted pair is a true positive when a gold mention has the same doc and exact span and the
  concept is one of its ids; recall divides the true positives by the gold mentions that have ids;
* ``document`` level (BC5CDR's DNER measure): sets of (doc, concept), gold from every gold id.

Example (needs a SparkSession and the ontology terms):
    >>> result = evaluate_linking(spark, "devel.txt", terms, load_config())  # doctest: +SKIP
    >>> result["gold_mentions"]["overall"]["accuracy"]  # doctest: +SKIP
    0.93
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from kazu_spark.config import Config
from kazu_spark.documents.ingest import SEPARATOR
from kazu_spark.documents.pubtator import CORPUS_CLASSES, GoldMention, PubtatorDocument, read_pubtator
from kazu_spark.linking.spark import link_entities
from kazu_spark.ontologies.parsers import ALIAS_KEYS, id_index
from kazu_spark.pipeline.frames import annotate_dataframe
from kazu_spark.runtime.steps import StepContext
from kazu_spark.schemas import ENTITIES

_EXAMPLES = 5
MISS_COLUMNS = ("doc_id", "start", "end", "mention", "entity_class", "gold", "top", "strategy", "score", "error")

Span = tuple[str, int, int]


def top_concepts(links: Iterable[dict]) -> dict[str, str]:
    """Entity id -> its top concept: the highest score; ties go to the concept more sources agree on
    (e.g. MEDIC and a curation), then to the smallest concept id, so the choice is deterministic.

    Example:
        >>> top_concepts([
        ...     {"entity_id": "e", "concept_id": "B", "source": "MEDIC", "score": 0.9},
        ...     {"entity_id": "e", "concept_id": "A", "source": "MEDIC", "score": 0.9},
        ...     {"entity_id": "e", "concept_id": "B", "source": "curations", "score": 0.9},
        ...     {"entity_id": "f", "concept_id": "C", "source": "MEDIC", "score": 0.5},
        ...     {"entity_id": "f", "concept_id": "D", "source": "MEDIC", "score": 1.0}])
        {'e': 'B', 'f': 'D'}
    """
    best: dict[str, dict[str, tuple[float, int]]] = defaultdict(dict)
    for link in links:
        score, support = best[link["entity_id"]].get(link["concept_id"], (0.0, 0))
        best[link["entity_id"]][link["concept_id"]] = (max(score, link["score"]), support + 1)
    return {
        entity: min(concepts, key=lambda c: (-concepts[c][0], -concepts[c][1], c)) for entity, concepts in best.items()
    }


def top_candidates(links: Iterable[dict]) -> dict[str, set[str]]:
    """Entity id -> the concepts at its highest score: those ``top_concepts`` breaks a tie between.

    Example:
        >>> top_candidates([
        ...     {"entity_id": "e", "concept_id": "B", "score": 0.9},
        ...     {"entity_id": "e", "concept_id": "A", "score": 0.9},
        ...     {"entity_id": "e", "concept_id": "C", "score": 0.5}]) == {"e": {"A", "B"}}
        True
    """
    scores: dict[str, dict[str, float]] = defaultdict(dict)
    for link in links:
        concepts = scores[link["entity_id"]]
        concepts[link["concept_id"]] = max(concepts.get(link["concept_id"], 0.0), link["score"])
    return {e: {c for c, s in concepts.items() if s == max(concepts.values())} for e, concepts in scores.items()}


def top_strategies(links: Iterable[dict], top: dict[str, str]) -> dict[str, tuple[str, float]]:
    """Entity id -> (strategy, score) of its best link to its top concept (``top_concepts``): which step
    made the link the evaluation judges.

    Example:
        >>> top_strategies([
        ...     {"entity_id": "e", "concept_id": "A", "strategy": "fuzzy_tfidf", "score": 0.7},
        ...     {"entity_id": "e", "concept_id": "A", "strategy": "exact", "score": 1.0},
        ...     {"entity_id": "e", "concept_id": "B", "strategy": "embedding", "score": 0.8}], {"e": "A"})
        {'e': ('exact', 1.0)}
    """
    best: dict[str, tuple[float, str]] = {}
    for link in links:
        entity, rank = link["entity_id"], (-link["score"], link["strategy"])  # ties: the first name, any order
        if top.get(entity) == link["concept_id"] and rank < best.get(entity, (1.0, "")):
            best[entity] = rank
    return {entity: (strategy, -score) for entity, (score, strategy) in best.items()}


def score_bucket(score: float, width: float = 0.05) -> str:
    """The lower edge of a score's bucket, as a key: the precision of a step by score, to choose a threshold.

    Example:
        >>> score_bucket(0.7361), score_bucket(1.0)
        ('0.70', '1.00')
    """
    return f"{int(round(score / width, 6)) * width:.2f}"


def annotated_classes(docs: list[PubtatorDocument]) -> set[str]:
    """The entity classes a corpus has evaluated mentions of (to build only their ontology terms).

    Example:
        >>> annotated_classes([PubtatorDocument("1", mentions=[GoldMention("1", 0, 5, "woman", "OrganismTaxon", ())])])
        {'species'}
    """
    return {CORPUS_CLASSES[m.corpus_type] for m in _linkable(docs)}


def _entity_id(span: Span, entity_class: str) -> str:
    return hashlib.sha1(f"{span[0]}|{span[1]}|{span[2]}|{entity_class}".encode()).hexdigest()


def _linkable(docs: list[PubtatorDocument]) -> list[GoldMention]:
    return [m for doc in docs for m in doc.mentions if m.corpus_type in CORPUS_CLASSES]


def _ratio(n: int, d: int) -> float:
    return round(n / d, 4) if d else 0.0


def _prf(tp: int, predicted: int, gold: int) -> dict[str, float | int]:
    precision, recall = _ratio(tp, predicted), _ratio(tp, gold)
    f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "predicted": predicted, "gold": gold}


def _with_aliases(ids: Iterable[str], aliases: dict[str, set[str]]) -> set[str]:
    return {i for cid in ids for i in (cid, *aliases.get(cid, ()))}


def _error_category(
    mention: GoldMention, ids: set[str], predicted: str | None, known: dict[str, set[str]], tied: set[str]
) -> str:
    """Why a gold mention was missed: the first kind of the module doc that applies."""
    if not ids & known.get(CORPUS_CLASSES[mention.corpus_type], set()):
        in_other = any(ids & concepts for concepts in known.values())
        return "gold_id_in_other_class" if in_other else "gold_id_not_in_ontology"
    if predicted is None:
        return "no_candidate"
    if ids & tied:
        return "ambiguous_unresolved"
    return "composite_mention" if len(mention.concept_ids) > 1 else "wrong_concept"


def gold_mention_accuracy(
    mentions: list[GoldMention],
    predicted: dict[str, str],
    known: dict[str, set[str]],
    aliases: dict[str, set[str]] | None = None,
    tied: dict[str, set[str]] | None = None,
    strategies: dict[str, tuple[str, float]] | None = None,
    misses: list[dict[str, object]] | None = None,
) -> dict[str, dict]:
    """Accuracy@1 per entity class and overall, in-ontology accuracy and the share not in the ontology,
    error kinds (module doc) and a few examples each.

    ``predicted`` maps ``_entity_id`` of a mention to its top concept; ``known`` is class -> the concept
    ids in the ontology terms (to tell "not in the ontology" apart from a linking error); ``aliases``
    widens each gold id with the concepts that list it as an alternative id; ``tied`` maps an entity id
    to its concepts at the top score (``top_candidates``). With ``strategies`` (``top_strategies``) each
    class also gets ``by_strategy``: per step, the mentions whose top link it made and how many are right
    (its precision on gold mentions), overall and per score bucket (``score_bucket``): what a threshold on
    that step's score would keep and lose. A ``misses`` list gets one row per wrong or unlinked mention
    (``MISS_COLUMNS``): the error analysis behind the counts.

    Example:
        >>> m = GoldMention("1", 0, 7, "lithium", "Chemical", ("MESH:D008094",))
        >>> known = {"drug": {"MESH:D008094"}}
        >>> r = gold_mention_accuracy([m], {_entity_id(("1", 0, 7), "drug"): "MESH:D008094"}, known)
        >>> r["overall"]["accuracy"], r["drug"]["correct"], r["drug"]["in_ontology_accuracy"]
        (1.0, 1, 1.0)
    """
    stats: dict[str, Counter] = defaultdict(Counter)
    errors: dict[str, Counter] = defaultdict(Counter)
    examples: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    made: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))  # class -> step -> counts
    by_score: dict[str, dict[str, dict[str, Counter]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(Counter)))
    for mention in mentions:
        entity_class = CORPUS_CLASSES[mention.corpus_type]
        counts = stats[entity_class]
        counts["mentions"] += 1
        if not mention.concept_ids:
            counts["without_id"] += 1
            continue
        counts["evaluated"] += 1
        entity_id = _entity_id((mention.doc_id, mention.start, mention.end), entity_class)
        top = predicted.get(entity_id)
        ids = _with_aliases(mention.concept_ids, aliases or {})
        counts["in_ontology"] += bool(ids & known.get(entity_class, set()))
        if top is None:
            counts["unlinked"] += 1
        elif strategies and entity_id in strategies:
            strategy, score = strategies[entity_id]
            judged = {"linked": 1, "correct": int(top in ids)}
            made[entity_class][strategy].update(judged)
            by_score[entity_class][strategy][score_bucket(score)].update(judged)
        if top in ids:
            counts["correct"] += 1
            continue
        category = _error_category(mention, ids, top, known, (tied or {}).get(entity_id, set()))
        errors[entity_class][category] += 1
        if misses is not None:
            step, score = (strategies or {}).get(entity_id, ("", None))
            row = (mention.doc_id, mention.start, mention.end, mention.mention, entity_class,
                   "|".join(mention.concept_ids), top or "", step, score, category)  # fmt: skip
            misses.append(dict(zip(MISS_COLUMNS, row, strict=True)))
        if len(examples[entity_class][category]) < _EXAMPLES:
            examples[entity_class][category].append(
                f"{mention.mention} -> {top} (gold {'|'.join(mention.concept_ids)})"
            )
    result = {}
    for name in [*sorted(stats), "overall"]:
        classes = sorted(stats) if name == "overall" else [name]
        counts = sum((stats[c] for c in classes), Counter())
        result[name] = {
            "accuracy": _ratio(counts["correct"], counts["evaluated"]),
            "in_ontology_accuracy": _ratio(counts["correct"], counts["in_ontology"]),
            "not_in_ontology_share": _ratio(counts["evaluated"] - counts["in_ontology"], counts["evaluated"]),
            **{k: counts[k] for k in ("mentions", "without_id", "evaluated", "in_ontology", "correct", "unlinked")},
            "errors": dict(sum((errors[c] for c in classes), Counter())),
        }
        if name != "overall":
            result[name]["error_examples"] = {k: v for k, v in examples[name].items()}
            if strategies:
                result[name]["by_strategy"] = {
                    step: {
                        **_precision(counts),
                        "by_score": {b: _precision(c) for b, c in sorted(by_score[name][step].items())},
                    }
                    for step, counts in sorted(made[name].items())
                }
    return result


def _precision(counts: Counter) -> dict[str, float | int]:
    """``linked`` and ``correct`` counts with their ratio."""
    return {**counts, "precision": _ratio(counts["correct"], counts["linked"])}


def end_to_end_scores(
    docs: list[PubtatorDocument], predicted: dict[Span, tuple[str, str]], aliases: dict[str, set[str]] | None = None
) -> dict[str, dict]:
    """Mention-level and document-level P/R/F1 per class and overall (definitions in the module doc).

    ``predicted`` maps a predicted entity's span (doc, start, end) in PubTator offsets to its
    (entity class, top concept); ``aliases`` as in ``gold_mention_accuracy``.

    Example:
        >>> doc = PubtatorDocument("1", mentions=[GoldMention("1", 0, 7, "lithium", "Chemical", ("MESH:D008094",))])
        >>> r = end_to_end_scores([doc], {("1", 0, 7): ("drug", "MESH:D008094"), ("1", 9, 12): ("drug", "MESH:X")})
        >>> r["mention"]["overall"]["precision"], r["mention"]["overall"]["recall"], r["document"]["drug"]["f1"]
        (0.5, 1.0, 0.6667)
    """
    gold_spans: dict[Span, tuple[str, set[str]]] = {}
    for m in _linkable(docs):
        entity_class, ids = gold_spans.get((m.doc_id, m.start, m.end), (CORPUS_CLASSES[m.corpus_type], set()))
        gold_spans[(m.doc_id, m.start, m.end)] = (entity_class, ids | _with_aliases(m.concept_ids, aliases or {}))
    classes = sorted({c for c, _ in gold_spans.values()})
    kept = {span: p for span, p in predicted.items() if p[0] in classes and gold_spans.get(span, ("", {""}))[1]}
    result: dict[str, dict] = {"mention": {}, "document": {}}
    for name in [*classes, "overall"]:
        wanted = set(classes) if name == "overall" else {name}
        gold = {s: ids for s, (c, ids) in gold_spans.items() if c in wanted and ids}
        pred = {s: concept for s, (c, concept) in kept.items() if c in wanted}
        tp = sum(1 for s, concept in pred.items() if concept in gold.get(s, ()))
        result["mention"][name] = _prf(tp, len(pred), len(gold))
        gold_docs = {(s[0], cid) for s, ids in gold.items() for cid in ids}
        pred_docs = {(s[0], concept) for s, concept in pred.items()}
        result["document"][name] = _prf(len(gold_docs & pred_docs), len(pred_docs), len(gold_docs))
    return result


def _gold_entities(spark: SparkSession, mentions: list[GoldMention]) -> DataFrame:
    rows = {
        _entity_id((m.doc_id, m.start, m.end), CORPUS_CLASSES[m.corpus_type]): (
            m.doc_id, "body", m.start, m.end, m.mention, CORPUS_CLASSES[m.corpus_type]
        )
        for m in mentions
    }  # fmt: skip
    return spark.createDataFrame(
        [(eid, doc, sec, s, e, text, cls, 1.0, "gold", "", "") for eid, (doc, sec, s, e, text, cls) in rows.items()],
        schema=ENTITIES,
    )


def _collect_top(links: DataFrame) -> tuple[dict[str, str], dict[str, set[str]], dict[str, tuple[str, float]]]:
    """Top concept, top-score concepts and the top link's strategy of every linked entity, from one collect."""
    rows = [r.asDict() for r in links.select("entity_id", "concept_id", "source", "strategy", "score").collect()]
    top = top_concepts(rows)
    return top, top_candidates(rows), top_strategies(rows, top)


def pubtator_offset(offset: int, section: str, title_length: int) -> int:
    """A ``documents.text`` offset as a PubTator offset: the stored text joins title and body with
    ``SEPARATOR`` (a blank line), PubTator with one space; a title-less document starts with its body.

    Example:
        >>> pubtator_offset(3, "title", 10), pubtator_offset(12, "body", 10), pubtator_offset(4, "body", 0)
        (3, 11, 5)
    """
    if section != "body":
        return offset
    return offset - (title_length + len(SEPARATOR) if title_length else 0) + title_length + 1


def _predicted_spans(
    spark: SparkSession, docs: list[PubtatorDocument], terms: DataFrame, cfg: Config
) -> dict[Span, tuple[str, str]]:
    """The job's composition (:func:`~kazu_spark.pipeline.frames.annotate_frames`: every NER step of
    ``cfg.ner.steps``, then the linking cascade) over the documents; span in PubTator offsets -> (class,
    top concept)."""
    frame = spark.createDataFrame(
        [(d.doc_id, d.title or None, d.abstract or None) for d in docs], "doc_id string, title string, abstract string"
    )
    entities, links = annotate_dataframe(frame, "doc_id", "abstract", title_col="title", conf=cfg, terms=terms)
    top, _, _ = _collect_top(links)
    titles = {d.doc_id: len(d.title) for d in docs}
    spans = {}
    for row in entities.select("entity_id", "doc_id", "section", "start", "end", "entity_class").collect():
        if row["entity_id"] in top:
            start, end = (pubtator_offset(row[k], row["section"], titles[row["doc_id"]]) for k in ("start", "end"))
            spans[(row["doc_id"], start, end)] = (row["entity_class"], top[row["entity_id"]])
    return spans


def evaluate_linking(
    spark: SparkSession,
    pubtator: str,
    terms: DataFrame,
    cfg: Config | None = None,
    *,
    end_to_end: bool = True,
    misses: list[dict[str, object]] | None = None,
) -> dict[str, object]:
    """Gold-mention accuracy@1 of ``link_entities`` (configured by ``cfg.linking``) against ``terms`` on a
    PubTator file, and with ``end_to_end``, scores of the job's whole composition (``cfg.ner.steps``, then
    linking) on the same documents. Returns a JSON-ready dict; ``misses`` gets every gold mention linked
    wrong or not at all (``gold_mention_accuracy``)."""
    cfg = cfg or Config()
    docs = read_pubtator(pubtator)
    mentions = _linkable(docs)
    alternatives = [F.col("metadata").getItem(key).alias(key) for key in ALIAS_KEYS]
    concepts = terms.select("entity_class", "concept_id", *alternatives).distinct().collect()
    known: dict[str, set[str]] = defaultdict(set)
    for row in concepts:
        known[row["entity_class"]].add(row["concept_id"])
    aliases = id_index((row["concept_id"], row.asDict()) for row in concepts)
    texts = spark.createDataFrame([(d.doc_id, f"{d.title} {d.abstract}") for d in docs], "doc_id string, text string")
    context = StepContext(cfg, terms, texts)  # the whole config: worker_memory_limit_mb, custom steps
    linked = link_entities(_gold_entities(spark, mentions), terms, cfg.linking, texts, context=context)
    predicted, tied, strategies = _collect_top(linked)
    result: dict[str, object] = {
        "corpus": pubtator,
        "documents": len(docs),
        "sources": sorted(r["source"] for r in terms.select("source").distinct().collect()),
        "gold_mentions": gold_mention_accuracy(mentions, predicted, known, aliases, tied, strategies, misses),
    }
    if end_to_end:
        result["end_to_end"] = end_to_end_scores(docs, _predicted_spans(spark, docs, terms, cfg), aliases)
    return result
