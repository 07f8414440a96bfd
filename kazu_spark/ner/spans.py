"""Entity rows from spans found section by section: the entity key and the one section walk of every NER step.

A NER step (the model, the dictionary) only finds spans in a piece of text. :func:`entity_rows` walks each
document's sections, hands the section texts to such a *finder*, shifts the spans' offsets back into
``documents.text`` and builds the ``ENTITY_ROWS`` columns, so every step's rows are keyed and shaped alike.
Sections are searched separately, so no entity crosses from title into body.

Example:
    >>> import pandas as pd
    >>> docs = pd.DataFrame({"doc_id": ["d"], "text": ["BRCA1\\n\\nBRCA1 again"], "content_hash": ["h"],
    ...     "sections": [[{"name": "title", "start": 0, "end": 5}, {"name": "body", "start": 7, "end": 18}]]})
    >>> def first_word(texts):
    ...     return [[Found(0, t.index(" ") if " " in t else len(t), "gene", 0.5, "m")] for t in texts]
    >>> entity_rows(docs, first_word)[["section", "start", "end", "mention"]].values.tolist()
    [['title', 0, 5, 'BRCA1'], ['body', 7, 12, 'BRCA1']]
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import NamedTuple

import pandas as pd

from kazu_spark.schemas import ENTITY_ROWS


class Found(NamedTuple):
    """A span a NER step found in one section's text: offsets into that text, class, confidence, emitter."""

    start: int
    end: int
    entity_class: str
    confidence: float
    model: str


#: section texts -> the spans found in each, in the same order
SpanFinder = Callable[[list[str]], Iterable[Iterable[Found]]]


def entity_id(doc_id: str, section: str, start: int, end: int, entity_class: str) -> str:
    """Deterministic entity key: sha1 of (doc_id, section, start, end, class).

    Example:
        >>> entity_id("d", "body", 0, 5, "gene")[:12]
        'a4a20f9d2c16'
    """
    return hashlib.sha1(f"{doc_id}\x1f{section}\x1f{start}\x1f{end}\x1f{entity_class}".encode()).hexdigest()


def entity_rows(docs: pd.DataFrame, find: SpanFinder) -> pd.DataFrame:
    """``ENTITY_ROWS`` of a batch of documents (``NER_INPUT`` columns): ``find`` gets every section's text
    of the batch at once (so a model can batch them) and its spans' offsets are shifted into the document text.
    """
    pieces: list[tuple[int, str, int]] = []  # (row, section name, section start)
    texts: list[str] = []
    for row, (text, sections) in enumerate(zip(docs["text"], docs["sections"], strict=True)):
        for section in sections:
            pieces.append((row, section["name"], int(section["start"])))
            texts.append(text[section["start"] : section["end"]])
    records = []
    for (row, name, offset), found in zip(pieces, find(texts), strict=True):
        doc_id, text, content_hash = docs["doc_id"].iat[row], docs["text"].iat[row], docs["content_hash"].iat[row]
        for span in found:
            start, end = offset + span.start, offset + span.end
            records.append(
                {
                    "entity_id": entity_id(doc_id, name, start, end, span.entity_class),
                    "doc_id": doc_id,
                    "section": name,
                    "start": start,
                    "end": end,
                    "mention": text[start:end],
                    "entity_class": span.entity_class,
                    "confidence": float(span.confidence),
                    "model": span.model,
                    "content_hash": content_hash,
                }
            )
    return pd.DataFrame.from_records(records, columns=ENTITY_ROWS.fieldNames())
