"""The table contracts in docs/tables.md embed the generated column tables, so they cannot drift."""

from __future__ import annotations

from pathlib import Path

from kazu_spark.schemas import KEYS, TABLES, tables_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "tables.md"


def test_docs_embed_the_generated_column_tables() -> None:
    assert tables_markdown() in DOC.read_text(encoding="utf-8"), (
        "docs/tables.md is stale: replace its column tables with kazu_spark.schemas.tables_markdown()"
    )


def test_every_table_is_documented_with_its_key_and_every_column() -> None:
    text = tables_markdown()
    for name, schema in TABLES.items():
        assert f"### {name}\n\nKey: " + ", ".join(f"`{k}`" for k in KEYS[name]) in text
        assert all(f"| `{field}` |" in text for field in schema.fieldNames())
