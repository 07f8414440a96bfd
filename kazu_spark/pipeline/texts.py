"""``tag_texts``: entities for a list of strings on one machine, without a Spark session.

The strings become documents under the job's own ingestion rule (:func:`~kazu_spark.documents.ingest.ingest_row`)
and are tagged by the function the Spark NER stage runs per batch, with a tagger built from the config's ``ner``
settings (:meth:`~kazu_spark.ner.tagger.Tagger.from_config`). So a text gives the same entity rows here as in
the ``entities`` table of a job that read it with the same id and title (exactly so in fp32; bf16 arithmetic
varies slightly with how documents are batched together, so a borderline span may differ). The Spark-only
settings of ``ner`` (``model_archive``, ``partitions``, ``gpu_amount_per_task``) and ``worker_memory_limit_mb`` play
no part here, and nothing on this path imports pyspark, which need not be installed.

Example:
    >>> entities = tag_texts(["BRCA1 mutations cause breast cancer.", ""])
    >>> sorted(zip(entities["mention"], entities["entity_class"]))
    [('BRCA1', 'gene'), ('breast cancer', 'disease')]
    >>> entities[["doc_id", "section", "start", "end"]].values.tolist()
    [['0', 'body', 0, 5], ['0', 'body', 22, 35]]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import pandas as pd
import torch

from kazu_spark.config import Config, NerConfig, load_config
from kazu_spark.documents.ingest import DEFAULT_MAX_CHARS, EMPTY_TEXT, Rejection, ingest_row
from kazu_spark.errors import ConfigError
from kazu_spark.ner.tagger import Tagger, entities_for_batch
from kazu_spark.paths import resolve_path
from kazu_spark.runtime.resource_profile import task_device
from kazu_spark.schemas import ENTITY_ROWS_COLUMNS, NER_INPUT_COLUMNS, column_names

#: ``documents.source`` of the documents built here (not part of the output)
SOURCE = "tag_texts"


def _strings(values: Iterable[object], name: str, *, optional: bool = False) -> list[str | None]:
    """``values`` as a list, refusing a lone string and any element that is not a str (or None if optional)."""
    if isinstance(values, str | bytes):
        raise TypeError(f"{name} must be a list of strings, not a single {type(values).__name__}; wrap it in [...]")
    values = list(values)
    for i, value in enumerate(values):
        if not (isinstance(value, str) or (optional and value is None)):
            allowed = "str or None" if optional else "str"
            raise TypeError(f"{name}[{i}] is {type(value).__name__}, not {allowed}")
    return values


def text_documents(
    texts: Sequence[str],
    *,
    ids: Sequence[str] | None = None,
    titles: Sequence[str | None] | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> pd.DataFrame:
    r"""Documents (doc_id, text, sections, content_hash) of ``texts`` by the job's ingestion rule, in input order.

    ``ids`` default to the positions ``"0"``, ``"1"``, ...; given ones are stripped, as the job strips
    source ids, and must be unique and non-blank. A text whose title and text are both empty or blank is
    left out (the job would quarantine it as ``empty_text``); any other rejection (e.g. longer than
    ``max_chars``) raises a ValueError naming the text's index. Non-string input raises a TypeError naming it.

    Example:
        >>> docs = text_documents(["Eases pain.", " "], titles=["Aspirin", None])
        >>> docs["doc_id"].tolist(), docs["text"].tolist()
        (['0'], ['Aspirin\n\nEases pain.'])
        >>> text_documents(["a", 7])
        Traceback (most recent call last):
        ...
        TypeError: texts[1] is int, not str
    """
    texts = _strings(texts, "texts")
    ids = [str(i) for i in range(len(texts))] if ids is None else _strings(ids, "ids")
    titles = [None] * len(texts) if titles is None else _strings(titles, "titles", optional=True)
    for name, values in (("ids", ids), ("titles", titles)):
        if len(values) != len(texts):
            raise ValueError(f"{name} has {len(values)} items for {len(texts)} texts")
    rows, seen = [], {}
    for i, (doc_id, title, text) in enumerate(zip(ids, titles, texts, strict=True)):
        row = {"source_id": doc_id, "title": title, "text": text, "source": SOURCE}
        try:
            doc = ingest_row(row, max_chars=max_chars)
        except UnicodeEncodeError as exc:  # a lone surrogate: the content hash cannot encode it
            raise ValueError(f"texts[{i}] is not valid Unicode text: {exc.reason} at {exc.start}") from None
        if isinstance(doc, Rejection):
            if doc.reason == EMPTY_TEXT:
                continue
            raise ValueError(f"texts[{i}] (id {doc_id!r}) is refused by ingestion: {doc.reason}: {doc.detail}")
        if doc["doc_id"] in seen:
            raise ValueError(f"ids[{i}] repeats ids[{seen[doc['doc_id']]}]: {doc['doc_id']!r}")
        seen[doc["doc_id"]] = i
        rows.append(doc)
    return pd.DataFrame(rows, columns=column_names(NER_INPUT_COLUMNS))


@lru_cache(maxsize=2)
def _tagger(folder: str, ner_json: str, device: str) -> Tagger:
    return Tagger.from_config(folder, NerConfig.model_validate_json(ner_json), device=device)


def local_tagger(cfg: NerConfig) -> Tagger:
    """The tagger of ``cfg`` in this process, built on first use and kept for the same model and settings.

    The model folder is ``cfg.model`` resolved as the Spark stage resolves it (``pkg://`` paths, Kazu packs);
    ``cfg.device`` ``auto`` is cuda when a GPU is visible. The two most recent (model, settings) pairs are
    kept, so repeated calls with one config load the model once; a model folder changed on disk is not
    noticed until the process restarts.
    """
    device = task_device(cfg.device, {}, cuda_available=torch.cuda.is_available())
    return _tagger(resolve_path(cfg.model), cfg.model_dump_json(), device)


def tag_texts(
    texts: Sequence[str],
    conf: str | Config | None = None,
    *,
    ids: Sequence[str] | None = None,
    titles: Sequence[str | None] | None = None,
) -> pd.DataFrame:
    r"""Entities of ``texts`` as a pandas DataFrame with the columns of the ``entities`` table but ``run_id``.

    ``conf`` is a YAML config file or a loaded :class:`~kazu_spark.config.Config` (None: the defaults,
    i.e. the bundled model). ``ids`` (default ``"0"``, ``"1"``, ... by position) become ``doc_id`` and, with
    the offsets, the ``entity_id`` keys: pass your own for keys stable across calls. ``titles`` (None
    entries allowed) are stored before the text as the job stores them.

    Offsets: ``start``/``end`` are code points into the stored document text, which is the text itself, or
    ``title + "\n\n" + text`` when a non-blank title is given (:func:`text_documents` returns it); so
    ``stored[start:end] == mention``, and ``section`` says whether the entity is in the title or the body.
    Rows are sorted by the document's position in ``texts``, then ``start``. Empty or blank texts give no
    rows; no texts give an empty DataFrame with the same columns. Errors on bad input: see
    :func:`text_documents`.

    Example:
        >>> title, text = "BRCA1 in breast cancer", "Tamoxifen treats it in mice."
        >>> entities = tag_texts([text], ids=["pmid:1"], titles=[title])
        >>> for row in entities[["doc_id", "section", "start", "end", "mention", "entity_class"]].itertuples():
        ...     print(*row[1:])
        pmid:1 title 0 5 BRCA1 gene
        pmid:1 title 9 22 breast cancer disease
        pmid:1 body 24 33 Tamoxifen drug
        pmid:1 body 47 51 mice species
        >>> stored = title + "\n\n" + text
        >>> all(stored[s:e] == m for s, e, m in zip(entities["start"], entities["end"], entities["mention"]))
        True
        >>> tag_texts([]).columns.tolist()[:4]
        ['entity_id', 'doc_id', 'section', 'start']
    """

    cfg = conf if isinstance(conf, Config) else load_config(conf)
    if cfg.ner.steps != ["model"]:
        raise ConfigError(f"tag_texts runs the model step alone; ner.steps {cfg.ner.steps} needs annotate_dataframe")
    docs = text_documents(texts, ids=ids, titles=titles, max_chars=cfg.input.max_chars)
    if docs.empty:
        return pd.DataFrame(columns=column_names(ENTITY_ROWS_COLUMNS))
    tagger = local_tagger(cfg.ner)
    rows = cfg.ner.arrow_batch_rows  # documents per call, as the stage batches them
    batches = [
        entities_for_batch(tagger, docs.iloc[i : i + rows], abbreviations=cfg.ner.abbreviations)
        for i in range(0, len(docs), rows)
    ]
    position = {doc_id: i for i, doc_id in enumerate(docs["doc_id"])}

    def by_position(column: pd.Series) -> pd.Series:  # documents in input order, not in doc_id's string order
        return column.map(position) if column.name == "doc_id" else column

    entities = pd.concat(batches, ignore_index=True)
    return entities.sort_values(["doc_id", "start", "end", "entity_class"], key=by_position, ignore_index=True)
