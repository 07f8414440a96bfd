"""Scheduled ETL definitions: the Databricks Jobs JSON and the Airflow DAG run ontologies -> annotate -> kg.

Both are checked for what a scheduler relies on: the three tasks, dependencies that are complete and
acyclic, entry points that exist in the repository, clusters defined for every task. The DAG's structure
is read with ``ast`` (Airflow is not a dependency of this project); where Airflow and its Spark provider
are installed, the DAG is also imported and its real tasks checked.
"""

from __future__ import annotations

import ast
import importlib.util
import json
from graphlib import TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JOB = ROOT / "conf" / "databricks" / "job.json"
DAG_FILE = ROOT / "jobs" / "airflow_dag.py"
ORDER = ["ontologies", "annotate", "kg"]
ENTRY_POINTS = {"ontologies": "jobs/build_ontologies.py", "annotate": "jobs/annotate.py", "kg": "jobs/build_kg.py"}


def test_databricks_job_runs_the_three_steps_in_order_on_defined_clusters() -> None:
    job = json.loads(JOB.read_text(encoding="utf-8"))
    tasks = {t["task_key"]: t for t in job["tasks"]}
    graph = {key: {d["task_key"] for d in t.get("depends_on", [])} for key, t in tasks.items()}
    assert set(graph) == set(ORDER) and all(deps <= set(graph) for deps in graph.values())
    assert list(TopologicalSorter(graph).static_order()) == ORDER  # acyclic, one chain
    clusters = {c["job_cluster_key"]: c["new_cluster"] for c in job["job_clusters"]}
    assert {"cpu", "gpu"} <= set(clusters)
    assert all({"spark_version", "node_type_id", "num_workers"} <= set(c) for c in clusters.values())
    assert "gpu" in clusters["gpu"]["spark_version"] and clusters["gpu"]["spark_conf"]["spark.task.resource.gpu.amount"]
    params = {p["name"] for p in job["parameters"]}
    for key, task in tasks.items():
        assert task["job_cluster_key"] in clusters
        entry = task["spark_python_task"]
        assert entry["python_file"] == ENTRY_POINTS[key] and (ROOT / entry["python_file"]).is_file()
        refs = {a[len("{{job.parameters.") : -2] for a in entry["parameters"] if a.startswith("{{job.parameters.")}
        assert refs <= params
    assert job["schedule"]["quartz_cron_expression"] and job["max_concurrent_runs"] == 1


def _module_literal(tree: ast.Module, name: str):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found in {DAG_FILE.name}")


def test_airflow_dag_file_chains_spark_submits_of_existing_entry_points() -> None:
    tree = ast.parse(DAG_FILE.read_text(encoding="utf-8"))
    entry_points, upstream = _module_literal(tree, "ENTRY_POINTS"), _module_literal(tree, "UPSTREAM")
    assert entry_points == ENTRY_POINTS and all((ROOT / p).is_file() for p in entry_points.values())
    graph = {task: {upstream[task]} if task in upstream else set() for task in entry_points}
    assert list(TopologicalSorter(graph).static_order()) == ORDER
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"DAG", "SparkSubmitOperator"} <= calls
    imports = {(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert ("airflow.providers.apache.spark.operators.spark_submit", "SparkSubmitOperator") in imports


def test_airflow_imports_the_dag_with_its_tasks_and_dependencies() -> None:
    pytest.importorskip("airflow.providers.apache.spark.operators.spark_submit")
    spec = importlib.util.spec_from_file_location("kazu_spark_airflow_dag", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.dag
    assert dag.dag_id == "kazu_spark_etl" and sorted(dag.task_ids) == sorted(ORDER)
    assert dag.get_task("annotate").upstream_task_ids == {"ontologies"}
    assert dag.get_task("kg").upstream_task_ids == {"annotate"}
    assert dag.get_task("annotate").application.endswith("/jobs/annotate.py")
