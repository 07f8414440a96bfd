"""The pure ingestion rule: stored text, section offsets and each quarantine reason."""

from __future__ import annotations

import hashlib

import pytest

from kazu_spark.documents.ingest import (
    EMPTY_TEXT,
    MISSING_ID,
    READ_ERROR,
    TEXT_TOO_LONG,
    Rejection,
    ingest_row,
)


def raw(
    source_id: str | None = "1", title: str | None = None, text: str | None = None, error: str | None = None
) -> dict:
    """A RAW_DOCUMENTS row as a dict."""
    return {"source_id": source_id, "title": title, "text": text, "source": "in.jsonl", "read_error": error}


def spans(doc: dict) -> dict[str, str]:
    return {s["name"]: doc["text"][s["start"] : s["end"]] for s in doc["sections"]}


def test_title_and_body_are_joined_by_a_blank_line_with_exact_offsets() -> None:
    doc = ingest_row(raw(" 42 ", "Café study", "Body with 𝛼 and é."))
    assert doc["doc_id"] == "42"
    assert doc["text"] == "Café study\n\nBody with 𝛼 and é."
    assert spans(doc) == {"title": "Café study", "body": "Body with 𝛼 and é."}
    assert doc["sections"][1] == {"name": "body", "start": 12, "end": 30}
    assert doc["char_count"] == len(doc["text"]) == 30
    assert doc["content_hash"] == hashlib.sha256(doc["text"].encode()).hexdigest()
    assert doc["title"] == "Café study"
    assert doc["source"] == "in.jsonl"


def test_body_only_document_has_one_body_section() -> None:
    doc = ingest_row(raw(text="Just a body."))
    assert doc["text"] == "Just a body."
    assert doc["sections"] == [{"name": "body", "start": 0, "end": 12}]
    assert doc["title"] is None


@pytest.mark.parametrize("body", [None, "", "  \n"])
def test_title_only_document_has_one_title_section(body: str | None) -> None:
    doc = ingest_row(raw(title="Only a title", text=body))
    assert doc["text"] == "Only a title"
    assert doc["sections"] == [{"name": "title", "start": 0, "end": 12}]


def test_control_characters_are_kept_so_offsets_stay_valid() -> None:
    doc = ingest_row(raw(title="A\x00B", text="C\x07D"))
    assert doc["text"] == "A\x00B\n\nC\x07D"
    assert spans(doc) == {"title": "A\x00B", "body": "C\x07D"}


def test_read_error_carries_the_reader_message() -> None:
    rejection = ingest_row(raw(None, text="caf\\xe9", error="invalid UTF-8: byte 0xe9"))
    assert rejection == Rejection(READ_ERROR, "invalid UTF-8: byte 0xe9", "caf\\xe9")


@pytest.mark.parametrize("source_id", [None, "", "   "])
def test_missing_id(source_id: str | None) -> None:
    rejection = ingest_row(raw(source_id, "T", "B"))
    assert isinstance(rejection, Rejection)
    assert rejection.reason == MISSING_ID
    assert rejection.raw_snippet == "T\n\nB"


@pytest.mark.parametrize(("title", "body"), [(None, None), ("", ""), (" \t", "\n "), (None, "   ")])
def test_empty_text(title: str | None, body: str | None) -> None:
    rejection = ingest_row(raw(title=title, text=body))
    assert isinstance(rejection, Rejection)
    assert rejection.reason == EMPTY_TEXT


def test_text_too_long_counts_the_stored_text() -> None:
    assert isinstance(ingest_row(raw(title="abc", text="de"), max_chars=7), dict)  # "abc\n\nde" is 7
    rejection = ingest_row(raw(title="abc", text="def"), max_chars=7)
    assert rejection.reason == TEXT_TOO_LONG
    assert "8 characters" in rejection.detail


def test_snippet_is_capped_at_200_characters() -> None:
    rejection = ingest_row(raw(None, text="x" * 500))
    assert rejection.raw_snippet == "x" * 200
