"""docs/config.md is generated from the typed config, so the reference cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from kazu_spark.config import Config, NerConfig
from tools.config_docs import config_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "config.md"


def test_committed_reference_equals_the_generated_one() -> None:
    assert DOC.read_text(encoding="utf-8") == config_markdown(), (
        "docs/config.md is stale: regenerate it with `python -m tools.config_docs > docs/config.md`"
    )


def test_every_field_is_documented_with_its_description() -> None:
    text = config_markdown()
    assert "| `ner.decoder` | 'sigmoid' \\| 'softmax' \\| 'io' | `\"sigmoid\"` |" in text
    for name, field in NerConfig.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):  # a section: its keys
            for key, sub in field.annotation.model_fields.items():
                assert sub.description and f"| `ner.{name}.{key}` |" in text
            continue
        assert field.description and f"| `ner.{name}` |" in text and field.description.replace("|", "\\|") in text
    assert all(f"`{name}`" in text for name in Config.model_fields)


def test_two_sections_of_one_model_show_their_own_defaults() -> None:
    """training.teacher and training.student share a model class; the student's learning rate is its own."""
    text = config_markdown()
    assert "| `training.teacher.lr` | float | `0.0001` |" in text
    assert "| `training.student.lr` | float | `0.0003` |" in text
