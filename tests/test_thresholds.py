"""Per-class thresholds: tuned on devel splits, kept in the model folder, read by the tagger the job builds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import build_model_dir

from kazu_spark.cli.main import main
from kazu_spark.config import NerConfig
from kazu_spark.errors import ModelError
from kazu_spark.evaluation.ner import evaluate_conll
from kazu_spark.evaluation.thresholds import choose_thresholds, mean_f1, save_tuned, tune_thresholds
from kazu_spark.ner.decode import decode
from kazu_spark.ner.tagger import Tagger
from kazu_spark.ner.thresholds import THRESHOLDS_FILE, read_class_thresholds
from kazu_spark.training.model_card import write_model_card

#: every word a gene with p(B-gene) = 0.4: below the default threshold of 0.5
GENE_AT_0_4 = {"B-gene": math.log(0.4 / 0.6)}
TEXT = "alpha beta gamma"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("m") / "model", fire=(), logits=GENE_AT_0_4)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BC2GM devel split whose every word is a gene (the model finds them only below 0.5)."""
    root = tmp_path_factory.mktemp("corpora")
    (root / "BC2GM-IOB").mkdir()
    words = TEXT.split()
    (root / "BC2GM-IOB" / "devel.tsv").write_text(("".join(f"{w}\tB-GENE\n" for w in words) + "\n") * 4)
    return root


def test_each_class_decodes_at_its_own_threshold() -> None:
    labels = ["B-gene", "I-gene", "B-drug", "I-drug"]
    probs = np.array([[0.6, 0.0, 0.0, 0.0], [0.0, 0.0, 0.6, 0.0]])
    offsets = np.array([[0, 2], [3, 5]])
    found = decode(probs, offsets, "ab cd", labels, {"gene": 0.7, "drug": 0.55})
    assert [(s.start, s.entity_class) for s in found] == [(3, "drug")]
    assert len(decode(probs, offsets, "ab cd", labels, 0.55)) == 2


def test_a_class_shared_by_corpora_gets_the_threshold_best_for_their_mean() -> None:
    # corpus A alone would take 0.3 for disease, B alone 0.7; the mean of their F1s is best at 0.7
    counts = {
        "A": {"disease": {0.3: (10, 2, 0), 0.5: (9, 1, 1), 0.7: (8, 0, 2)}},
        "B": {
            "disease": {0.3: (5, 20, 0), 0.5: (5, 10, 0), 0.7: (5, 1, 0)},
            "gene": {0.3: (1, 0, 0), 0.5: (1, 0, 0), 0.7: (0, 0, 1)},
        },
    }
    chosen = choose_thresholds(counts, (0.3, 0.5, 0.7), start=0.5)
    assert chosen == {"disease": 0.7, "gene": 0.5}  # gene: a tie between 0.3 and 0.5 keeps the start
    assert mean_f1(counts, chosen) > mean_f1(counts, {"disease": 0.5, "gene": 0.5})


def test_tuned_thresholds_travel_with_the_model_and_the_job_decodes_with_them(model: Path, corpora: Path) -> None:
    result = tune_thresholds(model, corpora)
    assert result["thresholds"] == {"gene": 0.4}  # the highest threshold that finds the genes
    assert result["mean_f1"] == {"before": 0.0, "after": 1.0}
    assert result["cross_validated"]["after"] == 1.0
    assert not (model / THRESHOLDS_FILE).exists()  # tuning alone writes nothing

    save_tuned(model, result)
    assert read_class_thresholds(model, decoder="sigmoid", aggregation="first") == {"gene": 0.4}

    def tag(**settings: object) -> list:
        tagger = Tagger.from_config(model, NerConfig(precision="fp32", **settings), device="cpu")
        return [s.entity_class for s in tagger.tag([TEXT])[0]]

    assert tag() == ["gene"] * 3
    assert tag(class_thresholds={}) == [] and tag(aggregation="max") == []  # off, or tuned for another decoding
    scored = evaluate_conll(model, corpora / "BC2GM-IOB" / "devel.tsv")
    assert scored["overall"]["f1"] == 1.0 and scored["class_thresholds"] == {"gene": 0.4}
    card = write_model_card(model, {"epochs": 1, "model_name": "m"}, [scored]).read_text()
    assert (
        "Per-class thresholds from `thresholds.json`, tuned for the sigmoid decoder and first aggregation (gene 0.4"
        in card
    )
    (model / THRESHOLDS_FILE).unlink()


def test_train_thresholds_writes_them_only_when_asked(model: Path, corpora: Path, capsys) -> None:
    main(["train", "thresholds", "--model", str(model), "--corpora", str(corpora)])
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["thresholds"] == {"gene": 0.4}
    assert not (model / THRESHOLDS_FILE).exists()
    main(["train", "thresholds", "--model", str(model), "--corpora", str(corpora), "--write"])
    saved = json.loads((model / THRESHOLDS_FILE).read_text())
    assert saved["thresholds"] == {"gene": 0.4} and saved["tuning"]["mean_f1"]["after"] == 1.0
    (model / THRESHOLDS_FILE).unlink()


def test_a_broken_thresholds_file_is_a_model_error(tmp_path: Path) -> None:
    (tmp_path / THRESHOLDS_FILE).write_text('{"decoder": "sigmoid", "aggregation": "first", "thresholds": {"gene": 2}}')
    with pytest.raises(ModelError, match=r"thresholds must be in \(0, 1\]"):
        read_class_thresholds(tmp_path, decoder="sigmoid", aggregation="first")
    (tmp_path / THRESHOLDS_FILE).write_text("[1, 2]")
    with pytest.raises(ModelError, match="not a thresholds file"):
        read_class_thresholds(tmp_path, decoder="sigmoid", aggregation="first")
