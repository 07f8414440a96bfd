"""Every table's schema, in one place, with a one-line doc per column.

The pipeline's stages are ``DataFrame -> DataFrame`` functions over these schemas, so a stage can be
run, tested and replaced on its own. Keys are deterministic (see ``KEYS``): a rerun MERGEs into the
same rows instead of duplicating them. What a stage reads or fills is a named *view* of a table
(``NER_INPUT``, ``ENTITY_ROWS``, ``LINK_ROWS``, ``LINK_MATCH``), derived by column name, never by
position, so adding a column to a table shifts no stage's columns.

Example:
    >>> from kazu_spark.schemas import ENTITIES, KEYS
    >>> KEYS["entities"]
    ('entity_id',)
    >>> "confidence" in ENTITIES.fieldNames()
    True
"""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)


def _schema(*fields: tuple[str, object, bool, str]) -> StructType:
    """Build a StructType whose fields carry their one-line doc as column metadata ``comment``."""
    return StructType(
        [StructField(name, dtype, nullable, metadata={"comment": doc}) for name, dtype, nullable, doc in fields]
    )


RAW_DOCUMENTS = _schema(
    ("source_id", StringType(), True, "id as given by the source (id/pmid column, file path); null if missing"),
    ("title", StringType(), True, "title text, may be null"),
    ("text", StringType(), True, "body text (abstract); may be null"),
    ("source", StringType(), False, "where the row came from: file path or table path"),
    (
        "read_error",
        StringType(),
        True,
        "why a reader refused the row: '<reason>: <detail>' (invalid_utf8, invalid_id, invalid_text), or a message",
    ),
)

#: what a reader's input deletes (PubMed update files' ``DeleteCitation``): ids as ingestion makes doc_ids
RAW_DELETIONS = _schema(
    ("source_id", StringType(), False, "id of a document the input deletes (a PMID): its documents.doc_id"),
    ("source", StringType(), False, "the file that lists the deletion"),
)

# Delta refuses NOT NULL inside arrays and maps, so nested fields are nullable (never null in practice).
#: a span of documents.text (a section's, a sentence's in kg_nodes.sentences)
SPAN = StructType(
    [
        StructField("start", IntegerType(), True, metadata={"comment": "code-point offset in documents.text"}),
        StructField("end", IntegerType(), True, metadata={"comment": "exclusive end offset in documents.text"}),
    ]
)
SECTION = StructType(
    [StructField("name", StringType(), True, metadata={"comment": "section name: title or body"}), *SPAN.fields]
)

DOCUMENTS = _schema(
    ("doc_id", StringType(), False, "deterministic document id: the source id"),
    ("source", StringType(), False, "input file or table the document came from"),
    ("title", StringType(), True, "title as read"),
    ("text", StringType(), False, "stored text that all offsets point into: title, blank line, body"),
    ("sections", ArrayType(SECTION, True), False, "title/body spans inside text"),
    ("content_hash", StringType(), False, "sha256 of text; a changed hash means a changed document"),
    ("char_count", IntegerType(), False, "len(text) in code points"),
    ("run_id", StringType(), False, "run that last wrote this row"),
    ("ingested_at", TimestampType(), False, "when that run wrote it"),
)

ENTITIES = _schema(
    ("entity_id", StringType(), False, "sha1 of (doc_id, section, start, end, entity_class)"),
    ("doc_id", StringType(), False, "document the mention is in"),
    ("section", StringType(), False, "title or body"),
    ("start", IntegerType(), False, "code-point offset into documents.text; text[start:end] == mention"),
    ("end", IntegerType(), False, "exclusive end offset into documents.text"),
    ("mention", StringType(), False, "the mention's text, exactly text[start:end]"),
    ("entity_class", StringType(), False, "cell_line, cell_type, disease, drug, gene or species"),
    ("confidence", DoubleType(), False, "mean token probability of the span's tags, in [0, 1]"),
    ("model", StringType(), False, "name and version of the model that emitted it"),
    ("content_hash", StringType(), False, "content hash of the document version it was found in"),
    ("run_id", StringType(), False, "run that last wrote this row"),
)

ENTITY_LINKS = _schema(
    ("link_id", StringType(), False, "sha1 of (entity_id, concept_id, source)"),
    ("entity_id", StringType(), False, "entity this link belongs to"),
    ("doc_id", StringType(), False, "document of the entity (denormalised for partition pruning)"),
    ("concept_id", StringType(), False, "ontology concept id, e.g. MESH:D003920"),
    ("source", StringType(), False, "ontology the concept comes from, e.g. MEDIC"),
    ("default_label", StringType(), True, "the concept's preferred label"),
    ("matched_synonym", StringType(), False, "ontology synonym that matched the mention"),
    (
        "strategy",
        StringType(),
        False,
        "exact, normalised, variant, fuzzy_tfidf, embedding, abbreviation (linking.spark), species (linking.species), "
        "family (linking.families), model_organism (linking.genus) or a custom step's",
    ),
    (
        "score",
        DoubleType(),
        False,
        "match score in [0, 1]: 1.0 exact, 0.9 normalised, 0.8 x cosine fuzzy or embedding",
    ),
    ("ambiguous", BooleanType(), False, "true when the entity keeps links to several concepts"),
    ("confidence_tier", StringType(), False, "high, medium, low (by score, linking.tiers) or ambiguous"),
    (
        "generic",
        BooleanType(),
        True,
        "the concept is a catch-all (linking.generic_concepts: cell, Neoplasms, ...); null in older rows",
    ),
    ("run_id", StringType(), False, "run that last wrote this row"),
    (
        "source_version",
        StringType(),
        True,
        "ontology_terms.source_version of the source the link was made with; null in older rows",
    ),
)

ONTOLOGY_TERMS = _schema(
    ("term_id", StringType(), False, "sha1 of (source, concept_id, synonym)"),
    ("concept_id", StringType(), False, "concept id with its prefix, e.g. MESH:D003920, NCBIGene:7157, CL:0000236"),
    ("source", StringType(), False, "configured source name: MEDIC, CL, NCBITaxon, NCBIGene, MeSH, curations, ..."),
    ("default_label", StringType(), False, "the concept's preferred label"),
    ("synonym", StringType(), False, "one surface form: the label itself, a synonym, an alias or symbol"),
    (
        "synonym_type",
        StringType(),
        False,
        "label, exact, related, broad, narrow, symbol, alias, previous, curated, or a generic table's column",
    ),
    (
        "normalised_synonym",
        StringType(),
        False,
        "synonym after linking.normalise.normalise(..., class); empty (no key) where a gene's key is one character",
    ),
    ("symbolic", BooleanType(), False, "synonym is a symbol (BRCA1, IL-2) rather than a noun phrase"),
    ("entity_class", StringType(), False, "class of entity this term links"),
    (
        "metadata",
        MapType(StringType(), StringType()),
        False,
        "concept facts from the source: entrez_id, tree_numbers, namespace, ...",
    ),
    ("source_version", StringType(), False, "version the source states, else the start of its checksum"),
    ("source_checksum", StringType(), False, "sha256 of the source file(s): a change means a new release"),
)

CONCEPT_EMBEDDINGS = _schema(
    ("embedding_id", StringType(), False, "sha1 of (source, concept_id, text)"),
    ("entity_class", StringType(), False, "class of entity this term links"),
    ("source", StringType(), False, "ontology source of the concept (ontology_terms.source)"),
    ("concept_id", StringType(), False, "concept id with its prefix, as in ontology_terms"),
    ("default_label", StringType(), False, "the concept's preferred label"),
    ("text", StringType(), False, "the synonym as the encoder reads it (lower-cased when its linker.json says so)"),
    ("matched_synonym", StringType(), False, "an ontology synonym with this text (links report it)"),
    ("vector", BinaryType(), False, "unit vector of text: little-endian float16, dim values"),
    ("dim", IntegerType(), False, "the vector's length (the encoder's hidden size)"),
    ("encoder_version", StringType(), False, "encoder folder name @ sha256 of its weights and settings"),
    ("source_version", StringType(), False, "ontology_terms.source_version of the terms embedded"),
    ("source_checksum", StringType(), False, "ontology_terms.source_checksum: a change means re-embedding"),
)

RUNS = _schema(
    ("run_id", StringType(), False, "uuid of the run"),
    ("command", StringType(), False, "annotate or kg-build"),
    ("started_at", TimestampType(), False, "start time (UTC)"),
    ("finished_at", TimestampType(), False, "end time (UTC)"),
    ("status", StringType(), False, "succeeded or failed"),
    ("input", StringType(), True, "input path or table"),
    ("config_hash", StringType(), False, "sha256 of the resolved configuration"),
    ("model", StringType(), True, "model name and version used"),
    ("counts", MapType(StringType(), LongType()), False, "rows read, documents, entities, links, quarantined"),
    ("elapsed_seconds", DoubleType(), False, "wall-clock seconds"),
    ("error", StringType(), True, "error message if the run failed"),
    (
        "versions",
        MapType(StringType(), LongType()),
        True,
        "kg-build: Delta versions of the input tables it read (the next incremental build starts after them)",
    ),
    (
        "skipped_duplicates",
        LongType(),
        True,
        "annotate: input rows identical to another row (same id and text, or the same rejection); null in older rows",
    ),
    (
        "skipped_files",
        LongType(),
        True,
        "annotate: entries of a text-file input not read (hidden names, not .txt; counts.skipped_files.<reason>)",
    ),
    (
        "warnings",
        ArrayType(StringType()),
        True,
        "annotate: what a succeeded run flags (nothing annotated, entries skipped); --strict exits 3 on any",
    ),
)

QUARANTINE = _schema(
    ("quarantine_id", StringType(), False, "sha1 of (source, source_id, reason, raw snippet)"),
    ("source", StringType(), False, "input the row came from"),
    ("source_id", StringType(), True, "id of the rejected row, if it had one"),
    ("reason", StringType(), False, "why it was rejected: missing_id, empty_text, invalid_utf8, invalid_id, ..."),
    ("detail", StringType(), True, "human-readable detail"),
    ("raw_snippet", StringType(), True, "first 200 characters of the raw row, for triage"),
    ("run_id", StringType(), False, "run that rejected it"),
    ("quarantined_at", TimestampType(), False, "when"),
)

KG_NODES = _schema(
    ("node_id", StringType(), False, "concept id for a concept (e.g. MESH:D003920), doc:<doc_id> for a document"),
    ("node_type", StringType(), False, "Concept or Document"),
    ("label", StringType(), False, "concept's preferred label; document's title (its doc_id if untitled)"),
    ("entity_class", StringType(), True, "class of the mentions linked to a concept; null for documents"),
    ("source", StringType(), False, "ontology of a concept (e.g. MEDIC); input file or table of a document"),
    ("mention_count", LongType(), False, "mentions behind the node's MENTIONS edges (best link per entity)"),
    ("document_count", LongType(), False, "documents mentioning a concept; 1 for a document"),
    ("run_id", StringType(), False, "kg build run that last changed this row"),
    (
        "category",
        StringType(),
        False,
        "Biolink category: biolink:Gene, biolink:Disease, ... by entity_class (kg.biolink); biolink:Publication",
    ),
    (
        "source_version",
        StringType(),
        True,
        "version of a concept's source its links were made with; null for documents",
    ),
    (
        "sentences",
        ArrayType(SPAN, True),
        True,
        "a document's sentence spans in documents.text (kg.sentences), behind CO_OCCURS_SENTENCE; null for concepts",
    ),
)

#: one piece of an edge's evidence (kg_edges.evidence); null fields do not apply to the edge type
EVIDENCE = StructType(
    [
        StructField("doc_id", StringType(), True, metadata={"comment": "document of the evidence"}),
        StructField("section", StringType(), True, metadata={"comment": "title or body; null for CO_OCCURS_DOCUMENT"}),
        StructField("start", IntegerType(), True, metadata={"comment": "MENTIONS: the mention's offset in text"}),
        StructField("end", IntegerType(), True, metadata={"comment": "MENTIONS: the mention's exclusive end offset"}),
        StructField("mention", StringType(), True, metadata={"comment": "MENTIONS: the mention, text[start:end]"}),
        StructField(
            "sentence_start", IntegerType(), True, metadata={"comment": "offset of the sentence holding the mention(s)"}
        ),
        StructField("sentence_end", IntegerType(), True, metadata={"comment": "exclusive end offset of that sentence"}),
    ]
)
#: an ontology source and its version (kg_edges.ontologies)
ONTOLOGY_VERSION = StructType(
    [
        StructField("source", StringType(), True, metadata={"comment": "ontology source, e.g. MEDIC"}),
        StructField("version", StringType(), True, metadata={"comment": "its ontology_terms.source_version"}),
    ]
)

KG_EDGES = _schema(
    ("edge_id", StringType(), False, "sha1 of edge_type|src|dst"),
    ("edge_type", StringType(), False, "MENTIONS, CO_OCCURS_SENTENCE or CO_OCCURS_DOCUMENT"),
    ("src", StringType(), False, "document node for MENTIONS; the smaller concept id for co-occurrence"),
    ("dst", StringType(), False, "concept node; for co-occurrence the larger concept id (src < dst)"),
    ("count", LongType(), False, "mentions (MENTIONS), shared sentences or shared documents (CO_OCCURS_*)"),
    (
        "evidence",
        ArrayType(EVIDENCE, True),
        False,
        "up to 10: MENTIONS the first mentions by offset; CO_OCCURS_SENTENCE shared sentences, documents with "
        "the most first; CO_OCCURS_DOCUMENT the documents mentioning the pair most (doc_id only)",
    ),
    ("run_id", StringType(), False, "kg build run that last changed this row"),
    (
        "predicate",
        StringType(),
        False,
        "Biolink predicate: biolink:mentions, biolink:occurs_together_in_literature_with (kg.biolink)",
    ),
    (
        "knowledge_level",
        StringType(),
        False,
        "Biolink knowledge level: observation (MENTIONS), text_co_occurrence (CO_OCCURS_*)",
    ),
    ("agent_type", StringType(), False, "Biolink agent type: text_mining_agent"),
    (
        "publications",
        ArrayType(StringType(), True),
        False,
        "the evidence's documents as CURIEs: PMID:<id> for a PubMed id, PMCID:, else doc:<doc_id>",
    ),
    (
        "ontologies",
        ArrayType(ONTOLOGY_VERSION, True),
        False,
        "ontology sources and versions of the links behind the edge (all its rows, not only the evidence)",
    ),
)

SOFT_LABELS = _schema(
    ("doc_id", StringType(), False, "document the window comes from"),
    ("section", StringType(), False, "title or body: sections are windowed separately, as in NER"),
    ("window", IntegerType(), False, "0-based window index within the document (over its sections in order)"),
    ("first_token", IntegerType(), False, "section sub-token index of the window's first token ([CLS] not counted)"),
    ("input_ids", ArrayType(IntegerType(), True), False, "[CLS] + sub-token ids + [SEP] in the teacher's vocabulary"),
    (
        "probs",
        BinaryType(),
        False,
        "teacher probabilities, uint8 round(p*255), row-major [len(input_ids)-2, len(labels)] ([CLS]/[SEP] excluded)",
    ),
    ("labels", ArrayType(StringType(), True), False, "the teacher's label columns, in order"),
    ("teacher", StringType(), False, "teacher name@sha256[:12] of its weights"),
    ("content_hash", StringType(), False, "content hash of the document version labelled"),
)


def columns(schema: StructType, *names: str) -> StructType:
    """The fields of ``schema`` named ``names``, in that order: a view that names what it keeps.

    A view built by name stays the same when a column is added to the table; an unknown name raises.

    Example:
        >>> columns(DOCUMENTS, "text", "doc_id").fieldNames()
        ['text', 'doc_id']
    """
    return StructType([schema[name] for name in names])


def without(schema: StructType, *names: str) -> StructType:
    """The fields of ``schema`` except those named ``names``, in the table's order; an unknown name raises.

    Example:
        >>> without(ENTITIES, "run_id").fieldNames()[-2:]
        ['model', 'content_hash']
    """
    missing = set(names) - set(schema.fieldNames())
    if missing:
        raise KeyError(f"no such columns: {sorted(missing)}")
    return StructType([f for f in schema.fields if f.name not in names])


def ddl(schema: StructType) -> str:
    """``"name type, ..."`` of a schema or view: the output schema a ``mapInPandas`` is given (every column
    nullable, as Spark reads DDL).

    Example:
        >>> ddl(columns(ENTITIES, "doc_id", "start"))
        'doc_id string, start int'
    """
    return ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in schema.fields)


#: documents columns a NER step reads (model NER, dictionary NER, soft labels)
NER_INPUT = columns(DOCUMENTS, "doc_id", "text", "sections", "content_hash")
#: entity columns a NER step fills: all but run_id, which the pipeline adds when it writes
ENTITY_ROWS = without(ENTITIES, "run_id")
#: link columns the linking stage fills: all but run_id, which the pipeline adds when it writes
LINK_ROWS = without(ENTITY_LINKS, "run_id")
#: one candidate link of one lookup, before disambiguation and tiers (``via``: how the lookup was made)
LINK_MATCH = StructType(
    [
        *columns(ENTITY_LINKS, "entity_id", "doc_id").fields,
        StructField("via", StringType(), False, metadata={"comment": "mention, or abbreviation (its long form)"}),
        *columns(
            ENTITY_LINKS, "concept_id", "source", "default_label", "matched_synonym", "strategy", "score", "ambiguous"
        ).fields,
    ]
)


#: table name -> schema
TABLES: dict[str, StructType] = {
    "documents": DOCUMENTS,
    "entities": ENTITIES,
    "entity_links": ENTITY_LINKS,
    "ontology_terms": ONTOLOGY_TERMS,
    "concept_embeddings": CONCEPT_EMBEDDINGS,
    "runs": RUNS,
    "quarantine": QUARANTINE,
    "kg_nodes": KG_NODES,
    "kg_edges": KG_EDGES,
    "soft_labels": SOFT_LABELS,
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
    for name, schema in TABLES.items():
        lines = [f"### {name}", "", "Key: " + ", ".join(f"`{k}`" for k in KEYS[name]), ""]
        lines += ["| column | type | nullable | doc |", "|---|---|---|---|"]
        for f in schema.fields:
            doc = f.metadata["comment"].replace("|", "\\|")  # a bare | would end the markdown cell
            lines.append(f"| `{f.name}` | `{f.dataType.simpleString()}` | {'yes' if f.nullable else 'no'} | {doc} |")
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"
