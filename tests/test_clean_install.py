"""The lean install as a Spark Connect user meets it: the built wheel in a clean virtualenv, without pyspark
(only the pure-Python ``pyspark-client``), runs ``kazu-spark annotate`` from an unrelated folder against a
Spark Connect server that this test starts from the project's environment.

Heavy: it downloads the wheel's dependencies (torch: set ``PIP_EXTRA_INDEX_URL`` to the CPU-only torch index
to keep it small) into a fresh virtualenv. It prints the install's time and size (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyspark
import pytest
from conftest import sample_rows
from pyspark.sql import SparkSession

from kazu_spark.lakehouse.delta import read_table
from kazu_spark.runtime.session import free_port
from tools.package import build_wheel

pytestmark = pytest.mark.heavy

REPO = Path(__file__).resolve().parent.parent

#: a Spark Connect server from this environment (classic Spark with Delta, the project's Python workers) on
#: the port argv[1]; it prints READY and runs until its standard input closes
_SERVER = """
import sys
from kazu_spark.runtime.session import build_session, connect_server_conf
plugin = connect_server_conf(int(sys.argv[1])) | {"spark.ui.enabled": "false"}
build_session("kazu-spark-connect-server", master="local[2]", extra_conf=plugin)
print("READY", flush=True)
sys.stdin.read()
"""


def _du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def test_the_wheel_without_pyspark_annotates_through_spark_connect(spark: SparkSession, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    venv = tmp_path / "venv"
    # the client sees only its virtualenv: no PYTHONPATH (this checkout would count as kazu-spark installed),
    # no PYSPARK_*/SPARK_* of the test process
    client = {"HOME": os.environ["HOME"], "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}  # as `env -i`: nothing inherited
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], env=client, check=True)
    client_spark = f"pyspark-client=={'.'.join(pyspark.__version__.split('.')[:2])}.*"  # the server's minor
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel), client_spark]
    subprocess.run(pip, env=client, check=True, timeout=3600)
    print(f"\nclean install: {time.monotonic() - started:.0f} s, {_du(venv) / 2**30:.2f} GiB")
    pip_list = [venv / "bin" / "python", "-m", "pip", "list"]
    listed = subprocess.run(pip_list, env=client, capture_output=True, text=True).stdout
    names = {line.split()[0].lower() for line in listed.splitlines()[2:]}
    assert {"kazu-spark", "pyspark-client"} <= names and not {"pyspark", "delta-spark"} & names

    port = free_port()
    env = os.environ | {"PYTHONPATH": str(REPO), "KAZU_SPARK_SHUFFLE_PARTITIONS": "2"}
    env.pop("SPARK_REMOTE", None)
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(port)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout.readline().strip() == "READY"
        elsewhere = tmp_path / "elsewhere"  # no checkout, no .jars, no PYTHONPATH: only the venv's install
        elsewhere.mkdir()
        (elsewhere / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sample_rows(3)), encoding="utf-8")
        client["SPARK_REMOTE"] = f"sc://localhost:{port}"
        lake = elsewhere / "lake"
        cli = [str(venv / "bin" / "kazu-spark"), "annotate", "--input", str(elsewhere / "docs.jsonl")]
        run = subprocess.run(
            [*cli, "--lakehouse", str(lake)], env=client, cwd=elsewhere, capture_output=True, text=True, timeout=1800
        )
        assert run.returncode == 0, run.stderr[-4000:]
        documents, entities = (read_table(spark, str(lake), t).count() for t in ("documents", "entities"))
        assert documents == 3 and entities > 0  # read back by this test's own (classic) session
    finally:
        server.stdin.close()
        server.wait(timeout=120)
