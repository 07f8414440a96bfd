"""Teacher training, resume, soft labels and distillation on tiny models (1-layer BERTs, a few sentences)."""

from __future__ import annotations

import json
import shlex
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from kazu_spark.cli.main import main
from kazu_spark.config import NerConfig
from kazu_spark.errors import ConfigError
from kazu_spark.ner.labels import BIO_LABELS
from kazu_spark.ner.model import load_token_classifier, versioned_name
from kazu_spark.ner.tagger import Tagger
from kazu_spark.ner.windows import make_windows
from kazu_spark.training import train as train_module
from kazu_spark.training.distill import STUDENT_TRAINING, SoftRow, distill, read_soft_labels
from kazu_spark.training.label_job import write_soft_labels
from kazu_spark.training.loop import TrainingSettings
from kazu_spark.training.model_card import TABLE_HEADER
from kazu_spark.training.soft_labels import dequantise
from kazu_spark.training.train import INITIAL_BIAS, train
from tests.conftest import build_encoder_dir, build_model_dir

NCBI = [
    ("BRCA1 mutations cause breast cancer", [(3, 5, "Disease")]),
    ("Patients with Crohn disease", [(2, 4, "Disease")]),
    ("TP53 is silent in healthy tissue", []),
    ("Colon cancer and gastric cancer", [(0, 2, "Disease"), (3, 5, "Disease")]),
]
BC2GM = [
    ("BRCA1 binds BARD1 in cells", [(0, 1, "GENE"), (2, 3, "GENE")]),
    ("Expression of TP53 rises", [(2, 3, "GENE")]),
    ("The kinase EGFR is mutated", [(2, 3, "GENE")]),
    ("Nothing here", []),
]
BIORED = Path(__file__).parent / "data" / "linking" / "biored.pubtator"
DOCS = [
    {"pmid": "1", "title": "BRCA1 and breast cancer", "abstract": "BRCA1 mutations raise the risk of breast cancer."},
    {
        "pmid": "2",
        "title": "EGFR",
        "abstract": "EGFR inhibitors treat lung cancer in mice and men, often with a skin rash and diarrhoea.",
    },
    {"pmid": "3", "title": None, "abstract": "Crohn disease."},
]


def write_conll(path: Path, sentences: list[tuple[str, list[tuple[int, int, str]]]]) -> None:
    """Write ``token<TAB>tag`` lines; entities are (first token, end token, type)."""
    lines = []
    for text, entities in sentences:
        tokens = text.split()
        tags = ["O"] * len(tokens)
        for start, end, etype in entities:
            tags[start:end] = [f"B-{etype}"] + [f"I-{etype}"] * (end - start - 1)
        lines += [f"{t}\t{g}" for t, g in zip(tokens, tags, strict=True)] + [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpora")
    write_conll(root / "NCBI-disease-IOB" / "train.tsv", NCBI)
    write_conll(root / "NCBI-disease-IOB" / "devel.tsv", NCBI[:2])
    write_conll(root / "BC2GM-IOB" / "train.tsv", BC2GM)
    write_conll(root / "BC2GM-IOB" / "devel.tsv", BC2GM[:2])
    return root


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer, 32-wide BERT with the MiniLM tokenizer, standing in for the pretrained encoder."""
    return build_encoder_dir(tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def teacher(corpora: Path, base_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("teacher")
    quick = TrainingSettings(batch_size=4, max_steps=6, lr=1e-2, show_progress=False)
    train(corpora, out, base_model=base_model, num_layers=1, training=quick)
    return out


def _tiny_train(corpora: Path, base_model: Path, out: Path, *, empty_keep: float = 1.0, **settings) -> dict:
    """6 steps of batch 2 on a 1-layer teacher; ``settings``: more TrainingSettings fields."""
    training = TrainingSettings(batch_size=2, max_steps=6, lr=1e-3, show_progress=False, **settings)
    return train(corpora, out, base_model=base_model, num_layers=1, empty_keep=empty_keep, training=training)


def _student_run(**changes: object) -> TrainingSettings:
    """The student's default run settings (lr 3e-4) without the progress bar, with ``changes``."""
    return replace(STUDENT_TRAINING, show_progress=False, **changes)


def test_train_alias_trains_a_teacher_and_masks_unannotated_classes(
    corpora: Path, base_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Plain `kazu-spark train` still trains (as `train teacher`); a class no corpus annotates is never trained."""
    main(["train", "--corpora", str(corpora), "--out", str(tmp_path / "m"), "--base-model", str(base_model),
          "--layers", "1", "--batch-size", "2", "--max-steps", "3", "--lr", "0.01"])  # fmt: skip
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 3 and summary["corpora"] == ["BC2GM-IOB", "NCBI-disease-IOB"]
    bias = load_file(tmp_path / "m" / "model.safetensors")["classifier.bias"].float()
    for label in ("B-drug", "I-drug", "B-species", "O"):  # no corpus here annotates drug or species
        assert bias[BIO_LABELS.index(label)].item() == INITIAL_BIAS
    for label in ("B-gene", "I-disease"):
        assert bias[BIO_LABELS.index(label)].item() != INITIAL_BIAS
    Tagger.from_dir(tmp_path / "m").tag(["BRCA1 causes breast cancer"])


def test_a_tagger_trained_further_keeps_its_head(
    corpora: Path, teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """`train teacher --base-model <a kazu-spark tagger>` starts from its classifier, bias included (a new head's
    bias is INITIAL_BIAS), so more data refines the bundled model instead of starting its head again."""
    main(["train", "teacher", "--corpora", str(corpora), "--out", str(tmp_path / "m"), "--base-model", str(teacher),
          "--layers", "1", "--batch-size", "2", "--max-steps", "1", "--lr", "1e-9"])  # fmt: skip
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["head"] == "the base model's"
    before = load_file(teacher / "model.safetensors")["classifier.bias"].float()
    after = load_file(tmp_path / "m" / "model.safetensors")["classifier.bias"].float()
    gene = BIO_LABELS.index("B-gene")
    assert before[gene].item() != INITIAL_BIAS and after[gene].item() == pytest.approx(before[gene].item(), abs=1e-3)
    io = train(corpora, tmp_path / "io", base_model=teacher, num_layers=1, tagging="io",
               training=TrainingSettings(batch_size=2, max_steps=1, lr=1e-9, show_progress=False))  # fmt: skip
    assert io["head"] == "new"  # other labels: the head starts again


def test_base_kd_keeps_what_the_base_tagger_knew_where_a_corpus_has_no_gold(
    corpora: Path, teacher: Path, base_model: Path, tmp_path: Path
) -> None:
    """Trained further on NCBI-disease alone, the gene columns have no gold: with ``base_kd`` they stay nearer the
    base tagger's probabilities than without it. A bare encoder has no probabilities to keep: refused."""
    sentences = [text for text, _ in NCBI]
    gene = [BIO_LABELS.index("B-gene"), BIO_LABELS.index("I-gene")]
    base = Tagger.from_dir(teacher, precision="fp32").merged_probs(sentences)[1][:, gene]

    def gene_drift(kd: float) -> float:
        out = tmp_path / f"kd{kd}"
        train(corpora, out, base_model=teacher, num_layers=1, corpora=["NCBI-disease-IOB"], base_kd=kd,
              training=TrainingSettings(batch_size=2, max_steps=12, lr=3e-2, show_progress=False))  # fmt: skip
        after = Tagger.from_dir(out, precision="fp32").merged_probs(sentences)[1][:, gene]
        return float(np.abs(after - base).mean())

    assert gene_drift(10.0) < 0.7 * gene_drift(0.0)
    with pytest.raises(ValueError, match="base_kd needs a base model that is a tagger"):
        train(corpora, tmp_path / "bare", base_model=base_model, num_layers=1, base_kd=1.0,
              training=TrainingSettings(batch_size=2, max_steps=1, show_progress=False))  # fmt: skip


def test_train_teacher_refuses_classes_a_corpus_does_not_annotate(
    corpora: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "teacher", "--corpora", str(corpora), "--out", str(tmp_path / "m"),
              "--train-classes", "NCBI-disease-IOB=gene"])  # fmt: skip
    assert exit_info.value.code == 2
    assert "can be trained for some of the classes it annotates" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_train_teacher_refuses_new_classes_it_cannot_use(
    corpora: Path, teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """``--new-classes`` names classes of the labels (a typo would leave that class under the base tagger's loss)
    and needs ``--base-kd``, the only loss it changes: both refused before anything is trained or written."""
    for extra, message in (
        (["--base-kd", "1", "--new-classes", "cell_line,cel_type"], "['cel_type']: not classes of the labels"),
        (["--new-classes", "cell_line"], "only changes the --base-kd loss"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["train", "teacher", "--corpora", str(corpora), "--out", str(tmp_path / "m"),
                  "--base-model", str(teacher), *extra])  # fmt: skip
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_the_cards_training_line_reruns_the_same_settings(
    corpora: Path, teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The card's reproduction line carries every flag the run was given (``--base-kd``, ``--new-classes`` and one
    ``--train-classes`` per corpus): run as printed, it trains with the same settings."""
    devel = [tmp_path / "devel-a.txt", tmp_path / "devel-b.txt"]  # another corpus's devel documents: 202, and 999
    devel[0].write_text("202|t|A devel title.\n\n", encoding="utf-8")
    devel[1].write_text("999|t|Another.\n\n", encoding="utf-8")
    first = train(corpora, tmp_path / "a", base_model=teacher, num_layers=1, base_kd=0.5, new_classes=["cell_line"],
                  train_classes={"BC2GM-IOB": ["gene"], "NCBI-disease-IOB": ["disease"]},
                  train_files={"BioRED": BIORED}, exclude_documents=[str(path) for path in devel],
                  training=TrainingSettings(batch_size=2, max_steps=1, show_progress=False))  # fmt: skip
    card = (tmp_path / "a" / "MODEL_CARD.md").read_text(encoding="utf-8")
    line = next(line for line in card.splitlines() if "kazu-spark train teacher" in line)
    args = shlex.split(line.strip().removeprefix(".venv/bin/kazu-spark"))
    args[args.index("--out") + 1] = str(tmp_path / "b")
    main(args)
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    keys = ("base_model", "base_kd", "new_classes", "train_classes", "train_files", "exclude_documents",
            "annotated_classes", "num_layers", "max_steps", "sentences")  # fmt: skip
    assert {k: second[k] for k in keys} == {k: first[k] for k in keys}
    assert first["train_classes"] == {"BC2GM-IOB": ["gene"], "NCBI-disease-IOB": ["disease"]}
    assert first["train_files"] == {"BioRED": str(BIORED)}
    assert first["exclude_documents"] == [str(path) for path in devel]


def test_train_teacher_learns_from_a_pubtator_corpus_beside_the_iob_folders(
    corpora: Path, base_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """``--train-file BioRED=<PubTator>`` adds BioRED's printed sentences to the IOB corpora, masked to the classes
    its label-map entry annotates; a file of a corpus the label map lacks, a missing file or a value without ``=``
    is refused before anything is written."""
    main(["train", "teacher", "--corpora", str(corpora), "--out", str(tmp_path / "m"), "--base-model", str(base_model),
          "--layers", "1", "--batch-size", "2", "--max-steps", "1", "--train-file", f"BioRED={BIORED}"])  # fmt: skip
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["corpora"] == ["BC2GM-IOB", "BioRED", "NCBI-disease-IOB"]
    assert summary["annotated_classes"]["BioRED"] == ["cell_line", "disease", "drug", "gene", "species"]
    assert summary["sentences"] == len(NCBI) + len(BC2GM) + 5  # BioRED's two titles and three abstract sentences
    for value, message in (
        (f"Nope={BIORED}", "corpus 'Nope' is not in the label map"),
        (f"BioRED={tmp_path / 'missing.txt'}", "is not a file"),
        (str(BIORED), "expected CORPUS=PATH"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["train", "teacher", "--corpora", str(corpora), "--out", str(tmp_path / "refused"),
                  "--train-file", value])  # fmt: skip
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()


def test_interrupted_and_resumed_run_ends_with_the_uninterrupted_weights(
    corpora: Path, base_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """6 steps (3 an epoch, so resuming crosses an epoch boundary), checkpoints every 2, crash in step 5."""
    straight = _tiny_train(corpora, base_model, tmp_path / "straight", empty_keep=0.0)

    real_bce, calls = train_module.masked_bce, []

    def crash_in_step_5(*args: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("simulated crash")
        return real_bce(*args)

    monkeypatch.setattr(train_module, "masked_bce", crash_in_step_5)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(RuntimeError, match="simulated crash"):
        _tiny_train(corpora, base_model, tmp_path / "resumed", empty_keep=0.0, checkpoint_dir=ckpt, checkpoint_every=2)
    assert sorted(p.name for p in ckpt.iterdir()) == ["step-00000002.pt", "step-00000004.pt"]
    monkeypatch.setattr(train_module, "masked_bce", real_bce)
    resumed = _tiny_train(
        corpora, base_model, tmp_path / "resumed", empty_keep=0.0, checkpoint_dir=ckpt, checkpoint_every=2, resume=True
    )
    assert (resumed["steps"], resumed["resumed_from_step"], straight["steps"]) == (6, 4, 6)
    a, b = load_file(tmp_path / "straight" / "model.safetensors"), load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from the uninterrupted run's"
    assert resumed["final_loss"] == straight["final_loss"]


def test_io_tagging_trains_an_io_model_the_io_decoder_reads(corpora: Path, base_model: Path, tmp_path: Path) -> None:
    train(corpora, tmp_path / "io", base_model=base_model, num_layers=1, tagging="io",
          training=TrainingSettings(batch_size=2, max_steps=6, lr=1e-3, show_progress=False))  # fmt: skip
    loaded = load_token_classifier(tmp_path / "io")
    assert loaded.labels == ["O", *(f"I-{c}" for c in ("cell_line", "cell_type", "disease", "drug", "gene", "species"))]
    Tagger.from_dir(tmp_path / "io", decoder="io").tag(["BRCA1 causes breast cancer"])
    with pytest.raises(ValueError, match="needs decoder: io"):
        Tagger.from_dir(tmp_path / "io")


def test_distillation_lowers_the_bce_to_the_teachers_soft_labels(tmp_path: Path) -> None:
    """A teacher sure of B-gene and I-disease everywhere; one batch holds every window (first/last loss comparable)."""
    confident = build_model_dir(tmp_path / "teacher")
    tagger = Tagger.from_dir(confident, precision="fp32", window=8, stride=2)
    docs = [make_windows(d["abstract"], tagger.tokenizer, window=8, stride=2) for d in DOCS]
    rows = [
        SoftRow(list(w.input_ids), p)
        for doc, probs in zip(docs, tagger.window_probs(docs), strict=True)
        for w, p in zip(doc.windows, probs, strict=True)
    ]
    run = _student_run(batch_size=len(rows), epochs=100, max_steps=10, lr=3e-2, warmup_ratio=0.0)
    info = distill(rows, confident, tmp_path / "student", layers=1, hidden=24, heads=2, intermediate=32, training=run)
    assert info["steps"] == 10
    assert info["final_loss"] < 0.5 * info["first_loss"]


def test_distillation_takes_gold_from_a_pubtator_file_alone(teacher: Path, tmp_path: Path) -> None:
    """``gold_files`` without ``gold_corpora`` still mixes in the gold loss (it was silently dropped); a file of a
    corpus the label map lacks is refused before anything is written."""
    rows = [SoftRow([101, 7592, 2088, 102], np.full((2, 13), 0.2, np.float32))]
    run = _student_run(batch_size=1, max_steps=1)
    info = distill(rows, teacher, tmp_path / "s", layers=1, hidden=24, heads=2, intermediate=32, init="random",
                   gold_files={"BioRED": BIORED}, alpha=0.5, training=run)  # fmt: skip
    assert info["alpha"] == 0.5 and info["gold_files"] == {"BioRED": str(BIORED)} and info["gold_corpora"] is None
    with pytest.raises(ConfigError, match="corpus 'Nope' is not in the label map"):
        distill(rows, teacher, tmp_path / "refused", layers=1, hidden=24, heads=2, intermediate=32,
                gold_files={"Nope": BIORED}, alpha=0.5, training=run)  # fmt: skip
    assert not (tmp_path / "refused").exists()


def test_intermediate_losses_and_teacher_init_run(teacher: Path, tmp_path: Path) -> None:
    """Hidden-state loss through the projection, attention-map loss (equal heads), student = truncated teacher."""
    rows = [SoftRow([101, 7592, 2088, 102], np.full((2, 13), 0.2, np.float32))]
    info = distill(rows, teacher, tmp_path / "s", layers=1, hidden=32, heads=2, intermediate=64, init="teacher",
                   hidden_weight=1.0, attention_weight=1.0, training=_student_run(max_steps=2))  # fmt: skip
    assert info["steps"] == 2 and np.isfinite(info["final_loss"])
    with pytest.raises(ValueError, match="attention-map loss needs equal head counts"):
        distill(rows, teacher, tmp_path / "t", layers=1, hidden=24, heads=3, intermediate=32,
                attention_weight=1.0, training=_student_run(max_steps=1))  # fmt: skip


@pytest.mark.heavy
def test_label_job_writes_teacher_windows_and_a_student_learns_from_them(spark, teacher: Path, tmp_path: Path) -> None:
    """3 documents -> one row per window of each section, probabilities equal the teacher's forward pass."""
    source = tmp_path / "docs.jsonl"
    source.write_text("\n".join(json.dumps(d) for d in DOCS) + "\n", encoding="utf-8")
    cfg = NerConfig(model=str(teacher), window=16, stride=4, precision="fp32")
    out = str(tmp_path / "soft_labels")
    summary = write_soft_labels(spark, str(source), "auto", out, cfg, max_chars=10_000)
    table = spark.read.format("delta").load(out).orderBy("doc_id", "window").collect()

    loaded = load_token_classifier(teacher)
    tok = loaded.tokenizer
    expected = []  # (doc_id, section, first_token, input_ids) from the same windowing, per section in order
    for d in DOCS:
        sections = [("title", d["title"])] if d["title"] else []
        for name, text in [*sections, ("body", d["abstract"])]:
            expected += [(d["pmid"], name, w.first_token, list(w.input_ids))
                         for w in make_windows(text, tok, window=16, stride=4).windows]  # fmt: skip
    assert [(r.doc_id, r.section, r.first_token, list(r.input_ids)) for r in table] == expected
    assert [r.window for r in table if r.doc_id == "2"] == list(range(sum(e[0] == "2" for e in expected))) == [0, 1, 2]
    assert summary["windows"] == len(expected) and summary["documents"] == 3
    assert {r.teacher for r in table} == {versioned_name(loaded)}
    for r in table:
        probs = dequantise(bytes(r.probs), 13)
        assert probs.shape == (len(r.input_ids) - 2, 13) and list(r.labels) == list(BIO_LABELS)
        with torch.no_grad():
            logits = loaded.model(input_ids=torch.tensor([list(r.input_ids)])).logits[0, 1:-1]
        assert np.abs(probs - torch.sigmoid(logits).numpy()).max() <= 0.5 / 255 + 1e-6

    rows, labels = read_soft_labels(spark, out, versioned_name(loaded))
    assert len(rows) == len(expected) and labels == list(BIO_LABELS)
    run = _student_run(max_steps=2)
    distill(rows, teacher, tmp_path / "student", layers=1, hidden=24, heads=2, intermediate=32, training=run)
    student = Tagger.from_dir(tmp_path / "student")
    assert student.labels == list(BIO_LABELS) and student.model.config.hidden_size == 24
    assert student.name.startswith("kazu-spark-tinybern2-student@")
    assert isinstance(student.tag(["EGFR inhibitors treat lung cancer"])[0], list)


def test_write_card_replaces_only_the_table_of_a_card_edited_by_hand(
    teacher: Path, corpora: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The bundled model's card is prose around one table: ``--write-card`` on it replaced the whole card before."""
    model = tmp_path / "model"
    shutil.copytree(teacher, model)
    card = model / "MODEL_CARD.md"
    stale = "| BC2GM-IOB | sigmoid | **overall** | 0.111 | 0.111 | 0.111 | 1 | 1 | 1 |"
    card.write_text(f"# A card by hand\n\nWhy this model.\n\n{TABLE_HEADER}\n|---|\n{stale}\n\nWhat limits it.\n")
    main(["evaluate", "ner", "--model", str(model), "--all-corpora", str(corpora), "--write-card", "--json"])
    results = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    text = card.read_text(encoding="utf-8")
    assert text.startswith("# A card by hand\n\nWhy this model.\n\n") and text.endswith("\n\nWhat limits it.\n")
    assert (
        stale not in text
        and f"| BC2GM-IOB | sigmoid | **overall** | {results[0]['overall']['precision']:.3f} |" in text
    )
    assert text.count(TABLE_HEADER) == 1


def test_evaluate_all_corpora_writes_the_bio_and_io_table_into_the_card(
    teacher: Path, corpora: Path, base_model: Path, capsys: pytest.CaptureFixture
) -> None:
    main(["evaluate", "ner", "--model", str(teacher), "--all-corpora", str(corpora),
          "--decoder", "sigmoid", "--decoder", "io", "--write-card", "--json"])  # fmt: skip
    results = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [(r["corpus"], r["decoder"]) for r in results] == [
        ("BC2GM-IOB", "sigmoid"), ("BC2GM-IOB", "io"), ("NCBI-disease-IOB", "sigmoid"), ("NCBI-disease-IOB", "io"),
    ]  # fmt: skip
    assert {r["sentences"] for r in results} == {2}
    card = (teacher / "MODEL_CARD.md").read_text(encoding="utf-8")
    ncbi_io = results[3]["overall"]
    assert f"| NCBI-disease-IOB | io | **overall** | {ncbi_io['precision']:.3f} |" in card
    assert "| **mean of 2 corpora** | sigmoid |" in card
    assert (
        f"kazu-spark train teacher --out /tmp/kz_model --corpora {corpora} --base-model {base_model} --layers 1" in card
    )
