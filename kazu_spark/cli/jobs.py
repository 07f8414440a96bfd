"""The scheduled jobs' entry points: one per step, for spark-submit (``jobs/*.py``) and ``python_wheel_task``.

Each is a console script of the wheel (``kazu-spark-annotate``, ``kazu-spark-ontologies``, ``kazu-spark-kg``,
``kazu-spark-maintain``) that runs :func:`kazu_spark.cli.main.main` on its command words plus its own
arguments, so ``kazu-spark-kg --lakehouse L`` is ``kazu-spark kg build --lakehouse L``. A Databricks
``python_wheel_task`` calls the entry point with the task's ``parameters`` as ``sys.argv[1:]`` (its
``named_parameters`` as ``--name=value``, which the same flags accept); the spark-submit scripts in ``jobs/``
call the same functions, so both schedulers run one code path.

Example:
    >>> command_line("kg", ["--lakehouse", "/Volumes/main/kazu/lakehouse"])
    ['kg', 'build', '--lakehouse', '/Volumes/main/kazu/lakehouse']
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from kazu_spark.cli.main import main

#: job -> the ``kazu-spark`` command words it runs (the console script is ``kazu-spark-<job>``)
JOBS: dict[str, tuple[str, ...]] = {
    "annotate": ("annotate",),
    "ontologies": ("ontologies", "build"),
    "kg": ("kg", "build"),
    "maintain": ("maintain",),
}


def command_line(job: str, args: Sequence[str]) -> list[str]:
    """The ``kazu-spark`` arguments that ``job`` (a key of :data:`JOBS`) runs with ``args``.

    Example:
        >>> command_line("maintain", ["--lakehouse", "lake", "--retention-hours", "200"])
        ['maintain', '--lakehouse', 'lake', '--retention-hours', '200']
    """
    return [*JOBS[job], *args]


def annotate() -> None:
    """``kazu-spark-annotate ARGS``: ``kazu-spark annotate ARGS`` (NER and linking into the lakehouse)."""
    main(command_line("annotate", sys.argv[1:]))


def ontologies() -> None:
    """``kazu-spark-ontologies ARGS``: ``kazu-spark ontologies build ARGS`` (the ontology_terms table)."""
    main(command_line("ontologies", sys.argv[1:]))


def kg() -> None:
    """``kazu-spark-kg ARGS``: ``kazu-spark kg build ARGS`` (the kg_nodes and kg_edges tables)."""
    main(command_line("kg", sys.argv[1:]))


def maintain() -> None:
    """``kazu-spark-maintain ARGS``: ``kazu-spark maintain ARGS`` (OPTIMIZE and VACUUM every table)."""
    main(command_line("maintain", sys.argv[1:]))
