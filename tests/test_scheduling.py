"""Scheduled ETL definitions: the Databricks Asset Bundle's job and the Airflow DAG run ontologies -> annotate -> kg.

Both are checked for what a scheduler relies on: the three tasks, dependencies that are complete and
acyclic, entry points that exist (the wheel's console scripts for Databricks, ``jobs/*.py`` for Airflow),
clusters defined for every task, timeouts and retries. The bundle's job also goes through databricks-sdk's
Jobs API model, which drops any key or value the API does not know. The DAG's structure is read with
``ast`` (Airflow is not a dependency of this project); where Airflow and its Spark provider are installed
(``AIRFLOW_PYTHON``), every task is rendered with real Airflow into the spark-submit command it would run.
"""

from __future__ import annotations

import ast
import configparser
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from fnmatch import fnmatch
from graphlib import TopologicalSorter
from pathlib import Path

import pytest
import yaml

import kazu_spark

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "databricks.yml"
DAG_FILE = ROOT / "jobs" / "airflow_dag.py"
ORDER = ["ontologies", "annotate", "kg"]
ENTRY_POINTS = {"ontologies": "jobs/build_ontologies.py", "annotate": "jobs/annotate.py", "kg": "jobs/build_kg.py"}
WHEEL_ENTRY_POINTS = {task: f"kazu-spark-{task}" for task in ORDER}


def _bundle() -> dict:
    return yaml.safe_load(BUNDLE.read_text(encoding="utf-8"))


def _console_scripts() -> dict[str, str]:
    """setup.cfg's console scripts: name -> ``module:function``."""
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = setup["options.entry_points"]["console_scripts"].strip().splitlines()
    return dict(tuple(part.strip() for part in line.split("=")) for line in lines)


def test_databricks_bundle_job_runs_the_three_steps_in_order_on_defined_clusters() -> None:
    bundle = _bundle()
    job = bundle["resources"]["jobs"]["kazu_spark_etl"]
    tasks = {t["task_key"]: t for t in job["tasks"]}
    graph = {key: {d["task_key"] for d in t.get("depends_on", [])} for key, t in tasks.items()}
    assert set(graph) == set(ORDER) and all(deps <= set(graph) for deps in graph.values())
    assert list(TopologicalSorter(graph).static_order()) == ORDER  # acyclic, one chain
    clusters = {c["job_cluster_key"]: c["new_cluster"] for c in job["job_clusters"]}
    assert {"cpu", "gpu"} <= set(clusters)
    required = {"spark_version", "node_type_id", "num_workers", "data_security_mode"}
    assert all(required <= set(cluster) for cluster in clusters.values())
    assert "gpu" in clusters["gpu"]["spark_version"] and clusters["gpu"]["spark_conf"]["spark.task.resource.gpu.amount"]
    placement = {key: task["job_cluster_key"] for key, task in tasks.items()}
    assert placement == {"ontologies": "cpu", "annotate": "gpu", "kg": "cpu"}
    params = {p["name"] for p in job["parameters"]}
    variables = set(re.findall(r"\$\{var\.(\w+)\}", BUNDLE.read_text(encoding="utf-8")))
    assert variables <= set(bundle["variables"])
    scripts, wheel_name = _console_scripts(), f"./dist/kazu_spark-{kazu_spark.__version__}-py3-none-any.whl"
    for key, task in tasks.items():
        assert task["job_cluster_key"] in clusters
        entry = task["python_wheel_task"]
        assert entry["package_name"] == "kazu_spark" and entry["entry_point"] == WHEEL_ENTRY_POINTS[key]
        module, function = scripts[entry["entry_point"]].split(":")
        assert callable(getattr(importlib.import_module(module), function))
        assert [fnmatch(wheel_name, lib["whl"]) for lib in task["libraries"]] == [True]  # the wheel that is built
        refs = {a[len("{{job.parameters.") : -2] for a in entry["parameters"] if a.startswith("{{job.parameters.")}
        assert refs <= params
        assert task["timeout_seconds"] > 0 and task["max_retries"] >= 1 and task["min_retry_interval_millis"] > 0
    assert job["schedule"]["quartz_cron_expression"] and job["max_concurrent_runs"] == 1


def test_databricks_bundle_job_is_a_jobs_api_job_with_no_unknown_key_or_value() -> None:
    """databricks-sdk's Jobs API model drops what it does not know (a misspelt key, an unknown enum value)."""
    from databricks.sdk.service.jobs import JobSettings

    job = _bundle()["resources"]["jobs"]["kazu_spark_etl"]
    assert JobSettings.from_dict(job).as_dict() == job


def test_wheel_entry_points_run_their_kazu_spark_command(monkeypatch, capsys) -> None:
    """``python_wheel_task`` runs ``kazu-spark-kg ARGS`` (ARGS in ``sys.argv[1:]``): ``kazu-spark kg build ARGS``."""
    scripts = _console_scripts()
    commands = {"annotate": "annotate", "ontologies": "ontologies build", "kg": "kg build", "maintain": "maintain"}
    for job, words in commands.items():
        module, function = scripts[f"kazu-spark-{job}"].split(":")
        monkeypatch.setattr(sys, "argv", [f"kazu-spark-{job}", "--help"])
        with pytest.raises(SystemExit) as exit_:
            getattr(importlib.import_module(module), function)()
        assert exit_.value.code == 0 and f"usage: kazu-spark {words} " in capsys.readouterr().out


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
    assert {"DAG", "ArchivesTemplatedSparkSubmitOperator"} <= calls
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


#: a Python that has apache-airflow and its Spark provider (a virtual environment of their own: tools/airflow_render.py)
AIRFLOW_PYTHON = os.environ.get("AIRFLOW_PYTHON", sys.executable)


@pytest.mark.heavy
def test_airflow_renders_every_task_into_the_intended_spark_submit_command(tmp_path) -> None:
    if subprocess.run([AIRFLOW_PYTHON, "-c", "import airflow.providers.apache.spark"], capture_output=True).returncode:
        pytest.skip("Airflow's Spark provider is not installed: set AIRFLOW_PYTHON to a Python that has it")
    home, lake, raw = "/srv/kazu-spark", "s3a://bucket/lake", "s3a://bucket/raw/"
    variables = {"KAZU_SPARK_HOME": home, "KAZU_SPARK_LAKEHOUSE": lake, "KAZU_SPARK_INPUT": raw}
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW_CONN_SPARK_DEFAULT": "spark://spark-master:7077"}
    env |= {f"AIRFLOW_VAR_{name}": value for name, value in variables.items()}
    result = subprocess.run(
        [AIRFLOW_PYTHON, "-m", "tools.airflow_render", str(DAG_FILE)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    tasks = json.loads(result.stdout)
    assert sorted(tasks) == sorted(ORDER)
    args = {
        "ontologies": ["--lakehouse", lake],
        "annotate": ["--input", raw, "--lakehouse", lake, "--set", "ner.model_archive=model", "--json"],
        "kg": ["--lakehouse", lake],
    }
    for task_id, task in tasks.items():
        assert "{{" not in json.dumps(task), task  # every template rendered, the archives too
        command = task["command"]
        flags = dict(zip(command, command[1:], strict=False))
        assert flags["--master"] == "spark://spark-master:7077" and flags["--py-files"] == f"{home}/dist/kazu_spark.zip"
        assert flags.get("--archives") == (f"{home}/dist/model.tar.gz#model" if task_id == "annotate" else None)
        application = command.index(f"{home}/{ENTRY_POINTS[task_id]}")
        assert command[application + 1 :] == args[task_id]
        assert task["execution_timeout"] > 0
