"""``kazu-spark setup``: fetch the Delta Lake jars once, through Spark's Ivy, into the user cache, and make the
driver JVM's class archive there.

Fetching is the only step that needs the network; the cache's place is
:func:`kazu_spark.runtime.session.jars_dir`. The class archive (:mod:`kazu_spark.runtime.class_archive`) is
made by a small annotate run, about a minute once; every later driver JVM starts seconds faster with it.
Each step does nothing when its result is there.
"""

from __future__ import annotations

import argparse
import sys

from kazu_spark.runtime.class_archive import archive_path, build_class_archive
from kazu_spark.runtime.session import driver_classpath, fetch_delta_jars


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``setup`` (no flags)."""
    p.set_defaults(func=cmd_setup)


def cmd_setup(args: argparse.Namespace) -> None:
    """Fetch and cache the Delta jars, then make the class archive if it is not there."""
    for path in fetch_delta_jars():
        print(f"cached {path}")
    classpath = driver_classpath()
    archive = archive_path(classpath)
    if archive is None:
        print("class archive: off (KAZU_SPARK_CLASS_ARCHIVE=off) or no java found")
        return
    if not archive.is_file():
        print("making the driver JVM's class archive (once, about a minute)...", flush=True)
        workload = [sys.executable, "-m", "kazu_spark.pipeline.archive_workload"]
        if build_class_archive(workload, classpath) is None:
            print("class archive not made (see the warning above): Spark starts without it")
            return
    print(f"class archive {archive} ({archive.stat().st_size / 2**20:.0f} MiB)")
