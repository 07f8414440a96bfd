"""Labelled corpus files of either format, CoNLL/IOB or PubTator, as sentences with gold spans of our classes.

Training and NER evaluation read a corpus split through :func:`read_labelled`, which tells the two formats apart by
the first line. A PubTator corpus (BioRED) is text as printed: :func:`pubtator_sentences` cuts each title and
abstract into sentences with :func:`~kazu_spark.documents.sentences.split_sentences` (never inside a mention) and
maps the mentions' types through the corpus's entry of ``conf/labels.yaml``, so its sentences train and score like
the IOB corpora's. For training, ``words`` (the tokenizer's pre-tokenizer) leaves out a mention whose edge falls
inside a word, or that overlaps one kept before it: the model learns whole words, which is all the decoder emits.

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "train.txt"
    >>> _ = path.write_text("1|t|BRCA1 in mice.\\n1|a|Mice lacked BRCA1s. Tumours grew.\\n"
    ...                     "1\\t0\\t5\\tBRCA1\\tGene\\t672\\n1\\t9\\t13\\tmice\\tSpecies\\t10090\\n"
    ...                     "1\\t27\\t32\\tBRCA1\\tGene\\t672\\n\\n")
    >>> types = {"Gene": "gene", "Species": "species"}
    >>> [(s.text, s.entities) for s in read_labelled(path, types, corpus="toy")]
    [('BRCA1 in mice.', ((0, 5, 'gene'), (9, 13, 'species'))), ('Mice lacked BRCA1s.', ((12, 17, 'gene'),)), \
('Tumours grew.', ())]
    >>> from tokenizers.pre_tokenizers import BertPreTokenizer
    >>> bert_words = lambda text: [span for _, span in BertPreTokenizer().pre_tokenize_str(text)]
    >>> [s.entities for s in read_labelled(path, types, corpus="toy", words=bert_words)][1]  # BRCA1 of BRCA1s: out
    ()
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from kazu_spark.documents.conll import Sentence, read_conll
from kazu_spark.documents.pubtator import GoldMention, PubtatorDocument, read_pubtator
from kazu_spark.documents.sentences import split_sentences
from kazu_spark.errors import InputError
from kazu_spark.paths import resolve_path

logger = logging.getLogger(__name__)

#: a text -> the ``(start, end)`` spans of its words (e.g. a tokenizer's pre-tokenizer)
WordSpans = Callable[[str], Iterable[tuple[int, int]]]

#: the first line of a PubTator file: ``PMID|t|title`` (or ``|a|``)
_PUBTATOR_LINE = re.compile(r"[^\t|]+\|[ta]\|")


def read_labelled(
    path: str | Path,
    type_map: Mapping[str, str],
    corpus: str | None = None,
    words: WordSpans | None = None,
    *,
    whole_documents: bool = False,
    exclude: Iterable[str] = (),
) -> list[Sentence]:
    """The sentences of a CoNLL/IOB or PubTator file; ``corpus`` defaults to the file's parent folder name.

    ``words`` applies to PubTator only (CoNLL tokens are words already): see :func:`pubtator_sentences`. With
    ``whole_documents`` (PubTator only: a CoNLL file is an InputError) each document is one text
    (:func:`pubtator_documents`). ``exclude``: ids of PubTator documents left out (another corpus's devel
    documents; a CoNLL file has no document ids and is read whole). Example: see the module docstring.
    """
    path = Path(resolve_path(str(path)))
    corpus = corpus or path.parent.name
    with path.open(encoding="utf-8") as lines:
        first = next((line for line in lines if line.strip()), "")
    if _PUBTATOR_LINE.match(first):
        excluded = set(exclude)
        documents = [doc for doc in read_pubtator(str(path)) if doc.doc_id not in excluded]
        if whole_documents:
            return pubtator_documents(documents, type_map, corpus)
        return pubtator_sentences(documents, type_map, corpus, words)
    if whole_documents:
        raise InputError(f"{path} is CoNLL/IOB, cut into sentences already: whole documents need a PubTator file")
    return read_conll(path, type_map, corpus=corpus)


def pubtator_documents(
    documents: Iterable[PubtatorDocument], type_map: Mapping[str, str], corpus: str
) -> list[Sentence]:
    """Each document's title and abstract as one text, the way ``annotate`` reads it, with every mention of a mapped
    type as a gold span: scores that see what a document's other sentences tell (the abbreviations it defines).

    Example:
        >>> doc = PubtatorDocument("1", "Overactive bladder (OAB).", "OAB is common.")
        >>> doc.mentions = [GoldMention("1", 0, 18, "Overactive bladder", "Disease", ()),
        ...                 GoldMention("1", 26, 29, "OAB", "Disease", ())]
        >>> pubtator_documents([doc], {"Disease": "disease"}, "toy")
        [Sentence(text='Overactive bladder (OAB). OAB is common.', entities=((0, 18, 'disease'), (26, 29, 'disease')), \
corpus='toy')]
    """
    return [Sentence(*_gold(doc, type_map), corpus) for doc in documents]


def _gold(doc: PubtatorDocument, type_map: Mapping[str, str]) -> tuple[str, tuple[tuple[int, int, str], ...]]:
    """The document's text (title, a space, abstract) and its mentions of mapped types as sorted gold spans."""
    text = f"{doc.title} {doc.abstract}" if doc.abstract else doc.title
    mentions = [_checked(m, text) for m in doc.mentions if m.corpus_type in type_map]
    return text, tuple(sorted((m.start, m.end, type_map[m.corpus_type]) for m in mentions))


def pubtator_sentences(
    documents: Iterable[PubtatorDocument],
    type_map: Mapping[str, str],
    corpus: str,
    words: WordSpans | None = None,
) -> list[Sentence]:
    """Every sentence of the documents' titles and abstracts, with the mentions of mapped types as gold spans.

    A sentence boundary that a mention crosses is dropped (the two sentences are one). Mentions of types that
    ``type_map`` lacks (BioRED's ``SequenceVariant``) are not entities. With ``words``, a mention is left out when
    an edge is not a word edge or when it overlaps a mention kept before it (by start, longer first); the count is
    logged. A mention whose text is not the document's text at its offsets is an InputError: the file is not
    PubTator of these documents.

    Example: see the module docstring.
    """
    sentences: list[Sentence] = []
    left_out = 0
    for doc in documents:
        text, spans = _gold(doc, type_map)
        if words is not None:
            kept = _whole_words(spans, text, words)
            left_out += len(spans) - len(kept)
            spans = tuple(kept)
        for start, end in _sentence_spans(text, len(doc.title), spans):
            inside = tuple((s - start, e - start, c) for s, e, c in spans if start <= s and e <= end)
            sentences.append(Sentence(text[start:end], inside, corpus))
    if left_out:
        logger.info("%s: %d mentions left out (an edge inside a word, or overlapping another)", corpus, left_out)
    return sentences


def _checked(mention: GoldMention, text: str) -> GoldMention:
    """``mention``, if the text at its offsets is its own; else an InputError naming the document and offsets."""
    if text[mention.start : mention.end] != mention.mention:
        raise InputError(
            f"PubTator document {mention.doc_id}: mention {mention.mention!r} at {mention.start}-{mention.end} does "
            f"not match the text there, {text[mention.start : mention.end]!r}"
        )
    return mention


def _whole_words(spans: Sequence[tuple[int, int, str]], text: str, words: WordSpans) -> list[tuple[int, int, str]]:
    """The spans whose edges are word edges of ``text``, each overlapping none kept before it."""
    bounds = list(words(text))
    starts, ends = {s for s, _ in bounds}, {e for _, e in bounds}
    kept: list[tuple[int, int, str]] = []
    for start, end, cls in sorted(spans, key=lambda span: (span[0], -span[1])):
        if start in starts and end in ends and all(end <= s or e <= start for s, e, _ in kept):
            kept.append((start, end, cls))
    return sorted(kept)


def _sentence_spans(text: str, title_length: int, spans: Sequence[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Sentence spans of the title and of the abstract after it, joined where a mention crosses a boundary."""
    title = split_sentences(text[:title_length])
    abstract_start = title_length + 1
    abstract = [(s + abstract_start, e + abstract_start) for s, e in split_sentences(text[abstract_start:])]
    joined: list[tuple[int, int]] = []
    for start, end in title + abstract:
        if joined and any(s < start and e > joined[-1][1] for s, e, _ in spans):
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined
