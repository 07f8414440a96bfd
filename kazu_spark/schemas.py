"""Every table's schema, in one place, with a one-line doc per column.

The pipeline's stages are ``DataFrame -> DataFrame`` functions over these schemas, so a stage can be
run, tested and replaced on its own. Keys are deterministic (see ``KEYS``): a rerun MERGEs into the
same rows instead of duplicating them. What a stage reads or fills is a named *view* of a table
(``NER_INPUT``, ``ENTITY_ROWS``, ``LINK_ROWS``, ``LINK_MATCH``), derived by column name, never by
position, so adding a column to a table shifts no stage's columns.

Each schema ``X`` is declared once, as plain data (``X_COLUMNS``: :class:`Column` tuples naming Spark SQL
types), which imports nothing: the code that runs without Spark (``tag_texts``, pandas batches) reads its
column names from there. ``X`` itself, and ``TABLES``, are the pyspark StructTypes built from those when Spark
code first asks for them, so importing this module loads no pyspark.

Example:
    >>> from kazu_spark.schemas import ENTITIES, ENTITIES_COLUMNS, KEYS, column_names
    >>> KEYS["entities"]
    ('entity_id',)
    >>> "confidence" in column_names(ENTITIES_COLUMNS)
    True
    >>> ENTITIES["confidence"].dataType.simpleString()
    'double'
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

if TYPE_CHECKING:
    from pyspark.sql.types import DataType, StructType


class Array(NamedTuple):
    """An array column type; its elements may be null (Delta refuses NOT NULL inside arrays)."""

    element: ColumnType


class Map(NamedTuple):
    """A map column type; its values may be null (Delta refuses NOT NULL inside maps)."""

    key: ColumnType
    value: ColumnType


class Column(NamedTuple):
    """One column of a table, or field of a struct: its name, type, nullability and one-line doc."""

    name: str
    dtype: ColumnType
    nullable: bool
    doc: str


#: a column's type: a Spark SQL type name (string, int, bigint, double, boolean, binary, timestamp), an Array,
#: a Map, or a struct as its Columns
ColumnType: TypeAlias = "str | Array | Map | tuple[Column, ...]"


def _table(*columns: tuple[str, ColumnType, bool, str]) -> tuple[Column, ...]:
    """The Columns of a table declared as ``(name, type, nullable, doc)`` tuples."""
    return tuple(Column(*column) for column in columns)


def column_names(columns: tuple[Column, ...]) -> list[str]:
    """The column names of a table, struct or view, in order (``StructType.fieldNames()`` without pyspark).

    Example:
        >>> column_names(SPAN_COLUMNS)
        ['start', 'end']
    """
    return [column.name for column in columns]


def columns(table: tuple[Column, ...], *wanted: str) -> tuple[Column, ...]:
    """The columns of ``table`` named ``wanted``, in that order: a view that names what it keeps.

    A view built by name stays the same when a column is added to the table; an unknown name raises.

    Example:
        >>> column_names(columns(DOCUMENTS_COLUMNS, "text", "doc_id"))
        ['text', 'doc_id']
    """
    by_name = {column.name: column for column in table}
    return tuple(by_name[name] for name in wanted)


def without(table: tuple[Column, ...], *dropped: str) -> tuple[Column, ...]:
    """The columns of ``table`` except those named ``dropped``, in the table's order; an unknown name raises.

    Example:
        >>> column_names(without(ENTITIES_COLUMNS, "run_id"))[-2:]
        ['model', 'content_hash']
    """
    missing = set(dropped) - set(column_names(table))
    if missing:
        raise KeyError(f"no such columns: {sorted(missing)}")
    return tuple(column for column in table if column.name not in dropped)


def _spark_type(dtype: ColumnType) -> DataType:
    """The pyspark type of a declared column type."""
    from pyspark.sql.types import (
        ArrayType,
        BinaryType,
        BooleanType,
        DoubleType,
        IntegerType,
        LongType,
        MapType,
        StringType,
        TimestampType,
    )

    if isinstance(dtype, Array):
        return ArrayType(_spark_type(dtype.element), containsNull=True)
    if isinstance(dtype, Map):
        return MapType(_spark_type(dtype.key), _spark_type(dtype.value), valueContainsNull=True)
    if isinstance(dtype, str):
        atoms = {
            "string": StringType,
            "int": IntegerType,
            "bigint": LongType,
            "double": DoubleType,
            "boolean": BooleanType,
            "binary": BinaryType,
            "timestamp": TimestampType,
        }
        return atoms[dtype]()
    return struct_type(dtype)


@cache
def struct_type(columns: tuple[Column, ...]) -> StructType:
    """The pyspark StructType of declared columns, each field carrying its doc as column metadata ``comment``.

    Built once per declaration; ``X`` of this module is ``struct_type(X_COLUMNS)``.

    Example:
        >>> struct_type(SPAN_COLUMNS).simpleString(), struct_type(SPAN_COLUMNS)["end"].metadata
        ('struct<start:int,end:int>', {'comment': 'exclusive end offset in documents.text'})
    """
    from pyspark.sql.types import StructField, StructType

    return StructType(
        [StructField(c.name, _spark_type(c.dtype), c.nullable, metadata={"comment": c.doc}) for c in columns]
    )


def __getattr__(name: str) -> StructType | dict[str, StructType]:
    """``X`` is the StructType of ``X_COLUMNS`` and ``TABLES`` maps ``TABLE_COLUMNS``' names to theirs (PEP 562):
    built when Spark code first asks, so the code that runs without Spark never imports pyspark."""
    if name == "TABLES":  # one dict for every importer, so a change to it (a test's monkeypatch) is seen by all
        tables = globals()["TABLES"] = {table: struct_type(declared) for table, declared in TABLE_COLUMNS.items()}
        return tables
    declared = globals().get(f"{name}_COLUMNS")
    if not isinstance(declared, tuple):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return struct_type(declared)


def ddl(schema: StructType) -> str:
    """``"name type, ..."`` of a schema or view: the output schema a ``mapInPandas`` is given (every column
    nullable, as Spark reads DDL).

    Example:
        >>> ddl(struct_type(columns(ENTITIES_COLUMNS, "doc_id", "start")))
        'doc_id string, start int'
    """
    return ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in schema.fields)


RAW_DOCUMENTS_COLUMNS = _table(
    ("source_id", "string", True, "id as given by the source (id/pmid column, file path); null if missing"),
    ("title", "string", True, "title text, may be null"),
    ("text", "string", True, "body text (abstract); may be null"),
    ("source", "string", False, "where the row came from: file path or table path"),
    (
        "read_error",
        "string",
        True,
        "why a reader refused the row: '<reason>: <detail>' (invalid_utf8, invalid_id, invalid_text), or a message",
    ),
)

#: what a reader's input deletes (PubMed update files' ``DeleteCitation``): ids as ingestion makes doc_ids
RAW_DELETIONS_COLUMNS = _table(
    ("source_id", "string", False, "id of a document the input deletes (a PMID): its documents.doc_id"),
    ("source", "string", False, "the file that lists the deletion"),
)

# Delta refuses NOT NULL inside arrays and maps, so nested fields are nullable (never null in practice).
#: a span of documents.text (a section's, a sentence's in kg_nodes.sentences)
SPAN_COLUMNS = (
    Column("start", "int", True, "code-point offset in documents.text"),
    Column("end", "int", True, "exclusive end offset in documents.text"),
)
SECTION_COLUMNS = (Column("name", "string", True, "section name: title or body"), *SPAN_COLUMNS)

DOCUMENTS_COLUMNS = _table(
    ("doc_id", "string", False, "deterministic document id: the source id"),
    ("source", "string", False, "input file or table the document came from"),
    ("title", "string", True, "title as read"),
    ("text", "string", False, "stored text that all offsets point into: title, blank line, body"),
    ("sections", Array(SECTION_COLUMNS), False, "title/body spans inside text"),
    ("content_hash", "string", False, "sha256 of text; a changed hash means a changed document"),
    ("char_count", "int", False, "len(text) in code points"),
    ("run_id", "string", False, "run that last wrote this row"),
    ("ingested_at", "timestamp", False, "when that run wrote it"),
)

ENTITIES_COLUMNS = _table(
    ("entity_id", "string", False, "sha1 of (doc_id, section, start, end, entity_class)"),
    ("doc_id", "string", False, "document the mention is in"),
    ("section", "string", False, "title or body"),
    ("start", "int", False, "code-point offset into documents.text; text[start:end] == mention"),
    ("end", "int", False, "exclusive end offset into documents.text"),
    ("mention", "string", False, "the mention's text, exactly text[start:end]"),
    ("entity_class", "string", False, "cell_line, cell_type, disease, drug, gene or species"),
    ("confidence", "double", False, "mean token probability of the span's tags, in [0, 1]"),
    ("model", "string", False, "name and version of the model that emitted it"),
    ("content_hash", "string", False, "content hash of the document version it was found in"),
    ("run_id", "string", False, "run that last wrote this row"),
)

ENTITY_LINKS_COLUMNS = _table(
    ("link_id", "string", False, "sha1 of (entity_id, concept_id, source)"),
    ("entity_id", "string", False, "entity this link belongs to"),
    ("doc_id", "string", False, "document of the entity (denormalised for partition pruning)"),
    ("concept_id", "string", False, "ontology concept id, e.g. MESH:D003920"),
    ("source", "string", False, "ontology the concept comes from, e.g. MEDIC"),
    ("default_label", "string", True, "the concept's preferred label"),
    ("matched_synonym", "string", False, "ontology synonym that matched the mention"),
    (
        "strategy",
        "string",
        False,
        "exact, normalised, variant, fuzzy_tfidf, embedding, abbreviation (linking.spark), species (linking.species), "
        "family (linking.families), model_organism (linking.genus) or a custom step's",
    ),
    (
        "score",
        "double",
        False,
        "match score in [0, 1]: 1.0 exact, 0.9 normalised, 0.8 x cosine fuzzy or embedding",
    ),
    ("ambiguous", "boolean", False, "true when the entity keeps links to several concepts"),
    ("confidence_tier", "string", False, "high, medium, low (by score, linking.tiers) or ambiguous"),
    (
        "generic",
        "boolean",
        True,
        "the concept is a catch-all (linking.generic_concepts: cell, Neoplasms, ...); null in older rows",
    ),
    ("run_id", "string", False, "run that last wrote this row"),
    (
        "source_version",
        "string",
        True,
        "ontology_terms.source_version of the source the link was made with; null in older rows",
    ),
)

ONTOLOGY_TERMS_COLUMNS = _table(
    ("term_id", "string", False, "sha1 of (source, concept_id, synonym)"),
    ("concept_id", "string", False, "concept id with its prefix, e.g. MESH:D003920, NCBIGene:7157, CL:0000236"),
    ("source", "string", False, "configured source name: MEDIC, CL, NCBITaxon, NCBIGene, MeSH, curations, ..."),
    ("default_label", "string", False, "the concept's preferred label"),
    ("synonym", "string", False, "one surface form: the label itself, a synonym, an alias or symbol"),
    (
        "synonym_type",
        "string",
        False,
        "label, exact, related, broad, narrow, symbol, alias, previous, curated, or a generic table's column",
    ),
    (
        "normalised_synonym",
        "string",
        False,
        "synonym after linking.normalise.normalise(..., class); empty (no key) where a gene's key is one character",
    ),
    ("symbolic", "boolean", False, "synonym is a symbol (BRCA1, IL-2) rather than a noun phrase"),
    ("entity_class", "string", False, "class of entity this term links"),
    (
        "metadata",
        Map("string", "string"),
        False,
        "concept facts from the source: entrez_id, tree_numbers, namespace, ...",
    ),
    ("source_version", "string", False, "version the source states, else the start of its checksum"),
    ("source_checksum", "string", False, "sha256 of the source file(s): a change means a new release"),
)

CONCEPT_EMBEDDINGS_COLUMNS = _table(
    ("embedding_id", "string", False, "sha1 of (source, concept_id, text)"),
    ("entity_class", "string", False, "class of entity this term links"),
    ("source", "string", False, "ontology source of the concept (ontology_terms.source)"),
    ("concept_id", "string", False, "concept id with its prefix, as in ontology_terms"),
    ("default_label", "string", False, "the concept's preferred label"),
    ("text", "string", False, "the synonym as the encoder reads it (lower-cased when its linker.json says so)"),
    ("matched_synonym", "string", False, "an ontology synonym with this text (links report it)"),
    ("vector", "binary", False, "unit vector of text: little-endian float16, dim values"),
    ("dim", "int", False, "the vector's length (the encoder's hidden size)"),
    ("encoder_version", "string", False, "encoder folder name @ sha256 of its weights and settings"),
    ("source_version", "string", False, "ontology_terms.source_version of the terms embedded"),
    ("source_checksum", "string", False, "ontology_terms.source_checksum: a change means re-embedding"),
)

RUNS_COLUMNS = _table(
    ("run_id", "string", False, "uuid of the run"),
    ("command", "string", False, "annotate or kg-build"),
    ("started_at", "timestamp", False, "start time (UTC)"),
    ("finished_at", "timestamp", False, "end time (UTC)"),
    ("status", "string", False, "succeeded or failed"),
    ("input", "string", True, "input path or table"),
    ("config_hash", "string", False, "sha256 of the resolved configuration"),
    ("model", "string", True, "model name and version used"),
    ("counts", Map("string", "bigint"), False, "rows read, documents, entities, links, quarantined"),
    ("elapsed_seconds", "double", False, "wall-clock seconds"),
    ("error", "string", True, "error message if the run failed"),
    (
        "versions",
        Map("string", "bigint"),
        True,
        "kg-build: Delta versions of the input tables it read (the next incremental build starts after them)",
    ),
    (
        "skipped_duplicates",
        "bigint",
        True,
        "annotate: input rows identical to another row (same id and text, or the same rejection); null in older rows",
    ),
    (
        "skipped_files",
        "bigint",
        True,
        "annotate: entries of a text-file input not read (hidden names, not .txt; counts.skipped_files.<reason>)",
    ),
    (
        "warnings",
        Array("string"),
        True,
        "annotate: what a succeeded run flags (nothing annotated, entries skipped); --strict exits 3 on any",
    ),
)

QUARANTINE_COLUMNS = _table(
    ("quarantine_id", "string", False, "sha1 of (source, source_id, reason, raw snippet)"),
    ("source", "string", False, "input the row came from"),
    ("source_id", "string", True, "id of the rejected row, if it had one"),
    ("reason", "string", False, "why it was rejected: missing_id, empty_text, invalid_utf8, invalid_id, ..."),
    ("detail", "string", True, "human-readable detail"),
    ("raw_snippet", "string", True, "first 200 characters of the raw row, for triage"),
    ("run_id", "string", False, "run that rejected it"),
    ("quarantined_at", "timestamp", False, "when"),
)

KG_NODES_COLUMNS = _table(
    ("node_id", "string", False, "concept id for a concept (e.g. MESH:D003920), doc:<doc_id> for a document"),
    ("node_type", "string", False, "Concept or Document"),
    ("label", "string", False, "concept's preferred label; document's title (its doc_id if untitled)"),
    ("entity_class", "string", True, "class of the mentions linked to a concept; null for documents"),
    ("source", "string", False, "ontology of a concept (e.g. MEDIC); input file or table of a document"),
    ("mention_count", "bigint", False, "mentions behind the node's MENTIONS edges (best link per entity)"),
    ("document_count", "bigint", False, "documents mentioning a concept; 1 for a document"),
    ("run_id", "string", False, "kg build run that last changed this row"),
    (
        "category",
        "string",
        False,
        "Biolink category: biolink:Gene, biolink:Disease, ... by entity_class (kg.biolink); biolink:Publication",
    ),
    (
        "source_version",
        "string",
        True,
        "version of a concept's source its links were made with; null for documents",
    ),
    (
        "sentences",
        Array(SPAN_COLUMNS),
        True,
        "sentence spans of documents.text (documents.sentences), behind CO_OCCURS_SENTENCE; null for concepts",
    ),
)

#: one piece of an edge's evidence (kg_edges.evidence); null fields do not apply to the edge type
EVIDENCE_COLUMNS = (
    Column("doc_id", "string", True, "document of the evidence"),
    Column("section", "string", True, "title or body; null for CO_OCCURS_DOCUMENT"),
    Column("start", "int", True, "MENTIONS: the mention's offset in text"),
    Column("end", "int", True, "MENTIONS: the mention's exclusive end offset"),
    Column("mention", "string", True, "MENTIONS: the mention, text[start:end]"),
    Column("sentence_start", "int", True, "offset of the sentence holding the mention(s)"),
    Column("sentence_end", "int", True, "exclusive end offset of that sentence"),
)
#: an ontology source and its version (kg_edges.ontologies)
ONTOLOGY_VERSION_COLUMNS = (
    Column("source", "string", True, "ontology source, e.g. MEDIC"),
    Column("version", "string", True, "its ontology_terms.source_version"),
)

KG_EDGES_COLUMNS = _table(
    ("edge_id", "string", False, "sha1 of edge_type|src|dst"),
    ("edge_type", "string", False, "MENTIONS, CO_OCCURS_SENTENCE or CO_OCCURS_DOCUMENT"),
    ("src", "string", False, "document node for MENTIONS; the smaller concept id for co-occurrence"),
    ("dst", "string", False, "concept node; for co-occurrence the larger concept id (src < dst)"),
    ("count", "bigint", False, "mentions (MENTIONS), shared sentences or shared documents (CO_OCCURS_*)"),
    (
        "evidence",
        Array(EVIDENCE_COLUMNS),
        False,
        "up to 10: MENTIONS the first mentions by offset; CO_OCCURS_SENTENCE shared sentences, documents with "
        "the most first; CO_OCCURS_DOCUMENT the documents mentioning the pair most (doc_id only)",
    ),
    ("run_id", "string", False, "kg build run that last changed this row"),
    (
        "predicate",
        "string",
        False,
        "Biolink predicate: biolink:mentions, biolink:occurs_together_in_literature_with (kg.biolink)",
    ),
    (
        "knowledge_level",
        "string",
        False,
        "Biolink knowledge level: observation (MENTIONS), text_co_occurrence (CO_OCCURS_*)",
    ),
    ("agent_type", "string", False, "Biolink agent type: text_mining_agent"),
    (
        "publications",
        Array("string"),
        False,
        "the evidence's documents as CURIEs: PMID:<id> for a PubMed id, PMCID:, else doc:<doc_id>",
    ),
    (
        "ontologies",
        Array(ONTOLOGY_VERSION_COLUMNS),
        False,
        "ontology sources and versions of the links behind the edge (all its rows, not only the evidence)",
    ),
)

SOFT_LABELS_COLUMNS = _table(
    ("doc_id", "string", False, "document the window comes from"),
    ("section", "string", False, "title or body: sections are windowed separately, as in NER"),
    ("window", "int", False, "0-based window index within the document (over its sections in order)"),
    ("first_token", "int", False, "section sub-token index of the window's first token ([CLS] not counted)"),
    ("input_ids", Array("int"), False, "[CLS] + sub-token ids + [SEP] in the teacher's vocabulary"),
    (
        "probs",
        "binary",
        False,
        "teacher probabilities, uint8 round(p*255), row-major [len(input_ids)-2, len(labels)] ([CLS]/[SEP] excluded)",
    ),
    ("labels", Array("string"), False, "the teacher's label columns, in order"),
    ("teacher", "string", False, "teacher name@sha256[:12] of its weights"),
    ("content_hash", "string", False, "content hash of the document version labelled"),
)


#: documents columns a NER step reads (model NER, dictionary NER, soft labels)
NER_INPUT_COLUMNS = columns(DOCUMENTS_COLUMNS, "doc_id", "text", "sections", "content_hash")
#: entity columns a NER step fills: all but run_id, which the pipeline adds when it writes
ENTITY_ROWS_COLUMNS = without(ENTITIES_COLUMNS, "run_id")
#: link columns the linking stage fills: all but run_id, which the pipeline adds when it writes
LINK_ROWS_COLUMNS = without(ENTITY_LINKS_COLUMNS, "run_id")
#: one candidate link of one lookup, before disambiguation and tiers (``via``: how the lookup was made)
LINK_MATCH_COLUMNS = (
    *columns(ENTITY_LINKS_COLUMNS, "entity_id", "doc_id"),
    Column("via", "string", False, "mention, or abbreviation (its long form)"),
    *columns(
        ENTITY_LINKS_COLUMNS,
        "concept_id",
        "source",
        "default_label",
        "matched_synonym",
        "strategy",
        "score",
        "ambiguous",
    ),
)


#: table name -> its columns (``TABLES``: the same as StructTypes)
TABLE_COLUMNS: dict[str, tuple[Column, ...]] = {
    "documents": DOCUMENTS_COLUMNS,
    "entities": ENTITIES_COLUMNS,
    "entity_links": ENTITY_LINKS_COLUMNS,
    "ontology_terms": ONTOLOGY_TERMS_COLUMNS,
    "concept_embeddings": CONCEPT_EMBEDDINGS_COLUMNS,
    "runs": RUNS_COLUMNS,
    "quarantine": QUARANTINE_COLUMNS,
    "kg_nodes": KG_NODES_COLUMNS,
    "kg_edges": KG_EDGES_COLUMNS,
    "soft_labels": SOFT_LABELS_COLUMNS,
}

#: table name -> MERGE key columns
KEYS: dict[str, tuple[str, ...]] = {
    "documents": ("doc_id",),
    "entities": ("entity_id",),
    "entity_links": ("link_id",),
    "ontology_terms": ("term_id",),
    "concept_embeddings": ("embedding_id",),
    "runs": ("run_id",),
    "quarantine": ("quarantine_id",),
    "kg_nodes": ("node_id",),
    "kg_edges": ("edge_id",),
    "soft_labels": ("doc_id", "window", "teacher"),
}

#: the six TinyBERN2 entity classes, in the order of the BIO label list
ENTITY_CLASSES: tuple[str, ...] = ("cell_line", "cell_type", "disease", "drug", "gene", "species")


def tables_markdown() -> str:
    """Markdown column tables of every table in ``TABLES``: key, then column, type, nullability and doc.

    ``docs/tables.md`` embeds this output verbatim and a test checks it, so the docs cannot drift from
    the schemas. Regenerate with ``python -c "from kazu_spark.schemas import tables_markdown as t; print(t())"``.

    Example:
        >>> print(tables_markdown().splitlines()[0])
        ### documents
    """
    sections = []
    for name, declared in TABLE_COLUMNS.items():
        lines = [f"### {name}", "", "Key: " + ", ".join(f"`{k}`" for k in KEYS[name]), ""]
        lines += ["| column | type | nullable | doc |", "|---|---|---|---|"]
        for f in struct_type(declared).fields:
            doc = f.metadata["comment"].replace("|", "\\|")  # a bare | would end the markdown cell
            lines.append(f"| `{f.name}` | `{f.dataType.simpleString()}` | {'yes' if f.nullable else 'no'} | {doc} |")
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"
