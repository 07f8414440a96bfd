"""spark-submit entry point: ``spark-submit jobs/annotate.py --input ... --lakehouse ...``.

Takes the same flags as ``kazu-spark annotate`` and runs the same pipeline.
"""

import sys

from kazu_spark.cli.main import main

if __name__ == "__main__":
    main(["annotate", *sys.argv[1:]])
