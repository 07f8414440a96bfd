"""The one composition: documents in, entities and links out, nothing written.

``annotate_frames(documents, cfg)`` runs the configured NER steps (``ner.steps``, merged by ``ner.merge``)
and the linking cascade (``linking.steps``) over a ``documents`` DataFrame (the ``documents`` table's
columns, as :func:`kazu_spark.documents.ingest.to_documents` makes them). The lakehouse job
(:func:`kazu_spark.pipeline.annotate.annotate`), both evaluations and the benchmarks call it, so what is
measured is what runs. The entities are materialised once (``localCheckpoint``): NER runs once, whatever
reads them afterwards; linking runs Spark jobs of its own (see :func:`kazu_spark.linking.spark.link_entities`).

``annotate_dataframe(df, id_col, text_col)`` is the notebook entry: any DataFrame of texts in, entities and
links out, no paths and no writes.

Example (needs a SparkSession; the defaults use the bundled model and ontology subsets):
    >>> df = spark.createDataFrame([("d1", "BRCA1 mutations cause breast cancer.")], "id string, text string")
    ... # doctest: +SKIP
    >>> entities, links = annotate_dataframe(df, id_col="id", text_col="text")  # doctest: +SKIP
    >>> entities.select("mention", "entity_class").show()  # doctest: +SKIP
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from kazu_spark.config import Config, load_config
from kazu_spark.documents.spark import to_documents
from kazu_spark.linking.spark import link_entities
from kazu_spark.ner.model_files import check_model_dir
from kazu_spark.ner.steps import ner_entities
from kazu_spark.ontologies.terms import build_ontology_terms
from kazu_spark.paths import resolve_path
from kazu_spark.pipeline.hooks import Hooks
from kazu_spark.runtime.steps import StepContext, check_steps
from kazu_spark.schemas import ENTITY_LINKS, RAW_DOCUMENTS


@dataclass(frozen=True)
class Annotations:
    """What a composition returns: ``entities`` and ``links`` (it unpacks as that pair), and, from
    :func:`annotate_dataframe`, the ``documents`` it tagged and the input rows it put in ``quarantine``."""

    entities: DataFrame
    links: DataFrame
    documents: DataFrame | None = None
    quarantine: DataFrame | None = None

    def __iter__(self) -> Iterator[DataFrame]:
        return iter((self.entities, self.links))


def needs_terms(cfg: Config) -> bool:
    """Whether a run of ``cfg`` reads the ontology terms: to link, or for the dictionary NER step."""
    return cfg.linking.enabled or "dictionary" in cfg.ner.steps


def check_ready(cfg: Config) -> None:
    """Fail on the driver, before any data is read or written, if a step of ``cfg`` cannot run: an entry-point
    step that does not import (:func:`~kazu_spark.runtime.steps.check_steps`), or a ``model`` step whose folder
    the workers could not load (:func:`~kazu_spark.ner.model_files.check_model_dir`; not checked for a model
    shipped as an archive, which only executors see).

    Example:
        >>> check_ready(load_config(overrides={"ner.model": "/no/such/model"}))
        Traceback (most recent call last):
        ...
        kazu_spark.errors.ModelError: model path /no/such/model does not exist
    """
    check_steps(cfg)
    if "model" in cfg.ner.steps and not cfg.ner.model_archive:
        ner = cfg.ner
        check_model_dir(resolve_path(ner.model), labels=ner.labels, allow_pickle=ner.allow_pickle_weights)


def annotate_frames(
    documents: DataFrame,
    cfg: Config | None = None,
    *,
    terms: DataFrame | None = None,
    run_id: str | None = None,
    hooks: Hooks | None = None,
    concept_embeddings: DataFrame | None = None,
    terms_key: str | None = None,
) -> Annotations:
    """Entities (ENTITIES rows) and links (ENTITY_LINKS rows) of ``documents``; writes nothing.

    ``terms`` are the ontology terms (ONTOLOGY_TERMS rows); when None and the run needs them they are
    built in memory from ``cfg.linking.ontologies``. ``run_id`` fills the rows' ``run_id`` (default: a new
    uuid). ``hooks`` (:mod:`kazu_spark.pipeline.hooks`) may wrap the NER partitions and time the stages.
    ``concept_embeddings`` (the lakehouse table) saves the ``embedding`` linking step embedding the synonyms.
    ``terms_key``: the commit of the lakehouse's ontology_terms that ``terms`` were read at
    (:func:`~kazu_spark.pipeline.annotate.ensure_ontology_terms`), under which a small batch's linking keeps
    the terms on the driver between runs (:mod:`kazu_spark.linking.driver_terms`).

    Example: see the module docstring.
    """
    cfg = cfg or load_config()
    check_ready(cfg)
    hooks = hooks or Hooks()
    run = F.lit(run_id or str(uuid.uuid4()))
    if terms is None and needs_terms(cfg):
        # parsed once and held by the executors: the in-memory rows would otherwise sit in every linking plan
        terms = build_ontology_terms(documents.sparkSession, cfg.linking.ontologies).localCheckpoint(eager=True)
    context = StepContext(cfg, terms, documents, concept_embeddings, terms_key)
    with hooks.stage("ner"):
        entities = ner_entities(documents, context, hooks.ner_partition()).withColumn("run_id", run)
        entities = entities.localCheckpoint(eager=True)  # NER runs once, whatever reads the entities later
    if not cfg.linking.enabled or terms is None:
        return Annotations(entities, documents.sparkSession.createDataFrame([], ENTITY_LINKS))
    with hooks.stage("linking"):
        links = link_entities(entities, terms, cfg.linking, documents, context=context).withColumn("run_id", run)
    return Annotations(entities, links)


def annotate_dataframe(
    df: DataFrame,
    id_col: str = "id",
    text_col: str = "text",
    title_col: str | None = None,
    conf: str | Config | None = None,
    terms: DataFrame | None = None,
) -> Annotations:
    """Entities and links of the texts in any DataFrame: no paths, no writes.

    Each row becomes a document by the job's ingest rules (``doc_id`` = ``id_col`` as a string; with
    ``title_col`` the stored text is title, a blank line, then the text), so offsets point into
    ``annotations.documents.text``. Rows the rules reject (no id, no text, too long, a conflicting duplicate
    id) are in ``annotations.quarantine`` with their reason. ``conf`` is a YAML file or a :class:`Config`
    (default: the packaged defaults); ``terms``, the ontology terms (e.g. a lakehouse's ``ontology_terms``),
    saves building them from ``linking.ontologies`` on each call. Unpacks as ``entities, links``.

    Example: see the module docstring.
    """
    cfg = conf if isinstance(conf, Config) else load_config(conf)
    missing = [c for c in (id_col, text_col, title_col) if c is not None and c not in df.columns]
    if missing:
        raise ValueError(f"annotate_dataframe: no column(s) {missing} in the DataFrame (it has {df.columns})")
    title = F.col(title_col).cast("string") if title_col else F.lit(None).cast("string")
    raw = df.select(
        F.col(id_col).cast("string").alias("source_id"),
        title.alias("title"),
        F.col(text_col).cast("string").alias("text"),
        F.lit("dataframe").alias("source"),
        F.lit(None).cast("string").alias("read_error"),
    ).select(*RAW_DOCUMENTS.fieldNames())
    run_id = str(uuid.uuid4())
    documents, quarantine = to_documents(raw, run_id, max_chars=cfg.input.max_chars)
    documents = documents.localCheckpoint(eager=True)  # ingest once: NER and linking both read the documents
    entities, links = annotate_frames(documents, cfg, terms=terms, run_id=run_id)
    return Annotations(entities, links, documents, quarantine)
