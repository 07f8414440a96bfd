"""spark-submit entry point: ``spark-submit jobs/maintain.py --lakehouse ... [--retention-hours N]``.

Takes the same flags as ``kazu-spark maintain`` and compacts and vacuums the same tables.
"""

import sys

from kazu_spark.cli.main import main

if __name__ == "__main__":
    main(["maintain", *sys.argv[1:]])
