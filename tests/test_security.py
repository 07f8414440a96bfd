"""Security settings a user relies on: configured paths are checked, secrets are masked, faults stay explicit."""

from __future__ import annotations

import pytest

from kazu_spark.config import load_config
from kazu_spark.errors import ConfigError
from kazu_spark.pipeline.faults import parse_faults

pytestmark = pytest.mark.reliability


@pytest.mark.parametrize(
    "path",
    ["data/docs.jsonl", "/abs/docs", "file:///tmp/docs", "dbfs:/mnt/docs", "/Volumes/main/raw/docs",
     "s3a://bucket/docs", "abfss://c@acct.dfs.core.windows.net/docs", "gs://bucket/docs", "C:\\data\\docs"],
)  # fmt: skip
def test_supported_locations_are_accepted(path: str) -> None:
    cfg = load_config(overrides={"input.path": path, "lakehouse": path, "ner.model": path})
    assert (cfg.input.path, cfg.lakehouse, cfg.ner.model) == (path, path, path)


@pytest.mark.parametrize(
    ("key", "path", "message"),
    [
        ("lakehouse", "''", "path is empty"),
        ("input.path", "'  '", "path is empty"),
        ("ner.model", '"/models/x\\0.bin"', "control character"),
        ("input.path", '"docs\\n.jsonl"', "control character"),
        ("input.path", "http://example.org/docs.jsonl", "unsupported URI scheme 'http'"),
        ("lakehouse", "ftp://host/lake", "unsupported URI scheme 'ftp'"),
        ("lakehouse", "s3a://AKIAKEY:secret@bucket/lake", "carries credentials"),
    ],
)
def test_bad_locations_fail_at_load_naming_the_key(key: str, path: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"{key}: Value error, .*{message}") as error:
        load_config(overrides={key: path})
    assert "secret@" not in str(error.value)  # the refused credentials are not echoed back


def test_secret_spark_settings_are_masked_for_logs() -> None:
    settings = {
        "spark.hadoop.fs.s3a.secret.key": "S3CRET",
        "spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net": "AZKEY",
        "spark.some.password": "PW",
        "spark.databricks.token": "TOK",
        "spark.executor.memory": "4g",
    }
    redacted = load_config(overrides={"spark.conf": settings}).redacted()
    assert redacted["spark"]["conf"] == dict.fromkeys(settings, "***") | {"spark.executor.memory": "4g"}


def test_fault_injection_is_off_unless_asked_and_strict_when_asked() -> None:
    assert parse_faults("") == parse_faults(" , ")
    assert parse_faults("kill_worker_after_docs=5").kill_worker_after_docs == 5
    with pytest.raises(ValueError, match="kill_driver_after must be one of"):
        parse_faults("kill_driver_after=ingest")
