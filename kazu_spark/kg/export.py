"""Export ``kg_nodes`` and ``kg_edges`` for Neo4j bulk import or for GraphFrames.

**Neo4j.** :func:`export_neo4j` writes five CSV files with ``neo4j-admin`` headers (``:ID(group)``,
``:START_ID``/``:END_ID``, ``:LABEL``, ``:TYPE``, typed ``:long`` and ``:string[]`` columns; arrays joined
with ``;``, quotes doubled). Document ids lose their ``doc:`` node-id prefix, since Neo4j keeps
documents and concepts in separate id groups. A concept has the labels ``Concept`` and its class
(``:Concept:Gene``, ``:Concept:CellLine``, by :func:`concept_labels`), every node its Biolink ``category``
and every relationship its Biolink ``predicate`` as a property. Load them into an empty database with::

    cd OUT_DIR && neo4j-admin database import full \\
        --nodes=Concept=nodes_concepts.csv --nodes=Document=nodes_documents.csv \\
        --relationships=MENTIONS=edges_mentions.csv \\
        --relationships=CO_OCCURS_SENTENCE=edges_co_occurs_sentence.csv \\
        --relationships=CO_OCCURS_DOCUMENT=edges_co_occurs_document.csv neo4j

Each file is written by Spark through ``coalesce(1)`` and its single part file renamed (Hadoop
FileSystem API, so object stores work too). That trade-off keeps one file per group, as the command
above expects, and never collects the graph to the driver (pandas would); the price is that one task
writes each file. For graphs of hundreds of millions of edges, write many parts instead and pass
``neo4j-admin`` a header file plus a file pattern. Evidence structs become ``evidence:string[]`` text:
``start-end:mention`` for a mention (in the edge's document), ``doc_id:start-end`` for a shared sentence,
``doc_id`` for a shared document. Newlines inside values become spaces and ``;`` inside evidence strings
becomes ``,`` (Neo4j has no escape for its array delimiter).

The CSVs are made safe to open in a spreadsheet (OWASP "CSV injection"): a text cell (a label, a source,
an evidence string) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a ``'``
in front, so ``=HYPERLINK(...)`` is shown, not run (Neo4j imports the ``'`` as part of the value). Ids,
numbers, labels and types are written as they are: neo4j-admin needs them verbatim. A document's source
is written relative to the folder every document's source shares (the input folder, for one input;
``a.jsonl``, ``sub/b.txt``), never as the absolute path Spark recorded.

**GraphFrames.** :func:`export_graphframes` writes Parquet ``vertices`` (``id`` + node attributes) and
``edges`` (``src``, ``dst``, ``relationship`` + edge attributes)::

    from graphframes import GraphFrame
    g = GraphFrame(spark.read.parquet("OUT_DIR/vertices"), spark.read.parquet("OUT_DIR/edges"))

Example (needs a Delta-enabled session and a built graph):
    >>> export_neo4j(spark, "lakehouse", "/tmp/kg-neo4j")  # doctest: +SKIP
    {'nodes_concepts.csv': 277, 'nodes_documents.csv': 120, 'edges_mentions.csv': 820, ...}
"""

from __future__ import annotations

import os

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from kazu_spark.kg.build import DOC_PREFIX, outdated
from kazu_spark.lakehouse.delta import read_table, table_exists
from kazu_spark.runtime.driver_fs import driver_files

#: CSV options matching neo4j-admin's defaults: "," delimiter, '"' quotes escaped by doubling
_CSV_OPTIONS = {
    "header": "true",
    "quote": '"',
    "escape": '"',
    "ignoreLeadingWhiteSpace": "false",
    "ignoreTrailingWhiteSpace": "false",
}


def read_kg(spark: SparkSession, lakehouse: str) -> tuple[DataFrame, DataFrame]:
    """(kg_nodes, kg_edges), failing with a hint when the graph has not been built, or was built by an older
    kazu-spark (:func:`~kazu_spark.kg.build.outdated`; the next ``kg build`` rebuilds it)."""
    for table in ("kg_nodes", "kg_edges"):
        if not table_exists(spark, lakehouse, table):
            raise ValueError(f"lakehouse {lakehouse} has no {table} table: run `kazu-spark kg build` first")
        if outdated(spark, lakehouse, table):
            raise ValueError(
                f"{table} in {lakehouse} was built by an older kazu-spark: run `kazu-spark kg build` to rebuild it"
            )
    return read_table(spark, lakehouse, "kg_nodes"), read_table(spark, lakehouse, "kg_edges")


#: kg_edges columns GraphFrames names itself: the ends and the type (``relationship``)
EDGE_ENDS = ("src", "dst", "edge_type")


def _one_line(column: str | Column) -> Column:
    return F.regexp_replace(column, r"\s*[\r\n]+\s*", " ")


#: a cell starting like this is a formula to a spreadsheet (OWASP CSV injection): = + - @, tab, carriage return
_FORMULA_START = r"^[=+\-@\t\r]"


def _text_cell(column: str | Column) -> Column:
    """A free-text value on one line, shown by a spreadsheet as text: a leading formula character gets a ``'``."""
    value = _one_line(column)
    return F.when(value.rlike(_FORMULA_START), F.concat(F.lit("'"), value)).otherwise(value)


def common_folder(first: str, last: str) -> str:
    """The folder, up to its last ``/``, that two paths share (empty when none): for the lexicographically first
    and last of many paths, the folder they all share.

    Example:
        >>> common_folder("file:///data/in/a.jsonl", "file:///data/in/sub/b.jsonl")
        'file:///data/in/'
        >>> common_folder("file:///data/in/a.jsonl", "file:///data/in/a.jsonl"), common_folder("a.jsonl", "b.jsonl")
        ('file:///data/in/', '')
    """
    shared = os.path.commonprefix([first, last])
    return shared[: shared.rfind("/") + 1]


def _relative_source(nodes: DataFrame) -> Column:
    """Document nodes' ``source`` without the folder all of them share (see :func:`common_folder`)."""
    bounds = nodes.filter(F.col("node_type") == "Document").agg(F.min("source"), F.max("source")).first()
    folder = common_folder(*bounds) if bounds and bounds[0] is not None else ""
    # every source sorts between the first and the last, so each starts with their shared folder
    return F.col("source").substr(F.lit(len(folder) + 1), F.length("source"))


def _evidence_text(evidence: Column) -> Column:
    """One evidence struct as Neo4j text: ``start-end:mention`` for a mention (its document is the edge's start),
    ``doc_id:start-end`` for a shared sentence, ``doc_id`` for a shared document."""
    mention = F.format_string("%d-%d:%s", evidence["start"], evidence["end"], evidence["mention"])
    sentence = F.format_string("%s:%d-%d", evidence["doc_id"], evidence["sentence_start"], evidence["sentence_end"])
    return F.coalesce(
        F.when(evidence["mention"].isNotNull(), mention),
        F.when(evidence["sentence_start"].isNotNull(), sentence),
        evidence["doc_id"],
    )


def concept_labels(entity_class: Column) -> Column:
    """A concept's Neo4j labels, ``;``-separated: ``Concept`` and its class in PascalCase (``Concept;CellLine``).

    Example (needs a session): ``gene`` -> ``Concept;Gene``, ``cell_type`` -> ``Concept;CellType``, null -> ``Concept``.
        >>> nodes.select(concept_labels(F.col("entity_class")))  # doctest: +SKIP
    """
    words = F.initcap(F.regexp_replace(entity_class, "[^A-Za-z0-9]+", " "))
    return F.concat_ws(";", F.lit("Concept"), F.nullif(F.regexp_replace(words, " ", ""), F.lit("")))


def _doc_id(column: str) -> Column:
    return F.regexp_replace(column, f"^{DOC_PREFIX}", "")


def _neo4j_files(nodes: DataFrame, edges: DataFrame) -> dict[str, DataFrame]:
    """File name -> the rows of that file, its columns named with neo4j-admin header fields."""
    label, source = _text_cell("label").alias("label"), _text_cell("source").alias("source")
    document_source = _text_cell(_relative_source(nodes)).alias("source")
    mention_count = F.col("mention_count").alias("mentionCount:long")
    files = {
        "nodes_concepts.csv": nodes.filter(F.col("node_type") == "Concept").select(
            F.col("node_id").alias("conceptId:ID(Concept)"),
            label,
            _text_cell("entity_class").alias("entityClass"),
            source,
            mention_count,
            F.col("document_count").alias("documentCount:long"),
            F.col("category"),
            concept_labels(F.col("entity_class")).alias(":LABEL"),
        ),
        "nodes_documents.csv": nodes.filter(F.col("node_type") == "Document").select(
            _doc_id("node_id").alias("docId:ID(Document)"),
            label,
            document_source,
            mention_count,
            F.col("category"),
            F.lit("Document").alias(":LABEL"),
        ),
    }
    evidence = F.concat_ws(
        ";", F.transform("evidence", lambda e: _text_cell(F.regexp_replace(_evidence_text(e), ";", ",")))
    )
    for edge_type, start, start_group in (
        ("MENTIONS", _doc_id("src"), "Document"),
        ("CO_OCCURS_SENTENCE", F.col("src"), "Concept"),
        ("CO_OCCURS_DOCUMENT", F.col("src"), "Concept"),
    ):
        files[f"edges_{edge_type.lower()}.csv"] = edges.filter(F.col("edge_type") == edge_type).select(
            start.alias(f":START_ID({start_group})"),
            F.col("dst").alias(":END_ID(Concept)"),
            F.col("count").alias("count:long"),
            evidence.alias("evidence:string[]"),
            F.col("predicate"),
            F.col("edge_type").alias(":TYPE"),
        )
    return files


def _write_single_csv(spark: SparkSession, df: DataFrame, path: str, options: dict[str, str]) -> None:
    """Write ``df`` as one CSV file (Spark CSV ``options``) at ``path``: one Spark part file, renamed, its folder
    removed."""
    parts = f"{path}.parts"
    df.coalesce(1).sortWithinPartitions(*df.columns[:2]).write.mode("overwrite").options(**options).csv(parts)
    files = driver_files(spark)
    part = next(f.path for f in files.list(parts) if f.name.startswith("part-"))
    files.move(part, path)
    files.remove(parts)


def write_csv_files(
    spark: SparkSession, files: dict[str, DataFrame], out_dir: str, options: dict[str, str] = _CSV_OPTIONS
) -> dict[str, int]:
    """Write each frame of ``files`` (file name -> rows) as one CSV file in ``out_dir`` (Spark CSV ``options``, by
    default neo4j-admin's); returns rows per file. Existing files of the same names are replaced.

    Example (needs a session):
        >>> write_csv_files(spark, {"nodes.csv": nodes}, "/tmp/out")  # doctest: +SKIP
        {'nodes.csv': 397}
    """
    counts = {}
    for name, df in files.items():
        df = df.cache()
        counts[name] = df.count()
        _write_single_csv(spark, df, f"{out_dir.rstrip('/')}/{name}", options)
        df.unpersist()
    return counts


def export_neo4j(spark: SparkSession, lakehouse: str, out_dir: str) -> dict[str, int]:
    """Write the graph as neo4j-admin bulk-import CSVs into ``out_dir``; returns rows per file.

    Files: ``nodes_concepts.csv``, ``nodes_documents.csv``, ``edges_mentions.csv``,
    ``edges_co_occurs_sentence.csv``, ``edges_co_occurs_document.csv`` (see the module docstring for
    the import command). Existing files of the same names are replaced.

    Example (needs a Delta-enabled session and a built graph):
        >>> export_neo4j(spark, "lakehouse", "/tmp/kg-neo4j")["edges_mentions.csv"]  # doctest: +SKIP
    """
    return write_csv_files(spark, _neo4j_files(*read_kg(spark, lakehouse)), out_dir)


def export_graphframes(spark: SparkSession, lakehouse: str, out_dir: str) -> dict[str, int]:
    """Write Parquet ``vertices`` and ``edges`` under ``out_dir`` in GraphFrames' layout; returns row counts.

    Vertices: ``id`` (the node id) and the other kg_nodes columns. Edges: ``src``, ``dst``, ``relationship``
    (the edge type) and the other kg_edges columns (evidence structs included). Existing folders are
    overwritten.

    Example (needs a Delta-enabled session and a built graph):
        >>> export_graphframes(spark, "lakehouse", "/tmp/kg-graphframes")  # doctest: +SKIP
        {'vertices': 397, 'edges': 3781}
    """
    nodes, edges = read_kg(spark, lakehouse)
    frames = {
        "vertices": nodes.withColumnRenamed("node_id", "id"),
        "edges": edges.select(
            "src", "dst", F.col("edge_type").alias("relationship"), *(c for c in edges.columns if c not in EDGE_ENDS)
        ),
    }
    for name, df in frames.items():
        df.write.mode("overwrite").parquet(f"{out_dir.rstrip('/')}/{name}")
    return {name: spark.read.parquet(f"{out_dir.rstrip('/')}/{name}").count() for name in frames}
