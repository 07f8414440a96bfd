"""Readers: any supported input (JSONL, Parquet, Delta, a folder of .txt files, PubTator) -> raw rows.

Every reader returns the ``RAW_DOCUMENTS`` schema (source_id, title, text, source, read_error), so
ingestion (``kazu_spark.documents.ingest``) has one shape to validate whatever the input was.

Two kinds of failure are kept apart:

* a problem with the input as a whole (missing path, unknown format, no id or text column) raises
  ``InputError`` while the DataFrame is being defined, i.e. before any job runs or anything is written;
* a problem with one record (a JSONL line that is not a JSON object, bytes that are not UTF-8) becomes a
  row with ``read_error`` set, the rest of the input still reads, and ingestion quarantines that row.
  Such a row's ``text`` holds the raw record (invalid bytes backslash-escaped) for triage.

Decoding is strict UTF-8 (a leading byte-order mark is dropped): a file in another encoding is reported,
never silently filled with replacement characters. Records are decoded on the executors with
``mapInPandas``; only small samples (format sniffing, the JSONL column check) reach the driver.

Example:
    >>> from kazu_spark.documents.readers import FORMATS, format_from_names
    >>> FORMATS
    ('jsonl', 'parquet', 'delta', 'text', 'pubtator')
    >>> format_from_names(["part-0.jsonl.gz", "part-1.jsonl"])
    'jsonl'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, MapType, StructType

from kazu_spark.errors import InputError
from kazu_spark.schemas import RAW_DOCUMENTS

#: formats ``read_raw`` accepts besides ``auto``
FORMATS: tuple[str, ...] = ("jsonl", "parquet", "delta", "text", "pubtator")

#: accepted column (or JSON field) names, in order of preference
ID_COLUMNS: tuple[str, ...] = ("id", "pmid")
TEXT_COLUMNS: tuple[str, ...] = ("text", "abstract")

#: file-name suffix -> format (``.txt`` is sniffed: PubTator if it has ``|t|`` lines, else plain text)
_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".jsonl.gz", "jsonl"),
    (".json.gz", "jsonl"),
    (".jsonl", "jsonl"),
    (".json", "jsonl"),
    (".parquet", "parquet"),
    (".pubtator", "pubtator"),
    (".txt", "txt"),
)

#: how many leading lines are sampled to sniff PubTator and to check JSONL field names
_SAMPLE_LINES = 1000

_SURROGATE = re.compile("[\ud800-\udfff]")
_PUBTATOR_LINE = re.compile(r"^([^|]*)\|([ta])\|(.*)$")

#: (source_id, title, text, read_error) of one record; a parser returns None for a record to skip
_Parsed = tuple[str | None, str | None, str | None, str | None]
PARSED_COLUMNS = ("source_id", "title", "text", "read_error")
_Parser = Callable[[bytes, str], _Parsed | None]


@dataclass(frozen=True)
class _Listing:
    """What the file system says about an input path."""

    is_dir: bool
    has_delta_log: bool
    names: list[str]  # the file itself, or the folder's data files (names not starting with _ or .)


def read_raw(spark: SparkSession, path: str, fmt: str = "auto") -> DataFrame:
    """Read ``path`` as ``fmt`` (or detect it) into a DataFrame in the ``RAW_DOCUMENTS`` schema.

    Raises ``InputError`` if the path is missing or unreadable, the format is unknown or undetectable,
    or a table/JSONL input has none of the id columns (``id``, ``pmid``) or none of the text columns
    (``text``, ``abstract``). Undecodable records come back as rows with ``read_error`` set.

    Example:
        >>> from kazu_spark.runtime.session import build_session  # doctest: +SKIP
        >>> raw = read_raw(build_session(), "kazu_spark/resources/sample/abstracts.jsonl")  # doctest: +SKIP
        >>> raw.columns  # doctest: +SKIP
        ['source_id', 'title', 'text', 'source', 'read_error']
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} for {path}; expected 'auto' or one of {list(FORMATS)}")
    if fmt == "auto":
        fmt = detect_format(spark, path)
    else:
        _list(spark, path)  # fails early, with the path, if it does not exist
    readers: dict[str, Callable[[SparkSession, str], DataFrame]] = {
        "jsonl": _read_jsonl,
        "parquet": lambda s, p: _read_table(s.read.parquet(p), p, F.col("_metadata.file_path")),
        "delta": lambda s, p: _read_table(s.read.format("delta").load(p), p, F.lit(p)),
        "text": _read_text,
        "pubtator": _read_pubtator,
    }
    try:
        return readers[fmt](spark, path)
    except (PySparkException, Py4JJavaError) as exc:  # e.g. not Parquet (footer), not a Delta table, no access
        raise InputError(f"cannot read {path} as {fmt}: {_first_line(exc)}") from exc


def detect_format(spark: SparkSession, path: str) -> str:
    """Guess the format of ``path`` from the file system: ``_delta_log``, file suffixes, PubTator lines.

    Example:
        >>> detect_format(spark, "kazu_spark/resources/sample/abstracts.jsonl")  # doctest: +SKIP
        'jsonl'
    """
    listing = _list(spark, path)
    if listing.has_delta_log:
        return "delta"
    fmt = format_from_names(listing.names)
    if fmt is None:
        found = sorted(listing.names)[:5] or "no data files"
        raise InputError(f"cannot detect the format of {path} (found {found}); pass one of {list(FORMATS)} explicitly")
    if fmt == "txt":
        return "text" if listing.is_dir or not _looks_like_pubtator(spark, path) else "pubtator"
    return fmt


def format_from_names(names: Iterable[str]) -> str | None:
    """The one format all ``names`` share by suffix (``txt`` for .txt, still to be sniffed), else None."""
    formats = {next((f for suffix, f in _SUFFIXES if name.lower().endswith(suffix)), None) for name in names}
    return formats.pop() if len(formats) == 1 else None


def _list(spark: SparkSession, path: str) -> _Listing:
    """Look ``path`` (globs allowed) up through Hadoop's FileSystem, so local, HDFS and S3 paths all work."""
    jvm = spark.sparkContext._jvm
    try:
        hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
        fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        matches = fs.globStatus(hadoop_path) or []
        if not matches:
            raise InputError(f"input path {path} does not exist")
        if len(matches) == 1 and matches[0].isDirectory():
            children = [status.getPath().getName() for status in fs.listStatus(matches[0].getPath())]
            names = [name for name in children if not name.startswith(("_", "."))]
            if not names and "_delta_log" not in children:
                raise InputError(f"input folder {path} has no data files")
            return _Listing(is_dir=True, has_delta_log="_delta_log" in children, names=names)
        return _Listing(is_dir=False, has_delta_log=False, names=[m.getPath().getName() for m in matches])
    except Py4JJavaError as exc:  # e.g. AccessDeniedException, unknown file-system scheme
        raise InputError(f"cannot read input path {path}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    """The first line of an error's message (the Java one for a Py4J error), for InputError messages."""
    message = str(exc.java_exception if isinstance(exc, Py4JJavaError) else exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


def _sample_lines(spark: SparkSession, path: str) -> list[bytes]:
    """The first few raw lines of a line-oriented input (a small sample, collected to the driver)."""
    rows = spark.read.text(path).select(F.col("value").cast("binary")).limit(_SAMPLE_LINES).collect()
    return [bytes(row[0]) for row in rows]


def _looks_like_pubtator(spark: SparkSession, path: str) -> bool:
    return any(_PUBTATOR_LINE.match(line.decode("utf-8", "replace")) for line in _sample_lines(spark, path))


def _decode(raw: bytes) -> tuple[str, str | None]:
    """Strict UTF-8 decoding: (text, None), or (the text with bad bytes escaped, the error message)."""
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        return raw.decode("utf-8", "backslashreplace"), f"invalid UTF-8: {exc}"


def _parse_with(records: DataFrame, parser: _Parser) -> DataFrame:
    """Run ``parser`` over a (raw binary, source string) DataFrame on the executors -> RAW_DOCUMENTS."""

    def parse_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            rows = [
                (*parsed, source)
                for raw, source in zip(batch["raw"], batch["source"], strict=True)
                if (parsed := parser(bytes(raw), source)) is not None
            ]
            yield pd.DataFrame.from_records(rows, columns=[*PARSED_COLUMNS, "source"])

    return records.mapInPandas(parse_batches, RAW_DOCUMENTS)


def _as_text(value: Any) -> str | None:
    """A JSON value as an id or text string: strings as they are, numbers (e.g. a PMID) as written."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def parse_jsonl_line(raw: bytes, _source: str) -> _Parsed | None:
    """One JSONL line -> a record; blank lines are skipped, bad ones carry a read error."""
    line, error = _decode(raw)
    if error is None and not line.strip():
        return None
    if error is None:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            error = f"invalid JSON: {exc}"
        else:
            if not isinstance(record, dict):
                error = f"JSON line is a {type(record).__name__}, not an object"
    if error is not None:
        return None, None, line, error
    source_id = next((record[c] for c in ID_COLUMNS if record.get(c) is not None), None)
    text = next((record[c] for c in TEXT_COLUMNS if record.get(c) is not None), None)
    fields = (_as_text(source_id), _as_text(record.get("title")), _as_text(text))
    if any(_has_lone_surrogate(value) for value in fields):  # a JSON escape like "\ud800" alone: not text
        source_id = None if _has_lone_surrogate(fields[0]) else fields[0]
        return source_id, None, line, "invalid JSON text: a lone UTF-16 surrogate escape (not a Unicode character)"
    return (*fields, None)


def _has_lone_surrogate(value: str | None) -> bool:
    """Whether ``value`` holds a code point in U+D800..U+DFFF (JSON allows the escape; UTF-8 cannot encode it).

    Example:
        >>> _has_lone_surrogate("a" + chr(0xD83D)), _has_lone_surrogate("\U0001f600"), _has_lone_surrogate(None)
        (True, False, False)
    """
    return value is not None and _SURROGATE.search(value) is not None


def _parse_text_file(raw: bytes, source: str) -> _Parsed:
    """One .txt file -> a record named after the file."""
    text, error = _decode(raw)
    return source.rsplit("/", 1)[-1].removesuffix(".txt"), None, text, error


def _parse_pubtator_block(raw: bytes, _source: str) -> _Parsed | None:
    """One blank-line-separated PubTator block (``PMID|t|title``, ``PMID|a|abstract``, annotations)."""
    block, error = _decode(raw)
    if error is not None:
        return None, None, block, error
    if not block.strip():
        return None
    fields: dict[str, str] = {}
    pmids: set[str] = set()
    for line in block.split("\n"):
        if match := _PUBTATOR_LINE.match(line.rstrip("\r")):
            pmids.add(match[1])
            fields[match[2]] = match[3]
    if len(pmids) != 1:
        problem = "no PMID|t| or PMID|a| line" if not pmids else f"several PMIDs {sorted(pmids)} in one block"
        return None, None, block, f"invalid PubTator block: {problem}"
    return pmids.pop(), fields.get("t") or None, fields.get("a") or None, None  # an empty |t| line: no title


def _records(text: DataFrame) -> DataFrame:
    """A ``text`` source's records as raw bytes (Spark keeps them undecoded) with their file path."""
    raw = F.col("value").cast("binary").alias("raw")
    return text.select(raw, F.col("_metadata.file_path").alias("source"))


def _read_jsonl(spark: SparkSession, path: str) -> DataFrame:
    """JSON Lines, one record per line; the id/text field check runs on the first lines only, to stay cheap."""
    fields: set[str] = set()
    for line in _sample_lines(spark, path):
        try:
            record = json.loads(line)
        except ValueError:  # bad JSON or bad UTF-8: reported per line later
            continue
        if isinstance(record, dict):
            fields.update(record)
    if fields:
        _check_columns(path, sorted(fields))
    return _parse_with(_records(spark.read.text(path)), parse_jsonl_line)


def _read_text(spark: SparkSession, path: str) -> DataFrame:
    files = spark.read.format("binaryFile").option("pathGlobFilter", "*.txt").load(path)
    records = files.select(F.col("content").alias("raw"), F.col("path").alias("source"))
    return _parse_with(records, _parse_text_file)


def _read_pubtator(spark: SparkSession, path: str) -> DataFrame:
    """Split on blank lines (``\\n\\n``) so each document is one splittable record; a CRLF file has no such
    separator and comes back as one block naming its several PMIDs in ``read_error``."""
    return _parse_with(_records(spark.read.option("lineSep", "\n\n").text(path)), _parse_pubtator_block)


def _check_columns(path: str, found: list[str]) -> None:
    for kind, expected in (("id", ID_COLUMNS), ("text", TEXT_COLUMNS)):
        if not set(expected) & set(found):
            raise InputError(f"{path} has no {kind} column: expected one of {list(expected)}, found {found}")


def _first_present(table: DataFrame, names: tuple[str, ...]) -> Column:
    """The first non-null of the ``names`` columns that ``table`` has, as a string."""
    present = [F.col(name).cast("string") for name in names if name in table.columns]
    return F.coalesce(*present) if len(present) > 1 else present[0]


def _check_types(path: str, table: DataFrame) -> None:
    """Id, title and text columns must be scalars: a struct, array or map cast to a string is not a text."""
    for name in (*ID_COLUMNS, "title", *TEXT_COLUMNS):
        if name in table.columns and isinstance(table.schema[name].dataType, ArrayType | MapType | StructType):
            found = table.schema[name].dataType.simpleString()
            raise InputError(f"{path}: column {name!r} has type {found}; expected a string (or a number for an id)")


def _read_table(table: DataFrame, path: str, source: Column) -> DataFrame:
    """Map a Parquet or Delta table's columns onto RAW_DOCUMENTS."""
    _check_columns(path, table.columns)
    _check_types(path, table)
    title = F.col("title").cast("string") if "title" in table.columns else F.lit(None).cast("string")
    return table.select(
        _first_present(table, ID_COLUMNS).alias("source_id"),
        title.alias("title"),
        _first_present(table, TEXT_COLUMNS).alias("text"),
        source.alias("source"),
        F.lit(None).cast("string").alias("read_error"),
    ).to(RAW_DOCUMENTS)
