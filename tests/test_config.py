"""Configuration: defaults load, layers override in order, and a bad value names its key before any work."""

from __future__ import annotations

import re
from pathlib import Path

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


def test_the_packaged_defaults_are_conf_default_yaml() -> None:
    """An installed wheel reads resources/default.yaml, a checkout's user reads conf/default.yaml: one file."""
    root = Path(__file__).resolve().parents[1]
    packaged = resolve_path("pkg://kazu_spark/resources/default.yaml")
    assert Path(packaged).read_text() == (root / "conf" / "default.yaml").read_text()


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


@pytest.mark.parametrize(("stride", "window"), [(126, 128), (200, 128), (14, 16)])
def test_stride_must_leave_new_sub_tokens_in_each_window(stride: int, window: int) -> None:
    """Issue 20: ner.stride >= the window's sub-tokens passed validation, then failed inside every NER task."""
    with pytest.raises(ConfigError, match=r"invalid configuration: ner: .*ner\.stride \(\d+\) must be smaller"):
        load_config(overrides={"ner.stride": str(stride), "ner.window": str(window)})
    assert load_config(overrides={"ner.stride": str(window - 3), "ner.window": str(window)}).ner.stride == window - 3


# --- issue 20: flag values are literal; --set values are YAML, but never silently reinterpreted ---------------


def _annotate_config(*argv: str):
    from kazu_spark.cli.annotate import annotate_config
    from kazu_spark.cli.main import build_parser

    return annotate_config(build_parser(["annotate"]).parse_args(["annotate", *argv]))


@pytest.mark.parametrize("path", ["/data/lake #prod", "*.jsonl", "&anchor", "a: b", "[x]", "{x}", "- x", "'q'", "null"])
def test_path_flags_are_taken_literally(path: str) -> None:
    cfg = _annotate_config("--lakehouse", path, "--input", path, "--model", path)
    assert (cfg.lakehouse, cfg.input.path, cfg.ner.model) == (path, path, path)


def test_a_newline_in_a_path_flag_reaches_the_control_character_check(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["annotate", "--lakehouse", str(tmp_path / "lake\nprod"), "--input", str(tmp_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "lakehouse: Value error, path" in err and "contains a control character" in err
    assert not list(tmp_path.iterdir())  # refused before anything was created


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ner.threshold=0.4", 0.4),
        ("ner.threshold= 0.4 ", 0.4),
        ("linking.steps=[exact, fuzzy]", ["exact", "fuzzy"]),
        ("lakehouse='/data/lake #prod'", "/data/lake #prod"),
        ('lakehouse="/data/lake #prod"', "/data/lake #prod"),
        ("input.path='*.jsonl'", "*.jsonl"),
        ("lakehouse=/data/lake#prod", "/data/lake#prod"),  # no space before '#': not a comment in YAML
    ],
)
def test_set_values_are_yaml(value: str, expected: object) -> None:
    key = value.partition("=")[0]
    cfg = _annotate_config("--set", value)
    section, _, leaf = key.rpartition(".")
    assert getattr(getattr(cfg, section) if section else cfg, leaf) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("lakehouse=/data/lake #prod", "YAML reads '/data/lake #prod' as '/data/lake'"),
        ("input.path=*.jsonl", "'\\*.jsonl' is not a YAML value"),
        ("input.path=docs\n.jsonl", "YAML reads 'docs\\\\n.jsonl' as 'docs .jsonl'"),
        ("lakehouse='a' #b", "YAML reads \"'a' #b\" as 'a'"),
    ],
)
def test_set_refuses_a_string_yaml_would_reinterpret(value: str, message: str, capsys) -> None:
    key = value.partition("=")[0]
    with pytest.raises(SystemExit) as exit_:
        main(["annotate", "--set", value])
    assert exit_.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"kazu-spark: error: invalid configuration: {key}: ")
    assert re.search(message, line), line
    assert "quote it" in line


def test_the_ner_only_memory_key_still_sets_the_worker_ceiling(tmp_path, caplog) -> None:
    """``ner.worker_memory_limit_mb`` (when the guard covered NER only) sets ``worker_memory_limit_mb``, logged;
    the top-level key wins when both are set."""
    conf = tmp_path / "old.yaml"
    conf.write_text("ner:\n  worker_memory_limit_mb: 1500\n")
    assert load_config(str(conf)).worker_memory_limit_mb == 1500
    assert "ner.worker_memory_limit_mb is now worker_memory_limit_mb" in caplog.text
    assert load_config(str(conf), {"worker_memory_limit_mb": "900"}).worker_memory_limit_mb == 900
    assert load_config().worker_memory_limit_mb is None
