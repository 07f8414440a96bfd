"""Entry point for ``kazu-spark evaluate ner`` under spark-submit or plain Python.

``python jobs/evaluate.py --model DIR --conll FILE --json``
"""

import sys

from kazu_spark.cli.main import main

if __name__ == "__main__":
    main(["evaluate", "ner", *sys.argv[1:]])
