"""Structured width pruning: cut a trained teacher down to TinyBERN2's shape as the student's starting point.

A randomly initialised 312-wide student must learn language from the soft labels alone; a student
cut out of the teacher starts with the teacher's knowledge (the Minitron recipe: prune by
importance, then distil). Kept, in their original order:

- the first ``layers`` encoder layers;
- the ``hidden`` residual-stream dimensions with the largest mean absolute activation over a
  calibration batch (all hidden states: embeddings and every kept layer), in every matrix that
  reads or writes the residual stream, the LayerNorms and the classifier included;
- per attention head, ``hidden / heads`` query/key dimensions (importance ``|W_q[j]| * |W_k[j]|``)
  and as many value dimensions (``|W_v[j]| * |W_o[:, j]|``); the queries are scaled so the
  attention logits keep their size under the smaller ``1/sqrt(head_dim)``;
- the ``intermediate`` feed-forward neurons with the largest ``|W_in[j]| * |W_out[:, j]|``.

The head count must stay the teacher's. Pruning to the teacher's own shape returns its exact
function (tested), so everything the cut loses is what the dropped dimensions carried.

Example (a 1-layer, 32-wide model cut to 16 wide):
    >>> import torch
    >>> from transformers import BertConfig, BertForTokenClassification
    >>> teacher = BertForTokenClassification(BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=1,
    ...     num_attention_heads=2, intermediate_size=64, num_labels=3))
    >>> student = prune_to_shape(teacher, torch.tensor([[1, 5, 7, 2]]), layers=1, hidden=16, intermediate=24)
    >>> student.config.hidden_size, student.config.intermediate_size, student.classifier.weight.shape
    (16, 24, torch.Size([3, 16]))
"""

from __future__ import annotations

import math

import torch
from transformers import BertConfig, BertForTokenClassification


def _top(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` largest scores, in ascending index order (so keeping all is the identity)."""
    return torch.topk(scores, k).indices.sort().values


@torch.no_grad()
def hidden_importance(model: BertForTokenClassification, calibration_ids: torch.Tensor, layers: int) -> torch.Tensor:
    """Mean |activation| of each residual-stream dimension over the calibration tokens and hidden states 0..layers."""
    mask = (calibration_ids != model.config.pad_token_id).long()
    out = model.bert(input_ids=calibration_ids, attention_mask=mask, output_hidden_states=True)
    weights = mask.unsqueeze(-1).float()
    return sum((h.abs() * weights).sum(dim=(0, 1)) / weights.sum() for h in out.hidden_states[: layers + 1])


def _rows(linear: torch.nn.Linear, out_idx: torch.Tensor | None, in_idx: torch.Tensor | None) -> dict:
    """A Linear's weight and bias restricted to the given output rows and input columns (None: all)."""
    weight, bias = linear.weight, linear.bias
    if out_idx is not None:
        weight, bias = weight[out_idx], bias[out_idx]
    if in_idx is not None:
        weight = weight[:, in_idx]
    return {"weight": weight.clone(), "bias": bias.clone()}


def _head_dims(scores: torch.Tensor, heads: int, keep: int) -> torch.Tensor:
    """Per head, the ``keep`` best of its dimensions: flat indices into the concatenated heads."""
    per_head = scores.view(heads, -1)
    width = per_head.shape[1]
    return torch.cat([_top(per_head[h], keep) + h * width for h in range(heads)])


@torch.no_grad()
def prune_to_shape(
    teacher: BertForTokenClassification,
    calibration_ids: torch.Tensor,
    *,
    layers: int,
    hidden: int,
    intermediate: int,
) -> BertForTokenClassification:
    """A ``layers``-deep, ``hidden``-wide BERT token classifier cut out of ``teacher`` (see the module docstring).

    ``calibration_ids``: a ``[batch, tokens]`` tensor of input ids (padding = the config's
    ``pad_token_id``) from the data the student will see; it only ranks the hidden dimensions.
    """
    tc = teacher.config
    heads = tc.num_attention_heads
    too_big = layers > tc.num_hidden_layers or hidden > tc.hidden_size or intermediate > tc.intermediate_size
    if hidden % heads or too_big:
        raise ValueError(
            f"cannot prune {tc.num_hidden_layers}x{tc.hidden_size} (ffn {tc.intermediate_size}, {heads} heads) to "
            f"{layers}x{hidden} (ffn {intermediate}): needs a smaller or equal shape and hidden divisible by {heads}"
        )
    teacher = teacher.float().eval()
    head_dim = hidden // heads
    keep_h = _top(hidden_importance(teacher, calibration_ids, layers), hidden)
    config = BertConfig.from_dict(
        {**tc.to_dict(), "num_hidden_layers": layers, "hidden_size": hidden, "intermediate_size": intermediate}
    )
    student = BertForTokenClassification(config)
    state: dict[str, torch.Tensor] = {}
    emb = teacher.bert.embeddings
    for name in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        state[f"bert.embeddings.{name}.weight"] = getattr(emb, name).weight[:, keep_h].clone()
    for part in ("weight", "bias"):
        state[f"bert.embeddings.LayerNorm.{part}"] = getattr(emb.LayerNorm, part)[keep_h].clone()
    scale = math.sqrt(head_dim / (tc.hidden_size // heads))  # q.k / sqrt(head_dim) keeps the teacher's magnitude
    for i in range(layers):
        layer, prefix = teacher.bert.encoder.layer[i], f"bert.encoder.layer.{i}."
        attn = layer.attention.self
        qk = _head_dims(attn.query.weight.norm(dim=1) * attn.key.weight.norm(dim=1), heads, head_dim)
        v = _head_dims(attn.value.weight.norm(dim=1) * layer.attention.output.dense.weight.norm(dim=0), heads, head_dim)
        ffn = _top(layer.intermediate.dense.weight.norm(dim=1) * layer.output.dense.weight.norm(dim=0), intermediate)
        linears = {
            "attention.self.query": _rows(attn.query, qk, keep_h),
            "attention.self.key": _rows(attn.key, qk, keep_h),
            "attention.self.value": _rows(attn.value, v, keep_h),
            "attention.output.dense": _rows(layer.attention.output.dense, keep_h, v),
            "intermediate.dense": _rows(layer.intermediate.dense, ffn, keep_h),
            "output.dense": _rows(layer.output.dense, keep_h, ffn),
        }
        linears["attention.self.query"] = {k: t * scale for k, t in linears["attention.self.query"].items()}
        for name, tensors in linears.items():
            state.update({f"{prefix}{name}.{k}": t for k, t in tensors.items()})
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            module = layer.get_submodule(norm)
            state.update({f"{prefix}{norm}.{k}": getattr(module, k)[keep_h].clone() for k in ("weight", "bias")})
    state.update({f"classifier.{k}": t for k, t in _rows(teacher.classifier, None, keep_h).items()})
    missing, unexpected = student.load_state_dict(state, strict=False)
    left = [k for k in missing if not k.endswith("position_ids")]
    if left or unexpected:
        raise RuntimeError(f"pruned state does not fit the student: missing {left}, unexpected {unexpected}")
    return student.eval()
