"""kazu-spark: biomedical NER and entity linking as a PySpark batch job writing Delta tables.

The public API, importable from the package root (loaded on first use, so ``import kazu_spark`` stays
light on executors):

* :func:`annotate_dataframe` ``(df, id_col=..., text_col=..., title_col=None, conf=None)``: entities and
  links DataFrames for any DataFrame of texts; no paths, no writes;
* :func:`annotate_frames` ``(documents, cfg)``: the same composition over a ``documents`` DataFrame;
* :func:`tag_texts` ``(texts)``: entities for a list of strings on one machine, without Spark;
* :func:`annotate` ``(spark, cfg)``: the lakehouse job (read, annotate, commit Delta tables);
* :func:`load_config`: the typed configuration those take.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "annotate_dataframe": "kazu_spark.pipeline.frames",
    "annotate_frames": "kazu_spark.pipeline.frames",
    "tag_texts": "kazu_spark.pipeline.texts",
    "annotate": "kazu_spark.pipeline.annotate",
    "load_config": "kazu_spark.config",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Import a public function's module on first access (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kazu_spark' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
