"""Delta writers: MERGE on a table's deterministic key, so reruns update rows instead of duplicating them.

Every output table lives at ``<lakehouse>/<table>`` (a folder or URI), or is ``<catalog>.<schema>.<table>`` when
the lakehouse is a catalog schema's name (Unity Catalog, the metastore: ``main.kazu``; a local folder with a dot
in its name is written ``./my.lake``); its schema and key come from ``kazu_spark.schemas``.
Every commit goes through :func:`with_retry`: Delta's optimistic concurrency lets two writers (two
annotate runs into one lakehouse) race, the loser's commit fails with a conflict, and redoing a keyed
upsert or delete against the new snapshot is correct. Tables are created empty first (with their
schema and Change Data Feed on, idempotently), then only ever MERGEd or appended to, so two first
writers cannot both "create" a table. Writers evolve the schema (``mergeSchema``, MERGE with schema
evolution): a newer kazu-spark that adds a column to a table extends existing tables, whose old rows
read back null in the new column.

Example (needs a Delta-enabled session):
    >>> from kazu_spark.lakehouse.delta import table_path
    >>> table_path("/data/lake", "entities")
    '/data/lake/entities'
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pyspark.errors import AnalysisException, PySparkException
from pyspark.sql import DataFrame, DataFrameReader, DataFrameWriter, SparkSession
from pyspark.sql.types import StructType

from kazu_spark.errors import LakehouseError
from kazu_spark.paths import is_uri
from kazu_spark.runtime.connect import JAVA_ERRORS
from kazu_spark.runtime.driver_fs import FileSystemError, driver_files
from kazu_spark.schemas import KEYS, TABLES

log = logging.getLogger(__name__)

T = TypeVar("T")

#: commits tried per write before a conflict is raised
RETRIES = 8
#: error conditions of Delta's commit conflicts; matched by condition, not by delta-spark's Python classes, so
#: the same test holds in classic Spark and Spark Connect and needs no delta-spark package
CONFLICTS = frozenset(
    {
        "DELTA_CONCURRENT_APPEND",
        "DELTA_CONCURRENT_DELETE_DELETE",
        "DELTA_CONCURRENT_DELETE_READ",
        "DELTA_CONCURRENT_TRANSACTION",
        "DELTA_CONCURRENT_WRITE",
        "DELTA_METADATA_CHANGED",
        "DELTA_PROTOCOL_CHANGED",
    }
)


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a Delta commit that lost a race to a concurrent writer (its condition, sub-class aside).

    Through Spark Connect the condition is the exception's own; classic Spark passes Delta's errors on as
    py4j's ``Py4JJavaError``, whose Java exception carries it.

    Example:
        >>> from pyspark.errors import PySparkException
        >>> class Failed(PySparkException):
        ...     def __init__(self, condition): self.condition = condition
        ...     def getCondition(self): return self.condition
        >>> is_conflict(Failed("DELTA_CONCURRENT_APPEND.WITHOUT_HINT")), is_conflict(Failed("DELTA_TABLE_NOT_FOUND"))
        (True, False)
    """
    if isinstance(exc, PySparkException):
        condition = exc.getCondition()
    elif isinstance(exc, JAVA_ERRORS):
        try:
            condition = exc.java_exception.getCondition()
        except Exception:  # not a SparkThrowable (no error condition): not a Delta conflict
            return False
    else:
        return False
    return (condition or "").split(".")[0] in CONFLICTS


class CreationRace(Exception):
    """Another writer is creating the table right now and its first commit is not visible yet."""


#: what Delta raises to a creator that overlaps another's creation of the same table
_CREATION_RACES = ("DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION", "DELTA_TABLE_NOT_FOUND")
#: creations in this process (driver threads, as notebook cells) take turns; other processes retry
_CREATING = threading.Lock()


#: a lakehouse that is a catalog's schema, ``catalog.schema`` (identifiers: letters, digits, underscores)
_CATALOG_SCHEMA = re.compile(r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$")


def is_catalog_lakehouse(lakehouse: str) -> bool:
    """Whether ``lakehouse`` names a catalog schema (``main.kazu``) rather than a folder or URI.

    Example:
        >>> is_catalog_lakehouse("main.kazu"), is_catalog_lakehouse("./lakehouse"), is_catalog_lakehouse("./my.lake")
        (True, False, False)
    """
    return bool(_CATALOG_SCHEMA.match(lakehouse))


@dataclass(frozen=True)
class TableRef:
    """A lakehouse table as SQL names it (``sql``), with its location for a folder lakehouse (``path``) or its
    catalog name (``name``) for a catalog one; reads and writes go through :meth:`load` and :meth:`save`.

    Example:
        >>> table_ref("main.kazu", "entities").sql, table_ref("/data/lake", "entities").sql
        ('main.kazu.entities', 'delta.`/data/lake/entities`')
    """

    sql: str
    path: str | None = None
    name: str | None = None

    def load(self, reader: DataFrameReader) -> DataFrame:
        """``reader`` (options set) reading this table."""
        return reader.table(self.name) if self.name else reader.format("delta").load(self.path)

    def save(self, writer: DataFrameWriter) -> None:
        """``writer`` (mode and options set) writing into this table."""
        if self.name:
            writer.saveAsTable(self.name)
        else:
            writer.save(self.path)


def table_ref(lakehouse: str, table: str) -> TableRef:
    """The lakehouse's ``table``: ``catalog.schema.table`` for a catalog lakehouse, else its Delta path."""
    if is_catalog_lakehouse(lakehouse):
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; known: {sorted(TABLES)}")
        return TableRef(sql=f"{lakehouse}.{table}", name=f"{lakehouse}.{table}")
    path = table_path(lakehouse, table)
    return TableRef(sql=delta_ref(path), path=path)


def table_path(lakehouse: str, table: str) -> str:
    """Location of ``table`` inside a folder lakehouse; a relative local lakehouse is made absolute."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; known: {sorted(TABLES)}")
    if is_catalog_lakehouse(lakehouse):
        raise ValueError(f"lakehouse {lakehouse} is a catalog schema: its tables have names, not paths")
    if not is_uri(lakehouse):  # no URI scheme (s3a:, dbfs:, abfss:, file:): a local path, /Volumes/... included
        lakehouse = os.path.abspath(lakehouse)
    return f"{lakehouse.rstrip('/')}/{table}"


def delta_ref(path: str) -> str:
    """The SQL name of the Delta table at ``path`` (backticks in the path doubled).

    Example:
        >>> delta_ref("/data/lake/entities")
        'delta.`/data/lake/entities`'
    """
    return "delta.`" + path.replace("`", "``") + "`"


def sql_string(value: str) -> str:
    r"""``value`` as a Spark SQL string literal (backslash escapes, Spark's default).

    Example:
        >>> print(sql_string("it's a\\b"))
        'it\'s a\\b'
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def is_delta_table(spark: SparkSession, path: str) -> bool:
    """Whether ``path`` holds a Delta table (SQL only, so it works through Spark Connect too)."""
    return _is_delta(spark, delta_ref(path))


def table_exists(spark: SparkSession, lakehouse: str, table: str) -> bool:
    """Whether the lakehouse holds ``table`` as a Delta table.

    A path table is looked for on the driver: a commit or checkpoint file in its ``_delta_log`` (no Spark job;
    ``DESCRIBE DETAIL`` rebuilds the table's state, about a second per table on a small machine). A catalog
    table, or a path the driver cannot list (Spark Connect without the scheme's fsspec package), is asked
    of Spark.
    """
    ref = table_ref(lakehouse, table)
    if ref.path is not None:
        try:
            log = driver_files(spark).glob(f"{ref.path.rstrip('/')}/_delta_log/[0-9]*")
            return any(f.name.endswith(".json") or ".checkpoint" in f.name for f in log)
        except FileSystemError:
            pass
    return _is_delta(spark, ref.sql)


@dataclass(frozen=True)
class TableCommit:
    """A table's latest commit: its ``version``, and a ``key`` naming the table's state at that commit (a digest
    of the table's location, the version and the commit file, which holds the commit's own transaction id:
    a table deleted and built again up to the same version gets another key)."""

    version: int
    key: str


def table_commit(spark: SparkSession, lakehouse: str, table: str) -> TableCommit | None:
    """The latest commit of a path table, read on the driver from its ``_delta_log`` (no Spark job, no state
    rebuilt); None for a catalog table, a table without commits, or a log the driver cannot list or read.

    Example (needs a session):
        >>> table_commit(spark, "lakehouse", "ontology_terms").version  # doctest: +SKIP
        2
    """
    ref = table_ref(lakehouse, table)
    if ref.path is None:
        return None
    try:
        files = driver_files(spark)
        commits = files.glob(f"{ref.path.rstrip('/')}/_delta_log/[0-9]*.json")
        if not commits:
            return None
        latest = max(commits, key=lambda f: int(f.name.split(".")[0]))
        body = files.read(latest.path)
    except FileSystemError:
        return None
    version = int(latest.name.split(".")[0])
    return TableCommit(version, hashlib.sha1(f"{ref.path}|{version}|".encode() + body).hexdigest())


def _is_delta(spark: SparkSession, table: str) -> bool:
    """Whether the table SQL names ``table`` (``delta.`path` `` or a catalog name) exists and is Delta."""
    try:
        return spark.sql(f"DESCRIBE DETAIL {table}").first()["format"] == "delta"
    except AnalysisException:  # not a Delta table there; no such table, schema or catalog
        return False


def key_condition(table: str) -> str:
    """MERGE condition joining target ``t`` and source ``s`` on the table's key columns."""
    return " AND ".join(f"t.`{k}` = s.`{k}`" for k in KEYS[table])


def with_retry(commit: Callable[[], T], what: str, retries: int = RETRIES) -> T:
    """Run ``commit`` (one Delta write), running it again when it loses a race with a concurrent writer.

    The retry re-reads the table, so ``commit`` must build its write from scratch each call (a keyed
    MERGE, a delete by key, a create-if-not-exists). Back-off is jittered so two losers do not collide
    again in lock step.

    Example:
        >>> with_retry(lambda: 42, "nothing")
        42
    """
    for attempt in range(1, retries + 1):
        try:
            return commit()
        except Exception as exc:
            if attempt == retries or not (isinstance(exc, CreationRace) or is_conflict(exc)):
                raise
            log.warning("%s conflicted with a concurrent writer (attempt %d): %s", what, attempt, type(exc).__name__)
            time.sleep(random.uniform(0.2, 0.6) * attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


def column_ddl(schema: StructType) -> str:
    """``CREATE TABLE`` column list of ``schema``: name, type, ``NOT NULL`` for non-nullable columns, comment.

    Example:
        >>> from pyspark.sql.types import StringType, StructField
        >>> column_ddl(StructType([StructField("id", StringType(), False, {"comment": "the id"})]))
        "`id` string NOT NULL COMMENT 'the id'"
    """
    columns = []
    for f in schema.fields:
        column = f"`{f.name}` {f.dataType.simpleString()}" + ("" if f.nullable else " NOT NULL")
        if f.metadata.get("comment"):
            column += f" COMMENT {sql_string(f.metadata['comment'])}"
        columns.append(column)
    return ", ".join(columns)


def ensure_table(spark: SparkSession, lakehouse: str, table: str) -> TableRef:
    """Create the Delta table empty, with its schema (and column comments) and CDF on, unless it exists;
    returns it.

    Idempotent and safe under concurrency: threads of one driver create tables one at a time; of two
    processes creating it at once one commits and the other's retry finds the table. The loser may also
    see the winner's creation half done (files but no visible commit): that is retried too, and raised
    as :class:`CreationRace` if there is still no table after the retries. A folder that holds other files
    is refused (:class:`~kazu_spark.errors.LakehouseError`). SQL only (Spark Connect safe).
    """
    ref = table_ref(lakehouse, table)

    def create() -> TableRef:
        if table_exists(spark, lakehouse, table):
            return ref
        if ref.path is not None:
            files = driver_files(spark)
            if files.glob(ref.path) and files.list(ref.path):
                raise LakehouseError(
                    f"{ref.path} is not a Delta table but holds other files: refusing to create {table} there"
                )
        try:
            spark.sql(
                f"CREATE TABLE IF NOT EXISTS {ref.sql} ({column_ddl(TABLES[table])}) USING delta "
                "TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true')"
            )
        except AnalysisException as exc:
            if exc.getCondition() not in _CREATION_RACES:
                raise
            raise CreationRace(f"{ref.sql} is being created by another writer: {exc}") from exc
        return ref

    with _CREATING:
        return with_retry(create, f"creating {table}")


def merge_into(
    spark: SparkSession, target: TableRef, source: DataFrame, on: str, clauses: str, *, evolve: bool = False
) -> None:
    """``MERGE INTO`` the Delta table ``target`` (alias ``t``) from ``source`` (alias ``s``) ``ON on``,
    with the ``WHEN ...`` ``clauses``, as SQL over a temporary view, so it runs the same in classic Spark and
    through Spark Connect (Delta's Python ``DeltaTable`` needs a Delta Connect plugin on the server).
    ``evolve``: ``MERGE WITH SCHEMA EVOLUTION`` (new source columns are added to the table).
    """
    view = f"kazu_spark_merge_{uuid.uuid4().hex}"
    source.createOrReplaceTempView(view)
    try:
        evolution = " WITH SCHEMA EVOLUTION" if evolve else ""
        spark.sql(f"MERGE{evolution} INTO {target.sql} t USING {view} s ON {on} {clauses}")
    finally:
        spark.catalog.dropTempView(view)


def conform(df: DataFrame, table: str) -> DataFrame:
    """Select and cast ``df``'s columns to the table's schema, failing on a missing column."""
    schema = TABLES[table]
    missing = [f.name for f in schema.fields if f.name not in df.columns]
    if missing:
        raise ValueError(f"cannot write {table}: columns {missing} missing from {df.columns}")
    return df.select([df[f.name].cast(f.dataType).alias(f.name) for f in schema.fields])


def append_table(spark: SparkSession, df: DataFrame, lakehouse: str, table: str) -> None:
    """Append ``df``, deduplicated on the table's key, for rows known to be absent from the table.

    Cheaper than a MERGE by seconds per write; callers use it where the key cannot exist yet (a new run
    id, or the rows of documents whose old rows were just deleted). Blind appends never conflict in Delta.
    """
    ref = ensure_table(spark, lakehouse, table)
    rows = conform(df, table).dropDuplicates(list(KEYS[table]))
    writer = rows.write.format("delta").mode("append").option("mergeSchema", "true")
    with_retry(lambda: ref.save(writer), f"append to {table}")


def merge_table(
    spark: SparkSession,
    df: DataFrame,
    lakehouse: str,
    table: str,
    *,
    update: bool = True,
    delete_unmatched: str | None = None,
) -> None:
    """Upsert ``df`` into ``table`` by its key: matched rows are updated (if ``update``), new rows inserted, and
    with ``delete_unmatched`` (a condition on the table's columns as ``t.<column>``) the table's rows that
    ``df`` lacks and that meet it are deleted, in the same MERGE.

    ``df`` is deduplicated on the key first (a MERGE with two source rows for one target row fails).
    Always a MERGE, also into an empty table: of two first writers the second then conflicts and
    retries instead of appending the same keys twice.
    """
    source = conform(df, table).dropDuplicates(list(KEYS[table]))

    clauses = ("WHEN MATCHED THEN UPDATE SET * " if update else "") + "WHEN NOT MATCHED THEN INSERT *"
    if delete_unmatched:
        clauses += f" WHEN NOT MATCHED BY SOURCE AND {delete_unmatched} THEN DELETE"

    def merge() -> None:
        merge_into(spark, ensure_table(spark, lakehouse, table), source, key_condition(table), clauses, evolve=True)

    with_retry(merge, f"MERGE into {table}")


def delete_documents(spark: SparkSession, lakehouse: str, table: str, docs: DataFrame) -> None:
    """Delete ``table``'s rows whose ``doc_id`` is among ``docs``' (the stale rows of re-annotated documents)."""
    ids = docs.select("doc_id").distinct()

    def delete() -> None:
        merge_into(spark, ensure_table(spark, lakehouse, table), ids, "t.doc_id = s.doc_id", "WHEN MATCHED THEN DELETE")

    with_retry(delete, f"delete by doc_id from {table}")


def read_table(spark: SparkSession, lakehouse: str, table: str, version: int | None = None) -> DataFrame:
    """Read a lakehouse table through Delta, at ``version`` if given (time travel)."""
    reader = spark.read
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return table_ref(lakehouse, table).load(reader)


def prefetch_tables(spark: SparkSession, lakehouse: str, tables: tuple[str, ...]) -> threading.Thread:
    """Load the existing ``tables``' Delta state in a background thread (``inputFiles``: the log replayed into the
    table's snapshot, no data read), so the run's own reads and writes of them find it cached in the JVM.

    A small increment's first Delta reads pay for a cold JVM (the log replay's jobs, their code generated)
    one after the other; here they overlap the Python workers' start. Best effort: a failure is logged and
    the run reads the tables itself. Returns the (daemon) thread.

    Example (needs a session):
        >>> prefetch_tables(spark, "lakehouse", ("documents", "entities")).join()  # doctest: +SKIP
    """

    def run() -> None:
        for table in tables:
            try:
                if table_exists(spark, lakehouse, table):
                    read_table(spark, lakehouse, table).inputFiles()
            except Exception as exc:  # noqa: BLE001  (the run's own reads report real failures)
                log.debug("prefetching %s failed: %r", table, exc)

    thread = threading.Thread(target=run, name="kazu-spark-prefetch-tables", daemon=True)
    thread.start()
    return thread


def table_version(spark: SparkSession, lakehouse: str, table: str) -> int:
    """The table's latest committed version."""
    return spark.sql(f"DESCRIBE HISTORY {table_ref(lakehouse, table).sql} LIMIT 1").first()["version"]


def read_changes(spark: SparkSession, lakehouse: str, table: str, start: int, end: int) -> DataFrame:
    """The table's Change Data Feed for versions ``start``..``end`` (inclusive): rows plus ``_change_type``.

    Fails (when evaluated) if the change files of those versions were vacuumed away.
    """
    reader = spark.read.option("readChangeFeed", "true").option("startingVersion", start)
    return table_ref(lakehouse, table).load(reader.option("endingVersion", end))
