"""The driver JVM's class archive: keyed by JVM and jars, kept only when its JVM exited cleanly, and mapped by
the next driver JVM a session starts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kazu_spark.runtime.class_archive import KEEP, archive_path, build_class_archive, java_binary, usable_archive
from kazu_spark.runtime.session import driver_classpath, jars_dir

#: a fake workload: writes its last argument (the partial archive) with the given exit code
FAKE = "import sys; from pathlib import Path; Path(sys.argv[-1]).write_bytes(b'x' * {size}); sys.exit({code})"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This environment with the user cache in ``tmp_path`` (the Delta jars still found where they are)."""
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "KAZU_SPARK_JARS": str(jars_dir()), **extra}


def test_the_archive_is_keyed_by_the_jvm_and_the_jars_and_can_be_turned_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    jar = tmp_path / "delta.jar"
    jar.write_bytes(b"v1")
    env = _env(tmp_path)
    first = archive_path([jar], env)
    assert first is not None and first.parent == tmp_path / "cache" / "kazu-spark" / "jvm"
    assert archive_path([jar], env) == first
    jar.write_bytes(b"v2 (another Delta version)")
    assert archive_path([jar], env) != first
    assert archive_path([jar], _env(tmp_path, KAZU_SPARK_CLASS_ARCHIVE="off")) is None
    no_java = _env(tmp_path, JAVA_HOME=str(tmp_path / "no-jdk"))
    assert java_binary(no_java) is None and archive_path([jar], no_java) is None
    with caplog.at_level("INFO", logger="kazu_spark.runtime.class_archive"):
        assert usable_archive([jar], env) is None  # not made yet: set-up would make it, and the log says so
    assert "kazu-spark setup" in caplog.text


@pytest.mark.parametrize(("code", "size"), [(1, 10), (0, 0)])
def test_a_failed_workload_keeps_no_archive_and_no_partial_file(tmp_path: Path, code: int, size: int) -> None:
    jar = tmp_path / "delta.jar"
    jar.write_bytes(b"v1")
    env = _env(tmp_path)
    workload = [sys.executable, "-c", FAKE.format(size=size, code=code)]
    assert build_class_archive(workload, [jar], env) is None
    folder = tmp_path / "cache" / "kazu-spark" / "jvm"
    assert list(folder.iterdir()) == []  # a partial archive would crash the JVM that maps it


def test_no_archive_is_attempted_with_a_conf_folder_on_the_class_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Spark's launcher puts $SPARK_CONF_DIR on the driver's class path, where the JVM refuses to dump an
    archive; the dump (seconds of a JVM) is not tried, and the warning names the folder, not Spark's last lines."""
    jar = tmp_path / "delta.jar"
    jar.write_bytes(b"v1")
    conf = tmp_path / "spark-conf"
    conf.mkdir()
    workload = [sys.executable, "-c", FAKE.format(size=10, code=0)]
    assert build_class_archive(workload, [jar], _env(tmp_path, SPARK_CONF_DIR=str(conf))) is not None  # empty: fine
    (conf / "spark-defaults.conf").write_text("spark.ui.enabled false\n", encoding="utf-8")
    jar.write_bytes(b"v2")  # another key, so the archive just made is not the answer
    ran = tmp_path / "ran"
    probe = [sys.executable, "-c", f"from pathlib import Path; Path({str(ran)!r}).touch()"]
    assert build_class_archive(probe, [jar], _env(tmp_path, SPARK_CONF_DIR=str(conf))) is None
    assert not ran.exists()
    assert str(conf) in caplog.text


def test_the_workload_starts_its_own_jvm_even_under_spark_connect_settings(tmp_path: Path) -> None:
    jar = tmp_path / "delta.jar"
    jar.write_bytes(b"v1")
    env = _env(tmp_path, SPARK_REMOTE="sc://localhost:15002", PYSPARK_GATEWAY_PORT="25333")
    attached = "import os, sys\nif {'SPARK_REMOTE', 'PYSPARK_GATEWAY_PORT'} & set(os.environ): sys.exit(1)\n"
    workload = [sys.executable, "-c", attached + FAKE.format(size=10, code=0)]
    assert build_class_archive(workload, [jar], env) is not None


def test_a_made_archive_is_used_and_only_the_newest_archives_of_other_keys_stay(tmp_path: Path) -> None:
    jar = tmp_path / "delta.jar"
    env = _env(tmp_path)
    workload = [sys.executable, "-c", FAKE.format(size=10, code=0)]
    made = []
    for version in range(KEEP + 1):  # e.g. as many virtual environments, or Delta upgrades
        jar.write_bytes(b"v" * (version + 1))
        made.append(build_class_archive(workload, [jar], env))
        os.utime(made[-1], (version, version))  # made one after the other
    newest = made[-1]
    assert newest is not None and newest.read_bytes() == b"x" * 10
    assert usable_archive([jar], env) == newest
    assert sorted(newest.parent.iterdir()) == sorted(made[-KEEP:])  # the oldest went


#: starts a session and ends its JVM: with ``dump``, as the archive's workload; else as a run that logs where
#: each class came from
SESSION = textwrap.dedent(
    """
    import sys
    from kazu_spark.runtime.class_archive import close_jvm
    from kazu_spark.runtime.session import JAVA_OPTIONS, build_session
    mode, target = sys.argv[1], sys.argv[-1]
    option = f"-XX:ArchiveClassesAtExit={target}" if mode == "dump" else f"-Xlog:class+load=info:file={target}"
    spark = build_session("archive-test", "local[1]", extra_conf={JAVA_OPTIONS: option, "spark.ui.enabled": "false"})
    sys.exit(close_jvm(spark))
    """
)


@pytest.mark.skipif(java_binary() is None, reason="needs a JDK")
def test_the_next_driver_jvm_maps_spark_classes_from_the_archive(tmp_path: Path) -> None:
    env = _env(tmp_path)
    archive = build_class_archive([sys.executable, "-c", SESSION, "dump"], driver_classpath(), env)
    assert archive is not None and archive.stat().st_size > 10 * 2**20
    loads = tmp_path / "classes.log"
    run = subprocess.run([sys.executable, "-c", SESSION, "run", str(loads)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    shared = [line for line in loads.read_text().splitlines() if "source: shared objects file (top)" in line]
    assert any(" org.apache.spark.SparkContext " in line for line in shared), "SparkContext not from the archive"
