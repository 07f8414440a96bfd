"""The pure ingestion rule: stored text, section offsets and each quarantine reason; JSON lines' value types."""

from __future__ import annotations

import hashlib
import json

import pytest

from kazu_spark.documents.ingest import (
    EMPTY_TEXT,
    INVALID_ID,
    INVALID_TEXT,
    INVALID_UTF8,
    MISSING_ID,
    READ_ERROR,
    TEXT_TOO_LONG,
    Rejection,
    ingest_row,
    split_read_error,
)
from kazu_spark.documents.readers import parse_jsonl_line


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


# --- reader errors and JSON value types (the reader's half of the rule) ---------------------------------------


def test_a_reader_reason_becomes_the_quarantine_reason() -> None:
    rejection = ingest_row(raw(None, text="caf\\xe9", error="invalid_utf8: byte 0xe9 in position 3"))
    assert (rejection.reason, rejection.detail) == (INVALID_UTF8, "byte 0xe9 in position 3")
    other = ingest_row(raw(None, text="x", error="invalid JSON: Expecting value"))
    assert (other.reason, other.detail) == (READ_ERROR, "invalid JSON: Expecting value")


def _parsed(record: object) -> tuple:
    return parse_jsonl_line(json.dumps(record).encode(), "in.jsonl")


@pytest.mark.parametrize(
    ("record", "source_id"),
    [
        ({"id": "a1", "text": "T"}, "a1"),
        ({"id": 123, "text": "T"}, "123"),  # an integer is an id (PMIDs often are numbers)
        ({"pmid": 123.0, "text": "T"}, "123"),  # as a float column written to JSON has it
        ({"id": "", "pmid": "77", "text": "T"}, "77"),  # an empty id does not hide the pmid
        ({"id": "  ", "pmid": 78, "text": "T"}, "78"),
        ({"id": None, "pmid": "79", "text": "T"}, "79"),
    ],
)
def test_json_ids_strings_and_integers_are_accepted(record: dict, source_id: str) -> None:
    assert _parsed(record) == (source_id, None, "T", None)


def test_an_empty_text_field_does_not_hide_the_abstract() -> None:
    assert _parsed({"id": "1", "text": "", "abstract": "A"}) == ("1", None, "A", None)


@pytest.mark.parametrize("value", [True, False, 1.5, float("nan"), {"a": 1}, ["1"], []])
def test_json_ids_of_other_types_are_quarantined(value: object) -> None:
    source_id, _, text, error = _parsed({"id": value, "pmid": "5", "text": "T"})
    rejection = ingest_row({"source_id": source_id, "title": None, "text": text, "source": "s", "read_error": error})
    assert source_id is None and rejection.reason == INVALID_ID
    assert "'id'" in rejection.detail and str(value) not in rejection.detail.replace("'id'", "")


@pytest.mark.parametrize("field", ["text", "abstract", "title"])
@pytest.mark.parametrize("value", [42, 1.5, True, {"a": "b"}, ["x", "y"]])
def test_json_texts_that_are_not_strings_are_quarantined(field: str, value: object) -> None:
    source_id, _, _, error = _parsed({"id": "9", field: value, **({"text": "T"} if field == "title" else {})})
    assert source_id == "9"  # the row keeps its id, so the quarantine row names the document
    assert split_read_error(error)[0] == INVALID_TEXT and field in error


def test_invalid_utf8_in_a_json_line_is_reason_invalid_utf8() -> None:
    source_id, _, text, error = parse_jsonl_line(b'{"id": "1", "text": "caf\xe9"}', "in.jsonl")
    assert split_read_error(error)[0] == INVALID_UTF8 and "\\xe9" in text
