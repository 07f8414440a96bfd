"""Width pruning of a teacher into the student's starting point (``kazu_spark.training.prune``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForTokenClassification

from kazu_spark.training.prune import prune_to_shape
from kazu_spark.training.soft_labels import quantise


def _teacher(seed: int = 0) -> BertForTokenClassification:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, num_labels=5
    )
    return BertForTokenClassification(config).eval()


def _logits(model: BertForTokenClassification, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=(ids != 0).long()).logits


IDS = torch.tensor([[2, 14, 27, 33, 51, 3, 0, 0], [2, 9, 9, 41, 17, 22, 58, 3]])


def test_pruning_to_the_teachers_own_shape_is_the_teacher():
    teacher = _teacher()
    same = prune_to_shape(teacher, IDS, layers=2, hidden=32, intermediate=64)
    assert torch.equal(_logits(same, IDS), _logits(teacher, IDS))


def test_a_pruned_student_starts_closer_to_the_teacher_than_a_random_one():
    teacher = _teacher()
    ref = _logits(teacher, IDS).flatten()
    pruned = prune_to_shape(teacher, IDS, layers=2, hidden=24, intermediate=48)
    assert (pruned.config.hidden_size, pruned.config.intermediate_size, pruned.config.num_hidden_layers) == (24, 48, 2)
    torch.manual_seed(1)
    random_init = BertForTokenClassification(pruned.config).eval()
    corr = [float(np.corrcoef(_logits(m, IDS).flatten(), ref)[0, 1]) for m in (pruned, random_init)]
    assert corr[0] > 0.5 > abs(corr[1]), corr


def test_pruning_keeps_the_first_layers():
    teacher = _teacher()
    one = prune_to_shape(teacher, IDS, layers=1, hidden=32, intermediate=64)
    reference = BertForTokenClassification(BertConfig.from_dict({**teacher.config.to_dict(), "num_hidden_layers": 1}))
    reference.load_state_dict(teacher.state_dict(), strict=False)
    assert torch.equal(_logits(one, IDS), _logits(reference.eval(), IDS))


@pytest.mark.parametrize(("layers", "hidden", "intermediate"), [(3, 32, 64), (2, 40, 64), (2, 30, 64), (2, 32, 80)])
def test_shapes_the_teacher_cannot_give_are_refused(layers, hidden, intermediate):
    with pytest.raises(ValueError, match="cannot prune 2x32"):
        prune_to_shape(_teacher(), IDS, layers=layers, hidden=hidden, intermediate=intermediate)


def test_non_finite_teacher_probabilities_are_refused_not_stored():
    with pytest.raises(ValueError, match="non-finite"):
        quantise(np.array([[0.1, np.nan]], dtype=np.float32))
