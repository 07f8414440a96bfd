"""spark-submit entry point: ``spark-submit jobs/annotate.py --input ... --lakehouse ...``.

Takes the same flags as ``kazu-spark annotate`` and runs the same pipeline.
The wheel's console script ``kazu-spark-annotate`` (Databricks ``python_wheel_task``) runs the same function.
"""

from kazu_spark.cli.jobs import annotate

if __name__ == "__main__":
    annotate()
