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
from itertools import chain
from typing import NamedTuple

import numpy as np
import pandas as pd

from kazu_spark.schemas import ENTITY_ROWS_COLUMNS, column_names


class Found(NamedTuple):
    """A span a NER step found in one section's text: offsets into that text, class, confidence, emitter."""

    start: int
    end: int
    entity_class: str
    confidence: float
    model: str


#: the pandas dtypes of the entity rows' columns that are not strings
_DTYPES = {"start": "int64", "end": "int64", "confidence": "float64"}

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

    The rows are built column by column: numpy for offsets and the document columns, one list comprehension
    each for the mentions and the keys (hashing is per entity).
    """
    doc_ids, texts, hashes = docs["doc_id"].to_numpy(), docs["text"].tolist(), docs["content_hash"].to_numpy()
    rows: list[int] = []  # per section: its document's row, name, start in the document text
    names: list[str] = []
    shifts: list[int] = []
    pieces: list[str] = []
    for row, (text, sections) in enumerate(zip(texts, docs["sections"], strict=True)):
        for section in sections:
            rows.append(row)
            names.append(section["name"])
            shifts.append(int(section["start"]))
            pieces.append(text[section["start"] : section["end"]])
    found = [list(spans) for spans in find(pieces)]
    if len(found) != len(pieces):
        raise ValueError(f"the span finder gave {len(found)} span lists for {len(pieces)} sections")
    piece = np.repeat(np.arange(len(pieces)), [len(spans) for spans in found])
    spans = list(chain.from_iterable(found))
    if not spans:  # typed as a full batch is: untyped empty columns (float64) fail Spark's conversion to strings
        return pd.DataFrame(
            {name: pd.Series(dtype=_DTYPES.get(name, object)) for name in column_names(ENTITY_ROWS_COLUMNS)}
        )
    local_start, local_end, classes, confidence, models = zip(*spans, strict=True)
    row = np.asarray(rows, dtype=np.int64)[piece]
    shift = np.asarray(shifts, dtype=np.int64)[piece]
    start = (np.asarray(local_start, dtype=np.int64) + shift).tolist()
    end = (np.asarray(local_end, dtype=np.int64) + shift).tolist()
    doc_id = doc_ids[row].tolist()
    section = np.asarray(names, dtype=object)[piece].tolist()
    columns = {
        "entity_id": [entity_id(*key) for key in zip(doc_id, section, start, end, classes, strict=True)],
        "doc_id": doc_id,
        "section": section,
        "start": start,
        "end": end,
        "mention": [texts[r][a:b] for r, a, b in zip(row.tolist(), start, end, strict=True)],
        "entity_class": list(classes),
        "confidence": np.asarray(confidence, dtype=np.float64),
        "model": list(models),
        "content_hash": hashes[row].tolist(),
    }
    return pd.DataFrame({name: columns[name] for name in column_names(ENTITY_ROWS_COLUMNS)})
