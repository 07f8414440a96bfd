"""Run a Databricks notebook's source file as plain Python: widgets from env vars, a local SparkSession.

On Databricks a notebook finds ``dbutils``, ``spark`` and ``display`` already defined. A notebook in this
repository starts with ``dbutils, spark, display = notebook_runtime(globals())``: on Databricks that hands
back the runtime's own objects; run as ``python notebooks/<name>.py`` it hands back stand-ins, so the same
file runs (and is tested) locally. Locally a widget's value is the environment variable
``KAZU_SPARK_WIDGET_<NAME>`` when set, else the widget's default.

Example:
    >>> widgets = LocalWidgets({"KAZU_SPARK_WIDGET_LAKEHOUSE": "/tmp/lake"})
    >>> widgets.text("lakehouse", "/Volumes/main/kazu/lakehouse", "Lakehouse path")
    >>> widgets.dropdown("build_kg", "yes", ["yes", "no"], "Build the knowledge graph")
    >>> widgets.get("lakehouse"), widgets.get("build_kg")
    ('/tmp/lake', 'yes')
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: prefix of the environment variables that set widgets in local runs
WIDGET_ENV_PREFIX = "KAZU_SPARK_WIDGET_"


def widget_env_var(name: str) -> str:
    """Environment variable that sets widget ``name`` in a local run.

    Example:
        >>> widget_env_var("input")
        'KAZU_SPARK_WIDGET_INPUT'
    """
    return WIDGET_ENV_PREFIX + name.upper()


class LocalWidgets:
    """The part of ``dbutils.widgets`` the notebooks use: ``text``, ``dropdown`` and ``get``."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self._values: dict[str, str] = {}

    def text(self, name: str, default_value: str, label: str | None = None) -> None:
        """Declare a text widget; its value is the environment's, else ``default_value``."""
        self._values[name] = self._environ.get(widget_env_var(name), default_value)

    def dropdown(self, name: str, default_value: str, choices: Sequence[str], label: str | None = None) -> None:
        """Declare a dropdown widget; a value outside ``choices`` is an error, as on Databricks."""
        value = self._environ.get(widget_env_var(name), default_value)
        if value not in choices:
            raise ValueError(f"widget {name}: {value!r} is not one of {list(choices)}")
        self._values[name] = value

    def get(self, name: str) -> str:
        """The widget's value; an undeclared widget is an error, as on Databricks."""
        if name not in self._values:
            raise KeyError(f"widget {name!r} is not defined")
        return self._values[name]


class LocalDbutils:
    """Stand-in for Databricks' ``dbutils`` with only ``widgets``."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.widgets = LocalWidgets(environ)


def _show(obj: Any) -> None:
    """Local ``display``: a DataFrame's rows as a table, anything else printed."""
    show = getattr(obj, "show", None)
    if callable(show):
        show(truncate=False)
    else:
        print(obj)


def notebook_runtime(namespace: Mapping[str, Any]) -> tuple[Any, Any, Callable[[Any], None]]:
    """``(dbutils, spark, display)``: the Databricks runtime's from ``namespace`` if there, else local ones.

    The local session comes from :func:`kazu_spark.runtime.session.build_session` (Delta jars from the user cache,
    master ``$SPARK_MASTER`` or ``local[*,4]``, which retries failed tasks); an already running session is reused.
    """
    if "dbutils" in namespace and "spark" in namespace:
        return namespace["dbutils"], namespace["spark"], namespace.get("display", _show)
    from kazu_spark.runtime.session import build_session

    return LocalDbutils(), build_session("kazu-spark-notebook"), _show
