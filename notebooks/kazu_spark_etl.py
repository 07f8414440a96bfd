# Databricks notebook source
# MAGIC %md
# MAGIC # kazu-spark: documents → entities → ontology links → knowledge graph
# MAGIC Reads documents (JSONL, Parquet, Delta, text or PubTator) from a Unity Catalog volume (`/Volumes/...`) or
# MAGIC DBFS (`dbfs:/...`), tags them with the TinyBERN2-style model, links mentions to ontology concepts and
# MAGIC rebuilds the knowledge graph, writing Delta tables under the lakehouse path:
# MAGIC `documents`, `entities`, `entity_links`, `ontology_terms`, `quarantine`, `runs`, `kg_nodes`, `kg_edges`.
# MAGIC
# MAGIC **Set-up:** install the `kazu-spark` wheel (`make package` builds it) as a cluster library; Delta is built in.
# MAGIC **Widgets:** `input`, `lakehouse`, `conf` (a YAML file layered over the defaults), `overrides`
# MAGIC (`key.path=value`, one per line or `;`-separated, e.g. `ner.max_batch_tokens=8192`) and `build_kg`.
# MAGIC **Locally:** `python notebooks/kazu_spark_etl.py` runs this file as plain Python; widgets then come from
# MAGIC `KAZU_SPARK_WIDGET_<NAME>` environment variables (e.g. `KAZU_SPARK_WIDGET_LAKEHOUSE=./lakehouse`).

# COMMAND ----------

from kazu_spark.runtime.notebook import notebook_runtime

dbutils, spark, display = notebook_runtime(globals())

# COMMAND ----------

dbutils.widgets.text("input", "pkg://kazu_spark/resources/sample/abstracts.jsonl", "Input path")
dbutils.widgets.text("lakehouse", "/Volumes/main/kazu/lakehouse", "Lakehouse path")
dbutils.widgets.text("conf", "", "Config YAML (optional)")
dbutils.widgets.text("overrides", "", "Config overrides key=value")
dbutils.widgets.dropdown("build_kg", "yes", ["yes", "no"], "Build the knowledge graph")

# COMMAND ----------

import re
import uuid

from kazu_spark.config import load_config, parse_overrides

overrides = [line for line in re.split(r"[;\n]", dbutils.widgets.get("overrides")) if line.strip()]
cfg = load_config(
    dbutils.widgets.get("conf") or None,
    parse_overrides(overrides),  # values read as YAML, as --set's
    flags={"input.path": dbutils.widgets.get("input"), "lakehouse": dbutils.widgets.get("lakehouse")},  # literal
)
print(f"input {cfg.input.path} -> lakehouse {cfg.lakehouse}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Ingest → annotate → link
# MAGIC `ontology_terms` is built from `linking.ontologies` on first use; reruns skip unchanged documents.
# MAGIC With a DataFrame already in hand and no tables to write, use
# MAGIC `entities, links = kazu_spark.annotate_dataframe(df, id_col="pmid", text_col="abstract")` instead.

# COMMAND ----------

from kazu_spark import annotate

summary = annotate(spark, cfg)
display(spark.createDataFrame([{"run_id": summary.run_id, **summary.counts()}]))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Knowledge graph
# MAGIC Rebuilds `kg_nodes` (concepts, documents) and `kg_edges` (MENTIONS, co-occurrence) from the lakehouse.

# COMMAND ----------

from kazu_spark.kg.build import build_kg

if dbutils.widgets.get("build_kg") == "yes":
    kg_counts = build_kg(spark, cfg.lakehouse, str(uuid.uuid4()), config_hash=cfg.fingerprint())
    print(", ".join(f"{name}: {n:,}" for name, n in kg_counts.items()))

# COMMAND ----------

from kazu_spark.lakehouse.delta import read_table

display(read_table(spark, cfg.lakehouse, "entities").groupBy("entity_class").count().orderBy("entity_class"))
