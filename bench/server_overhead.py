"""The forward server's own work per window, with a forward that costs nothing (not a test).

:class:`~kazu_spark.ner.forward_server.Forwards` stacks the windows of the requests waiting, plans them
(``plan_buckets``), cuts each batch out, scatters its logits back and cuts each request's share. On a GPU that Python
time runs between the device's forwards, so it should stay well under the forward's own time per window (a
128-token window is about 16 us of an H100's best bare forward, 7.8M tokens/s). The model here is a stub that returns
logits of the right shape at once, so what is timed is the server's work alone. The requests are like a task's: 1,000
windows each, a quarter of them short (15-60 tokens, titles and last pieces), the rest 130.

Run:  PYTHONPATH=$PWD .venv/bin/python bench/server_overhead.py --requests 16 --windows 1000
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import numpy as np
import torch

from kazu_spark.ner.batching import DEFAULT_BATCH_TOKENS, pad_ids
from kazu_spark.ner.forward_server import Forwards


class FreeForward(torch.nn.Module):
    """A token classifier's interface with no work: fp16 logits of the input's shape, uninitialised."""

    def __init__(self, labels: int = 13) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # the server reads the device from a parameter
        self.config = SimpleNamespace(num_labels=labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(logits=torch.empty((*input_ids.shape, self.config.num_labels), dtype=torch.float16))


def request(rng: np.random.Generator, windows: int) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.where(rng.random(windows) < 0.25, rng.integers(15, 60, windows), 130)
    batch = pad_ids([[2, *rng.integers(1000, 20000, n - 2), 3] for n in lengths], pad_id=0)
    return batch["input_ids"].numpy(), batch["attention_mask"].numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=16, help="requests answered together (tasks waiting)")
    parser.add_argument("--windows", type=int, default=1000, help="windows per request")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    requests = [request(rng, args.windows) for _ in range(args.requests)]
    forwards = Forwards(FreeForward(), DEFAULT_BATCH_TOKENS["cuda"])
    forwards.answer(requests[:1])  # warm-up
    seconds = []
    for _ in range(args.runs):
        start = time.perf_counter()
        forwards.answer(requests)
        seconds.append(time.perf_counter() - start)
    windows = args.requests * args.windows
    best = min(seconds)
    print(f"{args.requests} requests of {args.windows} windows: best of {args.runs} {best * 1e3:.1f} ms, "
          f"{best / windows * 1e6:.2f} us per window (median {np.median(seconds) / windows * 1e6:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
