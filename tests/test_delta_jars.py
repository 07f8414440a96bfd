"""The Delta jar cache as an installed CLI meets it: a user-level folder found from any working directory,
``$KAZU_SPARK_JARS`` to move it, and one clear line when the jars are missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import sample_rows

from kazu_spark.runtime.session import cached_jars, jars_dir

REPO = Path(__file__).resolve().parent.parent


def _cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``kazu-spark ARGS`` from ``cwd`` (not the checkout) with ``env`` replacing the jar-cache variables."""
    base = {k: v for k, v in os.environ.items() if k not in ("KAZU_SPARK_JARS", "XDG_CACHE_HOME", "SPARK_REMOTE")}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "kazu_spark.cli.main", *args]
    return subprocess.run(command, env=base | env, cwd=cwd, capture_output=True, text=True, timeout=900)


def test_the_cache_is_per_user_not_per_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KAZU_SPARK_JARS", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert jars_dir() == tmp_path / "home" / ".cache" / "kazu-spark" / "jars"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert jars_dir() == tmp_path / "xdg" / "kazu-spark" / "jars"
    monkeypatch.setenv("KAZU_SPARK_JARS", "moved")  # the override wins; a relative one is taken as given
    assert jars_dir() == tmp_path / "moved"


def test_missing_jars_are_one_line_naming_the_fix(tmp_path: Path) -> None:
    empty = tmp_path / "jars"
    empty.mkdir()
    done = _cli(tmp_path, {"KAZU_SPARK_JARS": str(empty)}, "annotate", "--lakehouse", str(tmp_path / "lh"))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"kazu-spark: error: Delta jars delta-spark_4.2_2.13-4.4.0.jar, delta-storage-4.4.0.jar not found in {empty}: "
        "run `kazu-spark setup` once while online (or set KAZU_SPARK_JARS to a folder holding them)"
    ]
    assert not (tmp_path / "lh").exists()


@pytest.mark.spark
def test_the_cli_finds_the_cached_jars_from_an_unrelated_folder(tmp_path: Path) -> None:
    """``make setup`` cached the jars in the user cache; a copy of that cache under another ``XDG_CACHE_HOME``
    is found by ``kazu-spark annotate`` run from a folder that has no ``.jars``, and Delta tables get written."""
    cache = tmp_path / "cache"
    (cache / "kazu-spark" / "jars").mkdir(parents=True)
    for jar in cached_jars():
        (cache / "kazu-spark" / "jars" / jar.name).symlink_to(jar)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    docs = elsewhere / "docs.jsonl"
    docs.write_text("".join(json.dumps(r) + "\n" for r in sample_rows(2)), encoding="utf-8")
    env = {"XDG_CACHE_HOME": str(cache), "KAZU_SPARK_SHUFFLE_PARTITIONS": "2"}
    # linking off: the jars are what is tested, and it spares building the ontology terms
    args = ("--input", "docs.jsonl", "--lakehouse", "lh", "--master", "local[2]", "--set", "linking.enabled=false")
    done = _cli(elsewhere, env, "annotate", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (elsewhere / "lh" / "documents" / "_delta_log").is_dir()
    assert not (elsewhere / ".jars").exists()
