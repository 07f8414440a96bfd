"""The teacher recipe's optional stages: MLM pretraining on in-domain text, and an ensemble of teachers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from kazu_spark.cli.main import main
from kazu_spark.ner.guidelines import GUIDELINES_FILE
from kazu_spark.ner.labels import BIO_LABELS
from kazu_spark.ner.tagger import Tagger
from kazu_spark.training import mlm as mlm_module
from kazu_spark.training.loop import TrainingSettings
from kazu_spark.training.mlm import pretrain_mlm
from kazu_spark.training.recipe import _train_teachers, train_all, unlabelled_documents
from kazu_spark.training.soft_labels import dequantise, soft_label_rows
from kazu_spark.training.train import INITIAL_BIAS, train
from tests.conftest import build_encoder_dir, build_model_dir
from tests.test_training import BC2GM, BIORED, DOCS, NCBI, write_conll

EMBEDDINGS = "bert.embeddings.word_embeddings.weight"


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpora")
    for name, sentences in (("NCBI-disease-IOB", NCBI), ("BC2GM-IOB", BC2GM)):
        write_conll(root / name / "train.tsv", sentences)
        write_conll(root / name / "devel.tsv", sentences[:2])
    (root / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_encoder_dir(tmp_path_factory.mktemp("base") / "bert")


def _mlm(texts: list[str], base: Path, out: Path, **settings: object) -> dict:
    run = TrainingSettings(epochs=2, batch_size=2, lr=1e-2, show_progress=False, **settings)
    return pretrain_mlm(texts, out, base_model=base, num_layers=1, max_len=16, training=run)


def test_mlm_resumes_to_the_uninterrupted_weights_and_a_teacher_starts_from_it(
    corpora: Path, base_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = unlabelled_documents([corpora / "docs.jsonl"], corpora)["text"].tolist()
    assert len(texts) == len(DOCS) + len(NCBI) + len(BC2GM)  # the documents and the train sentences, no devel
    straight = _mlm(texts, base_model, tmp_path / "straight")
    assert straight["steps"] >= 6 and straight["final_loss"] < straight["first_loss"]

    real, calls = mlm_module.DataCollatorForLanguageModeling, []

    class CrashInStep5(real):
        def __call__(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 5:
                raise RuntimeError("simulated crash")
            return super().__call__(*args, **kwargs)

    monkeypatch.setattr(mlm_module, "DataCollatorForLanguageModeling", CrashInStep5)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(RuntimeError, match="simulated crash"):
        _mlm(texts, base_model, tmp_path / "resumed", checkpoint_dir=ckpt, checkpoint_every=2)
    monkeypatch.setattr(mlm_module, "DataCollatorForLanguageModeling", real)
    resumed = _mlm(texts, base_model, tmp_path / "resumed", checkpoint_dir=ckpt, checkpoint_every=2, resume=True)
    assert resumed["resumed_from_step"] == 4 and resumed["steps"] == straight["steps"]
    a, b = load_file(tmp_path / "straight" / "model.safetensors"), load_file(tmp_path / "resumed" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a), "masks or weights differ after resuming"
    assert not torch.equal(a[EMBEDDINGS], load_file(base_model / "model.safetensors")[EMBEDDINGS])

    # a teacher fine-tuned from the MLM folder starts from its encoder (one step at a negligible rate)
    still = TrainingSettings(batch_size=2, max_steps=1, lr=1e-12, show_progress=False)
    train(corpora, tmp_path / "teacher", base_model=tmp_path / "straight", num_layers=1, training=still)
    teacher = load_file(tmp_path / "teacher" / "model.safetensors")[EMBEDDINGS]
    assert torch.equal(teacher, a[EMBEDDINGS].to(torch.float16))


def test_an_ensemble_of_teachers_labels_with_the_mean_of_their_probabilities(tmp_path: Path) -> None:
    sure = build_model_dir(tmp_path / "sure", fire=(), logits={"B-gene": 3.0})
    unsure = build_model_dir(tmp_path / "unsure", fire=(), logits={"B-gene": -1.0})
    docs = pd.DataFrame(
        {"doc_id": ["d"], "text": ["BRCA1 binds BARD1"], "sections": [[{"name": "body", "start": 0, "end": 17}]],
         "content_hash": ["h"]}
    )  # fmt: skip
    taggers = [Tagger.from_dir(folder, precision="fp32") for folder in (sure, unsure)]
    one, two = (soft_label_rows(t, docs) for t in taggers)
    both = soft_label_rows(taggers, docs)
    assert both["teacher"].iat[0] == f"{taggers[0].name}+{taggers[1].name}"
    probs = [
        dequantise(rows["probs"].iat[0], len(BIO_LABELS))[:, BIO_LABELS.index("B-gene")] for rows in (one, two, both)
    ]
    expected = (1 / (1 + np.exp(-3.0)) + 1 / (1 + np.exp(1.0))) / 2
    np.testing.assert_allclose(probs[2], expected, atol=2 / 255)
    np.testing.assert_allclose(probs[2], (probs[0] + probs[1]) / 2, atol=2 / 255)
    with pytest.raises(ValueError, match="cannot be averaged"):
        soft_label_rows([taggers[0], Tagger.from_dir(unsure, window=16, stride=4)], docs)


def test_train_all_pretrains_then_distils_from_an_ensemble(corpora: Path, base_model: Path, tmp_path: Path) -> None:
    quick = TrainingSettings(epochs=1, batch_size=2, show_progress=False)
    summary = train_all(
        corpora, [corpora / "docs.jsonl"], tmp_path / "out", base_model=base_model, teacher_layers=1,
        student_shape={"layers": 1, "hidden": 24, "heads": 2, "intermediate": 32}, teacher_training=quick,
        student_training=quick, mlm_training=quick, teachers=2,
    )  # fmt: skip
    out = tmp_path / "out"
    assert json.loads((out / "teacher" / "training_args.json").read_text())["base_model"] == str(out / "mlm")
    assert {"mlm", "teacher", "teacher-1", "student"} <= summary.keys()
    seeds = [json.loads((out / name / "training_args.json").read_text())["seed"] for name in ("teacher", "teacher-1")]
    assert seeds[1] == seeds[0] + 1
    labelled = pd.read_parquet(out / "soft_labels.parquet")
    assert labelled["teacher"].str.count(r"\+").eq(1).all()


def test_train_mlm_command_pretrains_on_the_corpora_and_needs_text(
    corpora: Path, base_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "mlm"
    main(["train", "mlm", "--corpora", str(corpora), "--unlabelled", str(corpora / "docs.jsonl"), "--out", str(out),
          "--base-model", str(base_model), "--layers", "1", "--max-len", "16", "--max-steps", "2",
          "--batch-size", "2"])  # fmt: skip
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["texts"] == len(DOCS) + len(NCBI) + len(BC2GM)
    assert json.loads((out / "training_args.json").read_text())["corpora_root"] == str(corpora)
    with pytest.raises(SystemExit):
        main(["train", "mlm", "--out", str(tmp_path / "none")])
    assert "train mlm needs text" in capsys.readouterr().err
    # a PubTator file alone is text enough: BioRED's two titles and three abstract sentences
    main(["train", "mlm", "--train-file", f"BioRED={BIORED}", "--out", str(tmp_path / "biored"),
          "--base-model", str(base_model), "--layers", "1", "--max-len", "16", "--max-steps", "1"])  # fmt: skip
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["texts"] == 5 and summary["train_files"] == {"BioRED": str(BIORED)}


def test_teachers_trained_side_by_side_equal_those_trained_one_after_the_other(
    corpora: Path, base_model: Path, tmp_path: Path
) -> None:
    """The GPU path of an ensemble (one process per teacher) on CPU: same seeds, same weights as in turn."""
    quick = TrainingSettings(batch_size=2, max_steps=2, lr=1e-3, num_threads=1, show_progress=False)

    def runs(folder: str) -> list[dict]:
        return [
            {"corpora_root": corpora, "out_dir": tmp_path / folder / f"t{k}", "base_model": base_model,
             "num_layers": 1, "training": replace(quick, seed=13 + k)}
            for k in range(2)
        ]  # fmt: skip

    _train_teachers(runs("parallel"), parallel=True)
    _train_teachers(runs("serial"), parallel=False)
    for k in range(2):
        a = load_file(tmp_path / "parallel" / f"t{k}" / "model.safetensors")
        b = load_file(tmp_path / "serial" / f"t{k}" / "model.safetensors")
        assert all(torch.equal(a[name], b[name]) for name in a)
    first, second = (load_file(tmp_path / "serial" / f"t{k}" / "model.safetensors") for k in range(2))
    assert not torch.equal(first["classifier.weight"], second["classifier.weight"])  # two seeds, two teachers


CDR = [("Aspirin causes Reye syndrome", [(0, 1, "Chemical"), (2, 4, "Disease")]),
       ("Lithium toxicity", [(0, 1, "Chemical"), (1, 2, "Disease")])]  # fmt: skip


def _quick_train_all(base_model: Path, tmp_path: Path, **options: object) -> dict:
    """``train_all`` of 1-layer models on a two-sentence BC5CDR folder, without thresholds; ``options``: more of its
    keyword arguments."""
    root = tmp_path / "corpora"
    for split in ("train", "devel"):
        write_conll(root / "BC5CDR-IOB" / f"{split}.tsv", CDR)
    quick = TrainingSettings(epochs=3, batch_size=2, lr=1e-2, show_progress=False)
    return train_all(
        root, [], tmp_path / "out", base_model=base_model, teacher_layers=1, teacher_training=quick,
        student_shape={"layers": 1, "hidden": 24, "heads": 2, "intermediate": 32}, student_training=quick,
        threshold_gain=None, **options,
    )  # fmt: skip


def test_train_all_learns_only_the_classes_a_corpus_is_trained_for(base_model: Path, tmp_path: Path) -> None:
    """--train-classes BC5CDR-IOB=disease: its chemicals are plain text to training (the drug columns stay as
    initialised), while the devel table still scores them."""
    summary = _quick_train_all(base_model, tmp_path, train_classes={"BC5CDR-IOB": ["disease"]})
    teacher = tmp_path / "out" / "teacher"
    assert json.loads((teacher / "training_args.json").read_text())["annotated_classes"] == {"BC5CDR-IOB": ["disease"]}
    bias = load_file(teacher / "model.safetensors")["classifier.bias"].float()
    assert bias[BIO_LABELS.index("B-drug")].item() == INITIAL_BIAS
    assert bias[BIO_LABELS.index("B-disease")].item() != INITIAL_BIAS
    assert summary["train_classes"] == {"BC5CDR-IOB": ["disease"]}
    assert "| BC5CDR-IOB | sigmoid | drug |" in (teacher / "MODEL_CARD.md").read_text()


def test_train_all_trains_its_teacher_with_guideline_markers_and_distils_the_blend(
    base_model: Path, tmp_path: Path
) -> None:
    """--guidelines: the teacher sees its corpus's marker (its folder maps the corpus to it), and restricted
    classes are learnt under the marker; the student, distilled from the teacher's blend, has no markers."""
    summary = _quick_train_all(base_model, tmp_path, guidelines=1.0, train_classes={"BC5CDR-IOB": ["disease"]})
    teacher = tmp_path / "out" / "teacher"
    assert json.loads((teacher / GUIDELINES_FILE).read_text()) == {"BC5CDR-IOB": "[unused1]"}
    assert json.loads((teacher / "training_args.json").read_text())["annotated_classes"]["BC5CDR-IOB"] == [
        "disease",
        "drug",
    ]  # every sentence marked: its chemicals are trained too
    assert not (tmp_path / "out" / "student" / GUIDELINES_FILE).exists()
    assert summary["guidelines"] == 1.0


def test_train_all_learns_from_a_pubtator_file_in_every_stage(base_model: Path, tmp_path: Path) -> None:
    """--train-file BioRED=<PubTator>: the teacher trains on its sentences for BioRED's classes, the student's gold
    loss reads them too, and they are soft-labelled as text beside the IOB sentences."""
    summary = _quick_train_all(base_model, tmp_path, train_files={"BioRED": BIORED})
    teacher = json.loads((tmp_path / "out" / "teacher" / "training_args.json").read_text())
    student = json.loads((tmp_path / "out" / "student" / "training_args.json").read_text())
    assert teacher["annotated_classes"]["BioRED"] == ["cell_line", "disease", "drug", "gene", "species"]
    assert teacher["sentences"] == len(CDR) + 5 and student["gold_files"] == {"BioRED": str(BIORED)}
    assert summary["soft_labels"]["documents"] == len(CDR) + 5  # BioRED's two titles and three abstract sentences
    assert summary["train_files"] == {"BioRED": str(BIORED)}


@pytest.mark.parametrize(
    ("flag", "message"),
    [("--train-classes=BC5CDR-IOB=species", "BC5CDR-IOB"), (f"--train-file=Nope={BIORED}", "'Nope' is not in")],
)
def test_train_all_refuses_a_corpus_option_the_label_map_cannot_take(
    tmp_path: Path, capsys: pytest.CaptureFixture, flag: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "all", "--corpora", str(tmp_path), "--out", str(tmp_path / "out"), flag])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err and not (tmp_path / "out").exists()
