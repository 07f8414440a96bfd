"""Readers and ``to_documents`` on tiny inputs in every format, in a local Spark session."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from kazu_spark.documents.readers import detect_format, read_input, read_raw
from kazu_spark.documents.spark import to_documents, to_documents_on_driver
from kazu_spark.errors import InputError
from kazu_spark.schemas import DOCUMENTS, QUARANTINE, RAW_DOCUMENTS

pytestmark = pytest.mark.spark

SAMPLE = Path(__file__).parents[1] / "kazu_spark" / "resources" / "sample" / "abstracts.jsonl"

#: (source_id, title, text) of the three documents every format holds
DOCS = [
    ("1", "Aspirin and pain", "Aspirin eases pain."),
    ("2", "BRCA1", "BRCA1 mutations raise breast cancer risk | a lot."),
    ("3", None, "Body only: café, 𝛼-synuclein."),
]


def write_jsonl(folder: Path) -> Path:
    """id, pmid (a number) and abstract spellings of the fields, all accepted."""
    path = folder / "docs.jsonl"
    records = [
        {"id": "1", "title": DOCS[0][1], "text": DOCS[0][2]},
        {"pmid": 2, "title": DOCS[1][1], "abstract": DOCS[1][2]},
        {"id": "3", "abstract": DOCS[2][2], "source": "ignored"},
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def write_jsonl_gz(folder: Path) -> Path:
    path = folder / "docs.jsonl.gz"
    path.write_bytes(gzip.compress(write_jsonl(folder).read_bytes()))
    write_jsonl(folder).unlink()
    return path


def write_parquet(folder: Path) -> Path:
    path = folder / "docs.parquet"
    pd.DataFrame(DOCS, columns=["pmid", "title", "abstract"]).to_parquet(path)
    return path


def write_delta(folder: Path, spark: SparkSession) -> Path:
    path = folder / "docs_delta"
    spark.createDataFrame(DOCS, "id string, title string, text string").write.format("delta").save(str(path))
    return path


def write_text(folder: Path) -> Path:
    path = folder / "texts"
    path.mkdir()
    for source_id, _, text in DOCS:
        (path / f"{source_id}.txt").write_text(text, encoding="utf-8")
    return path


def write_pubtator(folder: Path) -> Path:
    path = folder / "docs.txt"
    blocks = [
        f"{source_id}|t|{title or ''}\n{source_id}|a|{text}\n{source_id}\t0\t5\tAspirin\tChemical\tD001241\n"
        for source_id, title, text in DOCS
    ]
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def write_pubmed_xml(folder: Path) -> Path:
    """The documents as PubMed XML: the title an ArticleTitle (empty for none), the text one AbstractText."""
    articles = [
        f"<PubmedArticle><MedlineCitation><PMID>{source_id}</PMID><Article><ArticleTitle>{escape(title or '')}"
        f"</ArticleTitle><Abstract><AbstractText>{escape(text)}</AbstractText></Abstract></Article>"
        "</MedlineCitation></PubmedArticle>\n"
        for source_id, title, text in DOCS
    ]
    path = folder / "pubmed25n0001.xml"
    path.write_text(f"<?xml version='1.0'?>\n<PubmedArticleSet>\n{''.join(articles)}</PubmedArticleSet>\n")
    return path


def write_catalog_table(folder: Path, spark: SparkSession) -> str:
    """The documents as a table of the session's catalog (the metastore): returns its name, schema.table."""
    schema = f"kazu_input_{folder.name.replace('-', '_')}"[:60]
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {schema} LOCATION '{folder / 'warehouse'}'")
    rows = spark.createDataFrame(DOCS, "id string, title string, text string")
    rows.write.format("delta").mode("overwrite").saveAsTable(f"{schema}.docs")
    return f"{schema}.docs"


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz", "parquet", "delta", "text", "pubtator", "pubmed_xml", "table"])
def test_every_format_reads_the_same_documents(spark: SparkSession, tmp_path: Path, fmt: str) -> None:
    writers = {
        "jsonl": write_jsonl,
        "jsonl.gz": write_jsonl_gz,
        "parquet": write_parquet,
        "delta": lambda folder: write_delta(folder, spark),
        "text": write_text,
        "pubtator": write_pubtator,
        "pubmed_xml": write_pubmed_xml,
        "table": lambda folder: write_catalog_table(folder, spark),
    }
    path = str(writers[fmt](tmp_path))
    assert detect_format(spark, path) == fmt.removesuffix(".gz")
    raw = read_raw(spark, path)
    assert raw.schema == RAW_DOCUMENTS
    rows = raw.collect()
    expected = [(i, None, text) for i, _, text in DOCS] if fmt == "text" else DOCS
    assert sorted((r.source_id, r.title, r.text) for r in rows) == expected
    assert all(r.read_error is None and path in r.source for r in rows)
    assert read_raw(spark, path, fmt.removesuffix(".gz")).count() == 3


def test_bad_jsonl_lines_become_error_rows_and_good_lines_still_read(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'{"id": "1", "text": "caf\xc3\xa9"}\n'
        b"not json at all\n"
        b"\n"
        b'{"id": "2", "text": "caf\xe9"}\n'
        b"[1, 2]\n"
        b'{"id": "3", "title": "T", "text": "fine"}\n'
    )
    rows = read_raw(spark, str(path)).collect()
    good = sorted((r.source_id, r.text) for r in rows if r.read_error is None)
    assert good == [("1", "café"), ("3", "fine")]
    errors = sorted((r.read_error.split(":")[0], r.text) for r in rows if r.read_error is not None)
    assert errors == [
        ("JSON line is a list, not an object", "[1, 2]"),
        ("invalid JSON", "not json at all"),
        ("invalid_utf8", '{"id": "2", "text": "caf\\xe9"}'),
    ]


def test_latin1_text_file_becomes_an_error_row(spark: SparkSession, tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "good.txt").write_text("café", encoding="utf-8")
    (folder / "bad.txt").write_bytes("café".encode("latin-1"))
    rows = {r.source_id: r for r in read_raw(spark, str(folder)).collect()}
    assert rows["good"].text == "café" and rows["good"].read_error is None
    assert rows["bad"].read_error.startswith("invalid_utf8: ")
    assert "\ufffd" not in rows["bad"].text


@pytest.mark.parametrize("fmt", ["jsonl", "pubtator", "parquet", "text", "pubmed_xml"])
def test_the_driver_parses_a_jsonl_or_pubtator_input_as_the_executors_do(
    spark: SparkSession, tmp_path: Path, fmt: str
) -> None:
    writers = {"parquet": write_parquet, "text": write_text, "pubmed_xml": write_pubmed_xml}
    if fmt == "jsonl":  # with the bad lines of the test above
        path = tmp_path / "mixed.jsonl"
        path.write_bytes(b'{"id": "1", "text": "caf\xc3\xa9"}\nnot json\n\n{"id": "2", "text": "caf\xe9"}\n[1]\n')
    else:
        path = write_pubtator(tmp_path) if fmt == "pubtator" else writers[fmt](tmp_path)
    source = read_input(spark, str(path))
    if fmt not in ("jsonl", "pubtator"):
        assert source.driver is None  # parsed on the executors only
        return
    assert source.driver.size == path.stat().st_size
    columns = RAW_DOCUMENTS.fieldNames()
    on_driver = source.driver.rows()[columns].sort_values(columns, na_position="first", ignore_index=True)
    executors = source.rows.toPandas().sort_values(columns, na_position="first", ignore_index=True)
    assert len(on_driver) == (4 if fmt == "jsonl" else 3)  # a blank line is no row
    pd.testing.assert_frame_equal(on_driver, executors)


@pytest.mark.parametrize("on_driver", [False, True], ids=["executors", "driver"])
def test_to_documents_splits_good_and_bad_rows_and_loses_nothing(spark: SparkSession, on_driver: bool) -> None:
    raw_rows = [
        ("good", "Title", "Body.", "in", None),
        ("same", None, "Identical twice.", "in", None),
        ("same", None, "Identical twice.", "in", None),  # collapsed silently
        ("dup", None, "first text", "in", None),
        ("dup", None, "second text", "in", None),
        ("null", None, None, "in", None),
        ("empty", "", "", "in", None),
        ("blank", " ", "\t\n ", "in", None),
        (None, "No id", "Body", "in", None),
        ("long", None, "x" * 51, "in", None),
        (None, None, "caf\\xe9", "in", "invalid UTF-8: byte 0xe9"),
    ]
    if on_driver:  # a small input parsed on the driver: the same rules in pandas, as annotate hands them on
        raw = pd.DataFrame(raw_rows, columns=RAW_DOCUMENTS.fieldNames())
        frames = to_documents_on_driver(raw, "run-1", max_chars=50)
        documents, quarantine = (
            spark.createDataFrame(f, s) for f, s in zip(frames, (DOCUMENTS, QUARANTINE), strict=True)
        )
    else:
        documents, quarantine = to_documents(spark.createDataFrame(raw_rows, RAW_DOCUMENTS), "run-1", max_chars=50)
    assert [(f.name, f.dataType) for f in documents.schema] == [(f.name, f.dataType) for f in DOCUMENTS]
    assert [(f.name, f.dataType) for f in quarantine.schema] == [(f.name, f.dataType) for f in QUARANTINE]

    docs = {r.doc_id: r for r in documents.collect()}
    kept_dup = min(["first text", "second text"], key=lambda t: hashlib.sha256(t.encode()).hexdigest())
    assert set(docs) == {"good", "same", "dup"}
    assert docs["dup"].text == kept_dup
    assert docs["good"].text == "Title\n\nBody."
    assert [tuple(s) for s in docs["good"].sections] == [("title", 0, 5), ("body", 7, 12)]
    assert docs["good"].run_id == "run-1" and docs["good"].ingested_at is not None

    bad = quarantine.collect()
    assert sorted((r.source_id or "", r.reason) for r in bad) == [
        ("", "missing_id"),
        ("", "read_error"),
        ("blank", "empty_text"),
        ("dup", "conflicting_duplicate_id"),
        ("empty", "empty_text"),
        ("long", "text_too_long"),
        ("null", "empty_text"),
    ]
    assert len({r.quarantine_id for r in bad}) == len(bad)
    assert next(r for r in bad if r.reason == "read_error").detail == "invalid UTF-8: byte 0xe9"
    assert next(r for r in bad if r.reason == "conflicting_duplicate_id").raw_snippet != kept_dup
    assert len(raw_rows) == len(docs) + len(bad) + 1  # the one collapsed identical duplicate


def test_sample_abstracts_ingest_cleanly(spark: SparkSession) -> None:
    documents, quarantine = to_documents(read_raw(spark, str(SAMPLE)), "run-sample")
    lines = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert documents.count() == len(lines)
    assert quarantine.count() == 0


def test_missing_path_is_an_input_error(spark: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_raw(spark, str(tmp_path / "nope.jsonl"))


def test_unknown_or_undetectable_format_is_an_input_error(spark: SparkSession, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path)
    with pytest.raises(InputError, match="unknown format 'xml'"):
        read_raw(spark, str(path), "xml")
    csv = tmp_path / "docs.csv"
    csv.write_text("id,text\n1,a\n")
    with pytest.raises(InputError, match="cannot detect the format"):
        read_raw(spark, str(csv))
    with pytest.raises(InputError, match="no_such_schema.docs is not a table of the session's catalog"):
        read_raw(spark, "no_such_schema.docs", "table")


def test_table_without_text_column_is_an_input_error(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "no_text.parquet"
    pd.DataFrame({"pmid": ["1"], "title": ["T"], "body": ["B"]}).to_parquet(path)
    with pytest.raises(InputError, match=r"no text column: expected one of \['text', 'abstract'\], found"):
        read_raw(spark, str(path))


def test_jsonl_without_id_field_is_an_input_error(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "no_id.jsonl"
    path.write_text('{"doc": "1", "text": "a"}\n')
    with pytest.raises(InputError, match=r"no id column: expected one of \['id', 'pmid'\], found \['doc', 'text'\]"):
        read_raw(spark, str(path))


# --- hostile inputs: binary columns, line endings, what a text folder holds -------------------------------------

SECRET = b"SECRET-doc-bytes \xe9\xff tail"


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_binary_text_column_with_invalid_utf8_is_quarantined(spark: SparkSession, tmp_path: Path, fmt: str) -> None:
    """One invalid value in a binary text column: that row is quarantined, the others read (it failed the run)."""
    rows = [(b"ok", b"good text"), (b"ok2", "café".encode()), (b"bad", SECRET)]
    path = str(tmp_path / f"docs.{fmt}")
    frame = spark.createDataFrame(rows, "id binary, text binary")
    frame.write.format(fmt).save(path)
    documents, quarantine = to_documents(read_raw(spark, path), "run-b")
    assert {r.doc_id: r.text for r in documents.collect()} == {"ok": "good text", "ok2": "café"}
    (bad,) = quarantine.collect()
    assert (bad.source_id, bad.reason) == ("bad", "invalid_utf8")
    assert "'text'" in bad.detail and "SECRET" not in bad.detail


def test_table_id_fallback_skips_empty_ids(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "ids.parquet"
    pd.DataFrame({"id": ["", " ", None, "x"], "pmid": ["1", "2", "3", "4"], "text": ["a", "b", "c", "d"]}).to_parquet(
        path
    )
    assert sorted(r.source_id for r in read_raw(spark, str(path)).collect()) == ["1", "2", "3", "x"]


PUBTATOR_DOCS = [(str(n), f"Title {n}", f"Abstract {n} on BRCA1.") for n in range(1, 5)]


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r", "mixed"])
def test_pubtator_line_endings_give_the_same_documents(spark: SparkSession, tmp_path: Path, ending: str) -> None:
    """CRLF (Windows), CR (old Mac) and a mix of LF and CRLF blocks read as the LF file does: 4 documents."""
    blocks = []
    for n, (pmid, title, text) in enumerate(PUBTATOR_DOCS):
        eol = ("\n", "\r\n")[n % 2] if ending == "mixed" else ending
        blocks.append(eol.join([f"{pmid}|t|{title}", f"{pmid}|a|{text}", f"{pmid}\t0\t5\tTitle\tGene\t1", ""]) + eol)
    path = tmp_path / "corpus.pubtator"
    path.write_bytes("".join(blocks).encode())
    rows = read_raw(spark, str(path)).collect()
    assert sorted((r.source_id, r.title, r.text, r.read_error) for r in rows) == [(*d, None) for d in PUBTATOR_DOCS]


def test_text_folder_accounts_for_every_entry(spark: SparkSession, tmp_path: Path) -> None:
    """Upper-case .TXT, empty files and sub-folders are read; hidden and non-.txt entries are skipped, by name."""
    folder = tmp_path / "texts"
    files = {
        "a.txt": "alpha",
        "B.TXT": "upper",
        "empty.txt": "",
        "sub/c.txt": "nested",
        "sub/deeper/d.Txt": "deeper",
        "_draft.txt": "underscore",
        ".hidden.txt": "dot",
        "_tmp/e.txt": "in a hidden folder",
        "notes.md": "not a text document",
        "sub/.DS_Store": "finder junk",
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    assert detect_format(spark, str(folder)) == "text"  # the stray notes.md does not break detection
    got = read_input(spark, str(folder))
    rows = {r.source_id: (r.text, r.read_error) for r in got.rows.collect()}
    assert rows == {
        "a": ("alpha", None),
        "B": ("upper", None),
        "empty": ("", None),  # ingestion quarantines it as empty_text
        "sub/c": ("nested", None),
        "sub/deeper/d": ("deeper", None),
    }
    assert got.skipped == {"hidden": [".hidden.txt", "_draft.txt", "_tmp", "sub/.DS_Store"], "not_txt": ["notes.md"]}


def test_undetectable_folder_names_the_odd_entries(spark: SparkSession, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for n in range(8):
        (folder / f"part-{n}.jsonl").write_text('{"id": "1", "text": "a"}\n')
    (folder / "zz-notes.csv").write_text("id,text\n")
    with pytest.raises(InputError, match=r"not jsonl: \['zz-notes.csv'\]"):
        detect_format(spark, str(folder))


def test_the_driver_and_the_executors_make_the_same_rows_of_the_same_input(spark: SparkSession) -> None:
    """Row for row (the times aside): a run's documents and quarantine ids do not depend on the input's size."""
    raw_rows = [
        ("b", None, "second text", "in2", None),
        ("a", "T", "x", "in", None),
        ("b", None, "first text", "in", None),
        ("b", None, "first text", "in3", None),
        ("c", None, None, "in", None),
        (None, None, "no id", "in", None),
    ]
    executors = to_documents(spark.createDataFrame(raw_rows, RAW_DOCUMENTS), "run-1")
    driver = to_documents_on_driver(pd.DataFrame(raw_rows, columns=RAW_DOCUMENTS.fieldNames()), "run-1")
    for frame, at in zip(driver, ("ingested_at", "quarantined_at"), strict=True):
        assert frame[at].notna().all()
    for on_executors, on_driver, at in zip(executors, driver, ("ingested_at", "quarantined_at"), strict=True):
        expected = sorted(map(tuple, on_executors.drop(at).collect()))
        rows = spark.createDataFrame(on_driver, on_executors.schema).drop(at).collect()
        assert sorted(map(tuple, rows)) == expected and expected
