"""The one training loop of teacher and student: AdamW, warm-up/decay, progress bar, checkpoints, resume.

Resumability: the batches of epoch ``e`` come from ``epoch_batches(e)``, a pure function of the
seed and ``e``, so step ``s`` is always batch ``s % steps_per_epoch`` of epoch ``s // steps_per_epoch``.
A checkpoint (``<checkpoint_dir>/step-NNNNNNNN.pt``) holds the trained module's weights, the optimizer
and scheduler states, torch's CPU (and CUDA) RNG states, the step and the seconds trained so far;
``resume=True`` loads the latest one, skips the batches already seen and continues. On CPU with the
same settings a resumed run ends with the same weights as an uninterrupted one (tests assert it).
Checkpoints are written atomically (temporary file, then rename); the last ``KEEP_CHECKPOINTS`` stay.

The learning rate warms up linearly over ``warmup_ratio`` of the steps, then decays linearly to zero
at the planned last step, or at the time budget if that comes first (a time-capped run still ends
annealed, but is then not reproducible step for step).

Example (a linear model fitting y = 2x for 3 steps):
    >>> import tempfile
    >>> lin = torch.nn.Linear(1, 1)
    >>> data = [torch.tensor([[1.0], [2.0]])]
    >>> loss = lambda batch: ((lin(batch) - 2 * batch) ** 2).mean()
    >>> done = fit(lin, lambda epoch: data, loss, LoopSettings(total_steps=3, lr=0.1, show_progress=False))
    >>> done.step, done.epochs
    (3, 3)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch.optim.lr_scheduler import LambdaLR

from kazu_spark.config import TrainingRunConfig
from kazu_spark.runtime.precision import training_precision

logger = logging.getLogger(__name__)

#: checkpoints kept in the checkpoint folder (older ones are deleted after a new one is written)
KEEP_CHECKPOINTS = 2
CHECKPOINT_GLOB = "step-*.pt"
#: parameters whose name ends like this get no weight decay
NO_DECAY = ("bias", "LayerNorm.weight")
#: the :class:`TrainingSettings` fields a training summary records
SUMMARY_FIELDS = (
    "epochs", "lr", "batch_size", "seed", "warmup_ratio", "weight_decay", "num_threads", "precision", "max_steps",
    "time_budget_s",
)  # fmt: skip
#: the run settings' defaults (the teacher's): the config's, so that they are declared once
DEFAULT_RUN = TrainingRunConfig()


@dataclass(frozen=True)
class LoopSettings:
    """Optimiser, schedule, precision and checkpointing of one training run."""

    total_steps: int
    lr: float = 1e-4
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    precision: str = "fp32"
    device: str = "cpu"
    time_budget_s: float | None = None
    checkpoint_dir: str | Path | None = None
    checkpoint_every: int = 500
    resume: bool = False
    log_every: int = 50
    show_progress: bool = True


@dataclass(frozen=True)
class TrainingSettings:
    """The run settings teacher training and distillation share: ``train(training=...)``, ``distill(training=...)``.

    The config's ``training.teacher`` / ``training.student`` sections
    (:class:`~kazu_spark.config.TrainingRunConfig`) hold all but the run-only fields; :meth:`from_config`
    builds the settings from one of them. The defaults are the config model's (the teacher's).

    ``epochs`` passes over the examples (fractional allowed) in batches of ``batch_size``, capped at
    ``max_steps`` steps or ``time_budget_s`` seconds: the learning rate ``lr`` warms up linearly over
    ``warmup_ratio`` of the run, then decays linearly to zero at whichever end comes first, so a run
    cut by the time budget still ends fully annealed. ``weight_decay``: AdamW's. ``seed`` seeds
    sampling, shuffling and initialisation; ``num_threads``: torch CPU threads; ``precision``: "fp32",
    "bf16" (CPU/CUDA autocast) or "auto" (:func:`~kazu_spark.runtime.precision.training_precision`).
    ``checkpoint_dir``, ``checkpoint_every``, ``resume``: resumable checkpoints (see the module docstring);
    ``show_progress``: draw the rich progress bar with ETA.

    Example:
        >>> run = TrainingSettings(epochs=2.0, max_steps=5)
        >>> run.planned_steps(100), TrainingSettings(epochs=2.0).planned_steps(100)
        (5, 8)
        >>> run.loop_settings(5, "cpu").lr, sorted(run.summary())[:3]
        (0.0001, ['batch_size', 'epochs', 'lr'])
    """

    epochs: float = DEFAULT_RUN.epochs
    lr: float = DEFAULT_RUN.lr
    batch_size: int = DEFAULT_RUN.batch_size
    seed: int = DEFAULT_RUN.seed
    warmup_ratio: float = DEFAULT_RUN.warmup_ratio
    weight_decay: float = DEFAULT_RUN.weight_decay
    num_threads: int = DEFAULT_RUN.num_threads
    precision: str = DEFAULT_RUN.precision
    max_steps: int | None = DEFAULT_RUN.max_steps
    time_budget_s: float | None = DEFAULT_RUN.time_budget_s
    checkpoint_dir: str | Path | None = None
    checkpoint_every: int = DEFAULT_RUN.checkpoint_every
    resume: bool = False
    show_progress: bool = True

    @classmethod
    def from_config(cls, run: TrainingRunConfig, **run_only: Any) -> TrainingSettings:
        """The settings of ``run`` (a config's ``training.teacher``, ``.student`` or ``.linker``), plus ``run_only``.

        ``run_only``: what only a run knows (``checkpoint_dir``, ``resume``, ``show_progress``).

        Example:
            >>> from kazu_spark.config import load_config
            >>> cfg = load_config(overrides={"training.student.epochs": "5"})
            >>> run = TrainingSettings.from_config(cfg.training.student, resume=True)
            >>> run.epochs, run.lr, run.resume
            (5.0, 0.0003, True)
        """
        return cls(**run.model_dump(include=set(TrainingRunConfig.model_fields)), **run_only)

    def planned_steps(self, examples: int) -> int:
        """Steps of ``epochs`` passes over ``examples`` in batches, capped at ``max_steps``."""
        total = math.ceil(math.ceil(examples / self.batch_size) * self.epochs)
        return min(total, self.max_steps) if self.max_steps is not None else total

    def start_torch(self) -> str:
        """Set torch's CPU threads and seed; return the device to train on ("cuda" when torch sees a GPU)."""
        torch.set_num_threads(self.num_threads)
        torch.manual_seed(self.seed)
        return "cuda" if torch.cuda.is_available() else "cpu"

    def loop_settings(self, total_steps: int, device: str) -> LoopSettings:
        """The :func:`fit` settings of a run of ``total_steps`` steps on ``device``."""
        return LoopSettings(
            total_steps=total_steps, lr=self.lr, warmup_ratio=self.warmup_ratio, weight_decay=self.weight_decay,
            precision=training_precision(device, self.precision), device=device, time_budget_s=self.time_budget_s,
            checkpoint_dir=self.checkpoint_dir, checkpoint_every=self.checkpoint_every, resume=self.resume,
            show_progress=self.show_progress,
        )  # fmt: skip

    def summary(self) -> dict[str, Any]:
        """The settings recorded in ``training_args.json`` (checkpointing and the progress bar are left out)."""
        return {name: getattr(self, name) for name in SUMMARY_FIELDS}


@dataclass(frozen=True)
class LoopResult:
    """Where the run ended: steps done, epochs started, seconds trained (resumed runs included), losses, and the
    autocast precision it ran at ("auto" resolved)."""

    step: int
    epochs: int
    seconds: float
    first_loss: float
    last_loss: float
    resumed_from: int
    precision: str


def latest_checkpoint(checkpoint_dir: str | Path | None) -> Path | None:
    """The checkpoint with the highest step in ``checkpoint_dir``, or None.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> for s in (5, 10): _ = (d / f"step-{s:08d}.pt").write_bytes(b"")
        >>> latest_checkpoint(d).name
        'step-00000010.pt'
    """
    if checkpoint_dir is None or not Path(checkpoint_dir).is_dir():
        return None
    found = sorted(Path(checkpoint_dir).glob(CHECKPOINT_GLOB))
    return found[-1] if found else None


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` with torch.save to a temporary file, then rename it into place; keep the newest few."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    for old in sorted(path.parent.glob(CHECKPOINT_GLOB))[:-KEEP_CHECKPOINTS]:
        old.unlink()


def _optimizer(module: torch.nn.Module, settings: LoopSettings) -> torch.optim.AdamW:
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in named if not n.endswith(NO_DECAY)], "weight_decay": settings.weight_decay},
        {"params": [p for n, p in named if n.endswith(NO_DECAY)], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=settings.lr)


def _progress(show: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),  # stdout stays free for the command's JSON summary
        disable=not show,
    )


def fit(
    module: torch.nn.Module,
    epoch_batches: Callable[[int], Sequence[Any]],
    loss_fn: Callable[[Any], torch.Tensor],
    settings: LoopSettings,
    description: str = "training",
) -> LoopResult:
    """Train ``module`` (already on ``settings.device``) for ``settings.total_steps`` steps.

    ``epoch_batches(e)`` lists epoch ``e``'s batches (0-based, deterministic in ``e``; every epoch
    as many as epoch 0); ``loss_fn(batch)`` returns the batch's scalar loss (it moves the batch to
    the device and runs the forward pass). Gradients are clipped to norm 1. Example: see the module docstring.
    """
    started = time.monotonic()
    optimizer = _optimizer(module, settings)
    warmup = max(1, int(settings.warmup_ratio * settings.total_steps))
    offset_s = 0.0

    def done_fraction(step: int) -> float:
        """Fraction of the run done: of the planned steps, or of the time budget if that is further."""
        seconds = offset_s + time.monotonic() - started
        budget = seconds / settings.time_budget_s if settings.time_budget_s else 0.0
        return max(step / settings.total_steps, budget)

    schedule = LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1.0 - done_fraction(s)))
    step = 0
    checkpoint = latest_checkpoint(settings.checkpoint_dir) if settings.resume else None
    if checkpoint is not None:
        state = torch.load(checkpoint, map_location=settings.device, weights_only=True)
        module.load_state_dict(state["module"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng_cpu"].cpu())
        if torch.cuda.is_available() and "rng_cuda" in state:
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng_cuda"]])
        step, offset_s = int(state["step"]), float(state["seconds"])
        logger.info("resumed from %s at step %d", checkpoint, step)
    resumed_from = step
    module.train()
    batches = epoch_batches(0)
    per_epoch = len(batches)
    if not per_epoch:
        raise ValueError("epoch_batches returned no batches: nothing to train on")
    epoch, first_loss, last_loss, running = 0, float("nan"), float("nan"), 0.0
    with _progress(settings.show_progress) as bar:
        task = bar.add_task(description, total=settings.total_steps, completed=step, loss=float("nan"))
        while done_fraction(step) < 1.0:
            if step // per_epoch != epoch:
                epoch = step // per_epoch
                batches = epoch_batches(epoch)
                if len(batches) != per_epoch:
                    raise ValueError(f"epoch {epoch} has {len(batches)} batches, epoch 0 had {per_epoch}")
            with torch.autocast(
                settings.device.split(":")[0], dtype=torch.bfloat16, enabled=settings.precision == "bf16"
            ):
                loss = loss_fn(batches[step % len(batches)])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            last_loss = loss.item()
            first_loss = last_loss if step == resumed_from + 1 else first_loss
            running += last_loss
            bar.update(task, completed=step, loss=last_loss)
            if step % settings.log_every == 0:
                logger.info("step %d/%d loss %.4f", step, settings.total_steps, running / settings.log_every)
                running = 0.0
            if settings.checkpoint_dir is not None and step % settings.checkpoint_every == 0:
                save_checkpoint(
                    Path(settings.checkpoint_dir) / f"step-{step:08d}.pt",
                    {
                        "module": module.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": schedule.state_dict(),
                        "rng_cpu": torch.get_rng_state(),
                        **({"rng_cuda": torch.cuda.get_rng_state_all()} if torch.cuda.is_available() else {}),
                        "step": step,
                        "seconds": offset_s + time.monotonic() - started,
                    },
                )
    seconds = round(offset_s + time.monotonic() - started, 1)
    return LoopResult(step, epoch + 1, seconds, first_loss, last_loss, resumed_from, settings.precision)
