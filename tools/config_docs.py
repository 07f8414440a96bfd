"""The configuration reference (docs/config.md), generated from the pydantic models in :mod:`kazu_spark.config`.

One table per section (the top level, ``input``, ``spark``, ``ner``, ``linking``, and the items of
``linking.ontologies``): key, type, default and the field's ``description``. ``tests/test_config_docs.py``
checks that the committed file equals :func:`config_markdown`; regenerate it with
``python -m tools.config_docs > docs/config.md``.

Example:
    >>> "| `ner.threshold` | float | `0.5` |" in config_markdown()
    True
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from kazu_spark.config import Config, OntologySource

_HEADER = """# Configuration reference

Generated from `kazu_spark/config.py` by `python -m tools.config_docs > docs/config.md`; do not edit by hand.
Defaults below are the models' own; `conf/default.yaml` (shipped as `kazu_spark/resources/default.yaml`) sets the
values a run starts from. Layer a YAML file with `--conf FILE` and single keys with `--set key.path=value`
(notebook: the `overrides` widget). Unknown keys are errors.

A `--set` value is YAML (`0.4`, `false`, `[a, b]`, `{k: v}`). A string YAML would read as another string (a
` #` comment cut off, lines folded) or cannot read at all (`*.jsonl`) is refused: quote it to keep it as written,
`--set "lakehouse='/data/lake #prod'"`. A command's own flags (`--input`, `--lakehouse`, `--model`, ...) and the
notebook's `input`/`lakehouse` widgets are taken literally: `--lakehouse '/data/lake #prod'` is that path.
"""


def _type_name(annotation: Any) -> str:
    """A short readable type: ``str | None``, ``Literal['a', 'b']`` -> ``'a' | 'b'``, a validated path -> ``path``."""
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    text = re.sub(r"\b(typing|kazu_spark\.[\w.]+)\.", "", text)
    text = re.sub(r"Annotated\[str, AfterValidator\(func=<function validate_path[^>]*>\)\]", "path", text)
    text = re.sub(r"^Optional\[(.*)\]$", r"\1 | None", text)
    literal = re.fullmatch(r"Literal\[(.*)\]", text)
    return " \\| ".join(literal.group(1).split(", ")) if literal else text.replace("|", "\\|")


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        return "(section)" if isinstance(value, BaseModel) else f"`{json.dumps(value)}`"
    return "required" if field.default is PydanticUndefined else f"`{json.dumps(field.default)}`"


def _section(model: type[BaseModel], prefix: str, title: str, section: Any = None) -> list[str]:
    """The table of ``model``'s keys; ``section``: the field holding it, whose default instance gives the defaults.

    Two fields of one model class (``training.teacher``, ``training.student``) can so show different defaults.
    """
    about = [(model.__doc__ or "").strip(), *([section.description] if section and section.description else [])]
    defaults = section.default_factory().model_dump(mode="json") if section and section.default_factory else None
    rows, nested = ["| key | type | default | description |", "|---|---|---|---|"], []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested.append((annotation, f"{prefix}{name}.", f"`{prefix}{name}`", field))
            continue
        description = (field.description or "").replace("|", "\\|")
        default = _default(field) if defaults is None else f"`{json.dumps(defaults[name])}`"
        rows.append(f"| `{prefix}{name}` | {_type_name(annotation)} | {default} | {description} |")
    lines = [f"## {title}", "", "\n\n".join(about), "", *([*rows, ""] if len(rows) > 2 else [])]
    for sub, sub_prefix, sub_title, field in nested:
        lines += _section(sub, sub_prefix, sub_title, field)
    return lines


def config_markdown() -> str:
    """The whole reference as Markdown."""
    lines = [_HEADER, *_section(Config, "", "Top level")]
    lines += _section(OntologySource, "", "Items of `linking.ontologies`")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(config_markdown(), end="")
