"""spark-submit entry point: ``spark-submit jobs/build_ontologies.py --conf conf/ontologies-shared.yaml``.

Takes the same flags as ``kazu-spark ontologies build``.
"""

import sys

from kazu_spark.cli.main import main

if __name__ == "__main__":
    main(["ontologies", "build", *sys.argv[1:]])
