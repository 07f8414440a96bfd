"""spark-submit of ``jobs/annotate.py`` on a local standalone cluster with two executors.

The master and one worker (2 cores) are started from pyspark's own ``bin/spark-class``; the job is
submitted with ``--total-executor-cores 2 --executor-cores 1`` (two executors), the package's code as
``--py-files`` and the model as ``--archives model.tar.gz#model`` with ``ner.model_archive=model``, and
``ner.model`` pointing nowhere, so the run only succeeds if executors load the shipped archive. The
cluster processes are stopped whatever happens. Free ports are picked at start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest

from kazu_spark.paths import resolve_path
from kazu_spark.runtime.session import cached_jars, free_port
from tools.package import pack_model, zip_sources

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.heavy]

ROOT = Path(__file__).resolve().parent.parent
SPARK_HOME = Path(pyspark.__file__).resolve().parent


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as response:
            return int(json.load(response).get("aliveworkers", 0))
    except OSError:
        return 0


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(master URL, worker dir) of a running master + one 2-core worker; both are stopped afterwards."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"SPARK_HOME": str(SPARK_HOME)}
    port, ui_port = free_port(), free_port()
    url, work = f"spark://127.0.0.1:{port}", tmp_path / "work"
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    commands = [
        [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port)]
        + ["--webui-port", str(ui_port)],
        [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "2"]
        + ["--memory", "3g", "--webui-port", str(free_port()), "--work-dir", str(work), url],
    ]
    processes: list[subprocess.Popen] = []
    try:
        for i, command in enumerate(commands):
            log = open(tmp_path / f"daemon-{i}.log", "wb")  # noqa: SIM115 - closed with the process
            processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 90
        while _alive_workers(ui_port) < 1:
            assert all(p.poll() is None for p in processes), "a cluster daemon exited; see daemon-*.log"
            assert time.monotonic() < deadline, "the worker did not register with the master in 90 s"
            time.sleep(1)
        yield url, work
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_spark_submit_on_two_executors_with_the_model_archive(spark, standalone, tmp_path) -> None:
    url, work = standalone
    sample = resolve_path("pkg://kazu_spark/resources/sample/abstracts.jsonl")
    rows = [json.loads(line) for line in Path(sample).read_text(encoding="utf-8").splitlines()[:4]]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    lakehouse = tmp_path / "lake"
    py_files = zip_sources(tmp_path / "kazu_spark.zip")
    archive = pack_model("pkg://kazu_spark/resources/model", tmp_path / "model.tar.gz")
    command = [
        str(SPARK_HOME / "bin" / "spark-submit"), "--master", url, "--deploy-mode", "client",
        "--total-executor-cores", "2", "--executor-cores", "1", "--executor-memory", "1g",
        "--jars", ",".join(str(p) for p in cached_jars()), "--py-files", str(py_files),
        "--archives", f"{archive}#model", "--conf", f"spark.pyspark.python={sys.executable}",
        "--conf", "spark.sql.shuffle.partitions=2",
        str(ROOT / "jobs" / "annotate.py"), "--input", str(source), "--lakehouse", str(lakehouse),
        "--set", "ner.model_archive=model", "--set", "ner.model=/nonexistent/model", "--set", "ner.partitions=2",
        "--set", "linking.enabled=false", "--json",
    ]  # fmt: skip
    env = os.environ | {"SPARK_HOME": str(SPARK_HOME), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["documents"] == 4 and summary["entities"] > 0

    docs = {r.doc_id for r in spark.read.format("delta").load(str(lakehouse / "documents")).collect()}
    assert docs == {r["pmid"] for r in rows}
    assert spark.read.format("delta").load(str(lakehouse / "entities")).count() == summary["entities"]
    (app,) = work.iterdir()
    executors = sorted(p for p in app.iterdir() if p.is_dir())
    assert len(executors) == 2, executors  # two executors ran
    assert any((e / "model" / "config.json").is_file() for e in executors)  # the archive unpacked beside them
