"""Readers: any supported input (JSONL, Parquet, Delta, .txt folders, PubTator, PubMed XML, tables) -> raw rows.

Every reader returns the ``RAW_DOCUMENTS`` schema (source_id, title, text, source, read_error), so
ingestion (``kazu_spark.documents.ingest``) has one shape to validate whatever the input was. PubMed XML
(``pubmed_xml``, :mod:`kazu_spark.documents.pubmed`) also says which documents its update files delete
(``RawInput.deletions``, ``RAW_DELETIONS``).

Two kinds of failure are kept apart:

* a problem with the input as a whole (missing path, unknown format, no id or text column) raises
  ``InputError`` while the DataFrame is being defined, i.e. before any job runs or anything is written;
* a problem with one record (a JSONL line that is not a JSON object, bytes that are not UTF-8, an id
  or text of the wrong JSON type) becomes a row with ``read_error`` set (``"<reason>: <detail>"``, see
  :func:`kazu_spark.documents.ingest.read_error`), the rest of the input still reads, and ingestion
  quarantines that row. Such a row's ``text`` holds the raw record (invalid bytes backslash-escaped, or
  U+FFFD in a table column) for triage; no message carries document text.

Decoding is strict UTF-8 (a leading byte-order mark is dropped): a file in another encoding is reported,
never silently filled with replacement characters; a table's string or binary id/title/text column is
checked the same way, in Spark. Records are decoded on the executors with ``mapInPandas``; only small
samples (format sniffing, the JSONL column check) reach the driver.

Nothing is dropped unseen: a folder of text files is read recursively, ``.txt`` in any case, and every
entry it does not read (a hidden name, a file that is not ``.txt``) comes back in ``RawInput.skipped``
with its reason, for the run to count; an empty file is a row (ingestion quarantines it, ``empty_text``).

Example:
    >>> from kazu_spark.documents.readers import FORMATS, format_from_names
    >>> FORMATS
    ('jsonl', 'parquet', 'delta', 'text', 'pubtator', 'pubmed_xml', 'table')
    >>> format_from_names(["part-0.jsonl.gz", "part-1.jsonl"]), format_from_names(["pubmed25n0001.xml.gz"])
    ('jsonl', 'pubmed_xml')
    >>> hidden("_SUCCESS"), hidden(".DS_Store"), hidden("year=2024"), hidden("_a=1"), hidden("doc.txt")
    (True, True, False, False, False)
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, MapType, StructType

from kazu_spark.documents import pubmed
from kazu_spark.documents.ingest import INVALID_ID, INVALID_TEXT, INVALID_UTF8, read_error
from kazu_spark.errors import InputError
from kazu_spark.runtime.connect import SPARK_ERRORS, first_line
from kazu_spark.runtime.driver_fs import FileInfo, FileSystemError, driver_files
from kazu_spark.schemas import RAW_DELETIONS, RAW_DOCUMENTS

#: formats ``read_raw`` accepts besides ``auto``
FORMATS: tuple[str, ...] = ("jsonl", "parquet", "delta", "text", "pubtator", "pubmed_xml", "table")

#: a metastore or Unity Catalog table name: ``schema.table`` or ``catalog.schema.table``
_TABLE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*){1,2}$")

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
    (".xml.gz", "pubmed_xml"),
    (".xml", "pubmed_xml"),
    (".txt", "txt"),
)

#: how many leading lines are sampled to sniff PubTator and to check JSONL field names
_SAMPLE_LINES = 1000
#: how many leading bytes of a PubTator input tell its line ending
_SNIFF_BYTES = 4096

#: why the text reader skips an entry (``RawInput.skipped``'s keys)
SKIPPED_HIDDEN = "hidden"
SKIPPED_NOT_TXT = "not_txt"
#: the file names the text reader reads (Hadoop glob; the same test as ``_is_txt``)
_TXT_GLOB = "*.[tT][xX][tT]"

_SURROGATE = re.compile("[\ud800-\udfff]")
_PUBTATOR_LINE = re.compile(r"^([^|]*)\|([ta])\|(.*)$")
#: a PubTator record's line end and blank line: LF or CRLF when it has any LF, else CR (old Mac files)
_EOL = {True: rb"\r?\n", False: rb"\r"}
_BLANK_LINE = {lf: re.compile(eol + rb"[ \t]*" + eol) for lf, eol in _EOL.items()}
_LINE_END = {lf: re.compile(eol) for lf, eol in _EOL.items()}

#: (source_id, title, text, read_error) of one record
_Parsed = tuple[str | None, str | None, str | None, str | None]
PARSED_COLUMNS = ("source_id", "title", "text", "read_error")
#: a parser turns one raw record into its rows (none for a blank record, several for a PubTator run)
_Parser = Callable[[bytes, str], list[tuple[Any, ...]]]


@dataclass(frozen=True)
class _Entry:
    """One file or folder an input path names or holds."""

    name: str  # relative to the input folder ("sub/a.txt"), or the file name for a file or glob input
    path: str  # fully qualified, as Spark reports a file's path
    is_dir: bool
    size: int


@dataclass(frozen=True)
class _Listing:
    """What the file system says about an input path."""

    is_dir: bool
    has_delta_log: bool
    entries: list[_Entry]  # the folder's children (walked into with ``recursive``), or what the path matched
    root: str = ""  # the folder's qualified path; "" for a file or a glob

    @property
    def names(self) -> list[str]:
        """The visible files' names for format detection; the visible folders' when there is no file."""
        visible = [e for e in self.entries if not hidden(e.name.rsplit("/", 1)[-1])]
        files = [e.name for e in visible if not e.is_dir]
        return files or [e.name for e in visible]


@dataclass(frozen=True)
class DriverParse:
    """How the driver can parse an input itself: its raw ``records`` (raw bytes and source, read by the JVM
    alone), the ``parser`` the executors would run on them, and the input's ``size`` in bytes.

    A small increment's rows parsed on the driver need no Python worker, whose start (torch imported
    once for every worker) would otherwise hold the run's first stage for seconds.
    """

    records: DataFrame
    parser: _Parser
    size: int

    def rows(self) -> pd.DataFrame:
        """The input's raw rows (``RAW_DOCUMENTS`` columns), parsed here as the executors would parse them."""
        return next(_parse_batches(iter([self.records.toPandas()]), self.parser, PARSED_COLUMNS))


@dataclass(frozen=True)
class RawInput:
    """What ``read_input`` read: raw rows (``RAW_DOCUMENTS``), the entries it skipped by reason, the
    documents the input deletes (``RAW_DELETIONS``; PubMed XML only, else None), and how the driver could
    parse the rows itself (``driver``: JSON Lines and PubTator files, else None)."""

    rows: DataFrame
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> sorted entry names
    deletions: DataFrame | None = None
    driver: DriverParse | None = None


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
    return read_input(spark, path, fmt).rows


def read_input(spark: SparkSession, path: str, fmt: str = "auto") -> RawInput:
    """``read_raw``'s rows, with the entries of a text folder that were not read (hidden, not ``.txt``) by reason.

    Example:
        >>> read_input(spark, "texts/").skipped  # doctest: +SKIP
        {'hidden': ['.DS_Store'], 'not_txt': ['README.md']}
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} for {path}; expected 'auto' or one of {list(FORMATS)}")
    if fmt == "auto":
        fmt = detect_format(spark, path)
    elif fmt == "table":
        if not is_table_name(spark, path):
            raise InputError(
                f"input {path} is not a table of the session's catalog (schema.table, catalog.schema.table)"
            )
    else:
        _list(spark, path)  # fails early, with the path, if it does not exist
    readers: dict[str, Callable[[SparkSession, str], RawInput]] = {
        "table": lambda s, p: RawInput(_read_table(s.table(p), p, F.lit(p))),
        "jsonl": _read_jsonl,
        "parquet": lambda s, p: RawInput(_read_table(s.read.parquet(p), p, F.col("_metadata.file_path"))),
        "delta": lambda s, p: RawInput(_read_table(s.read.format("delta").load(p), p, F.lit(p))),
        "pubtator": _read_pubtator,
        "text": _read_text,
        "pubmed_xml": _read_pubmed,
    }
    try:
        return readers[fmt](spark, path)
    except SPARK_ERRORS as exc:  # e.g. not Parquet (footer), not a Delta table, no access
        raise InputError(f"cannot read {path} as {fmt}: {first_line(exc)}") from exc


def is_table_name(spark: SparkSession, name: str) -> bool:
    """Whether ``name`` (``schema.table`` or ``catalog.schema.table``) is a table of the session's catalog
    (the metastore, Unity Catalog): read with ``spark.table``, not as a path."""
    if not _TABLE_NAME.match(name):
        return False
    try:
        return spark.catalog.tableExists(name)
    except SPARK_ERRORS:  # e.g. an unknown catalog
        return False


def detect_format(spark: SparkSession, path: str) -> str:
    """Guess the format of ``path``: ``table`` for a catalog table's name (:func:`is_table_name`), else from the
    file system: ``_delta_log``, file suffixes, PubTator lines.

    Example:
        >>> detect_format(spark, "kazu_spark/resources/sample/abstracts.jsonl")  # doctest: +SKIP
        'jsonl'
    """
    if is_table_name(spark, path):
        return "table"
    listing = _list(spark, path)
    if listing.has_delta_log:
        return "delta"
    fmt = format_from_names(listing.names)
    formats = Counter(_suffix_format(name) for name in listing.names)
    if fmt is None and listing.is_dir and set(formats) - {None} == {"txt"}:
        fmt = "txt"  # a text folder: the text reader skips its other entries and counts them
    if fmt is None:
        explicitly = f"pass one of {list(FORMATS)} explicitly"
        common = max((f for f in formats if f), key=lambda f: formats[f], default=None)
        if common is None:
            raise InputError(f"cannot detect the format of {path} (found {sorted(listing.names)[:5]}); {explicitly}")
        odd = sorted(name for name in listing.names if _suffix_format(name) != common)
        raise InputError(
            f"cannot detect the format of {path}: {len(odd)} of its {len(listing.names)} entries are not "
            f"{common}: {odd[:5]}{' ...' if len(odd) > 5 else ''}; remove them or {explicitly}"
        )
    if fmt == "txt":
        return "text" if listing.is_dir or not _looks_like_pubtator(spark, path) else "pubtator"
    return fmt


def format_from_names(names: Iterable[str]) -> str | None:
    """The one format all ``names`` share by suffix (``txt`` for .txt, still to be sniffed), else None."""
    formats = {_suffix_format(name) for name in names}
    return formats.pop() if len(formats) == 1 else None


def _suffix_format(name: str) -> str | None:
    return next((f for suffix, f in _SUFFIXES if name.lower().endswith(suffix)), None)


def hidden(name: str) -> bool:
    """Whether Spark's file listing leaves ``name`` out: ``_`` (unless a ``key=value`` folder), ``.``, ``._COPYING_``.

    The same rule as Spark's ``HadoopFSUtils.shouldFilterOutPathName``, so what the text reader counts as
    skipped is exactly what Spark does not read.
    """
    return (name.startswith("_") and "=" not in name) or name.startswith(".") or name.endswith("._COPYING_")


def _list(spark: SparkSession, path: str, *, recursive: bool = False) -> _Listing:
    """Look ``path`` (globs allowed) up through the driver's file system (:mod:`kazu_spark.runtime.driver_fs`:
    Hadoop's in classic Spark, so local, HDFS and S3 paths all work; fsspec through Spark Connect).

    ``recursive`` walks into the visible sub-folders of a folder (or of a glob's matches): one listing
    call per folder on the driver, as Spark's own file listing does.
    """
    files = driver_files(spark)
    try:
        matches = files.glob(path)
        if not matches:
            raise InputError(f"input path {path} does not exist")

        def entries(found: Iterable[FileInfo], prefix: str) -> Iterator[_Entry]:
            for info in found:
                entry = _Entry(prefix + info.name, info.path, info.is_dir, info.size)
                if entry.is_dir and recursive and not hidden(info.name):
                    yield from entries(files.list(info.path), entry.name + "/")
                else:
                    yield entry

        if len(matches) == 1 and matches[0].is_dir:
            folder = matches[0].path
            children = list(entries(files.list(folder), ""))
            listing = _Listing(True, any(e.name == "_delta_log" for e in children), children, folder)
            if not listing.names and not listing.has_delta_log:
                raise InputError(f"input folder {path} has no data files")
            return listing
        return _Listing(False, False, list(entries(matches, "")))
    except FileSystemError as exc:  # e.g. AccessDeniedException, unknown file-system scheme
        raise InputError(f"cannot read input path {path}: {exc}") from exc


def _sample_lines(spark: SparkSession, path: str) -> list[bytes]:
    """The first few raw lines of a line-oriented input (a small sample, collected to the driver)."""
    rows = spark.read.text(path).select(F.col("value").cast("binary")).limit(_SAMPLE_LINES).collect()
    return [bytes(row[0]) for row in rows]


def _looks_like_pubtator(spark: SparkSession, path: str) -> bool:
    return any(_PUBTATOR_LINE.match(line.decode("utf-8", "replace")) for line in _sample_lines(spark, path))


def _decode(raw: bytes) -> tuple[str, str | None]:
    """Strict UTF-8 decoding: (text, None), or (the text with bad bytes escaped, the ``invalid_utf8`` read error)."""
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        return raw.decode("utf-8", "backslashreplace"), read_error(INVALID_UTF8, str(exc))


def _parse_with(
    records: DataFrame,
    parser: _Parser,
    schema: StructType = RAW_DOCUMENTS,
    columns: tuple[str, ...] = PARSED_COLUMNS,
) -> DataFrame:
    """Run ``parser`` over a (raw binary, source string) DataFrame on the executors -> ``schema`` (RAW_DOCUMENTS):
    each tuple it returns holds ``columns``, the record's source is added."""
    return records.mapInPandas(partial(_parse_batches, parser=parser, columns=columns), schema)


def _parse_batches(
    batches: Iterator[pd.DataFrame], parser: _Parser, columns: tuple[str, ...]
) -> Iterator[pd.DataFrame]:
    for batch in batches:
        rows = [
            (*parsed, source)
            for raw, source in zip(batch["raw"], batch["source"], strict=True)
            for parsed in parser(bytes(raw), source)
        ]
        yield pd.DataFrame.from_records(rows, columns=[*columns, "source"])


def _json_type(value: Any) -> str:
    """What a JSON value is, for a read error (never the value itself: it may be document text)."""
    names = {bool: "a boolean", int: "a number", float: "a number", dict: "an object", list: "a list"}
    return names.get(type(value), type(value).__name__)


def _first_present(record: dict[str, Any], names: tuple[str, ...]) -> tuple[str, Any]:
    """(name, value) of the first field that is not null, empty or blank, else (the first name, None)."""
    for name in names:
        value = record.get(name)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return name, value
    return names[0], None


def _json_fields(record: dict[str, Any]) -> tuple[str | None, str | None, str | None, str | None]:
    """(id, title, text, read_error) of a JSON object: ids are strings or integers, texts strings.

    A number is an id as an integer (a PMID ``123`` or ``123.0`` is ``"123"``); a boolean, a fraction, an
    object or a list is an ``invalid_id``; a title or text that is not a string is an ``invalid_text``.
    """
    id_name, source_id = _first_present(record, ID_COLUMNS)
    if isinstance(source_id, float) and source_id.is_integer():
        source_id = int(source_id)
    if isinstance(source_id, int) and not isinstance(source_id, bool):
        source_id = str(source_id)
    if source_id is not None and not isinstance(source_id, str):
        problem = f"field {id_name!r} is {_json_type(source_id)}, not a string or an integer"
        return None, None, None, read_error(INVALID_ID, problem)
    text_name, text = _first_present(record, TEXT_COLUMNS)
    for name, value in (("title", record.get("title")), (text_name, text)):
        if value is not None and not isinstance(value, str):
            return (
                source_id,
                None,
                None,
                read_error(INVALID_TEXT, f"field {name!r} is {_json_type(value)}, not a string"),
            )
    return source_id, record.get("title"), text, None


def parse_jsonl_line(raw: bytes, _source: str) -> _Parsed | None:
    """One JSONL line -> a record; blank lines are skipped, bad ones carry a read error (and the line as text).

    Example:
        >>> parse_jsonl_line(b'{"id": "", "pmid": 42, "abstract": "Aspirin."}', "in.jsonl")
        ('42', None, 'Aspirin.', None)
        >>> parse_jsonl_line(b'{"id": true, "text": "x"}', "in.jsonl")[3]
        "invalid_id: field 'id' is a boolean, not a string or an integer"
    """
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
                error = f"JSON line is {_json_type(record)}, not an object"
    if error is not None:
        return None, None, line, error
    *fields, error = _json_fields(record)
    if error is not None:
        return fields[0], None, line, error
    if any(_has_lone_surrogate(value) for value in fields):  # a JSON escape like "\ud800" alone: not text
        source_id = None if _has_lone_surrogate(fields[0]) else fields[0]
        return source_id, None, line, "invalid JSON text: a lone UTF-16 surrogate escape (not a Unicode character)"
    return (*fields, None)


def parse_jsonl_records(raw: bytes, source: str) -> list[_Parsed]:
    """``parse_jsonl_line`` as a list, the shape of every reader's parser: a blank line is no record.

    Example:
        >>> parse_jsonl_records(b"  ", "in.jsonl"), parse_jsonl_records(b'{"id": 1, "text": "T"}', "in.jsonl")
        ([], [('1', None, 'T', None)])
    """
    parsed = parse_jsonl_line(raw, source)
    return [] if parsed is None else [parsed]


def _has_lone_surrogate(value: str | None) -> bool:
    """Whether ``value`` holds a code point in U+D800..U+DFFF (JSON allows the escape; UTF-8 cannot encode it).

    Example:
        >>> _has_lone_surrogate("a" + chr(0xD83D)), _has_lone_surrogate("\U0001f600"), _has_lone_surrogate(None)
        (True, False, False)
    """
    return value is not None and _SURROGATE.search(value) is not None


def text_file_id(path: str, root: str) -> str:
    """A text file's document id: its path below the input folder ``root`` (or its name), less ``.txt``.

    Example:
        >>> text_file_id("file:/data/texts/sub/12.TXT", "file:/data/texts"), text_file_id("s3a://b/t/7.txt", "")
        ('sub/12', '7')
    """
    name = path[len(root) + 1 :] if root and path.startswith(root + "/") else path.rsplit("/", 1)[-1]
    return name[: -len(".txt")] if name.lower().endswith(".txt") else name


def _parse_text_file(raw: bytes, source: str, root: str) -> list[_Parsed]:
    """One .txt file -> a record named after the file."""
    text, error = _decode(raw)
    return [(text_file_id(source, root), None, text, error)]


def parse_pubtator_record(raw: bytes, _source: str) -> list[_Parsed]:
    r"""One PubTator record -> a document per blank-line-separated block in it (LF, CRLF, CR or mixed).

    Example:
        >>> [r[:3] for r in parse_pubtator_record(b"1|t|T\r\n1|a|A\r\n\r\n2|t|U\r\n2|a|B\r\n", "in")]
        [('1', 'T', 'A'), ('2', 'U', 'B')]
    """
    lf = b"\n" in raw
    blocks = (_parse_pubtator_block(block, _LINE_END[lf]) for block in _BLANK_LINE[lf].split(raw))
    return [parsed for parsed in blocks if parsed is not None]


def _parse_pubtator_block(raw: bytes, line_end: re.Pattern[bytes]) -> _Parsed | None:
    """One PubTator block (``PMID|t|title``, ``PMID|a|abstract``, annotations); None for a blank one."""
    block, error = _decode(raw)
    if error is not None:
        return None, None, block, error
    if not block.strip():
        return None
    fields: dict[str, str] = {}
    pmids: set[str] = set()
    for line in line_end.split(raw):
        if match := _PUBTATOR_LINE.match(line.decode("utf-8-sig")):
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


def _read_jsonl(spark: SparkSession, path: str) -> RawInput:
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
    return _parsed(spark, path, _records(spark.read.text(path)), parse_jsonl_records)


def _parsed(spark: SparkSession, path: str, records: DataFrame, parser: _Parser) -> RawInput:
    """``records`` parsed by ``parser`` on the executors, and the same for the driver (:class:`DriverParse`),
    sized by the files ``path`` holds (a folder's, not its sub-folders': Spark's text reader reads those)."""
    size = sum(entry.size for entry in _list(spark, path).entries if not entry.is_dir)
    return RawInput(_parse_with(records, parser), driver=DriverParse(records, parser, size))


def _is_txt(name: str) -> bool:
    return name.lower().endswith(".txt")


def _read_text(spark: SparkSession, path: str) -> RawInput:
    """Every ``.txt`` file (any case) of a folder and its visible sub-folders, or of a file or glob; an empty
    file as a row with empty text; every other entry in ``skipped`` (hidden names, files that are not .txt).

    A folder is read by Spark itself (recursive lookup); a glob's matching files are passed to it by path.
    """
    listing = _list(spark, path, recursive=True)
    skipped: dict[str, list[str]] = {}
    read, empty = [], []
    for entry in listing.entries:
        reason = SKIPPED_HIDDEN if hidden(entry.name.rsplit("/", 1)[-1]) else None
        reason = reason or (SKIPPED_NOT_TXT if entry.is_dir or not _is_txt(entry.name) else None)
        if reason:
            skipped.setdefault(reason, []).append(entry.name)
        else:
            (read if entry.size else empty).append(entry)
    root = listing.root
    rows = spark.createDataFrame([(text_file_id(e.path, root), None, "", e.path, None) for e in empty], RAW_DOCUMENTS)
    if read:
        reader = spark.read.format("binaryFile").option("pathGlobFilter", _TXT_GLOB)
        files = (
            reader.option("recursiveFileLookup", "true").load(path)
            if listing.is_dir
            else reader.load([e.path for e in read])
        )
        records = files.where(F.col("length") > 0).select(F.col("content").alias("raw"), F.col("path").alias("source"))
        rows = _parse_with(records, partial(_parse_text_file, root=root)).unionByName(rows)
    return RawInput(rows, {reason: sorted(names) for reason, names in sorted(skipped.items())})


def _line_separator(spark: SparkSession, path: str) -> str:
    """The blank line that ends a PubTator block in ``path``, by its first line's ending: LF, CRLF or CR.

    It only cuts the input into splittable records: each record is split again on any blank line, so a
    file that mixes line endings still reads right, only in larger records.
    """
    lines = spark.read.option("lineSep", "\n").text(path)  # a CR-only file is one "line": read only its start
    first = lines.select(F.substring(F.col("value").cast("binary"), 1, _SNIFF_BYTES)).first()
    head = bytes(first[0]) if first else b""
    return "\r\n\r\n" if head.endswith(b"\r") else "\r\r" if b"\r" in head else "\n\n"


def _read_pubtator(spark: SparkSession, path: str) -> RawInput:
    """Blank-line-separated blocks, each document one splittable record (``_line_separator``)."""
    records = spark.read.option("lineSep", _line_separator(spark, path)).text(path)
    return _parsed(spark, path, _records(records), parse_pubtator_record)


def parse_pubmed_record(raw: bytes, _source: str) -> list[_Parsed]:
    r"""One record of a PubMed XML file (cut at ``</PubmedArticle>``) -> a row per citation, or its read error.

    Example:
        >>> parse_pubmed_record(b"<PubmedArticle><MedlineCitation><PMID>3</PMID></MedlineCitation>", "f.xml")
        [('3', None, None, None)]
        >>> parse_pubmed_record(b"<PubmedArticle>\xe9", "f.xml")[0][3]
        "invalid_utf8: 'utf-8' codec can't decode byte 0xe9 in position 15: unexpected end of data"
    """
    record, error = _decode(raw)
    return [(None, None, record, error)] if error else pubmed.parse_record(record)


def _deleted_pmids(raw: bytes, _source: str) -> list[tuple[str]]:
    """The PMIDs a PubMed record's ``DeleteCitation`` lists (none from an undecodable record: its row reports it)."""
    record, error = _decode(raw)
    return [] if error else [(pmid,) for pmid in pubmed.deleted_pmids(record)]


def _read_pubmed(spark: SparkSession, path: str) -> RawInput:
    """PubMed baseline/update XML (``.xml`` or ``.xml.gz``), one record per article (``pubmed.RECORD_END``).

    The deletions are a second, lazy pass over the records that hold a ``<DeleteCitation`` (an update
    file's last one), so the rows' pass never carries them.
    """
    records = spark.read.option("lineSep", pubmed.RECORD_END).text(path)
    rows = _parse_with(_records(records), parse_pubmed_record)
    deleting = _records(records.where(F.col("value").contains(pubmed.DELETE_TAG)))
    return RawInput(rows, deletions=_parse_with(deleting, _deleted_pmids, RAW_DELETIONS, ("source_id",)))


def _check_columns(path: str, found: list[str]) -> None:
    for kind, expected in (("id", ID_COLUMNS), ("text", TEXT_COLUMNS)):
        if not set(expected) & set(found):
            raise InputError(f"{path} has no {kind} column: expected one of {list(expected)}, found {found}")


def _string(name: str) -> Column:
    """A table column as a string; bytes that are not UTF-8 become U+FFFD (``_utf8_error`` flags the row)."""
    return F.make_valid_utf8(F.col(name).cast("string"))


def _first_column(table: DataFrame, names: tuple[str, ...]) -> Column:
    """The first of the ``names`` columns that ``table`` has whose value is not null, empty or blank."""
    present = [F.when(_string(name).rlike(r"\S"), _string(name)) for name in names if name in table.columns]
    return F.coalesce(*present) if len(present) > 1 else present[0]


def _utf8_error(table: DataFrame) -> Column:
    """An ``invalid_utf8`` read error naming the id/title/text columns whose bytes are not UTF-8, else null.

    A binary (or sloppily written string) column can hold any bytes: checked here, in Spark, because
    the Arrow batches of ingestion cannot carry such a string (it failed the run).
    """
    names = [name for name in (*ID_COLUMNS, "title", *TEXT_COLUMNS) if name in table.columns]
    bad = F.concat_ws(", ", *(F.when(~F.is_valid_utf8(F.col(n).cast("string")), F.lit(repr(n))) for n in names))
    return F.when(bad != "", F.concat(F.lit(read_error(INVALID_UTF8, "bytes that are not UTF-8 in column ")), bad))


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
    title = _string("title") if "title" in table.columns else F.lit(None).cast("string")
    return table.select(
        _first_column(table, ID_COLUMNS).alias("source_id"),
        title.alias("title"),
        _first_column(table, TEXT_COLUMNS).alias("text"),
        source.alias("source"),
        _utf8_error(table).alias("read_error"),
    ).to(RAW_DOCUMENTS)
