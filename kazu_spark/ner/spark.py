"""Spark glue for NER: ship the weights once, build the tagger once per Python worker, tag partitions;
run the dictionary matcher (:mod:`kazu_spark.ner.dictionary`) over partitions the same way.

The driver reads the model folder into memory and broadcasts it (classic Spark; through Spark Connect, or
with ``ner.model_shipping: path``, each executor reads ``ner.model`` itself); the first Python worker of an
executor unpacks it into the application's folder there, which the other workers share. Each worker keeps the
built :class:`~kazu_spark.ner.tagger.Tagger` in its cache (:func:`kazu_spark.runtime.worker_cache.worker_cached`)
keyed by the model's fingerprint, so later batches and later tasks on a reused worker
(``spark.python.worker.reuse``, on by default) skip loading. Sections are tagged separately, so no entity
crosses from title into body, and offsets are shifted back into ``documents.text``.

Broadcast or archive: broadcasting (the default) suits small models such as the bundled 37 MB one, needs
nothing at submit time, and holds the model in the driver's memory. A large pack (hundreds of MB) is
better shipped as an archive, ``spark-submit --archives pack.tar.gz#model`` with ``ner.model_archive:
model``: the cluster manager copies and unpacks it next to each executor, and the driver never reads it.

Example (needs a session and a model folder):
    >>> entities = tag_documents(spark, documents_df, NerConfig())  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from kazu_spark.errors import ConfigError
from kazu_spark.ner import dictionary
from kazu_spark.ner.known_names import load_names
from kazu_spark.ner.model_files import resolve_model_dir
from kazu_spark.paths import resolve_path
from kazu_spark.runtime.connect import default_parallelism, is_connect
from kazu_spark.runtime.memory_guard import guard_memory
from kazu_spark.runtime.resource_profile import ner_resource_profile, task_device
from kazu_spark.runtime.worker_cache import clear_worker_cache, map_with_broadcast, worker_cached
from kazu_spark.schemas import ENTITY_ROWS, NER_INPUT, ddl

if TYPE_CHECKING:
    from pyspark import Broadcast

    from kazu_spark.config import DictionaryConfig, NerConfig
    from kazu_spark.ner.tagger import Tagger


def read_model_files(model_dir: str) -> dict[str, bytes]:
    """Read every file of a model folder, or of a Kazu pack's model folder, into memory for broadcasting."""
    folder = resolve_model_dir(resolve_path(model_dir))
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def model_fingerprint(files: dict[str, bytes]) -> str:
    """Short sha256 over the model's file names and contents."""
    digest = hashlib.sha256()
    for name, data in sorted(files.items()):
        digest.update(name.encode())
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()[:12]


def _folder_fingerprint(folder: Path) -> str | None:
    """The :func:`model_fingerprint` of an unpacked model folder, or None where there is none."""
    if not folder.is_dir():
        return None
    return model_fingerprint({p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()})


def _unpack_broadcast(fingerprint: str, shipped: Broadcast[dict[str, bytes]], root: Path) -> Path:
    """The broadcast model's files in ``root/<fingerprint>``, written by the first Python worker that needs them.

    The Python workers of an executor share one copy: a file lock lets one write it while the others wait,
    and a copy already there is used when its files hash to ``fingerprint`` (a partial or altered one is
    written again). ``root`` is the executor's per-application folder (:func:`_worker_model_root`), so
    Spark removes the copy when the application ends: workers restart and tasks retry without leaving a
    model behind each time. A worker that finds the copy never loads the broadcast's value; one that writes
    it drops the kept value where PySpark can read it again from its file (no I/O encryption).

    Example:
        >>> import pickle, tempfile
        >>> from pyspark import Broadcast
        >>> files = {"config.json": b"{}"}
        >>> value = Path(tempfile.mkdtemp()) / "broadcast"
        >>> _ = value.write_bytes(pickle.dumps(files))
        >>> folder = _unpack_broadcast(model_fingerprint(files), Broadcast(path=str(value)), value.parent)
        >>> folder.name == model_fingerprint(files), (folder / "config.json").read_bytes()
        (True, b'{}')
    """
    from filelock import FileLock

    folder = root / fingerprint
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(root / f"{fingerprint}.lock"):
        if _folder_fingerprint(folder) != fingerprint:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            for name, data in shipped.value.items():
                (folder / name).write_bytes(data)
            if getattr(shipped, "_path", None) is not None:  # a later .value loads it again from that file
                vars(shipped).pop("_value", None)
    return folder


def _worker_model_root() -> Path:
    """Where a Python worker unpacks shipped models: under the application's SparkFiles root on this
    executor, a folder Spark deletes when the application stops."""
    from pyspark import SparkFiles

    return Path(SparkFiles.getRootDirectory()) / "kazu-spark-models"


def archive_model_dir(alias: str) -> Path:
    """The model folder of an archive shipped with ``--archives pack.tar.gz#<alias>``, on an executor.

    Spark unpacks archives under the SparkFiles root (the executor's working directory on YARN, K8s
    and standalone); a pack whose tarball holds one top-level folder is looked into as well.
    """
    from pyspark import SparkFiles

    root = Path(SparkFiles.getRootDirectory()) / alias
    candidates = [root, *(sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else [])]
    for folder in candidates:
        try:
            return resolve_model_dir(folder)
        except FileNotFoundError:
            continue
    raise FileNotFoundError(f"no model in the shipped archive {root}: pass --archives <pack.tar.gz>#{alias}")


def _worker_tagger(
    key: str, folder: Callable[[], Path], cfg: NerConfig, threads: int, names: list[tuple[str, str, float]]
) -> Tagger:
    """Build the tagger on first use in this Python worker from ``folder()``, per device (the GPU Spark gave
    the task, if any); reuse it afterwards. ``key`` names the model, the ``ner`` settings it is built with and the
    known ``names`` it adds (read on the driver)."""
    import torch
    from pyspark import TaskContext

    from kazu_spark.ner.tagger import Tagger

    context = TaskContext.get()
    gpus = {name: r.addresses for name, r in context.resources().items()} if context else {}
    device = task_device(cfg.device, gpus, cuda_available=torch.cuda.is_available())
    return worker_cached(
        f"tagger-{key}@{device}",
        lambda: Tagger.from_config(folder(), cfg, device=device, threads=threads, known_names=names),
    )


def ship_tagger(spark: SparkSession, cfg: NerConfig) -> Callable[[], Tagger]:
    """Ship ``cfg.model`` once; the returned function gives the worker's cached Tagger.

    The model's files are broadcast (classic Spark), or each executor reads ``cfg.model`` itself (Spark
    Connect, which has no broadcast variables, or ``ner.model_shipping: path``), or with ``cfg.model_archive``
    reads the archive shipped with ``--archives`` (the driver then reads no model). Either way a Python worker
    loads the model once. Call the returned function inside a ``mapInPandas`` function: it builds the tagger
    on first use in a Python worker and reuses it afterwards. Used by the NER stage and the soft-label job.
    The known names (``cfg.known_names``) are read here, on the driver, and travel with the function.
    """
    threads = int(spark.conf.get("spark.task.cpus", "1"))
    names = load_names(cfg.known_names)
    # threshold, precision, window..., and the names themselves (a file edited in place is another tagger)
    settings = hashlib.sha256((cfg.model_dump_json() + repr(names)).encode()).hexdigest()[:12]
    if cfg.model_archive:
        alias = cfg.model_archive
        return lambda: _worker_tagger(
            f"archive-{alias}/{settings}", lambda: archive_model_dir(alias), cfg, threads, names
        )
    files = read_model_files(cfg.model)
    fingerprint = model_fingerprint(files)
    key = f"{fingerprint}/{settings}"
    connect = is_connect(spark)
    if cfg.model_shipping == "broadcast" and connect:
        raise ConfigError("ner.model_shipping: broadcast needs classic Spark; Spark Connect has none (use path)")
    shipping = cfg.model_shipping if cfg.model_shipping != "auto" else "path" if connect else "broadcast"
    if shipping == "path":
        model = cfg.model  # resolved on the executor: a pkg:// model is the executor's installed copy
        return lambda: _worker_tagger(key, lambda: resolve_model_dir(resolve_path(model)), cfg, threads, names)
    shipped = spark.sparkContext.broadcast(files)
    return lambda: _worker_tagger(
        key, lambda: _unpack_broadcast(fingerprint, shipped, _worker_model_root()), cfg, threads, names
    )


def document_batches(batches: Iterator[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """Re-slice a partition's Arrow batches into batches of at most ``rows`` documents.

    ``ner.arrow_batch_rows`` applies here rather than through the session-wide
    ``spark.sql.execution.arrow.maxRecordsPerBatch``, which would also shrink the batches of every
    later pandas UDF (linking runs millions of short rows). The Arrow batches coming in are bounded in
    bytes by ``spark.sql.execution.arrow.maxBytesPerBatch`` (set by :func:`kazu_spark.runtime.session.build_session`).

    Example:
        >>> [len(b) for b in document_batches(iter([pd.DataFrame({"x": range(5)}), pd.DataFrame({"x": [1]})]), 2)]
        [2, 2, 1, 1]
    """
    for batch in batches:
        for start in range(0, len(batch), rows):
            yield batch.iloc[start : start + rows]


def tag_documents(
    spark: SparkSession,
    documents: DataFrame,
    cfg: NerConfig,
    wrap_partition: Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]] | None = None,
    *,
    memory_limit_mb: float | None = None,
) -> DataFrame:
    """Run NER over a documents DataFrame; returns ENTITIES rows without ``run_id``.

    The model folder is broadcast once per job, or with ``cfg.model_archive`` read from the archive
    shipped to each executor; each Python worker builds the tagger once. With ``cfg.gpu_amount_per_task``
    set, the stage carries a GPU resource profile (:mod:`kazu_spark.runtime.resource_profile`).
    ``wrap_partition`` (a pipeline hook, e.g. fault injection) wraps each partition's document batches.
    ``memory_limit_mb`` is the worker memory guard's ceiling (None: off), checked between batches.
    """
    worker_tagger = ship_tagger(spark, cfg)
    partitions = cfg.partitions or 2 * default_parallelism(spark)
    task_cpus = int(spark.conf.get("spark.task.cpus", "1"))
    profile = ner_resource_profile(cfg.gpu_amount_per_task, task_cpus=task_cpus) if cfg.gpu_amount_per_task else None

    def tag_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from kazu_spark.ner.tagger import entities_for_batch  # on the worker: the driver stays torch-free

        batches = document_batches(batches, cfg.arrow_batch_rows)
        if wrap_partition is not None:
            batches = wrap_partition(batches)
        for docs in guard_memory(batches, memory_limit_mb, release=clear_worker_cache):
            # worker_tagger(): a dict lookup unless the guard dropped the cache
            yield entities_for_batch(worker_tagger(), docs, abbreviations=cfg.abbreviations)

    return (
        documents.select(*NER_INPUT.fieldNames())
        .repartition(partitions, "doc_id")
        .mapInPandas(tag_partition, ddl(ENTITY_ROWS), profile=profile)
    )


def build_matcher(terms: DataFrame, cfg: DictionaryConfig) -> dictionary.DictionaryMatcher:
    """The matcher over the synonyms of ``cfg.sources`` (all sources when empty) in ``terms``."""
    rows = terms.select("synonym", "entity_class", "source").distinct()
    if cfg.sources:
        rows = rows.where(F.col("source").isin(cfg.sources))
    entries = rows.where(F.length("synonym") >= cfg.min_length).toPandas().itertuples(index=False)
    return dictionary.DictionaryMatcher.build(entries, cfg.min_length, cfg.blocklist)


def dictionary_entities(
    documents: DataFrame, terms: DataFrame, cfg: DictionaryConfig, *, memory_limit_mb: float | None = None
) -> DataFrame:
    """ENTITIES rows (without ``run_id``) of dictionary hits in ``documents``, section by section; the worker
    memory guard (``memory_limit_mb``, None: off) checks between batches."""
    docs = documents.select(*NER_INPUT.fieldNames())
    matcher = build_matcher(terms, cfg)
    return map_with_broadcast(
        docs, matcher, dictionary.entities_for_batch, ddl(ENTITY_ROWS), memory_limit_mb=memory_limit_mb
    )
