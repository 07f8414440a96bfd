"""Evaluate a model folder on a CoNLL/IOB corpus split with strict entity-level scores.

Each sentence, the space-joined text of its tokens, is a document for the job's own composition: with a
Spark session, :func:`~kazu_spark.pipeline.frames.annotate_frames` (every step of ``ner.steps``, merged by
``ner.merge``: dictionary NER counts when configured); without one, :func:`~kazu_spark.pipeline.texts.tag_texts`,
which runs the same per-batch function as the Spark model step (the ``model`` step alone, the default;
a config with other steps needs the session). Predicted character spans are compared with the gold ones
(:mod:`kazu_spark.evaluation.metrics`):
a prediction counts only if its start, end and class equal a gold entity's, which also means it
must fall on the corpus's token boundaries. Only the classes the corpus annotates (per the label
map) are scored; predictions of other classes are dropped, since the corpus cannot judge them.

Example (a one-sentence corpus against the bundled model; the model card has the real numbers):
    >>> import tempfile, kazu_spark
    >>> folder = Path(tempfile.mkdtemp()) / "NCBI-disease-IOB"
    >>> folder.mkdir()
    >>> _ = (folder / "devel.tsv").write_text("Breast\\tB-Disease\\ncancer\\tI-Disease\\nrisk\\tO\\n\\n")
    >>> res = evaluate_conll(Path(kazu_spark.__file__).parent / "resources" / "model", folder / "devel.tsv")
    >>> res["corpus"], list(res["per_class"]), res["sentences"], res["overall"]["tp"]
    ('NCBI-disease-IOB', ['disease'], 1, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kazu_spark.config import Config, Decoder, Device, Precision
from kazu_spark.documents.conll import DEFAULT_LABEL_MAP, corpus_type_map, join_sentences, load_label_map
from kazu_spark.documents.labelled import read_labelled
from kazu_spark.evaluation.metrics import entity_scores
from kazu_spark.ner.decode import check_labels
from kazu_spark.ner.guidelines import read_guidelines
from kazu_spark.ner.model import load_token_classifier, versioned_name
from kazu_spark.ner.model_files import resolve_model_dir
from kazu_spark.ner.thresholds import resolve_class_thresholds
from kazu_spark.pipeline.frames import annotate_dataframe
from kazu_spark.pipeline.texts import tag_texts

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _predict(texts: list[str], cfg: Config, spark: SparkSession | None) -> list[list[tuple[int, int, str]]]:
    """Predicted (start, end, class) spans per text, by the composition the job runs (see the module doc)."""
    ids = [str(i) for i in range(len(texts))]
    if spark is None:
        rows = tag_texts(texts, cfg, ids=ids)
        found = rows[["doc_id", "start", "end", "entity_class"]].itertuples(index=False, name=None)
    else:
        sentences = spark.createDataFrame(list(zip(ids, texts, strict=True)), "doc_id string, text string")
        entities, _ = annotate_dataframe(sentences, id_col="doc_id", text_col="text", conf=cfg)
        found = entities.select("doc_id", "start", "end", "entity_class").collect()
    spans: list[list[tuple[int, int, str]]] = [[] for _ in texts]
    for doc_id, start, end, entity_class in found:
        spans[int(doc_id)].append((start, end, entity_class))
    return spans


def evaluate_conll(
    model_dir: str | Path,
    conll_path: str | Path,
    *,
    corpus: str | None = None,
    label_map: str | Path = DEFAULT_LABEL_MAP,
    threshold: float = 0.5,
    decoder: Decoder = "sigmoid",
    precision: Precision = "fp32",
    max_batch_tokens: int | None = None,
    num_threads: int | None = None,
    device: Device = "cpu",
    sentences_per_text: int = 1,
    whole_documents: bool = False,
    guideline: str | None = None,
    cfg: Config | None = None,
    spark: SparkSession | None = None,
) -> dict:
    """Strict precision/recall/F1 of the model in ``model_dir`` on one IOB or PubTator file.

    Args:
        model_dir: model folder (config.json, model.safetensors, tokenizer, labels.txt).
        conll_path: ``token<TAB>tag`` file, or a PubTator file (text as printed, cut into sentences; every gold
            mention kept: :mod:`kazu_spark.documents.labelled`); its parent folder names the corpus unless ``corpus``
            is given.
        label_map: YAML corpus -> {corpus type -> class}; the corpus's classes are the ones scored.
        threshold, decoder, precision, max_batch_tokens, num_threads, device: the ``ner`` settings used.
        sentences_per_text: tag every this many consecutive sentences as one text
            (:func:`~kazu_spark.documents.conll.join_sentences`; 10 is about an abstract), so that the
            scores see the windows' size and overlap; 1 (the default) tags sentence by sentence.
        whole_documents: a PubTator file only: tag each document whole, title and abstract, as ``annotate`` does
            (:func:`~kazu_spark.documents.labelled.pubtator_documents`), so the scores see what one sentence learns
            from another (an abbreviation defined earlier: ``ner.abbreviations``); not with ``sentences_per_text``.
        guideline: the corpus convention to tag by (:mod:`kazu_spark.ner.guidelines`): a corpus name, or ``own``, the
            evaluated corpus's own when the model was trained with its marker (else the blend); None: ``cfg``'s
            ``ner.guideline``.
        cfg: the rest of the configuration (``ner.steps``, ``ner.merge``, ``ner.dictionary``, the ontologies a
            dictionary step searches); default: the built-in defaults (the model step alone). Linking is off.
        spark: run the job's Spark composition (needed when ``cfg.ner.steps`` is more than the model).

    Returns:
        ``{"corpus", "model", "steps", "known_names", "guideline", "threshold", "decoder", "aggregation",
        "inference_precision", "sentences", "sentences_per_text", "documents", "window", "stride", "class_thresholds",
        "overall": {precision, recall, f1, tp, fp, fn}, "per_class": {class: {...}}}``; ``class_thresholds`` are the
        per-class thresholds decoded with (the model folder's ``thresholds.json`` unless ``cfg`` says otherwise,
        :mod:`kazu_spark.ner.thresholds`), or None; ``guideline`` the corpus convention tagged by (None: the blend).
    """
    conll_path = Path(conll_path)
    corpus = corpus or conll_path.parent.name
    types = corpus_type_map(load_label_map(label_map), corpus)
    scored = set(types.values())
    if whole_documents and sentences_per_text != 1:
        raise ValueError("whole documents or sentences per text, not both")
    sentences = read_labelled(conll_path, types, corpus=corpus, whole_documents=whole_documents)
    texts = sentences if whole_documents else join_sentences(sentences, sentences_per_text)
    base = cfg or Config()
    if guideline == "own":
        guideline = corpus if corpus in read_guidelines(resolve_model_dir(model_dir)) else None
    elif guideline is None:
        guideline = base.ner.guideline
    ner = base.ner.model_copy(
        update={
            "guideline": guideline,
            "model": str(model_dir),
            "threshold": threshold,
            "decoder": decoder,
            "precision": precision,
            "max_batch_tokens": max_batch_tokens,
            "num_threads": num_threads,
            "device": device,
        }
    )
    cfg = base.model_copy(update={"ner": ner, "linking": base.linking.model_copy(update={"enabled": False})})
    predicted = _predict([t.text for t in texts], cfg, spark)
    scores = entity_scores(
        [t.entities for t in texts],
        [[span for span in spans if span[2] in scored] for spans in predicted],
        classes=scored,
    )
    return {
        "corpus": corpus,
        "model": versioned_name(load_token_classifier(model_dir)),
        "steps": cfg.ner.steps,
        "known_names": cfg.ner.known_names,
        "guideline": cfg.ner.guideline,
        "threshold": threshold,
        "class_thresholds": resolve_class_thresholds(cfg.ner, resolve_model_dir(model_dir)),
        "decoder": decoder,
        "aggregation": cfg.ner.aggregation,
        "inference_precision": precision,
        "sentences": None if whole_documents else len(sentences),
        "sentences_per_text": sentences_per_text,
        "documents": len(texts) if whole_documents else None,
        "window": cfg.ner.window,
        "stride": cfg.ner.stride,
        **scores,
    }


def evaluate_corpora(
    model_dir: str | Path,
    corpora_root: str | Path,
    *,
    decoders: Sequence[str] = ("sigmoid",),
    label_map: str | Path = DEFAULT_LABEL_MAP,
    **kwargs,
) -> list[dict]:
    """:func:`evaluate_conll` on ``<root>/<corpus>/devel.tsv`` of every label-map corpus that has one, per decoder.

    Decoders the model's labels cannot feed (e.g. ``sigmoid`` on an IO-tagged model) are skipped.
    ``kwargs`` go to :func:`evaluate_conll`. Results are ordered by corpus, then decoder.

    Example (the bundled model on a one-sentence NCBI-disease devel split, BIO and IO decoding):
        >>> import tempfile, kazu_spark
        >>> root = Path(tempfile.mkdtemp())
        >>> (root / "NCBI-disease-IOB").mkdir()
        >>> _ = (root / "NCBI-disease-IOB" / "devel.tsv").write_text("Breast\\tB-Disease\\ncancer\\tI-Disease\\n\\n")
        >>> model = Path(kazu_spark.__file__).parent / "resources" / "model"
        >>> [(r["corpus"], r["decoder"]) for r in evaluate_corpora(model, root, decoders=["sigmoid", "io"])]
        [('NCBI-disease-IOB', 'sigmoid'), ('NCBI-disease-IOB', 'io')]
    """
    root = Path(corpora_root)
    corpora = sorted(c for c in load_label_map(label_map) if (root / c / "devel.tsv").is_file())
    if not corpora:
        raise ValueError(f"no <corpus>/devel.tsv of a label-map corpus under {root}")
    labels = load_token_classifier(model_dir).labels
    usable = [d for d in decoders if _decodes(labels, d)]
    return [
        evaluate_conll(model_dir, root / corpus / "devel.tsv", label_map=label_map, decoder=decoder, **kwargs)
        for corpus in corpora
        for decoder in usable
    ]


def _decodes(labels: Sequence[str], decoder: str) -> bool:
    try:
        check_labels(labels, decoder)
    except ValueError:
        return False
    return True
