"""`kazu-spark train`'s run settings: the config's `training` section, overridden by flags, then by `--set`.

No training runs here: the functions the commands call (`train`, `distill`, `train_all`, the Spark session)
are replaced by recorders, so each test sees the exact `TrainingSettings` a command would train with.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kazu_spark.cli import train as train_cli
from kazu_spark.cli.main import main
from kazu_spark.config import TrainingConfig, load_config
from kazu_spark.errors import ConfigError
from kazu_spark.training.distill import STUDENT_TRAINING
from kazu_spark.training.loop import TrainingSettings
from kazu_spark.training.train import TEACHER_TRAINING

#: what `train teacher` / `train distill` / `train all` trained with before the config had a training section
#: (their flags' defaults then); the student differed only in its learning rate
BEFORE = {
    "epochs": 3.0, "lr": 1e-4, "batch_size": 32, "seed": 13, "warmup_ratio": 0.06, "weight_decay": 0.01,
    "num_threads": 2, "precision": "fp32", "max_steps": None, "time_budget_s": None, "checkpoint_dir": None,
    "checkpoint_every": 500, "resume": False, "show_progress": True,
}  # fmt: skip
TEACHER = ["train", "teacher", "--corpora", "corpora", "--out", "out"]
DISTILL = ["train", "distill", "--soft-labels", "soft", "--teacher", "teacher", "--out", "out"]
ALL = ["train", "all", "--corpora", "corpora", "--out", "out"]


@pytest.fixture
def trained_with(monkeypatch: pytest.MonkeyPatch) -> dict[str, TrainingSettings]:
    """Stage -> the settings the command passed to training; Spark and torch are never started."""
    seen: dict[str, TrainingSettings] = {}

    def record(stage: str) -> Any:
        def run(*args: Any, training: TrainingSettings, **kwargs: Any) -> dict:
            seen[stage] = training
            return {}

        return run

    def train_all(*args: Any, teacher_training: TrainingSettings, student_training: TrainingSettings, **kw: Any):
        seen.update(teacher=teacher_training, student=student_training)
        return {}

    monkeypatch.setattr(train_cli, "train", record("teacher"))
    monkeypatch.setattr(train_cli, "distill", record("student"))
    monkeypatch.setattr(train_cli, "train_all", train_all)
    monkeypatch.setattr(train_cli, "session", lambda cfg, app: SimpleNamespace(stop=lambda: None))
    monkeypatch.setattr(train_cli, "load_token_classifier", lambda folder: None)
    monkeypatch.setattr(train_cli, "versioned_name", lambda loaded: "teacher@hash")
    monkeypatch.setattr(train_cli, "read_soft_labels", lambda spark, path, teacher: ([], None))
    return seen


@pytest.mark.parametrize("argv", [TEACHER, DISTILL, ALL, ["train", "--corpora", "c", "--out", "o"]])
def test_without_flags_every_command_trains_with_the_settings_of_before(argv, trained_with) -> None:
    main(argv)
    assert trained_with, "the command trained nothing"
    for stage, settings in trained_with.items():
        assert asdict(settings) == {**BEFORE, "lr": 3e-4 if stage == "student" else 1e-4}, stage


def test_the_shipped_defaults_are_the_config_models() -> None:
    """conf/default.yaml and the Python API (`train()`, `distill()` defaults) start from the same settings."""
    assert load_config().training == TrainingConfig()
    assert asdict(TEACHER_TRAINING) == BEFORE and asdict(STUDENT_TRAINING) == {**BEFORE, "lr": 3e-4}


def test_a_flag_and_a_set_both_reach_the_settings_and_set_is_applied_last(trained_with, tmp_path: Path) -> None:
    conf = tmp_path / "training.yaml"
    conf.write_text("training:\n  student:\n    epochs: 7\n    lr: 1.0e-3\n", encoding="utf-8")
    main([*DISTILL, "--conf", str(conf)])
    assert (trained_with["student"].epochs, trained_with["student"].lr) == (7.0, 1e-3)
    main([*DISTILL, "--conf", str(conf), "--lr", "2e-4"])  # a flag beats the config file
    assert (trained_with["student"].epochs, trained_with["student"].lr) == (7.0, 2e-4)
    main([*DISTILL, "--set", "training.student.lr=5e-5"])
    assert trained_with["student"].lr == 5e-5
    main([*DISTILL, "--set", "training.student.lr=5e-5", "--lr", "2e-4", "--batch-size", "8"])
    assert (trained_with["student"].lr, trained_with["student"].batch_size) == (5e-5, 8)  # --set last, as everywhere


def test_teacher_flags_and_run_only_flags(trained_with) -> None:
    main([*TEACHER, "--epochs", "5", "--max-steps", "40", "--time-budget-s", "60", "--precision", "bf16",
          "--checkpoint-dir", "/tmp/ckpt", "--checkpoint-every", "10", "--resume", "--seed", "7"])  # fmt: skip
    expected = {
        "epochs": 5.0, "max_steps": 40, "time_budget_s": 60.0, "precision": "bf16", "checkpoint_dir": "/tmp/ckpt",
        "checkpoint_every": 10, "resume": True, "seed": 7,
    }  # fmt: skip
    assert asdict(trained_with["teacher"]) == {**BEFORE, **expected}


def test_train_all_maps_stage_flags_to_their_stage_and_shared_flags_to_both(trained_with) -> None:
    main([*ALL, "--teacher-epochs", "8", "--teacher-budget-s", "140", "--student-epochs", "12",
          "--student-budget-s", "190", "--student-lr", "1.5e-4", "--batch-size", "16", "--num-threads", "4",
          "--set", "training.student.warmup_ratio=0.1"])  # fmt: skip
    teacher, student = asdict(trained_with["teacher"]), asdict(trained_with["student"])
    shared = {"batch_size": 16, "num_threads": 4}
    assert teacher == {**BEFORE, **shared, "epochs": 8.0, "time_budget_s": 140.0}
    assert student == {**BEFORE, **shared, "epochs": 12.0, "time_budget_s": 190.0, "lr": 1.5e-4, "warmup_ratio": 0.1}


@pytest.mark.parametrize(
    ("argv", "key"),
    [
        ([*TEACHER, "--epochs", "-1"], "training.teacher.epochs"),
        ([*DISTILL, "--set", "training.student.epochs=0"], "training.student.epochs"),
        ([*ALL, "--set", "training.student.epoch=3"], "training.student.epoch"),
        ([*ALL, "--set", "training.teacher.warmup_ratio=1.5"], "training.teacher.warmup_ratio"),
    ],
)
def test_an_invalid_setting_is_a_config_error_naming_the_key(argv, key, trained_with, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    error = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and not trained_with
    assert error.startswith("kazu-spark: error: invalid configuration: ") and f"{key}:" in error
    with pytest.raises(ConfigError, match=key):
        load_config(overrides={key: "-1"})
