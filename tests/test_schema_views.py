"""Named schema views: a column added to a table shifts no stage's columns (fast, no Spark).

The views are re-derived from a copy of ``kazu_spark/schemas.py`` whose tables all declare an extra
column (at the front, in the middle, at the end): every view must keep its columns, in the same order,
with the same types. The positional slices the views replaced fail this: ``ENTITIES.fieldNames()[:-1]``
keeps ``run_id`` once a column is appended, ``LINK_COLUMNS[1:-1]`` repeats ``link_id`` once one is
prepended.
"""

from __future__ import annotations

import types
from pathlib import Path

import pandas as pd
import pytest

from kazu_spark import schemas
from kazu_spark.ner.dictionary import DictionaryMatcher
from kazu_spark.ner.dictionary import entities_for_batch as dictionary_batch
from kazu_spark.ner.spans import Found, entity_id, entity_rows
from kazu_spark.schemas import (
    ENTITIES_COLUMNS,
    ENTITY_ROWS,
    LINK_MATCH,
    LINK_ROWS,
    NER_INPUT,
    Column,
    columns,
    ddl,
    without,
)

VIEWS = ("NER_INPUT", "ENTITY_ROWS", "LINK_ROWS", "LINK_MATCH")
#: views of a whole table but run_id: a column added to the table is one more column the stage fills
GROWING = ("ENTITY_ROWS", "LINK_ROWS")
EXTRA = Column("added_later", "string", True, "a column a future change adds")


def widened_schemas(position: str) -> types.ModuleType:
    """``kazu_spark.schemas`` executed afresh with ``EXTRA`` inserted into every table ``_table`` declares."""
    source = Path(schemas.__file__).read_text()
    split = source.index("\nRAW_DOCUMENTS_COLUMNS = ")  # the helpers above, the tables and views below
    module = types.ModuleType("widened_schemas")
    exec(compile(source[:split], schemas.__file__, "exec"), module.__dict__)
    declare = module._table

    def widened(*fields: tuple[str, object, bool, str]) -> tuple[Column, ...]:
        table = declare(*fields)
        at = {"front": 0, "middle": len(table) // 2, "end": len(table)}[position]
        return (*table[:at], EXTRA, *table[at:])

    module._table = widened
    exec(compile(source[split:], schemas.__file__, "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("position", ["front", "middle", "end"])
def test_a_column_added_to_every_table_moves_no_view_column(position: str) -> None:
    wide = widened_schemas(position)
    for name in ("DOCUMENTS", "ENTITIES", "ENTITY_LINKS"):  # the tables did grow
        assert "added_later" in getattr(wide, name).fieldNames()
    for name in VIEWS:
        view, before = getattr(wide, f"{name}_COLUMNS"), getattr(schemas, name)
        assert getattr(wide, name).fieldNames() == wide.column_names(view), name  # the StructType follows
        # the views of "all but run_id" take the new column, which the stage must then fill (the tests below
        # check every ENTITY_ROWS column is filled); views naming their columns stay as they are
        assert ("added_later" in wide.column_names(view)) == (name in GROWING), name
        narrowed = wide.without(view, "added_later") if name in GROWING else view
        assert wide.ddl(wide.struct_type(narrowed)) == ddl(before), name


def test_views_name_the_stage_contracts() -> None:
    assert NER_INPUT.fieldNames() == ["doc_id", "text", "sections", "content_hash"]
    assert ENTITY_ROWS.fieldNames() == [
        "entity_id", "doc_id", "section", "start", "end", "mention", "entity_class", "confidence", "model",
        "content_hash",
    ]  # fmt: skip
    assert LINK_ROWS.fieldNames() == [
        "link_id", "entity_id", "doc_id", "concept_id", "source", "default_label", "matched_synonym", "strategy",
        "score", "ambiguous", "confidence_tier", "generic", "source_version",
    ]  # fmt: skip
    assert ddl(LINK_MATCH) == (
        "entity_id string, doc_id string, via string, concept_id string, source string, default_label string, "
        "matched_synonym string, strategy string, score double, ambiguous boolean"
    )
    assert ddl(NER_INPUT) == (
        "doc_id string, text string, sections array<struct<name:string,start:int,end:int>>, content_hash string"
    )


def test_a_view_naming_a_missing_column_raises() -> None:
    with pytest.raises(KeyError):
        columns(ENTITIES_COLUMNS, "entity_id", "no_such_column")
    with pytest.raises(KeyError, match="no_such_column"):
        without(ENTITIES_COLUMNS, "no_such_column")


DOCS = pd.DataFrame(
    {
        "doc_id": ["d1", "d2", "d3"],
        "text": ["BRCA1 title\n\nbreast cancer in BRCA1 carriers", "no hits here", ""],
        "sections": [
            [{"name": "title", "start": 0, "end": 11}, {"name": "body", "start": 13, "end": 44}],
            [{"name": "body", "start": 0, "end": 12}],
            [],
        ],
        "content_hash": ["h1", "h2", "h3"],
    }
)


def assert_entity_rows(frame: pd.DataFrame) -> None:
    """``frame`` has exactly the ENTITY_ROWS columns, no nulls, integer offsets and float confidences."""
    assert list(frame.columns) == ENTITY_ROWS.fieldNames()
    assert not frame.isna().any().any()
    if len(frame):
        assert frame["start"].dtype == "int64" and frame["end"].dtype == "int64"
        assert frame["confidence"].dtype == "float64"


def test_dictionary_batch_fills_exactly_the_entity_rows() -> None:
    matcher = DictionaryMatcher.build([("breast cancer", "disease", "MEDIC"), ("BRCA1", "gene", "HGNC")])
    rows = dictionary_batch(matcher, DOCS)
    assert_entity_rows(rows)
    assert rows[["doc_id", "section", "start", "end", "mention"]].values.tolist() == [
        ["d1", "title", 0, 5, "BRCA1"],
        ["d1", "body", 13, 26, "breast cancer"],
        ["d1", "body", 30, 35, "BRCA1"],
    ]
    assert rows["entity_id"].tolist()[1] == entity_id("d1", "body", 13, 26, "disease")
    assert_entity_rows(dictionary_batch(matcher, DOCS.iloc[1:]))  # no hits: the columns all the same


def test_section_walk_gives_each_finder_all_sections_once_and_shifts_offsets() -> None:
    seen: list[list[str]] = []

    def whole_section(texts: list[str]) -> list[list[Found]]:
        seen.append(list(texts))
        return [[Found(0, len(t), "disease", 0.5, "m")] if t else [] for t in texts]

    rows = entity_rows(DOCS, whole_section)
    assert seen == [["BRCA1 title", "breast cancer in BRCA1 carriers", "no hits here"]]  # one call, in order
    assert_entity_rows(rows)
    assert [(r.section, r.start, r.end, r.mention, r.content_hash) for r in rows.itertuples()] == [
        ("title", 0, 11, "BRCA1 title", "h1"),
        ("body", 13, 44, "breast cancer in BRCA1 carriers", "h1"),
        ("body", 0, 12, "no hits here", "h2"),
    ]
