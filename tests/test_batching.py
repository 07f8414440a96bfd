"""Token-budget batching and out-of-memory halving: every window once, within budget, results in input order."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from conftest import build_model_dir

from kazu_spark.ner.batching import is_out_of_memory, plan_batches, run_batches
from kazu_spark.ner.tagger import Tagger

LENGTHS = [random.Random(7).randint(3, 128) for _ in range(500)]


@pytest.mark.parametrize("budget", [64, 128, 1000, 4096])
def test_batches_cover_every_window_once_within_the_budget(budget: int):
    batches = plan_batches(LENGTHS, budget)
    assert sorted(i for batch in batches for i in batch) == list(range(len(LENGTHS)))
    for batch in batches:
        assert len(batch) * max(LENGTHS[i] for i in batch) <= budget
    # sorted by length: no batch holds a window longer than the shortest window of the next batch
    for batch, following in zip(batches, batches[1:], strict=False):
        assert max(LENGTHS[i] for i in batch) <= min(LENGTHS[i] for i in following)


def test_a_window_over_the_budget_gets_a_batch_of_its_own():
    assert plan_batches([10, 300, 20], 128) == [[0, 2], [1]]
    with pytest.raises(ValueError, match="positive"):
        plan_batches([1], 0)


def test_results_come_back_in_input_order():
    calls: list[list[int]] = []

    def forward(batch: list[int]) -> list[tuple[int, int]]:
        calls.append(batch)
        return [(i, LENGTHS[i]) for i in batch]

    assert run_batches(LENGTHS, forward, max_tokens=1000) == list(enumerate(LENGTHS))
    assert len(calls) == len(plan_batches(LENGTHS, 1000)) > 1


CPU_OOM = "DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes (out of memory)"


@pytest.mark.parametrize(
    "error", [torch.cuda.OutOfMemoryError("CUDA out of memory. Tried 1 GiB"), RuntimeError(CPU_OOM)]
)
def test_out_of_memory_halves_the_batch_and_loses_nothing(error: Exception):
    sizes: list[int] = []

    def forward(batch: list[int]) -> list[int]:
        sizes.append(len(batch))
        if len(batch) > 3:
            raise error
        return [i * 10 for i in batch]

    assert is_out_of_memory(error)
    assert run_batches(LENGTHS[:40], forward, max_tokens=100_000) == [i * 10 for i in range(40)]
    assert sizes[:3] == [40, 20, 10] and max(s for s in sizes if s <= 3) == 3


def test_other_errors_and_single_window_oom_propagate():
    def broken(batch: list[int]) -> list[int]:
        raise RuntimeError("shape mismatch")

    def never_fits(batch: list[int]) -> list[int]:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        run_batches([5, 5], broken, max_tokens=100)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        run_batches([5, 5], never_fits, max_tokens=100)


def test_tagger_output_is_unchanged_by_oom_retries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A model that runs out of memory on batches above 2 windows gives exactly the un-injected spans."""
    tagger = Tagger.from_dir(build_model_dir(tmp_path), precision="fp32", max_batch_tokens=100_000)
    texts = [" ".join(f"gene{i} variant" for i in range(n)) for n in (1, 80, 3, 200, 7)]
    expected = tagger.tag(texts)
    forward = type(tagger.model).forward
    seen: list[int] = []

    def oom_above_two(self: torch.nn.Module, input_ids: torch.Tensor, **kwargs: torch.Tensor):
        seen.append(len(input_ids))
        if len(input_ids) > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB")
        return forward(self, input_ids=input_ids, **kwargs)

    monkeypatch.setattr(type(tagger.model), "forward", oom_above_two)
    assert tagger.tag(texts) == expected
    assert max(seen) > 2 and any(n <= 2 for n in seen)
