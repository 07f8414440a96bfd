"""spark-submit entry point for the distillation pipeline's Spark stages (docs/distillation.md).

    spark-submit jobs/distill.py label --model TEACHER --input ABSTRACTS --out SOFT_LABELS_TABLE
    spark-submit jobs/distill.py student --soft-labels SOFT_LABELS_TABLE --teacher TEACHER --out DIR

``label`` takes the flags of ``kazu-spark label``, ``student`` those of ``kazu-spark train distill``.
"""

import sys

from kazu_spark.cli.main import main

STAGES = {"label": ["label"], "student": ["train", "distill"]}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in STAGES:
        raise SystemExit(f"usage: jobs/distill.py {{{','.join(STAGES)}}} [flags]")
    main([*STAGES[sys.argv[1]], *sys.argv[2:]])
