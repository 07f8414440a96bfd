"""Known names: names the training corpora mark as entities most times they are written, added where the model
found nothing (``ner.known_names``).

The model misses names it saw too seldom in training (``mammalian target of rapamycin`` as a gene, ``MEFs``); a
dictionary of every ontology synonym finds them, but also every common word that is some gene's alias or some genus (all
the shared ontologies' synonyms, added where the model found nothing: mean devel F1 0.750 -> 0.599). So the names are
counted on the train splits instead (:func:`count_names`): every gold mention text is searched for in every train
sentence of the corpora that annotate its class, and a name is kept (:func:`select_names`) when it is found often enough
and marked most of those times, in every corpus that writes it (its *keyphraseness*): ``p53`` and ``Jurkat`` are kept,
``cells`` and ``protein`` are not. ``kazu-spark train names`` writes the kept names as a TSV (:func:`write_names`); the
bundled one is ``kazu_spark/resources/curations/known_names.tsv``.

:class:`KnownNames` finds them in a text (Aho–Corasick, whole words; symbols such as ``BRCA1`` case-sensitively,
:class:`~kazu_spark.ner.dictionary.DictionaryMatcher`) and :meth:`KnownNames.missed` keeps a hit only where the
model has no entity of its class overlapping it, and no longer entity of any class around it (``tumor`` of the
model's cell type ``tumor cells`` is not added as a disease). The model step adds them before the abbreviation step,
which drops one on an acronym the document defines (:mod:`kazu_spark.ner.abbreviations`).

Example:
    >>> names = KnownNames([("Jurkat", "cell_line", 0.9), ("tumor", "disease", 0.7), ("p53", "gene", 0.8)])
    >>> text = "Jurkat and tumor cells lack p53"
    >>> names.missed(text, [(11, 22, "cell_type"), (28, 31, "gene")])
    [(0, 6, 'cell_line', 0.9)]
"""

from __future__ import annotations

import csv
import hashlib
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from kazu_spark.documents.conll import Sentence
from kazu_spark.errors import InputError
from kazu_spark.ner.dictionary import DictionaryMatcher, match_key
from kazu_spark.paths import resolve_path

#: the columns of a known-names file
COLUMNS = ("name", "entity_class", "marked", "found")
#: the start of a known name's ``model`` (emitter) in entity rows
MODEL_PREFIX = "known-names@"
#: shorter names are not counted or searched (``T``, ``RA``: too many meanings)
MIN_LENGTH = 3

Span = tuple[int, int, str]


class NameCount(NamedTuple):
    """How often a name of a class is found in one corpus's train sentences, and how often it is marked there."""

    name: str
    entity_class: str
    corpus: str
    marked: int
    found: int


class KnownName(NamedTuple):
    """A kept name: its class, how often it was marked and found over all corpora."""

    name: str
    entity_class: str
    marked: int
    found: int


def count_names(sentences: Sequence[Sentence], annotated: Mapping[str, set[str]]) -> list[NameCount]:
    """For each gold mention text of ``sentences`` and its class: in each corpus annotating that class
    (``annotated``: corpus -> classes), the times it is found in a sentence (:class:`DictionaryMatcher`, whole
    words, the longest of overlapping hits) and the times a gold mention of that class has exactly that span.

    Example:
        >>> s = [Sentence("p53 binds p53", ((0, 3, "gene"),), "c"), Sentence("p53 again", (), "c")]
        >>> count_names(s, {"c": {"gene"}})
        [NameCount(name='p53', entity_class='gene', corpus='c', marked=1, found=3)]
    """
    mentions = {(s.text[a:b], cls, "gold") for s in sentences for a, b, cls in s.entities}
    matcher = DictionaryMatcher.build(mentions, MIN_LENGTH)
    found: Counter[tuple[str, str, str]] = Counter()
    marked: Counter[tuple[str, str, str]] = Counter()
    for sentence in sentences:
        gold = set(sentence.entities)
        for hit in matcher.find(sentence.text):
            if hit.entity_class not in annotated.get(sentence.corpus, ()):
                continue
            key = (match_key(sentence.text[hit.start : hit.end])[1], hit.entity_class, sentence.corpus)
            found[key] += 1
            marked[key] += (hit.start, hit.end, hit.entity_class) in gold
    return [NameCount(*key, marked[key], n) for key, n in sorted(found.items())]


def select_names(
    counts: Iterable[NameCount], *, min_found: int = 2, min_rate: float = 0.6, min_corpus_rate: float = 0.5
) -> list[KnownName]:
    """The names found at least ``min_found`` times and marked at least ``min_rate`` of them over all corpora, and
    at least ``min_corpus_rate`` of them in each corpus that writes them twice or more (where guidelines differ,
    a name one corpus marks and another does not is no known name). A name kept in several classes keeps the one it
    is marked most as (``TCR``: 154 times a gene, 6 times a drug), all of them on a tie.

    Example:
        >>> counts = [NameCount("p53", "gene", "a", 4, 5), NameCount("cells", "cell_type", "a", 1, 9),
        ...           NameCount("SIVmac", "species", "a", 1, 1), NameCount("IL-2", "gene", "a", 5, 5),
        ...           NameCount("IL-2", "gene", "b", 0, 3), NameCount("TCR", "gene", "a", 9, 9),
        ...           NameCount("TCR", "drug", "c", 2, 2)]
        >>> [(n.name, n.entity_class) for n in select_names(counts)]
        [('TCR', 'gene'), ('p53', 'gene')]
    """
    per_name: dict[tuple[str, str], list[NameCount]] = defaultdict(list)
    for count in counts:
        per_name[(count.name, count.entity_class)].append(count)
    kept = []
    for (name, entity_class), rows in sorted(per_name.items()):
        marked, found = sum(r.marked for r in rows), sum(r.found for r in rows)
        if found < min_found or marked < min_rate * found:
            continue
        if any(r.marked < min_corpus_rate * r.found for r in rows if r.found >= 2):
            continue
        kept.append(KnownName(name, entity_class, marked, found))
    most = defaultdict(int)  # per name, the most times it is marked as one of its kept classes
    for name in kept:
        most[name.name] = max(most[name.name], name.marked)
    return [name for name in kept if name.marked == most[name.name]]


def write_names(names: Iterable[KnownName], path: str | Path) -> int:
    """Write ``names`` as a TSV with a header (:data:`COLUMNS`); returns how many."""
    rows = list(names)
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar="\\")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return len(rows)


def read_names(path: str | Path) -> list[KnownName]:
    """The names of a TSV :func:`write_names` wrote; an InputError names the file and line of a bad row.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "names.tsv"
        >>> write_names([KnownName("Jurkat", "cell_line", 9, 10)], path)
        1
        >>> read_names(path)
        [KnownName(name='Jurkat', entity_class='cell_line', marked=9, found=10)]
    """
    with open(path, encoding="utf-8", newline="") as lines:
        reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        header = next(reader, None)
        if header is None or tuple(header) != COLUMNS:
            raise InputError(f"{path}: not a known-names file (its header must be {' '.join(COLUMNS)})")
        names = []
        for line, row in enumerate(reader, start=2):
            try:
                name, entity_class, marked, found = row
                names.append(KnownName(name, entity_class, int(marked), int(found)))
            except ValueError as err:
                raise InputError(f"{path}, line {line}: expected {len(COLUMNS)} tab-separated columns: {err}") from err
    return names


def is_known_name(model: str) -> bool:
    """Whether an entity row's ``model`` (its emitter) is a :class:`KnownNames`.

    Example:
        >>> is_known_name("known-names@0123456789ab"), is_known_name("kazu-spark-tinybern2-student@0123456789ab")
        (True, False)
    """
    return model.startswith(MODEL_PREFIX)


def load_names(path: str | None) -> list[tuple[str, str, float]]:
    """``(name, class, rate)`` of each name of the file at ``path`` (``pkg://`` and relative paths resolved; None:
    none), rate being marked / found: what :class:`KnownNames` takes, read once on the driver and shipped.

    Example:
        >>> names = load_names("pkg://kazu_spark/resources/curations/known_names.tsv")
        >>> all(rate >= 0.6 for _, _, rate in names), load_names(None)
        (True, [])
    """
    if path is None:
        return []
    return [(n.name, n.entity_class, n.marked / n.found) for n in read_names(resolve_path(path))]


class KnownNames:
    """The names to search, with each one's rate (marked / found), which becomes its entities' confidence
    (carried as the matcher's source: one name and class is one entry). ``model`` names them in entity rows:
    ``known-names@`` and the first 12 hex digits of their sha256, as a model is named by its weights."""

    def __init__(self, names: Iterable[tuple[str, str, float]]) -> None:
        names = sorted(names)
        self.model = MODEL_PREFIX + hashlib.sha256(repr(names).encode()).hexdigest()[:12]
        self.matcher = DictionaryMatcher.build(((name, cls, repr(rate)) for name, cls, rate in names), MIN_LENGTH)

    def missed(self, text: str, spans: Sequence[Span]) -> list[tuple[int, int, str, float]]:
        """The names in ``text`` the model's ``spans`` miss, with their rates: a hit overlapping a span of its class,
        or inside a longer span of any class, is no miss. Only the spans that can reach a hit are compared (sorted by
        start, none longer than the longest), so a long document costs in proportion to its hits."""
        ordered = sorted(spans)
        starts = [start for start, _, _ in ordered]
        longest = max((end - start for start, end, _ in ordered), default=0)
        added = []
        for hit in self.matcher.find(text):
            near = ordered[bisect_left(starts, hit.start - longest) : bisect_left(starts, hit.end)]
            if any(
                (cls == hit.entity_class and hit.start < end)
                or (start <= hit.start and hit.end <= end and end - start > hit.end - hit.start)
                for start, end, cls in near
            ):
                continue
            added.append((hit.start, hit.end, hit.entity_class, float(hit.source)))
        return added
