"""Run by tests/test_resource_profile.py in its own process (one SparkContext per process): the NER stage's
GPU resource profile on a local-cluster with a fake two-"GPU" worker. Prints one JSON line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
from pyspark import TaskContext
from pyspark.sql import SparkSession

from kazu_spark.config import NerConfig
from kazu_spark.ner.spark import tag_documents
from kazu_spark.runtime.resource_profile import ner_resource_profile
from kazu_spark.schemas import NER_INPUT, ddl

SCRIPT = str(Path(__file__).resolve().parents[1] / "conf" / "gpu" / "getGpusResources.sh")


def main(model_dir: str) -> None:
    os.environ["KAZU_SPARK_FAKE_GPUS"] = "0,1"
    os.environ["PYSPARK_PYTHON"] = sys.executable
    builder = SparkSession.builder.master("local-cluster[1,2,1024]").config("spark.ui.enabled", "false")
    for role in ("worker", "executor"):
        builder = builder.config(f"spark.{role}.resource.gpu.amount", "2")
        builder = builder.config(f"spark.{role}.resource.gpu.discoveryScript", SCRIPT)
    spark = builder.config("spark.executorEnv.KAZU_SPARK_FAKE_GPUS", "0,1").getOrCreate()

    def addresses(batches):
        for batch in batches:
            yield pd.DataFrame({"id": batch["id"], "gpu": ",".join(TaskContext.get().resources()["gpu"].addresses)})

    profile = ner_resource_profile(0.5)
    gpus = spark.range(4).repartition(4).mapInPandas(addresses, "id long, gpu string", profile=profile).collect()
    docs = spark.createDataFrame(
        [("d1", "BRCA1 and TP53", [("body", 0, 14)], "h1")],
        ddl(NER_INPUT),
    )
    cfg = NerConfig(model=model_dir, precision="fp32", device="cpu", gpu_amount_per_task=0.5)
    entities = tag_documents(spark, docs, cfg).collect()
    print(json.dumps({"gpus": sorted(r.gpu for r in gpus), "mentions": sorted(r.mention for r in entities)}))
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1])
