"""spark-submit entry point: ``spark-submit jobs/build_kg.py --lakehouse ...``.

Takes the same flags as ``kazu-spark kg build`` and rebuilds the same kg_nodes and kg_edges tables.
"""

import sys

from kazu_spark.cli.main import main

if __name__ == "__main__":
    main(["kg", "build", *sys.argv[1:]])
