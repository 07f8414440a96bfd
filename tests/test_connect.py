"""The whole job through Spark Connect (what Databricks serverless and shared clusters run): a local Connect
server in a subprocess (``SPARK_REMOTE=local[2]``), every command of the job in one session, no
``sparkContext``, no broadcast variables, no JVM gateway on the client; linking both on the driver and by Spark
joins, whose plans the links are checkpointed between (a Connect client refuses a plan nested past 100 levels)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import sample_rows
from pyspark.sql import SparkSession

from kazu_spark.lakehouse.delta import read_table
from kazu_spark.runtime.session import jars_dir

pytestmark = [pytest.mark.spark, pytest.mark.slow]

#: the commands, run in one process and so one Connect session; the client must never reach for a JVM
_SCRIPT = """
import sys
import pyspark.sql.connect.session as connect
from kazu_spark.cli.main import main

commands = [
    ["ontologies", "build", "--lakehouse", "{lake}"],
    ["annotate", "--input", "{docs}", "--lakehouse", "{lake}", "--progress", "on"],
    ["kg", "build", "--lakehouse", "{lake}"],
    ["kg", "export", "--lakehouse", "{lake}", "--format", "neo4j", "--out", "{out}/neo4j"],
    ["report", "--lakehouse", "{lake}", "--out", "{out}/report.html"],
    ["maintain", "--lakehouse", "{lake}"],
    ["evaluate", "linking", "--pubtator", "{pubtator}", "--gold-only"],
    # the Spark joins engine (batches over linking.batch_entities): its plan once nested past the client's limit
    ["evaluate", "linking", "--pubtator", "{pubtator}", "--gold-only", "--set", "linking.batch_entities=0"],
]
for command in commands:
    main(command)
    from pyspark.sql import SparkSession
    assert isinstance(SparkSession.getActiveSession() or connect.SparkSession.getActiveSession(), connect.SparkSession)
print("ALL DONE")
"""


def test_the_whole_job_runs_through_spark_connect(spark: SparkSession, tmp_path: Path) -> None:
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps(r) + "\n" for r in sample_rows(4)), encoding="utf-8")
    lake, out = tmp_path / "lake", tmp_path / "out"
    pubtator = Path(__file__).parent / "data" / "linking" / "tiny.pubtator"
    script = _SCRIPT.format(lake=lake, docs=docs, out=out, pubtator=pubtator)
    env = os.environ | {"SPARK_REMOTE": "local[2]", "KAZU_SPARK_JARS": str(jars_dir())}
    env["KAZU_SPARK_SHUFFLE_PARTITIONS"] = "2"
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=1800
    )
    assert run.returncode == 0 and "ALL DONE" in run.stdout, run.stderr[-4000:]
    assert "sparkContext" not in run.stderr and "JVM_ATTRIBUTE_NOT_SUPPORTED" not in run.stderr

    documents = {r.doc_id: r.text for r in read_table(spark, str(lake), "documents").collect()}
    entities = read_table(spark, str(lake), "entities").collect()
    assert sorted(documents) == sorted(r["pmid"] for r in sample_rows(4))
    assert entities and all(documents[e.doc_id][e.start : e.end] == e.mention for e in entities)
    links = read_table(spark, str(lake), "entity_links").collect()
    assert links and {link.entity_id for link in links} <= {e.entity_id for e in entities}
    assert read_table(spark, str(lake), "kg_nodes").count() > 0
    assert (out / "neo4j" / "nodes_concepts.csv").read_text().startswith("conceptId:ID(Concept)")
    assert not list((out / "neo4j").glob("*.parts"))  # the part folders were moved into single files
    assert "<html" in (out / "report.html").read_text()[:500].lower()
    assert '"evaluated": 6' in run.stdout  # the evaluation's JSON line: the tiny file's gold mentions
    evaluations = [line for line in run.stdout.splitlines() if line.startswith('{"corpus"')]
    assert len(evaluations) == 2 and evaluations[0] == evaluations[1]  # the driver's pass and Spark joins agree
    assert "documents ·" in run.stderr  # the NER progress bar, fed by the progress the server reports
