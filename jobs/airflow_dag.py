"""Airflow DAG ``kazu_spark_etl``: ontologies -> annotate -> kg, nightly, each step a spark-submit.

Copy (or symlink) this file into Airflow's ``dags/`` folder; it needs ``apache-airflow-providers-apache-spark``
and a Spark connection (``spark_default``: master URL, deploy mode, ``spark-submit`` on the worker's PATH).
Airflow Variables set the paths, read when a run starts:

* ``kazu_spark_home``: checkout holding ``jobs/`` and ``dist/`` (``make package``) on the Airflow worker;
* ``kazu_spark_input``, ``kazu_spark_lakehouse``: input and lakehouse paths or URIs (s3a://, abfss://, hdfs://).

The code goes to executors as ``dist/kazu_spark.zip``; the annotate task alone ships the model, as
``dist/model.tar.gz#model`` (``ner.model_archive=model``). Delta comes from Maven (``packages``: match it to
the cluster's Spark, see kazu_spark.runtime.session.delta_coordinates). Each task has an ``execution_timeout``
(:data:`TIMEOUTS`) and one retry. ``tools/airflow_render.py`` renders the tasks' spark-submit commands with
real Airflow (tests/test_scheduling.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator


class ArchivesTemplatedSparkSubmitOperator(SparkSubmitOperator):
    """SparkSubmitOperator that also renders ``archives`` (the provider 6.3.4 keeps it, untemplated, as ``_archives``).

    Without it spark-submit gets ``--archives {{ var.value.get(...) }}/dist/model.tar.gz#model`` as written.
    """

    template_fields = (*SparkSubmitOperator.template_fields, "_archives")


#: task id -> spark-submit entry point, relative to the checkout
ENTRY_POINTS = {
    "ontologies": "jobs/build_ontologies.py",
    "annotate": "jobs/annotate.py",
    "kg": "jobs/build_kg.py",
}
#: task id -> the task it runs after
UPSTREAM = {"annotate": "ontologies", "kg": "annotate"}

HOME = "{{ var.value.get('kazu_spark_home', '/opt/kazu-spark') }}"
LAKEHOUSE = ["--lakehouse", "{{ var.value.get('kazu_spark_lakehouse', 's3a://lake/kazu') }}"]
ARGS = {
    "ontologies": LAKEHOUSE,
    "annotate": [
        "--input", "{{ var.value.get('kazu_spark_input', 's3a://lake/raw/') }}", *LAKEHOUSE,
        "--set", "ner.model_archive=model", "--json",
    ],
    "kg": LAKEHOUSE,
}  # fmt: skip
#: task id -> the ``--archives`` it ships: only annotate loads the model
ARCHIVES = {"annotate": f"{HOME}/dist/model.tar.gz#model"}
#: task id -> the longest one try may run before Airflow fails it (then retries once)
TIMEOUTS = {"ontologies": timedelta(hours=1), "annotate": timedelta(hours=8), "kg": timedelta(hours=2)}

with DAG(
    dag_id="kazu_spark_etl",
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=10)},
    tags=["kazu-spark"],
) as dag:
    tasks = {
        task_id: ArchivesTemplatedSparkSubmitOperator(
            task_id=task_id,
            conn_id="spark_default",
            application=f"{HOME}/{entry_point}",
            application_args=ARGS[task_id],
            py_files=f"{HOME}/dist/kazu_spark.zip",
            archives=ARCHIVES.get(task_id),
            packages="io.delta:delta-spark_4.2_2.13:4.4.0",
            conf={"spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension"},
            name=f"kazu-spark-{task_id}",
            execution_timeout=TIMEOUTS[task_id],
        )
        for task_id, entry_point in ENTRY_POINTS.items()
    }
    for task_id, upstream in UPSTREAM.items():
        tasks[upstream] >> tasks[task_id]
