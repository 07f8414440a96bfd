"""The SparkSession builder: Delta Lake extensions, Arrow, local defaults, the project's interpreter.

Delta's jars are resolved once, at set-up (``kazu-spark setup``, part of ``make setup``), by Spark's own Ivy
(``spark.jars.packages``, as delta-spark's ``configure_spark_with_delta_pip`` does; no Maven needed) into a
user cache (``$XDG_CACHE_HOME/kazu-spark/jars``, by default ``~/.cache/kazu-spark/jars``; ``$KAZU_SPARK_JARS``
moves it). Later sessions load them from there with ``spark.jars``: offline, from any working directory.
On a cluster where Delta is already installed (Databricks), pass ``use_local_jars=False``.

Example:
    >>> from kazu_spark.runtime.session import delta_coordinates
    >>> delta_coordinates("4.2.0")
    ['io.delta:delta-spark_4.2_2.13:4.4.0', 'io.delta:delta-storage:4.4.0']
    >>> jars_dir({"XDG_CACHE_HOME": "/cache"}), jars_dir({"KAZU_SPARK_JARS": "/opt/jars", "XDG_CACHE_HOME": "/c"})
    (PosixPath('/cache/kazu-spark/jars'), PosixPath('/opt/jars'))
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import SparkSession

from kazu_spark.errors import DeltaJarsMissing
from kazu_spark.paths import cache_home
from kazu_spark.runtime import worker_daemon
from kazu_spark.runtime.class_archive import own_jvm_env, usable_archive

#: Spark major.minor -> (Delta artifact, Delta version) on Maven Central
_DELTA_FOR_SPARK: dict[str, tuple[str, str]] = {
    "4.0": ("delta-spark_4.0_2.13", "4.4.0"),
    "4.1": ("delta-spark_4.1_2.13", "4.4.0"),
    "4.2": ("delta-spark_4.2_2.13", "4.4.0"),
}


def delta_coordinates(spark_version: str) -> list[str]:
    """Maven coordinates of the Delta jars matching a Spark version (major.minor decides)."""
    major_minor = ".".join(spark_version.split(".")[:2])
    if major_minor not in _DELTA_FOR_SPARK:
        raise ValueError(f"no Delta release known for Spark {spark_version}; supported: {sorted(_DELTA_FOR_SPARK)}")
    artifact, version = _DELTA_FOR_SPARK[major_minor]
    return [f"io.delta:{artifact}:{version}", f"io.delta:delta-storage:{version}"]


def jars_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Folder of the cached Delta jars: ``$KAZU_SPARK_JARS``, else ``kazu-spark/jars`` in the user's cache
    (``$XDG_CACHE_HOME`` or ``~/.cache``); never relative to the working directory."""
    if environ.get("KAZU_SPARK_JARS"):
        return Path(environ["KAZU_SPARK_JARS"]).expanduser().resolve()
    return cache_home(environ) / "jars"


def _jar_name(coordinate: str) -> str:
    _, artifact, version = coordinate.split(":")
    return f"{artifact}-{version}.jar"


def cached_jars(folder: Path | None = None) -> list[Path]:
    """Paths of the cached Delta jars for the installed pyspark; raises DeltaJarsMissing if any is absent."""
    import pyspark

    folder = folder or jars_dir()
    paths = [folder / _jar_name(c) for c in delta_coordinates(pyspark.__version__)]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DeltaJarsMissing(
            f"Delta jars {', '.join(missing)} not found in {folder}: run `kazu-spark setup` once while online "
            "(or set KAZU_SPARK_JARS to a folder holding them)"
        )
    return paths


#: Ivy excludes for set-up: Delta's transitive dependencies (Hadoop, Parquet, Jackson...) ship with Spark itself,
#: so only the Delta jars named by :func:`delta_coordinates` are downloaded (9 MB instead of 87 MB)
_IVY_EXCLUDES = "org.*:*,com.*:*,commons-*:*,javax.*:*,io.airlift:*,io.unitycatalog:*,io.delta:delta-kernel*"

#: a child Python that starts Spark once with ``spark.jars.packages``: Spark's launcher resolves them with Ivy
_RESOLVE = """
import sys
from pyspark.sql import SparkSession
packages, ivy, excludes = sys.argv[1:4]
conf = {"spark.jars.packages": packages, "spark.jars.ivy": ivy, "spark.jars.excludes": excludes,
        "spark.ui.enabled": "false"}
builder = SparkSession.builder.master("local[1]").appName("kazu-spark-setup")
for key, value in conf.items():
    builder = builder.config(key, value)
builder.getOrCreate().stop()
"""


def fetch_delta_jars(folder: Path | None = None) -> list[Path]:
    """Resolve the Delta jars through Spark's Ivy (``spark.jars.packages``, Maven Central or the user's Ivy
    settings) and copy them into ``folder`` (default :func:`jars_dir`); does nothing when they are there."""
    import pyspark

    folder = folder or jars_dir()
    try:
        return cached_jars(folder)
    except DeltaJarsMissing:
        pass
    coordinates = delta_coordinates(pyspark.__version__)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kazu-spark-ivy-") as ivy:
        done = subprocess.run(
            [sys.executable, "-c", _RESOLVE, ",".join(coordinates), ivy, _IVY_EXCLUDES],
            env=own_jvm_env(os.environ),
            capture_output=True,
            text=True,
        )
        resolved = {path.name: path for path in Path(ivy, "jars").glob("*.jar")}
        for coordinate in coordinates:
            group = coordinate.split(":")[0]
            source = resolved.get(f"{group}_{_jar_name(coordinate)}")  # Ivy names a jar group_artifact-version.jar
            if source is None:
                raise DeltaJarsMissing(
                    f"could not resolve {coordinate} through Spark's Ivy (offline?): {_ivy_error(done.stderr)}"
                )
            partial = folder / f".{_jar_name(coordinate)}.partial"  # a copy cut short is never taken as cached
            shutil.copyfile(source, partial)
            partial.replace(folder / _jar_name(coordinate))
    return cached_jars(folder)


def _ivy_error(stderr: str) -> str:
    """The line of a failed resolution's output that says why: Ivy's exception, else the last line.

    Example:
        >>> _ivy_error('  not found\\nException in thread "main" java.lang.RuntimeException: [unresolved]\\nbye')
        'java.lang.RuntimeException: [unresolved]'
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("Exception in thread"):  # Exception in thread "main" java.lang.RuntimeException: ...
            return line.split('" ', 1)[-1]
    return lines[-1] if lines else "no output"


#: the master of a local run when none is given: every core, and a failed task is tried up to 4 times (as on
#: a cluster, ``spark.task.maxFailures``); plain ``local[*]`` never retries, so one killed worker failed the run
DEFAULT_MASTER = "local[*,4]"

#: most bytes of one Arrow batch sent to a pandas UDF; rows per batch stay at Spark's default (10,000)
ARROW_BATCH_BYTES = 16 * 2**20


def build_session(
    app_name: str = "kazu-spark",
    master: str | None = None,
    *,
    remote: str | None = None,
    use_local_jars: bool = True,
    extra_conf: dict[str, str] | None = None,
    quick_start: bool = False,
) -> SparkSession:
    """Get or create a SparkSession with Delta Lake, Arrow and the project's Python on the workers.

    ``remote`` (or ``$SPARK_REMOTE``) makes it a Spark Connect session (:func:`connect_session`); otherwise a
    classic one. ``master`` defaults to ``$SPARK_MASTER`` or :data:`DEFAULT_MASTER` (``local[*,4]``: failed
    tasks are retried) when no cluster passes one in (spark-submit sets ``spark.master`` itself and wins); a
    master given explicitly is used as it is. ``extra_conf`` passes any other Spark setting through.
    A ``local[...]`` master also gets Delta's log replay (a task per core) and file listing (VACUUM,
    ``$KAZU_SPARK_SHUFFLE_PARTITIONS`` tasks, like shuffles) sized for one machine, not for a cluster, and
    Python workers forked from :mod:`kazu_spark.runtime.worker_daemon`. ``quick_start`` (a small run, whose
    JVM is new) also starts that driver JVM with its first-tier compiler only (:data:`QUICK_START_JAVA`). A
    driver JVM this process starts maps the class archive ``kazu-spark setup`` made, when there is one
    (:mod:`kazu_spark.runtime.class_archive`; :func:`driver_java_options` says how a user's options combine).
    The cached Delta jars are added unless the runtime is Databricks (Delta built in); under spark-submit
    they are optional, since ``--packages io.delta:...`` or ``--jars`` may bring Delta instead.
    """
    remote = remote or os.environ.get("SPARK_REMOTE")
    if remote:
        return connect_session(app_name, remote, use_local_jars=use_local_jars, extra_conf=extra_conf)
    return _classic_session(app_name, master, use_local_jars=use_local_jars, extra_conf=extra_conf, quick=quick_start)


def _classic_session(
    app_name: str, master: str | None, *, use_local_jars: bool, extra_conf: dict[str, str] | None, quick: bool = False
) -> SparkSession:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    for key, value in _session_conf().items():
        builder = builder.config(key, value)
    launched_by_submit = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit / notebooks start the JVM first
    extra_conf = dict(extra_conf or {})
    # missing jars fail first: before the class archive is looked up (and its absence logged) for a JVM never started
    if use_local_jars and "DATABRICKS_RUNTIME_VERSION" not in os.environ:  # Databricks ships Delta itself
        try:
            builder = builder.config("spark.jars", ",".join(str(p) for p in cached_jars()))
        except DeltaJarsMissing:
            if not launched_by_submit:  # spark-submit may bring Delta with --packages/--jars instead
                raise
    if master or not launched_by_submit:
        master = master or os.environ.get("SPARK_MASTER", DEFAULT_MASTER)
        builder = builder.master(master)
        for key, value in _local_conf(master).items():
            builder = builder.config(key, value)
        if not launched_by_submit:  # this process starts the driver JVM
            quick = quick and master.startswith("local")
            java = driver_java_options(
                extra_conf.get(JAVA_OPTIONS), quick=quick, archive=usable_archive(driver_classpath())
            )
            if java:
                extra_conf[JAVA_OPTIONS] = java
    for key, value in extra_conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


#: local[...] -> the URL of the Spark Connect server this process started for it
_LOCAL_SERVERS: dict[str, str] = {}


def connect_session(
    app_name: str, remote: str, *, use_local_jars: bool = True, extra_conf: dict[str, str] | None = None
) -> SparkSession:
    """A Spark Connect session to ``remote``: ``sc://host:port`` (Databricks serverless, a Connect server), or
    ``local[N]``: a Spark Connect server started in this process (classic Spark with Delta and the project's
    Python, on a free port) and a Connect session to it, as the tests use. Only session-level settings go
    to a server that is already running; its cluster settings (Delta, jars) are its own.
    """
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    if remote in _LOCAL_SERVERS:
        remote, extra_conf = _LOCAL_SERVERS[remote], None
    elif remote.startswith("local"):
        port = free_port()
        server = connect_server_conf(port)
        url = os.environ.pop("SPARK_REMOTE", None)  # while it is set, pyspark builds no classic session
        try:
            _classic_session(app_name, remote, use_local_jars=use_local_jars, extra_conf=server | (extra_conf or {}))
        finally:
            if url is not None:
                os.environ["SPARK_REMOTE"] = url
        _LOCAL_SERVERS[remote] = f"sc://localhost:{port}"
        remote, extra_conf = _LOCAL_SERVERS[remote], None  # the server took extra_conf
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"  # pandas_udf makes Connect UDFs from now on (pyspark's flag)
    session_level = {
        k: v for k, v in _session_conf().items() if k.startswith(("spark.sql.execution", "spark.sql.session"))
    }
    builder = ConnectSession.builder.remote(remote).appName(app_name)
    for key, value in (session_level | (extra_conf or {})).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def connect_server_conf(port: int) -> dict[str, str]:
    """Settings that make a classic session serve Spark Connect on ``port`` (the server's plugin).

    Example:
        >>> connect_server_conf(15010)["spark.connect.grpc.binding.port"]
        '15010'
    """
    return {
        "spark.plugins": "org.apache.spark.sql.connect.SparkConnectPlugin",
        "spark.connect.grpc.binding.port": str(port),
    }


def free_port() -> int:
    """A TCP port free on this machine right now (a local Spark Connect server, a test's standalone master)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _session_conf() -> dict[str, str]:
    """Settings of every session the job builds: Delta, Arrow batches, UTC, quiet console, the Python."""
    return {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # bounds each Arrow batch sent to a Python worker (a few huge documents make a small batch)
        "spark.sql.execution.arrow.maxBytesPerBatch": str(ARROW_BATCH_BYTES),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        "spark.pyspark.python": os.environ.get("PYSPARK_PYTHON", sys.executable),
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
    }


#: the driver JVM of a small local run: only the first-tier (C1) JIT compiler. The second tier's compiler
#: threads compete with the run's own work for a small machine's cores while the JVM warms up: a 10-abstract
#: increment on 2 cores takes 24.9-26.9 s with it, 36.4-40.6 s without (bench/README.md "increment.py"),
#: while a long JVM-bound run is slower (the million-mention linking benchmark, see there)
QUICK_START_JAVA = "-XX:TieredStopAtLevel=1"


#: the Spark setting of the driver JVM's options
JAVA_OPTIONS = "spark.driver.extraJavaOptions"


def driver_java_options(user: str | None, *, quick: bool, archive: Path | None) -> str | None:
    """The options of a driver JVM this process starts: the user's ``spark.driver.extraJavaOptions``, then the
    class archive (:mod:`~kazu_spark.runtime.class_archive`) and, with ``quick``, :data:`QUICK_START_JAVA`;
    each of those two is left out when the user's options set that flag themselves. None: no options.

    Example:
        >>> driver_java_options("-Dx=1", quick=True, archive=Path("/c/a.jsa"))
        '-Dx=1 -XX:SharedArchiveFile=/c/a.jsa -XX:TieredStopAtLevel=1'
        >>> driver_java_options("-XX:TieredStopAtLevel=4 -Xshare:off", quick=True, archive=Path("/c/a.jsa"))
        '-XX:TieredStopAtLevel=4 -Xshare:off'
        >>> driver_java_options(None, quick=False, archive=None) is None
        True
    """
    options = [user] if user else []
    if archive is not None and not any(
        f in (user or "") for f in ("SharedArchiveFile", "ArchiveClassesAtExit", "Xshare")
    ):
        options.append(f"-XX:SharedArchiveFile={shlex.quote(str(archive))}")
    if quick and "Tiered" not in (user or ""):
        options.append(QUICK_START_JAVA)
    return " ".join(options) or None


def driver_classpath() -> list[Path]:
    """What a driver JVM's classes come from: pyspark's jars folder and the cached Delta jars (if any)."""
    import pyspark

    jars = Path(pyspark.__file__).resolve().parent / "jars"
    try:
        return [jars, *cached_jars()]
    except DeltaJarsMissing:
        return [jars]


def _local_conf(master: str) -> dict[str, str]:
    """Settings of a session whose master this process chooses: shuffle size, driver memory and, for a
    ``local[...]`` master, one-machine sizes and Python workers forked from the worker daemon."""
    partitions = os.environ.get("KAZU_SPARK_SHUFFLE_PARTITIONS", "8")
    conf = {
        "spark.sql.shuffle.partitions": partitions,
        "spark.driver.memory": os.environ.get("KAZU_SPARK_DRIVER_MEMORY", "4g"),
    }
    if master.startswith("local"):
        conf |= {
            # workers run this interpreter, which has kazu_spark: fork them from a daemon that imported
            # torch and transformers once (pages shared copy-on-write: 2.78 -> 2.36 GiB for the NER bench)
            "spark.python.daemon.module": worker_daemon.__name__,
            # Delta rebuilds a table's state from its log in 50 tasks by default: one per core on one machine
            # (a small lakehouse's first read of a table: 2.0 s in 8 tasks, 1.5 s in 2, on 2 cores)
            "spark.databricks.delta.snapshotPartitions": str(os.cpu_count() or 1),
            # VACUUM lists a table's files in up to 10,000 tasks by default: 60 s for a tiny table, 8 s with this
            "spark.sql.sources.parallelPartitionDiscovery.parallelism": partitions,
        }
    return conf
