# Databricks notebook source
# MAGIC %md
# MAGIC # kazu-spark: annotate documents into Delta tables
# MAGIC Reads documents, tags them with the bundled TinyBERN2-style model, links mentions to ontology
# MAGIC concepts and MERGEs `documents`, `entities`, `entity_links`, `quarantine` and `runs` into the lakehouse.
# MAGIC Install the `kazu-spark` wheel on the cluster first; Delta is built into Databricks runtimes.

# COMMAND ----------

dbutils.widgets.text("input", "pkg://kazu_spark/resources/sample/abstracts.jsonl", "Input path")  # noqa: F821
dbutils.widgets.text("lakehouse", "/Volumes/main/kazu/lakehouse", "Lakehouse path")  # noqa: F821
dbutils.widgets.text("conf", "", "Extra YAML config (optional)")  # noqa: F821

# COMMAND ----------

from kazu_spark.config import load_config  # noqa: E402
from kazu_spark.pipeline import annotate  # noqa: E402

cfg = load_config(
    dbutils.widgets.get("conf") or None,  # noqa: F821
    {"input.path": dbutils.widgets.get("input"), "lakehouse": dbutils.widgets.get("lakehouse")},  # noqa: F821
)
summary = annotate(spark, cfg)  # noqa: F821 - `spark` is provided by the notebook
print(summary)

# COMMAND ----------

display(spark.read.format("delta").load(f"{cfg.lakehouse}/entities").groupBy("entity_class").count())  # noqa: F821
