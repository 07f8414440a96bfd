"""Spark glue for embedding linking: concept vectors over partitions, and the cascade's ``embedding`` step.

**Concept vectors** (:func:`embed_terms`): the distinct synonym texts of ``ontology_terms`` (as the encoder
reads them: lower-cased when its ``linker.json`` says so) are embedded in ``mapInPandas`` over
partitions, each Python worker loading the encoder once (:func:`~kazu_spark.runtime.worker_cache.worker_cached`),
never on the driver; ``concept_embeddings`` (:mod:`kazu_spark.ontologies.embeddings`) stores them.

**The step** (:func:`embedding_matches`): the lookups the string steps missed are reduced to distinct
``(entity_class, text)`` keys over the whole job (mentions repeat: the devel corpora's gold mentions
that the string steps miss, 3.0x), each key is embedded once and scored against its class's concept
matrix, and the kept synonyms (:func:`~kazu_spark.linking.embedding.candidates`) are joined back to
their lookups and to the concepts that have them. Strategy ``embedding``, score ``EMBEDDING_SCALE``
(0.8) x cosine, so an embedding link never outranks a dictionary link (1.0, 0.9, 0.85) nor reaches the
``high`` tier; below ``linking.embedding.min_score`` (cosine) a match is dropped, and so is a synonym with capitals
that a lower-case mention spells (a symbol the string steps refused: ``hit`` is not ``HIT``; ``L-DOPA`` is
``L-Dopa`` and ``C2 deficiency`` OMIM's ``C2 DEFICIENCY``).

**Shipping, Connect-safe**: no broadcast variable. The driver writes each class's matrix (fp16, one row per
distinct text) to ``linking.embedding.matrix_dir`` as ``.npy`` + ``.json``, in a folder per encoder version,
under a name made of the class and its terms' fingerprint (:func:`class_matrices`), so it is written once and
found again by later runs, whichever other classes they link; workers memory-map it once
(``worker_cached``), and the page cache shares it between the workers of a machine.
1M synonyms x 384 dims x 2 bytes = 768 MB of file, plus a float32 block of 65,536 rows (96 MB) per worker
while scoring. With ``search: ivf`` the driver also saves each large matrix's IVF index beside it
(:func:`~kazu_spark.linking.ivf.ensure_ivf`), and the workers score a key against its nearest lists only.
The encoder is loaded by path on the workers (``pkg://``, local, ``/dbfs``, ``/Volumes``).

**A class too large to ship** (more synonym rows than ``linking.embedding.partition_rows``) gets no matrix file:
:func:`partitioned_matches` cuts its vectors into blocks that stay distributed, sends each key to every block
of its class (``cogroup`` + ``applyInPandas``, a task per block) and reduces each key's rows to what one matrix
would keep.

Example (needs a SparkSession; ``missed`` in the cascade's lookup columns):
    >>> links = embedding_matches(missed, terms, load_config().linking.embedding)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from kazu_spark.config import EmbeddingConfig
from kazu_spark.linking.embedding import (
    candidates,
    encoder_version,
    from_bytes,
    has_matrix,
    int8_blocks,
    load_matrix,
    nearest,
    save_matrix,
    to_bytes,
)
from kazu_spark.linking.encoder import EncoderSettings
from kazu_spark.linking.ivf import ensure_ivf, has_ivf, ivf_nearest, load_ivf
from kazu_spark.linking.scores import EMBEDDING_SCALE
from kazu_spark.linking.term_index import several_concepts
from kazu_spark.paths import resolve_path
from kazu_spark.runtime.memory_guard import guard_memory
from kazu_spark.runtime.worker_cache import clear_worker_cache, worker_cached
from kazu_spark.schemas import CONCEPT_EMBEDDINGS, LINK_MATCH

if TYPE_CHECKING:
    from kazu_spark.linking.encoder import SynonymEncoder

log = logging.getLogger(__name__)

#: distinct keys per matching task: a batch reads its classes' whole matrices, so batches should be large
_KEYS_PER_TASK = 4096
_MATCHED_SCHEMA = "entity_class string, key string, text string, cosine double"
_MATCHED_COLUMNS = ["entity_class", "key", "text", "cosine"]
_VECTOR_SCHEMA = "text string, vector binary, dim int"


@dataclass(frozen=True)
class EncoderRef:
    """What a worker needs to load the encoder: its resolved folder, version and run settings (small: pickled
    into the tasks' closures, no broadcast)."""

    folder: str
    version: str
    lowercase: bool
    device: str
    precision: str
    num_threads: int
    batch_size: int | None

    @classmethod
    def of(cls, cfg: EmbeddingConfig, task_cpus: int) -> EncoderRef:
        """The encoder of ``cfg.model`` (read on the driver: its version and ``linker.json``, no torch)."""
        assert cfg.model is not None, "the embedding step is off without a model"
        folder = resolve_path(cfg.model)
        return cls(
            folder,
            encoder_version(folder),
            EncoderSettings.read(folder).lowercase,
            cfg.device,
            cfg.precision,
            cfg.num_threads or task_cpus,
            cfg.batch_size,
        )

    def load(self) -> SynonymEncoder:
        """This worker's encoder, loaded on first use and cached (on cuda when ``device`` allows and one is seen)."""
        import torch

        from kazu_spark.linking.encoder import SynonymEncoder

        device = "cuda" if self.device != "cpu" and torch.cuda.is_available() else "cpu"
        return worker_cached(
            f"encoder-{self.version}@{device}/{self.precision}/{self.num_threads}/{self.batch_size}",
            lambda: SynonymEncoder.load(
                self.folder,
                device=device,
                precision=self.precision,
                num_threads=self.num_threads,
                batch_size=self.batch_size,
            ),
        )


def encoder_text(column: str, lowercase: bool) -> Column:
    """A column's text as the encoder reads it: trimmed, lower-cased when ``lowercase``; mentions and synonyms
    alike (Spark's own functions, no Python UDF), so equal texts share one vector and join."""
    trimmed = F.trim(F.col(column))
    return F.lower(trimmed) if lowercase else trimmed


def concept_rows(terms: DataFrame, lowercase: bool, texts: DataFrame | None = None) -> DataFrame:
    """One row per (entity_class, source, concept_id, text) of ``terms``, with a label, a synonym of that text
    and the source's version and checksum; with ``texts`` (``entity_class, text``), only those texts' rows,
    picked before the aggregation (the step needs the few texts it matched, not the whole class)."""
    rows = terms.withColumn("text", encoder_text("synonym", lowercase)).where(F.col("text") != "")
    if texts is not None:
        rows = rows.join(texts, ["entity_class", "text"], "left_semi")
    return rows.groupBy("entity_class", "source", "concept_id", "text").agg(
        F.min("default_label").alias("default_label"),
        F.min("synonym").alias("matched_synonym"),
        F.max("source_version").alias("source_version"),
        F.max("source_checksum").alias("source_checksum"),
    )


def embed_texts(frame: DataFrame, encoder: EncoderRef, *, exact: bool = False) -> DataFrame:
    """``text, vector, dim`` of each row of ``frame`` (column ``text``), embedded over its partitions; the vectors
    in fp16 (:func:`~kazu_spark.linking.embedding.to_bytes`, as stored), or float32 with ``exact`` (the mentions'
    keys, scored as the encoder gave them)."""

    def embed(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = encoder.load()
        for batch in batches:
            texts = list(batch["text"])
            vectors = model.embed(texts)
            blobs = to_bytes(vectors, np.float32) if exact else to_bytes(vectors)
            yield pd.DataFrame({"text": texts, "vector": blobs, "dim": vectors.shape[1]})

    return frame.select("text").mapInPandas(embed, _VECTOR_SCHEMA)


def embed_terms(terms: DataFrame, encoder: EncoderRef) -> DataFrame:
    """``terms`` as ``concept_embeddings`` rows: every distinct text embedded once, over partitions."""
    rows = concept_rows(terms, encoder.lowercase)
    vectors = embed_texts(rows.select("text").distinct(), encoder)
    return rows.join(vectors, "text").select(
        F.sha1(F.concat_ws("|", "source", "concept_id", "text")).alias("embedding_id"),
        *(
            F.lit(encoder.version).alias(c) if c == "encoder_version" else F.col(c)
            for c in CONCEPT_EMBEDDINGS.fieldNames()[1:]
        ),
    )


def matrix_names(parts: Iterable[tuple[str, str, str, int]], version: str) -> dict[str, str]:
    """The concept matrix's name of each entity class in ``parts``, its terms per source as ``(entity_class,
    source, source_checksum, count)``: ``<class>-<16 hex>`` of the encoder ``version`` and that class's parts. A
    matrix saved under it is still valid, and a change to one class's terms renames that class's matrix only.

    Example:
        >>> names = matrix_names([("disease", "MEDIC", "c0ffee", 13), ("gene", "HGNC", "beef", 2)], "linker@1a2b")
        >>> names == matrix_names([("gene", "HGNC", "beef", 2), ("disease", "MEDIC", "c0ffee", 13)], "linker@1a2b")
        True
        >>> names["gene"] == matrix_names([("gene", "HGNC", "beef", 3)], "linker@1a2b")["gene"]  # one more term
        False
    """
    described: dict[str, list[str]] = {}
    for entity_class, source, checksum, count in parts:
        described.setdefault(entity_class, []).append(f"{source}|{checksum}|{count}")
    digests = {c: hashlib.sha256("\n".join([version, *sorted(d)]).encode()).hexdigest() for c, d in described.items()}
    return {entity_class: f"{entity_class}-{digest[:16]}" for entity_class, digest in sorted(digests.items())}


def class_parts(terms: DataFrame | pd.DataFrame, classes: list[str] | None) -> list[tuple[str, str, str, int]]:
    """``(entity_class, source, source_checksum, rows)`` of the terms of ``classes`` (None: every class) in
    ``terms``: the ONTOLOGY_TERMS DataFrame (one Spark job), or the pandas copy of the table that the pandas
    pass holds (:func:`~kazu_spark.linking.driver_terms.driver_terms`; no job, where the job over a million
    cached terms took 2.1-3.4 s of each call on 2 cores)."""
    columns = ["entity_class", "source", "source_checksum"]
    if isinstance(terms, pd.DataFrame):
        wanted = terms if classes is None else terms[terms["entity_class"].isin(classes)]
        return [(*group, int(count)) for group, count in wanted[columns].value_counts().items()]
    wanted = terms if classes is None else terms.where(F.col("entity_class").isin(classes))
    return [(r[0], r[1], r[2], r[3]) for r in wanted.groupBy(*columns).count().collect()]


def class_matrices(terms: DataFrame | pd.DataFrame, classes: list[str], version: str) -> dict[str, str]:
    """:func:`matrix_names` of the classes of ``classes`` that have terms in ``terms`` (:func:`class_parts`).

    Example (needs a SparkSession):
        >>> class_matrices(terms, ["disease", "gene"], "linker@1a2b")  # doctest: +SKIP
        {'disease': 'disease-3f0c...', 'gene': 'gene-9d41...'}
    """
    return matrix_names(class_parts(terms, classes), version)


def partitioned_classes(parts: Iterable[tuple[str, str, str, int]], cfg: EmbeddingConfig) -> dict[str, int]:
    """The classes of :func:`class_parts` ``parts`` with more synonym rows than ``cfg.partition_rows``, with their
    rows: too large to ship as one matrix, scored by :func:`partitioned_matches` instead.

    Example:
        >>> parts = [("drug", "CTD", "c1", 600), ("drug", "ChEBI", "c2", 600), ("disease", "MEDIC", "c3", 900)]
        >>> partitioned_classes(parts, EmbeddingConfig(partition_rows=1000))
        {'drug': 1200}
    """
    rows: dict[str, int] = {}
    for entity_class, _, _, count in parts:
        rows[entity_class] = rows.get(entity_class, 0) + count
    return {c: count for c, count in sorted(rows.items()) if count > cfg.partition_rows}


def matrix_folder(cfg: EmbeddingConfig, encoder: EncoderRef) -> Path:
    """Where this encoder's concept matrices live: ``<matrix_dir>/<version>``, one per class and terms."""
    root = resolve_path(cfg.matrix_dir) if cfg.matrix_dir else str(Path(tempfile.gettempdir()) / "kazu-spark-matrices")
    return Path(root) / encoder.version.replace("@", "-")


def write_matrices(embeddings: DataFrame, names: dict[str, str], folder: Path) -> None:
    """Save each class's matrix (distinct texts, sorted) from ``concept_embeddings`` rows under its name in
    ``names`` (:func:`class_matrices`), unless saved already."""
    for entity_class, name in names.items():
        if has_matrix(folder, name):
            continue
        rows = (
            embeddings.where(F.col("entity_class") == entity_class)
            .select("text", "vector", "dim")
            .dropDuplicates(["text"])
            .orderBy("text")
            .toPandas()
        )
        if rows.empty:
            continue
        save_matrix(folder, name, list(rows["text"]), from_bytes(rows["vector"], int(rows["dim"].iloc[0])))
        log.info("concept matrix of %s: %d texts -> %s/%s", entity_class, len(rows), folder, name)


def match_batch(
    encoder: SynonymEncoder, folder: str, names: dict[str, str], batch: pd.DataFrame, cfg: EmbeddingConfig
) -> pd.DataFrame:
    """Nearest synonym texts (``_MATCHED_SCHEMA``) of a batch of distinct ``(entity_class, key)``: each key
    embedded once, scored against its class's matrix (``names``: class -> matrix name in ``folder``; loaded
    once per worker; a bf16 first pass where the CPU has native bf16 and ``precision`` is auto or bf16, an int8
    one under int8, or under auto elsewhere: :func:`~kazu_spark.linking.embedding.int8_blocks`, built once per
    worker; exact scores either way; with ``search: ivf``, the rows of the key's nearest lists only where the
    driver saved the matrix's index: :func:`~kazu_spark.linking.ivf.ivf_nearest`), kept by
    :func:`~kazu_spark.linking.embedding.candidates`. A class without a matrix is skipped.

    Example (``encoder`` anything with ``embed(texts) -> unit vectors``):
        >>> import numpy as np
        >>> class OneHot:
        ...     def embed(self, texts): return np.eye(2, dtype=np.float32)[[len(t) % 2 for t in texts]]
        >>> folder = tempfile.mkdtemp()
        >>> save_matrix(folder, "disease", ["ab", "abc"], np.eye(2))
        >>> batch = pd.DataFrame({"entity_class": ["disease", "gene"], "key": ["xyz", "xyz"]})
        >>> match_batch(OneHot(), folder, {"disease": "disease"}, batch, EmbeddingConfig()).to_dict("records")
        [{'entity_class': 'disease', 'key': 'xyz', 'text': 'abc', 'cosine': 1.0}]
    """
    records = []
    shortlist, quantised = first_pass_kind(cfg)
    matrices = worker_cached(f"matrices-{folder}", dict)  # one cache entry for all classes: the encoder keeps its own
    for entity_class, group in batch.groupby("entity_class", sort=False):
        name = names.get(entity_class)
        if name is None or not has_matrix(folder, name):
            continue
        if name not in matrices:
            matrices[name] = load_matrix(folder, name)
        texts, matrix = matrices[name]
        keys = list(dict.fromkeys(group["key"]))
        vectors = encoder.embed(keys)
        if cfg.search == "ivf" and ((name, "ivf") in matrices or has_ivf(folder, name)):
            if (name, "ivf") not in matrices:
                matrices[name, "ivf"] = load_ivf(folder, name)
            scores, rows = ivf_nearest(vectors, matrices[name, "ivf"], cfg.top_k, cfg.ivf_probes)
        else:
            if quantised and (name, "int8") not in matrices:
                matrices[name, "int8"] = int8_blocks(matrix)
            first_passes = matrices.get((name, "int8")) if quantised else None
            scores, rows = nearest(vectors, matrix, cfg.top_k, shortlist=shortlist, first_passes=first_passes)
        records += _kept(entity_class, keys, texts, scores, rows, cfg)
    return pd.DataFrame.from_records(records, columns=_MATCHED_COLUMNS)


def first_pass_kind(cfg: EmbeddingConfig) -> tuple[bool, bool]:
    """``(shortlist, quantised)``: whether scoring on this CPU shortlists rows by a bf16 first pass (native bf16
    and ``precision`` auto or bf16) or by an int8 one (``precision`` int8, or auto without native bf16); exact
    float32 scores either way (:func:`~kazu_spark.linking.encoder.top_k`)."""
    from kazu_spark.runtime.precision import cpu_has_fast_bf16  # torch: workers only

    native = cpu_has_fast_bf16()  # scoring runs on the CPU
    shortlist = cfg.precision in ("auto", "bf16") and native
    quantised = cfg.precision == "int8" or (cfg.precision == "auto" and not native)
    return shortlist, quantised


def _kept(
    entity_class: str, keys: list[str], texts: list[str], scores: np.ndarray, rows: np.ndarray, cfg: EmbeddingConfig
) -> list[tuple[str, str, str, float]]:
    """``(entity_class, key, text, cosine)`` of each key's :func:`~kazu_spark.linking.embedding.candidates`, from
    its :func:`~kazu_spark.linking.embedding.nearest` ``scores`` and ``rows`` (indices into ``texts``)."""
    records = []
    for key, key_scores, key_rows in zip(keys, scores, rows, strict=True):
        kept = candidates(key_scores, key_rows, min_score=cfg.min_score, margin=cfg.margin, top_k=cfg.top_k)
        records += [(entity_class, key, texts[row], score) for row, score in kept]
    return records


def score_block(block: pd.DataFrame, keys: pd.DataFrame, cfg: EmbeddingConfig) -> pd.DataFrame:
    """The candidates (``entity_class, key, text, cosine``) of ``keys`` (``entity_class, key, vector`` in float32,
    ``dim``) among one block of their class's synonym texts (``text, vector`` in fp16, ``dim``): each key's
    :func:`~kazu_spark.linking.embedding.candidates` in the block. Every candidate over the whole class is one of
    its block's (the block's best is no better than the class's), so these rows, reduced per key by
    :func:`partitioned_matches`, keep what one matrix of the class keeps.

    Example:
        >>> block = pd.DataFrame({"text": ["asthma", "gout"], "vector": to_bytes(np.eye(2)), "dim": 2})
        >>> keys = pd.DataFrame({"entity_class": ["disease"], "key": ["wheeze"], "dim": 2,
        ...                      "vector": [np.array([0.8, 0.6], dtype=np.float32).tobytes()]})
        >>> score_block(block, keys, EmbeddingConfig(min_score=0.5, margin=0.5)).to_dict("records")
        [{'entity_class': 'disease', 'key': 'wheeze', 'text': 'asthma', 'cosine': 0.8}, \
{'entity_class': 'disease', 'key': 'wheeze', 'text': 'gout', 'cosine': 0.6}]
    """
    if block.empty or keys.empty:
        return pd.DataFrame(columns=_MATCHED_COLUMNS)
    dim = int(block["dim"].iloc[0])
    queries = from_bytes(keys["vector"], dim, np.float32).copy()  # writable, as torch wants it
    texts, matrix = list(block["text"]), from_bytes(block["vector"], dim)
    shortlist, quantised = first_pass_kind(cfg)  # as the shipped matrix is scored, the int8 pass built per block
    first_passes = int8_blocks(matrix) if quantised else None
    scores, rows = nearest(queries, matrix, cfg.top_k, shortlist=shortlist, first_passes=first_passes)
    records = _kept(str(keys["entity_class"].iloc[0]), list(keys["key"]), texts, scores, rows, cfg)
    return pd.DataFrame.from_records(records, columns=_MATCHED_COLUMNS)


def partitioned_matches(
    keys: DataFrame, vectors: DataFrame, rows: dict[str, int], cfg: EmbeddingConfig, encoder: EncoderRef
) -> DataFrame:
    """Nearest synonym texts (``_MATCHED_SCHEMA``) of distinct ``(entity_class, key)`` ``keys`` in classes too
    large to ship as one matrix (``rows``: class -> its synonym rows, :func:`partitioned_classes`). The classes'
    ``concept_embeddings`` rows ``vectors`` stay distributed: a hash of the text cuts each class into
    ``ceil(rows / block_rows)`` blocks; each key is embedded once and sent to every block of its class (keys x
    blocks rows move, not the synonyms); a task per block scores its keys (:func:`score_block`), and each key's
    rows over its blocks are reduced to the best ``top_k`` within ``margin`` of its best, as one matrix gives.

    Example (needs a SparkSession):
        >>> partitioned_matches(keys, current_embeddings(terms, ["drug"], ref, None), {"drug": 5_000_000},
        ...                     cfg, ref)  # doctest: +SKIP
    """
    plan = keys.sparkSession.createDataFrame(
        [(c, max(1, -(-n // cfg.block_rows))) for c, n in rows.items()], "entity_class string, blocks int"
    )
    synonyms = (
        vectors.select("entity_class", "text", "vector", "dim")
        .dropDuplicates(["entity_class", "text"])
        .join(plan, "entity_class")
        .withColumn("block", F.pmod(F.xxhash64("text"), F.col("blocks")).cast("int"))
    )
    embedded = embed_texts(keys.select(F.col("key").alias("text")).distinct(), encoder, exact=True)
    queries = (
        keys.join(embedded.withColumnRenamed("text", "key"), "key")
        .join(plan, "entity_class")
        .withColumn("block", F.explode(F.sequence(F.lit(0), F.col("blocks") - 1)))
    )
    by_block = ["entity_class", "block"]
    found = (
        synonyms.select(*by_block, "text", "vector", "dim")
        .groupBy(*by_block)
        .cogroup(queries.select(*by_block, "key", "vector", "dim").groupBy(*by_block))
        .applyInPandas(lambda block, batch: score_block(block, batch, cfg), _MATCHED_SCHEMA)
    )
    per_key = Window.partitionBy("entity_class", "key")
    return (
        found.withColumn("best", F.max("cosine").over(per_key))
        .where(F.col("cosine") >= F.col("best") - cfg.margin)
        .withColumn("rank", F.row_number().over(per_key.orderBy(F.desc("cosine"), "text")))
        .where(F.col("rank") <= cfg.top_k)
        .select(*_MATCHED_COLUMNS)
    )


def current_embeddings(
    terms: DataFrame, classes: list[str], encoder: EncoderRef, concept_embeddings: DataFrame | None
) -> DataFrame:
    """The ``concept_embeddings`` rows of ``classes`` by ``encoder``: from the table where it has this encoder's
    rows of them, else ``terms`` of those classes embedded now (:func:`embed_terms`, materialised once)."""
    wanted = (F.col("encoder_version") == encoder.version) & F.col("entity_class").isin(classes)
    if concept_embeddings is None or concept_embeddings.where(wanted).isEmpty():
        log.info("embedding the synonyms of %s with %s (no concept_embeddings table given)", classes, encoder.version)
        embedded = embed_terms(terms.where(F.col("entity_class").isin(classes)), encoder)
        return embedded.localCheckpoint(eager=True)
    return concept_embeddings.where(wanted)


def ensure_matrices(
    terms: DataFrame,
    classes: list[str],
    cfg: EmbeddingConfig,
    encoder: EncoderRef,
    concept_embeddings: DataFrame | None = None,
    table: pd.DataFrame | None = None,
) -> tuple[Path, dict[str, str], dict[str, int]]:
    """The matrix folder of ``encoder``, the matrix name of each of ``classes`` that has terms
    (:func:`class_matrices`, of ``table`` where the caller holds the terms in pandas), each matrix saved there
    first unless it is already: from ``concept_embeddings`` rows of this encoder where the table has them, else
    by embedding those classes' terms now; with ``search: ivf``, the IVF index of each large matrix too. The
    classes with more synonym rows than ``cfg.partition_rows`` get no matrix: they come back apart, with their
    rows, for :func:`partitioned_matches`."""
    parts = class_parts(terms if table is None else table, classes) if classes else []
    partitioned = partitioned_classes(parts, cfg)
    names = matrix_names((p for p in parts if p[0] not in partitioned), encoder.version)
    folder = matrix_folder(cfg, encoder)
    missing = [c for c in names if not has_matrix(folder, names[c])]
    if missing:  # the classes whose matrix this encoder and these terms have not saved yet
        write_matrices(
            current_embeddings(terms, missing, encoder, concept_embeddings), {c: names[c] for c in missing}, folder
        )
    if cfg.search == "ivf":
        ensure_ivf(folder, [name for name in names.values() if has_matrix(folder, name)])
    return folder, names, partitioned


@dataclass(frozen=True)
class ClassMatrices:
    """The ``embedding`` step of the pandas linking pass (:mod:`kazu_spark.linking.batch`, on the driver or in
    Spark tasks): the encoder and the saved matrices of the classes it links. Small: pickled into the tasks'
    closures; each process loads the encoder and maps the matrices once (``worker_cached``).

    Example (needs a SparkSession; ``terms`` in ONTOLOGY_TERMS):
        >>> matrices = ClassMatrices.of(terms, ["disease"], cfg, threads=2)  # doctest: +SKIP
        >>> matrices.match(pd.DataFrame({"entity_class": ["disease"], "key": ["heart attack"]}))  # doctest: +SKIP
    """

    encoder: EncoderRef
    folder: str
    names: dict[str, str]
    cfg: EmbeddingConfig

    @classmethod
    def of(
        cls,
        terms: DataFrame,
        classes: list[str],
        cfg: EmbeddingConfig,
        threads: int,
        concept_embeddings: DataFrame | None = None,
        table: pd.DataFrame | None = None,
    ) -> ClassMatrices | None:
        """The matrices of ``classes`` (those of them ``cfg.classes`` links) saved by :func:`ensure_matrices`
        (``table``: the pandas pass's copy of ``terms``, which names the matrices without a Spark job), the
        encoder run with ``cfg.num_threads`` or ``threads`` torch threads; None when the step is off
        (``cfg.model`` unset) or none of ``classes`` has terms."""
        if cfg.model is None:
            log.info("linking step 'embedding' skipped: linking.embedding.model is not set")
            return None
        wanted = sorted(c for c in classes if cfg.classes is None or c in cfg.classes)
        encoder = EncoderRef.of(cfg, threads)
        folder, names, partitioned = ensure_matrices(terms, wanted, cfg, encoder, concept_embeddings, table)
        if partitioned:  # link_entities sends such batches to Spark joins; a direct caller is told
            log.warning("%s over linking.embedding.partition_rows: not embedded by the pandas pass", list(partitioned))
        return cls(encoder, str(folder), names, cfg) if names else None

    @property
    def lowercase(self) -> bool:
        """Whether the encoder reads texts lower-cased (keys and synonyms alike)."""
        return self.encoder.lowercase

    def match(self, keys: pd.DataFrame) -> pd.DataFrame:
        """:func:`match_batch` of distinct ``(entity_class, key)`` with this process's encoder and matrices."""
        return match_batch(self.encoder.load(), self.folder, self.names, keys, self.cfg)


def embedding_matches(
    missed: DataFrame,
    terms: DataFrame,
    cfg: EmbeddingConfig,
    concept_embeddings: DataFrame | None = None,
    *,
    memory_limit_mb: float | None = None,
) -> DataFrame | None:
    """Candidate links (``LINK_MATCH``) of the lookups ``missed`` by the string steps, by the synonym encoder;
    None when the step is off (``cfg.model`` unset) or has nothing to match.

    ``concept_embeddings`` (the lakehouse table, :func:`kazu_spark.ontologies.embeddings.ensure_concept_embeddings`)
    supplies the vectors of a matrix not yet saved; without it the needed classes' terms are embedded now.
    The worker memory guard (``memory_limit_mb``, None: off) checks between the matching batches.
    """
    if cfg.model is None:
        log.info("linking step 'embedding' skipped: linking.embedding.model is not set")
        return None
    if cfg.classes is not None:  # the step's classes only; the others keep what the string steps found
        missed = missed.where(F.col("entity_class").isin(cfg.classes))
    spark = missed.sparkSession
    encoder = EncoderRef.of(cfg, int(spark.conf.get("spark.task.cpus", "1")))
    keys = (
        missed.select("entity_class", encoder_text("query", encoder.lowercase).alias("key"))
        .where(F.col("key") != "")
        .distinct()
        .localCheckpoint(eager=True)
    )
    per_class = {r["entity_class"]: r["count"] for r in keys.groupBy("entity_class").count().collect()}
    folder, names, partitioned = ensure_matrices(terms, list(per_class), cfg, encoder, concept_embeddings)
    if not names and not partitioned:
        return None
    classes = [*names, *partitioned]
    class_terms = terms.where(F.col("entity_class").isin(classes))
    where = str(folder)

    def match(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in guard_memory(batches, memory_limit_mb, release=clear_worker_cache):
            yield match_batch(encoder.load(), where, names, batch, cfg)  # a cache lookup unless the guard dropped it

    # few large tasks: each batch scores its keys against whole matrices (an fp16 -> fp32 pass per block);
    # kept (at most top_k rows a key) so the encoder runs once and the joins below see its real size
    tasks = max(2, -(-sum(per_class[c] for c in names) // _KEYS_PER_TASK))
    matched = keys.where(F.col("entity_class").isin(list(names))).repartition(tasks).mapInPandas(match, _MATCHED_SCHEMA)
    if partitioned:
        vectors = current_embeddings(terms, list(partitioned), encoder, concept_embeddings)
        large = keys.where(F.col("entity_class").isin(list(partitioned)))
        matched = matched.unionByName(partitioned_matches(large, vectors, partitioned, cfg, encoder))
    matched = matched.localCheckpoint(eager=True)
    lookups = missed.withColumn("key", encoder_text("query", encoder.lowercase))
    texts = matched.select("entity_class", "text").distinct()
    concepts = concept_rows(class_terms, encoder.lowercase, texts).drop("source_version", "source_checksum")
    per_concept = Window.partitionBy("entity_id", "via", "source", "concept_id")
    best = (
        lookups.join(matched, ["entity_class", "key"])
        .join(concepts, ["entity_class", "text"])
        # a mention in lower case that spells a synonym with capitals is a word, not that symbol, which the string
        # steps refused (`hit` is not HIT, heparin-induced thrombocytopenia); the encoder lower-cases both, and their
        # cosine of 1.0 is no evidence. A mention with capitals is the synonym in another case (`L-DOPA`, `L-Dopa`)
        .where(
            (F.col("query") != F.lower("query"))
            | (F.col("matched_synonym") == F.lower("matched_synonym"))
            | (F.col("query") != F.lower("matched_synonym"))
        )
        .withColumn("rank", F.row_number().over(per_concept.orderBy(F.desc("cosine"), "matched_synonym")))
        .where(F.col("rank") == 1)
    )
    return best.select(
        "entity_id", "doc_id", "via", "concept_id", "source", "default_label", "matched_synonym",
        F.lit("embedding").alias("strategy"),
        (F.lit(EMBEDDING_SCALE) * F.col("cosine")).alias("score"),
        several_concepts("entity_id", "via").alias("ambiguous"),
    ).select(*LINK_MATCH.fieldNames())  # fmt: skip
