"""The ``kazu-spark`` command as a user meets it: JSON-line logs, one-line errors with exit codes, ``--version``,
a torch-free ``annotate`` driver, and the supported Python stated consistently."""

from __future__ import annotations

import configparser
import json
import logging
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import sample_rows

import kazu_spark
from kazu_spark.cli.annotate import is_small_input
from kazu_spark.cli.logs import JsonFormatter, json_logs
from kazu_spark.cli.main import main
from kazu_spark.config import load_config
from kazu_spark.runtime.session import QUICK_START_JAVA, driver_java_options

REPO = Path(__file__).resolve().parent.parent


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``kazu-spark ARGS`` in a child process running this checkout's code."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "kazu_spark.cli.main", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def _record(msg: str, *args: object, exc_info: bool = False, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("kazu_spark.test")
    return logger.makeRecord(logger.name, logging.INFO, __file__, 1, msg, args, sys.exc_info() if exc_info else None,
                             extra=extra)  # fmt: skip


# --- the JSON formatter ------------------------------------------------------------------------------------


def test_formatter_escapes_quotes_newlines_and_non_ascii() -> None:
    line = JsonFormatter().format(_record('config {"a": "b"}\nsecond line: %s', "naïve Straße → α-synuclein"))
    assert "\n" not in line  # one record, one line
    got = json.loads(line)
    assert got["msg"] == 'config {"a": "b"}\nsecond line: naïve Straße → α-synuclein'
    assert (got["level"], got["logger"]) == ("INFO", "kazu_spark.test")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", got["ts"])


def test_formatter_puts_extras_at_the_top_level() -> None:
    config = {"lakehouse": "/tmp/lh", "spark": {"conf": {"spark.hadoop.fs.s3a.secret.key": "***"}}}
    got = json.loads(JsonFormatter().format(_record("annotate run %s", "r1", config=config, rows=2, where=Path("/x"))))
    assert got["msg"] == "annotate run r1"
    assert got["config"] == config  # an object field, not a string holding JSON
    assert got["rows"] == 2 and got["where"] == "/x"  # what json cannot encode is written as str()
    assert list(got)[:4] == ["ts", "level", "logger", "msg"]


def test_formatter_writes_exception_info_as_a_field() -> None:
    try:
        raise RuntimeError('worker "3" lost\nretrying')
    except RuntimeError:
        line = JsonFormatter().format(_record("stage %s failed", "ner", exc_info=True))
    assert "\n" not in line
    got = json.loads(line)
    assert got["msg"] == "stage ner failed"
    assert got["exc"].startswith("Traceback (most recent call last):")
    assert got["exc"].endswith('RuntimeError: worker "3" lost\nretrying')


def test_json_logs_removes_its_handler_and_restores_levels(capsys: pytest.CaptureFixture) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with json_logs(verbose=True):
        logging.getLogger("kazu_spark.test").debug("visible with --verbose")
        logging.getLogger("py4j.clientserver").info("gateway chatter")
    assert (root.handlers, root.level) == (handlers, level)
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["msg"] for line in lines] == ["visible with --verbose"]


# --- errors, exit codes, --version ------------------------------------------------------------------------


def test_version() -> None:
    done = _cli("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"kazu-spark {kazu_spark.__version__}\n"
    assert "Traceback" not in done.stderr


def test_bad_config_value_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    done = _cli("annotate", "--lakehouse", str(tmp_path / "lh"), "--set", "ner.threshold=abc")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "kazu-spark: error: invalid configuration: ner.threshold: Input should be a valid number, "
        "unable to parse string as a number (got 'abc')"
    ]
    assert not (tmp_path / "lh").exists()  # failed before Spark started


def test_annotate_driver_does_not_import_torch() -> None:
    """The annotate and label drivers only ship the model folder; torch costs ~0.8 GiB of driver memory."""
    code = (
        "import sys\n"
        "from kazu_spark.cli.main import build_parser\n"
        "build_parser(['annotate']).parse_args(['annotate', '--input', 'x'])\n"
        "build_parser(['label'])\n"
        "print(sorted(m for m in ('torch', 'transformers', 'kazu_spark.cli.train') if m in sys.modules))\n"
    )
    env = os.environ | {"PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"


def _annotate_args(lakehouse: Path, source: str) -> list[str]:
    # the test session's master and shuffle width, so main()'s builder leaves the shared session as it was
    return ["annotate", "--input", source, "--lakehouse", str(lakehouse), "--master", "local[2,2]"]


@pytest.fixture
def narrow_shuffles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAZU_SPARK_SHUFFLE_PARTITIONS", "2")


@pytest.mark.spark
def test_missing_input_is_one_line_and_exit_code_1(spark, tmp_path, capsys, narrow_shuffles) -> None:
    missing = str(tmp_path / "nowhere.jsonl")
    with pytest.raises(SystemExit) as exit_:
        main(_annotate_args(tmp_path / "lh", missing))
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == f"kazu-spark: error: input path {missing} does not exist"

    with pytest.raises(SystemExit):  # --verbose: the same line, after the traceback
        main(["--verbose", *_annotate_args(tmp_path / "lh", missing)])
    err = capsys.readouterr().err
    assert "Traceback (most recent call last):" in err and "InputError" in err
    assert err.splitlines()[-1] == f"kazu-spark: error: input path {missing} does not exist"


@pytest.mark.spark
@pytest.mark.slow
def test_annotate_writes_one_json_object_per_log_line(spark, tmp_path, capsys, narrow_shuffles) -> None:
    """A real `kazu-spark annotate` of two documents: every line our logger writes parses as JSON."""
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in sample_rows(2)), encoding="utf-8")
    main(_annotate_args(tmp_path / "lh", str(source)))
    # our handler writes to sys.stderr (captured here); Spark's log4j lines go to the JVM's stderr
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    ours = [r for r in records if r["logger"].startswith("kazu_spark")]
    for stage in ("ingest", "ner", "write entities", "ontology terms", "linking", "write documents"):
        assert any(re.search(rf"\bstage {stage}\b", r["msg"]) for r in ours), stage
    (run,) = [r for r in ours if r["msg"].startswith("annotate run ")]
    assert run["config"]["lakehouse"] == str(tmp_path / "lh")  # the config is an object field of the line
    assert run["config"]["input"]["path"] == str(source)


# --- packaging --------------------------------------------------------------------------------------------


def test_python_requires_matches_ruff_target_version() -> None:
    """The lowest supported Python is the one ruff checks the syntax against (3.11: datetime.UTC)."""
    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg", encoding="utf-8")
    requires = setup["options"]["python_requires"]
    target = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]["target-version"]
    major, minor = re.fullmatch(r">=(\d+)\.(\d+)", requires.strip()).groups()
    assert target == f"py{major}{minor}"
    assert sys.version_info >= (int(major), int(minor))


def test_a_small_local_input_starts_a_quick_jvm_and_a_large_or_remote_one_does_not(tmp_path: Path) -> None:
    small = tmp_path / "ten.jsonl"
    small.write_text('{"id": "1", "text": "BRCA1."}\n' * 10, encoding="utf-8")
    cfg = load_config(overrides={"input.path": str(small)})
    assert is_small_input(cfg)
    assert not is_small_input(cfg.model_copy(update={"input": cfg.input.model_copy(update={"driver_parse_bytes": 10})}))
    assert not is_small_input(load_config(overrides={"input.path": "abfss://c@a.dfs.core.windows.net/in.jsonl"}))
    assert not is_small_input(load_config(overrides={"input.path": str(tmp_path / "missing.jsonl")}))
    assert driver_java_options(None, quick=True, archive=None) == QUICK_START_JAVA
    assert driver_java_options(None, quick=False, archive=None) is None
    # the user's own JVM options are kept; a compiler setting of theirs replaces the quick start
    assert driver_java_options("-Dlog=x", quick=True, archive=None) == f"-Dlog=x {QUICK_START_JAVA}"
    assert driver_java_options("-XX:-TieredCompilation", quick=True, archive=None) == "-XX:-TieredCompilation"
