"""Render the Airflow DAG's tasks with real Airflow and print each one's spark-submit command, as JSON.

Loads ``jobs/airflow_dag.py`` through Airflow's DagBag (as the scheduler would), renders every task's
template fields the way a task run does, and builds the command the Spark provider's hook would run. The
Variables come from Airflow's environment backend (``AIRFLOW_VAR_KAZU_SPARK_HOME``, ...; an unset one takes
the DAG's default) and the ``spark_default`` connection from ``AIRFLOW_CONN_SPARK_DEFAULT`` (a local
master unless set), so no metadata database is needed. Prints one JSON object: task id -> ``command`` (the
spark-submit argv), ``fields`` (every rendered template field) and ``execution_timeout`` (seconds).

Airflow is not a dependency of kazu-spark: give it a virtual environment of its own and run this file with
that Python, from the repository root::

    python -m venv /tmp/airflowenv
    /tmp/airflowenv/bin/pip install "apache-airflow==3.*" apache-airflow-providers-apache-spark
    AIRFLOW_VAR_KAZU_SPARK_HOME=/opt/ks /tmp/airflowenv/bin/python -m tools.airflow_render jobs/airflow_dag.py

Example (needs Airflow):
    >>> main(["jobs/airflow_dag.py"])  # doctest: +SKIP
    {"ontologies": {"command": ["spark-submit", "--master", "local[2]", ...
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any


def rendered_tasks(dag_file: str) -> dict[str, dict[str, Any]]:
    """task id -> its spark-submit argv, rendered template fields and execution timeout, for the DAG in ``dag_file``."""
    os.environ.setdefault("AIRFLOW_CONN_SPARK_DEFAULT", "spark://local%5B2%5D")
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.execution_time.context import VariableAccessor

    bag = DagBag(dag_folder=dag_file)
    if bag.import_errors or len(bag.dags) != 1:
        raise SystemExit(f"{dag_file}: {bag.import_errors or 'not one DAG'}")
    (dag,) = bag.dags.values()
    variables = {"value": VariableAccessor(deserialize_json=False), "json": VariableAccessor(deserialize_json=True)}
    context = {"var": variables}
    tasks = {}
    for task in dag.tasks:
        task.render_template_fields(context)
        timeout = task.execution_timeout.total_seconds() if task.execution_timeout else None
        tasks[task.task_id] = {
            "command": task._get_hook()._build_spark_submit_command(task.application),
            "fields": {field: getattr(task, field) for field in task.template_fields},
            "execution_timeout": timeout,
        }
    return tasks


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tools.airflow_render DAG_FILE``: print the rendered tasks as one JSON object."""
    (dag_file,) = sys.argv[1:] if argv is None else argv
    with contextlib.redirect_stdout(sys.stderr):  # Airflow's logs, so stdout is the JSON alone
        tasks = rendered_tasks(dag_file)
    print(json.dumps(tasks, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
