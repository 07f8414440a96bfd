"""The NER stage's GPU resource profile on a real local-cluster whose worker has two fake "GPUs".

Local mode has no stage-level scheduling, so this runs ``tests/gpu_profile_job.py`` in a subprocess with its
own ``local-cluster[1,2,1024]`` SparkContext; the discovery script (conf/gpu/getGpusResources.sh) reports
GPUs "0" and "1" through KAZU_SPARK_FAKE_GPUS. Costs a cluster start-up (~30-60 s), hence one test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import build_model_dir

from kazu_spark.runtime.resource_profile import task_device

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.spark
@pytest.mark.heavy
def test_ner_stage_runs_with_a_gpu_share_per_task(tmp_path: Path):
    model = build_model_dir(tmp_path / "model")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "gpu_profile_job.py"), str(model)],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # each task of the profiled stage holds one of the worker's two GPUs (0.5 GPU per task)
    assert len(result["gpus"]) == 4 and set(result["gpus"]) <= {"0", "1"}
    # the NER stage itself runs under the profile and tags the document (the test model's I-disease covers it all)
    assert "BRCA1 and TP53" in result["mentions"]


def test_a_task_runs_on_the_gpu_spark_assigned():
    assert task_device("auto", {"gpu": ["1"]}, cuda_available=True) == "cuda:1"
    assert task_device("cuda", {}, cuda_available=True) == "cuda"
    assert task_device("auto", {"gpu": ["0"]}, cuda_available=False) == "cpu"
    assert task_device("cpu", {"gpu": ["0"]}, cuda_available=True) == "cpu"
