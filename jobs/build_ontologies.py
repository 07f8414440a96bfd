"""spark-submit entry point: ``spark-submit jobs/build_ontologies.py --conf conf/ontologies-shared.yaml``.

Takes the same flags as ``kazu-spark ontologies build``.
The wheel's console script ``kazu-spark-ontologies`` (Databricks ``python_wheel_task``) runs the same function.
"""

from kazu_spark.cli.jobs import ontologies

if __name__ == "__main__":
    ontologies()
