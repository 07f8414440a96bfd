"""spark-submit entry point: ``spark-submit jobs/maintain.py --lakehouse ... [--retention-hours N]``.

Takes the same flags as ``kazu-spark maintain`` and compacts and vacuums the same tables.
The wheel's console script ``kazu-spark-maintain`` (Databricks ``python_wheel_task``) runs the same function.
"""

from kazu_spark.cli.jobs import maintain

if __name__ == "__main__":
    maintain()
