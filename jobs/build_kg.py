"""spark-submit entry point: ``spark-submit jobs/build_kg.py --lakehouse ...``.

Takes the same flags as ``kazu-spark kg build`` and rebuilds the same kg_nodes and kg_edges tables.
The wheel's console script ``kazu-spark-kg`` (Databricks ``python_wheel_task``) runs the same function.
"""

from kazu_spark.cli.jobs import kg

if __name__ == "__main__":
    kg()
