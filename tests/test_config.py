"""Configuration: defaults load, layers override in order, and a bad value names its key before any work."""

from __future__ import annotations

import pytest

from kazu_spark.cli.main import main
from kazu_spark.config import load_config
from kazu_spark.errors import ConfigError
from kazu_spark.paths import resolve_path


def test_defaults_point_at_bundled_files() -> None:
    cfg = load_config()
    assert cfg.ner.window == 128
    assert cfg.input.path is not None
    assert resolve_path(cfg.input.path).endswith("resources/sample/abstracts.jsonl")
    assert {source.entity_class for source in cfg.linking.ontologies} >= {"disease", "drug", "gene", "species"}


def test_conf_file_then_overrides(tmp_path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text("ner:\n  threshold: 0.3\n  stride: 16\nlakehouse: /tmp/x\n")
    cfg = load_config(str(conf), {"ner.threshold": "0.7"})
    assert (cfg.ner.threshold, cfg.ner.stride, cfg.lakehouse) == (0.7, 16, "/tmp/x")


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"ner.threshold": "1.5"}, "ner.threshold"),
        ({"ner.device": "tpu"}, "ner.device"),
        ({"input.format": "xml"}, "input.format"),
        ({"ner.windw": "64"}, "ner.windw"),
        ({"ner.max_batch_tokens": "zero"}, "ner.max_batch_tokens"),
    ],
)
def test_invalid_value_names_the_key(overrides: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"invalid configuration: {key}\b"):
        load_config(overrides=overrides)


def test_unreadable_conf_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration file"):
        load_config(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_config(str(bad))


def test_cli_rejects_bad_value_before_starting_spark(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["annotate", "--lakehouse", str(tmp_path / "lh"), "--set", "ner.stride=-1"])
    assert exit_.value.code == 2
    assert "ner.stride" in capsys.readouterr().err
    assert not (tmp_path / "lh").exists()


@pytest.mark.parametrize(("given", "expected"), [("off", "off"), ("on", "on"), ("auto", "auto")])
def test_progress_on_off_survive_yaml_booleans(given: str, expected: str, tmp_path) -> None:
    """`--progress off` / `progress: off` in YAML 1.1 parse as booleans; the config still means on/off."""
    conf = tmp_path / "c.yaml"
    conf.write_text(f"progress: {given}\n")
    assert load_config(overrides={"progress": given}).progress == expected
    assert load_config(str(conf)).progress == expected
