"""The driver JVM's class-data-sharing archive: Spark's, Scala's and Delta's classes mapped from one file.

A new driver JVM loads, verifies and links about 28,000 classes from jars while it starts Spark and runs its
first queries: seconds on a small machine, paid by every run, and most of a small increment's fixed cost.
HotSpot's AppCDS (JDK 13 and later) writes the classes a JVM loaded into an archive when that JVM exits
(``-XX:ArchiveClassesAtExit``); later JVMs map them from it (``-XX:SharedArchiveFile``). ``kazu-spark setup``
makes the archive once (:func:`build_class_archive` over a small annotate run, see
:mod:`kazu_spark.pipeline.archive_workload`), in the user cache beside the Delta jars, and
:func:`~kazu_spark.runtime.session.build_session` gives it to every driver JVM it starts. On 2 cores a
session starts in 2.8-3.0 s with it against 5.1-5.9 s without, and a 10-abstract increment's start-up
takes 6.7 s against 11.6 s (bench/README.md).

An archive belongs to one JVM build and one classpath: its name is a digest of the java binary and the jars
(:func:`archive_key`), and the JVM itself checks both and runs without it when they differ. A partly written
archive crashes the JVM that maps it, so it is written under another name and renamed only once the JVM that
wrote it has exited cleanly. ``KAZU_SPARK_CLASS_ARCHIVE=off`` turns it off (neither made nor used).

Example:
    >>> archive_path([], {"KAZU_SPARK_CLASS_ARCHIVE": "off"}) is None
    True
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kazu_spark.paths import cache_home

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

#: set to ``off`` to neither make nor use the archive
ARCHIVE_ENV = "KAZU_SPARK_CLASS_ARCHIVE"

#: archives kept in the cache (the newest): one per JVM and classpath, e.g. a second virtual environment's
KEEP = 3


#: what makes a child Python use another process's Spark (a Connect server, a spark-submit gateway's JVM)
_ATTACHING = ("SPARK_REMOTE", "PYSPARK_GATEWAY_PORT")


def own_jvm_env(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` for a child Python that must start its own driver JVM (set-up's Ivy resolution, the archive's
    workload): without ``SPARK_REMOTE`` and a spark-submit gateway's port.

    Example:
        >>> own_jvm_env({"SPARK_REMOTE": "sc://host:15002", "PATH": "/bin"})
        {'PATH': '/bin'}
    """
    return {k: v for k, v in environ.items() if k not in _ATTACHING}


def java_binary(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The java that Spark's launcher runs (``$JAVA_HOME/bin/java``, else ``java`` on the PATH), resolved; None
    if there is none."""
    home = environ.get("JAVA_HOME")
    found = str(Path(home, "bin", "java")) if home else shutil.which("java", path=environ.get("PATH"))
    if not found or not Path(found).is_file():
        return None
    return Path(found).resolve()


def archive_key(java: Path, classpath: Sequence[Path]) -> str:
    """A digest of the JVM binary and the classpath entries: their paths, sizes and modification times (a JDK
    upgrade, another pyspark or Delta version gives another key)."""
    digest = hashlib.sha1()
    for path in (java, *classpath):
        stat = path.stat()
        digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def archive_path(classpath: Sequence[Path], environ: Mapping[str, str] = os.environ) -> Path | None:
    """Where the archive of this JVM and ``classpath`` (:func:`~kazu_spark.runtime.session.driver_classpath`) is
    kept, ``<user cache>/kazu-spark/jvm/<key>.jsa``, made or not; None when turned off or no java is found."""
    if environ.get(ARCHIVE_ENV, "").lower() == "off":
        return None
    java = java_binary(environ)
    if java is None:
        return None
    return cache_home(environ) / "jvm" / f"{archive_key(java, classpath)}.jsa"


def usable_archive(classpath: Sequence[Path], environ: Mapping[str, str] = os.environ) -> Path | None:
    """The archive of this JVM and ``classpath`` if it has been made, else None (never raises: a run goes on
    without it). A missing one that set-up could make is logged: a driver JVM starts seconds slower without
    it, and set-up in another virtual environment or for another Delta version may have replaced it (``KEEP``).
    """
    try:
        path = archive_path(classpath, environ)
    except OSError as exc:
        log.debug("no class archive: %r", exc)
        return None
    if path is None or path.is_file():
        return path
    if not launcher_folders(environ):
        log.info("no class archive for this JVM and these jars: `kazu-spark setup` makes one (a faster start)")
    return None


def launcher_folders(environ: Mapping[str, str] = os.environ) -> list[Path]:
    """The non-empty folders Spark's launcher puts on a driver JVM's class path: ``$SPARK_CONF_DIR`` (else
    ``$SPARK_HOME/conf``), ``$HADOOP_CONF_DIR`` and ``$YARN_CONF_DIR``. A JVM cannot dump a class archive with
    one on its class path ("Cannot have non-empty directory in paths").

    Example:
        >>> launcher_folders({})
        []
    """
    home = environ.get("SPARK_HOME")
    conf = environ.get("SPARK_CONF_DIR") or (str(Path(home, "conf")) if home else "")
    named = [conf, environ.get("HADOOP_CONF_DIR", ""), environ.get("YARN_CONF_DIR", "")]
    return [Path(f) for f in named if f and Path(f).is_dir() and any(Path(f).iterdir())]


def build_class_archive(
    workload: Sequence[str], classpath: Sequence[Path], environ: Mapping[str, str] = os.environ
) -> Path | None:
    """Make the archive by running ``workload``, a command given the path to write as its last argument: it
    starts Spark with ``-XX:ArchiveClassesAtExit=<that path>``, runs what later runs run, and exits with its
    JVM's exit code once that JVM has exited (:func:`close_jvm`). The archive is kept only then; of the other
    keys' archives the newest ``KEEP - 1`` stay. Returns the archive, or None (turned off, no java, a
    :func:`launcher_folders` folder on the class path, or the workload failed: logged, nothing kept).
    """
    path = archive_path(classpath, environ)
    if path is None:
        return None
    if folders := launcher_folders(environ):
        names = ", ".join(str(f) for f in folders)
        log.warning("no class archive made: the JVM cannot make one with a folder on its class path (%s)", names)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial")
    started = time.perf_counter()
    try:
        done = subprocess.run([*workload, str(partial)], env=own_jvm_env(environ), capture_output=True, text=True)
        if done.returncode or not partial.is_file() or partial.stat().st_size == 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
            log.warning("no class archive made (exit %s): %s", done.returncode, tail)
            return None
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    others = sorted((p for p in path.parent.glob("*.jsa") if p != path), key=lambda p: p.stat().st_mtime)
    for stale in others[: max(len(others) - KEEP + 1, 0)]:
        stale.unlink(missing_ok=True)
    log.info("class archive %s made in %.0f s", path, time.perf_counter() - started)
    return path


def close_jvm(spark: SparkSession) -> int:
    """Stop ``spark`` and end the driver JVM this process started, waiting for it to exit (an archive is
    written as it exits); returns its exit code. Classic Spark only: for :func:`build_class_archive`'s
    workloads, never a job."""
    from pyspark import SparkContext

    spark.stop()
    gateway = SparkContext._gateway
    proc = getattr(gateway, "proc", None)
    if proc is None:
        raise RuntimeError("this process did not start the driver JVM")
    proc.stdin.close()  # the gateway server exits when its stdin ends
    return proc.wait()
