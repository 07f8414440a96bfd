"""Read CoNLL/IOB NER corpora into sentences with character-level gold spans of our entity classes.

The corpora (MTL-Bioinformatics-2016 layout) are ``token<TAB>tag`` lines, a blank line between
sentences and ``-DOCSTART-`` lines between documents. A sentence's text is its tokens joined with
single spaces — the same text the tagger sees at evaluation time — and each gold entity becomes a
``(start, end, entity_class)`` character span into it. Corpus types are mapped to our classes with
``conf/labels.yaml`` (corpus folder name -> {corpus type -> class}); unmapped types are dropped.
Tag sequences follow conlleval: an ``I-X`` that does not continue an ``X`` entity starts one.

Example:
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()) / "BC5CDR-IOB"
    >>> d.mkdir()
    >>> _ = (d / "devel.tsv").write_text(
    ...     "-DOCSTART-\\tO\\n\\nAspirin\\tB-Chemical\\ncauses\\tO\\nReye\\tB-Disease\\nsyndrome\\tI-Disease\\n\\n")
    >>> [s] = read_conll(d / "devel.tsv", {"Chemical": "drug", "Disease": "disease"})
    >>> s.text, s.entities
    ('Aspirin causes Reye syndrome', ((0, 7, 'drug'), (15, 28, 'disease')))
    >>> s.corpus
    'BC5CDR-IOB'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

import yaml

from kazu_spark.errors import ConfigError
from kazu_spark.paths import resolve_path
from kazu_spark.schemas import ENTITY_CLASSES

#: the shipped corpus-type map (conf/labels.yaml links to it)
DEFAULT_LABEL_MAP = "pkg://kazu_spark/resources/labels.yaml"

DOCSTART = "-DOCSTART-"


@dataclass(frozen=True)
class Sentence:
    """One corpus sentence: space-joined text and gold ``(start, end, entity_class)`` spans."""

    text: str
    entities: tuple[tuple[int, int, str], ...]
    corpus: str


def load_label_map(path: str | Path = DEFAULT_LABEL_MAP) -> dict[str, dict[str, str]]:
    """Load the corpus -> {corpus type -> entity class} map and check every class is one of ours.

    Example:
        >>> load_label_map()["BC5CDR-IOB"]
        {'Chemical': 'drug', 'Disease': 'disease'}
    """
    mapping = yaml.safe_load(Path(resolve_path(str(path))).read_text(encoding="utf-8"))
    for corpus, types in mapping.items():
        unknown = set(types.values()) - set(ENTITY_CLASSES)
        if unknown:
            raise ValueError(f"{path}: corpus {corpus} maps to unknown classes {sorted(unknown)}")
    return {corpus: dict(types) for corpus, types in mapping.items()}


def as_label_map(spec: str | Path | Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """A label map given as a YAML path (read with :func:`load_label_map`) or already as a mapping.

    Example:
        >>> as_label_map({"BC2GM-IOB": {"GENE": "gene"}})
        {'BC2GM-IOB': {'GENE': 'gene'}}
    """
    if isinstance(spec, Mapping):
        return {corpus: dict(types) for corpus, types in spec.items()}
    return load_label_map(spec)


def restrict_label_map(
    label_map: Mapping[str, Mapping[str, str]], trained: Mapping[str, Sequence[str]]
) -> dict[str, dict[str, str]]:
    """The label map with some corpora cut down to the classes they are trained for.

    Why: two corpora can annotate one class by guidelines that disagree (JNLPBA's protein, DNA and RNA spans
    against BC2GM's genes). Training such a corpus for some of its classes only keeps what it alone brings
    (JNLPBA's cell lines) out of the conflict. The types cut off read as plain text, and training masks those
    classes' loss on that corpus (an unannotated class is unknown there, not absent); evaluation keeps the full map.
    Raises ConfigError for a corpus the map lacks, or classes the corpus does not annotate.

    Example:
        >>> restrict_label_map(load_label_map(), {"JNLPBA": ["cell_line", "cell_type"]})["JNLPBA"]
        {'cell_line': 'cell_line', 'cell_type': 'cell_type'}
    """
    restricted = {corpus: dict(types) for corpus, types in label_map.items()}
    for corpus, classes in trained.items():
        try:
            types = corpus_type_map(label_map, corpus)
        except KeyError as exc:  # a training option names it: a usage error, not a bug
            raise ConfigError(exc.args[0]) from None
        annotated = set(types.values())
        if not classes or not set(classes) <= annotated:
            raise ConfigError(
                f"corpus {corpus!r} can be trained for some of the classes it annotates, {sorted(annotated)}; "
                f"not {sorted(classes)}"
            )
        restricted[corpus] = {t: c for t, c in types.items() if c in classes}
    return restricted


def corpus_type_map(label_map: Mapping[str, Mapping[str, str]], corpus: str) -> dict[str, str]:
    """The type map of ``corpus``, with an error listing the known corpora if it is missing.

    Example:
        >>> corpus_type_map(load_label_map(), "linnaeus-IOB")
        {'Species': 'species'}
    """
    if corpus not in label_map:
        raise KeyError(f"corpus {corpus!r} is not in the label map; known: {sorted(label_map)}")
    return dict(label_map[corpus])


def read_conll(path: str | Path, type_map: Mapping[str, str], corpus: str | None = None) -> list[Sentence]:
    """Read one IOB file into sentences; ``corpus`` defaults to the file's parent folder name.

    Example: see the module docstring.
    """
    path = Path(path)
    corpus = corpus or path.parent.name
    sentences: list[Sentence] = []
    rows: list[tuple[str, str]] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if not line.strip():
                if rows:
                    sentences.append(_sentence(rows, type_map, corpus))
                rows = []
            elif not line.startswith(DOCSTART):
                token, _, tag = line.rpartition("\t")
                rows.append((token, tag.strip() or "O"))
    if rows:
        sentences.append(_sentence(rows, type_map, corpus))
    return sentences


def _sentence(rows: list[tuple[str, str]], type_map: Mapping[str, str], corpus: str) -> Sentence:
    """Join tokens with spaces and collect conlleval-style entities mapped through ``type_map``."""
    entities: list[tuple[int, int, str]] = []
    open_type: str | None = None
    open_start = position = 0
    prev_end = 0
    for token, tag in rows:
        prefix, _, etype = tag.partition("-")
        continues = prefix == "I" and etype == open_type
        if open_type is not None and not continues:
            entities.append((open_start, prev_end, open_type))
            open_type = None
        if prefix in ("B", "I") and not continues:
            open_type, open_start = etype, position
        prev_end = position + len(token)
        position = prev_end + 1
    if open_type is not None:
        entities.append((open_start, prev_end, open_type))
    text = " ".join(token for token, _ in rows)
    mapped = tuple((s, e, type_map[t]) for s, e, t in entities if t in type_map)
    return Sentence(text=text, entities=mapped, corpus=corpus)


def join_sentences(sentences: Sequence[Sentence], per_text: int) -> list[Sentence]:
    """Every ``per_text`` consecutive sentences as one text: joined with a space, gold spans shifted.

    The corpora are split into sentences, most shorter than one NER window, while the job tags whole
    abstracts cut into windows; joined sentences (ten are about an abstract's length) let an evaluation see
    what ``ner.window`` and ``ner.stride`` change. Groups follow the file's order and may cross a document
    boundary.

    Example:
        >>> pair = [Sentence("Aspirin helps", ((0, 7, "drug"),), "c"),
        ...         Sentence("Reye syndrome", ((0, 13, "disease"),), "c")]
        >>> join_sentences(pair, 2)
        [Sentence(text='Aspirin helps Reye syndrome', entities=((0, 7, 'drug'), (14, 27, 'disease')), corpus='c')]
        >>> join_sentences(pair, 1) == pair
        True
    """
    if per_text < 1:
        raise ValueError(f"sentences per text must be at least 1, got {per_text}")
    joined = []
    for first in range(0, len(sentences), per_text):
        group = sentences[first : first + per_text]
        starts = accumulate((len(s.text) + 1 for s in group[:-1]), initial=0)
        entities = tuple(
            (s + at, e + at, cls) for sent, at in zip(group, starts, strict=True) for s, e, cls in sent.entities
        )
        joined.append(Sentence(" ".join(s.text for s in group), entities, group[0].corpus))
    return joined
