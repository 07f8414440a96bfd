"""Evaluate a model folder on a CoNLL/IOB corpus split with strict entity-level scores.

Each sentence is tagged as the space-joined text of its tokens with :meth:`Tagger.tag`, and
predicted character spans are compared with the gold ones (:mod:`kazu_spark.training.metrics`):
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

from pathlib import Path

from kazu_spark.ner.tagger import Tagger
from kazu_spark.training.conll import DEFAULT_LABEL_MAP, corpus_type_map, load_label_map, read_conll
from kazu_spark.training.metrics import entity_scores


def evaluate_conll(
    model_dir: str | Path,
    conll_path: str | Path,
    *,
    corpus: str | None = None,
    label_map: str | Path = DEFAULT_LABEL_MAP,
    threshold: float = 0.5,
    decoder: str = "sigmoid",
    precision: str = "fp32",
    batch_size: int = 64,
    num_threads: int | None = None,
) -> dict:
    """Strict precision/recall/F1 of the model in ``model_dir`` on one IOB file.

    Args:
        model_dir: model folder (config.json, model.safetensors, tokenizer, labels.txt).
        conll_path: ``token<TAB>tag`` file; its parent folder names the corpus unless ``corpus`` is given.
        label_map: YAML corpus -> {corpus type -> class}; the corpus's classes are the ones scored.
        threshold, decoder, precision, batch_size, num_threads: passed to :meth:`Tagger.from_dir`.

    Returns:
        ``{"corpus", "model", "threshold", "inference_precision", "sentences", "overall": {precision, recall, f1,
        tp, fp, fn}, "per_class": {class: {...}}}``.
    """
    conll_path = Path(conll_path)
    corpus = corpus or conll_path.parent.name
    types = corpus_type_map(load_label_map(label_map), corpus)
    scored = set(types.values())
    sentences = read_conll(conll_path, types, corpus=corpus)
    tagger = Tagger.from_dir(
        model_dir,
        precision=precision,
        threshold=threshold,
        decoder=decoder,
        batch_size=batch_size,
        num_threads=num_threads,
    )
    predicted = tagger.tag([s.text for s in sentences])
    scores = entity_scores(
        [s.entities for s in sentences],
        [[(p.start, p.end, p.entity_class) for p in spans if p.entity_class in scored] for spans in predicted],
        classes=scored,
    )
    return {
        "corpus": corpus,
        "model": tagger.name,
        "threshold": threshold,
        "decoder": decoder,
        "inference_precision": precision,
        "sentences": len(sentences),
        **scores,
    }
