r"""Ingestion rules: one raw row (``RAW_DOCUMENTS``) -> a document, or a rejection with its reason (pure).

``ingest_row`` is the rule for one row; :func:`kazu_spark.documents.spark.to_documents` runs it on the
executors with ``mapInPandas`` and adds the one check that needs several rows, duplicate ids.

The stored ``text`` is ``title + "\n\n" + body`` (just the one that is there when the other is missing
or blank), and ``sections`` gives each part's code-point span in it, so every downstream offset points
into one string. The text is otherwise kept exactly as read: control characters other than \n, \t and \r
are *not* removed or replaced, because rewriting the text would shift the offsets of everything after
them; the NER tokenizer treats them as whitespace-like noise.

Rejected rows go to quarantine with a stable reason (``REASONS``). A reader that could not take a row
sets its ``read_error`` to ``"<reason>: <detail>"`` (:func:`read_error`) with one of ``READER_REASONS``:
``invalid_utf8`` (bytes that are not UTF-8), ``invalid_id`` (an id that is a boolean, a fraction, an
object or a list), ``invalid_text`` (a title or text that is not a string); any other message (a line
that is not JSON, a PubTator block without a PMID) is ``read_error``. Ingestion adds ``missing_id``,
``empty_text`` (title and body null or blank), ``text_too_long`` (stored text over ``max_chars``) and
``conflicting_duplicate_id`` (the same doc_id with different contents in one input: the row with the
smallest content_hash is kept, so the choice does not depend on row order; identical duplicates are
collapsed, and the run counts them as ``skipped_duplicates``).

Example:
    >>> doc = ingest_row({"source_id": " 7 ", "title": "Aspirin", "text": "Eases pain.", "source": "a.jsonl"})
    >>> doc["doc_id"], doc["text"], [(s["name"], s["start"], s["end"]) for s in doc["sections"]]
    ('7', 'Aspirin\n\nEases pain.', [('title', 0, 7), ('body', 9, 20)])
    >>> ingest_row({"source_id": "8", "title": " ", "text": None, "source": "a.jsonl"}).reason
    'empty_text'
    >>> ingest_row({"source_id": "9", "text": "x", "source": "a", "read_error": read_error(INVALID_UTF8, "byte 0xe9")})
    Rejection(reason='invalid_utf8', detail='byte 0xe9', raw_snippet='x')
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

READ_ERROR = "read_error"
INVALID_UTF8 = "invalid_utf8"
INVALID_ID = "invalid_id"
INVALID_TEXT = "invalid_text"
MISSING_ID = "missing_id"
EMPTY_TEXT = "empty_text"
TEXT_TOO_LONG = "text_too_long"
CONFLICTING_DUPLICATE_ID = "conflicting_duplicate_id"
#: the reasons a reader may name at the start of ``read_error`` (``"<reason>: <detail>"``)
READER_REASONS: tuple[str, ...] = (INVALID_UTF8, INVALID_ID, INVALID_TEXT)
#: every quarantine reason ingestion emits
REASONS: tuple[str, ...] = (
    READ_ERROR,
    *READER_REASONS,
    MISSING_ID,
    EMPTY_TEXT,
    TEXT_TOO_LONG,
    CONFLICTING_DUPLICATE_ID,
)

DEFAULT_MAX_CHARS = 1_000_000
SNIPPET_CHARS = 200
SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Rejection:
    """Why a raw row is not a document: a ``REASONS`` value, a human-readable detail, the raw row's start."""

    reason: str
    detail: str | None
    raw_snippet: str | None


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def raw_snippet(row: Mapping[str, Any]) -> str | None:
    """The first ``SNIPPET_CHARS`` characters of the raw title and text, else the read error (for triage)."""
    raw = SEPARATOR.join(part for part in (row.get("title"), row.get("text")) if part)
    return raw[:SNIPPET_CHARS] or row.get("read_error")


def read_error(reason: str, detail: str) -> str:
    """A reader's ``read_error`` for a row that ingestion quarantines as ``reason`` (one of ``READER_REASONS``).

    Example:
        >>> read_error(INVALID_ID, "the id is a boolean")
        'invalid_id: the id is a boolean'
    """
    if reason not in READER_REASONS:
        raise ValueError(f"unknown reader reason {reason!r}; expected one of {list(READER_REASONS)}")
    return f"{reason}: {detail}"


def split_read_error(message: str) -> tuple[str, str]:
    """(quarantine reason, detail) of a ``read_error``: the reader's reason, else ``read_error`` and the message.

    Example:
        >>> split_read_error("invalid_utf8: byte 0xff"), split_read_error("invalid JSON: Expecting value")
        (('invalid_utf8', 'byte 0xff'), ('read_error', 'invalid JSON: Expecting value'))
    """
    reason, separator, detail = message.partition(": ")
    return (reason, detail) if separator and reason in READER_REASONS else (READ_ERROR, message)


def ingest_row(row: Mapping[str, Any], *, max_chars: int = DEFAULT_MAX_CHARS) -> dict[str, Any] | Rejection:
    """Turn one ``RAW_DOCUMENTS`` row (a mapping) into a document dict or a ``Rejection``.

    The document dict has the ``DOCUMENTS`` columns except run_id and ingested_at; offsets in
    ``sections`` are code points into ``text``.

    Example:
        >>> ingest_row({"source_id": "1", "title": "Only a title", "text": "", "source": "s"})["sections"]
        [{'name': 'title', 'start': 0, 'end': 12}]
        >>> ingest_row({"source_id": None, "title": "T", "text": "B", "source": "s"}).reason
        'missing_id'
    """

    def reject(reason: str, detail: str | None) -> Rejection:
        return Rejection(reason, detail, raw_snippet(row))

    if row.get("read_error"):
        return reject(*split_read_error(row["read_error"]))
    source_id = row.get("source_id")
    if _blank(source_id):
        return reject(MISSING_ID, "the row has no id (id/pmid field, file name)")
    title = None if _blank(row.get("title")) else row["title"]
    body = None if _blank(row.get("text")) else row["text"]
    if title is None and body is None:
        return reject(EMPTY_TEXT, "title and text are both null, empty or whitespace")
    text = SEPARATOR.join(part for part in (title, body) if part is not None)
    if len(text) > max_chars:
        return reject(TEXT_TOO_LONG, f"{len(text)} characters, more than max_chars={max_chars}")
    sections = []
    if title is not None:
        sections.append({"name": "title", "start": 0, "end": len(title)})
    if body is not None:
        sections.append({"name": "body", "start": len(text) - len(body), "end": len(text)})
    return {
        "doc_id": source_id.strip(),
        "source": row["source"],
        "title": title,
        "text": text,
        "sections": sections,
        "content_hash": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "char_count": len(text),
    }
