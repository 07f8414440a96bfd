"""Corpus guideline markers: what the model reads under a guideline, how training shows the markers, and the
errors a user gets for a guideline a model lacks (kazu_spark/ner/guidelines.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from kazu_spark.config import Config, NerConfig
from kazu_spark.documents.conll import Sentence
from kazu_spark.errors import ConfigError
from kazu_spark.evaluation.ner import evaluate_conll
from kazu_spark.ner.guidelines import GUIDELINES_FILE, marker_tokens, write_guidelines
from kazu_spark.ner.tagger import Tagger
from kazu_spark.ner.windows import make_windows, plan_windows
from kazu_spark.training.loop import TrainingSettings
from kazu_spark.training.train import encode, guided, train

BUNDLED = Path(__file__).resolve().parents[1] / "kazu_spark" / "resources" / "model"
TEXT = (
    "Mutations in BRCA1 and TP53 cause breast cancer in humans, and IL-2 gene expression in Jurkat T cells "
    "rises after treatment with cisplatin."
)


@pytest.fixture(scope="module")
def guided_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("guided") / "model"
    shutil.copytree(BUNDLED, folder)
    write_guidelines(folder, {"JNLPBA": "[unused5]", "S800-IOB": "[unused7]"})
    return folder


def _forward(tagger: Tagger, ids: list[int]) -> np.ndarray:
    with torch.inference_mode():
        logits = tagger.model(input_ids=torch.tensor([ids]), attention_mask=torch.ones((1, len(ids)), dtype=torch.long))
    return torch.sigmoid(logits.logits.float())[0].numpy()


@pytest.mark.parametrize("window", [128, 16])
def test_every_window_reads_the_marker_after_cls_and_probabilities_stay_on_their_sub_tokens(guided_dir, window):
    """Each sub-token's probabilities are those of a forward over [CLS] + marker + the window + [SEP], taken from
    its most central window: the marker shifts nothing. ``window=16`` cuts the text into several windows."""
    tagger = Tagger.from_dir(guided_dir, guideline="JNLPBA", window=window, stride=4, precision="fp32")
    marker = tagger.tokenizer.convert_tokens_to_ids("[unused5]")
    assert tagger.prefix == (marker,)
    sub, merged = tagger.merged_probs([TEXT])
    doc = make_windows(TEXT, tagger.tokenizer, window=window, stride=4)
    plan = plan_windows(sub.sizes, window, 4)
    expected = np.zeros_like(merged)
    for w, win in enumerate(doc.windows):
        probs = _forward(tagger, [win.input_ids[0], marker, *win.input_ids[1:]])[2:-1]
        keep = slice(plan.keep_from[w], plan.keep_to[w])
        expected[win.first_token + keep.start : win.first_token + keep.stop] = probs[keep]
    np.testing.assert_allclose(merged, expected, atol=1e-5)
    assert len(doc.windows) == (1 if window == 128 else len(plan.start)) and (window == 128 or len(doc.windows) > 1)
    per_window = tagger.window_probs([doc])[0]
    for win, probs in zip(doc.windows, per_window, strict=True):
        reference = _forward(tagger, [win.input_ids[0], marker, *win.input_ids[1:]])[2:-1]
        np.testing.assert_allclose(probs, reference, atol=1e-5)


def test_a_guideline_changes_what_the_model_reads_and_spans_stay_whole_words(guided_dir):
    blend = Tagger.from_dir(guided_dir, precision="fp32")
    jnlpba = Tagger.from_dir(guided_dir, guideline="JNLPBA", precision="fp32")
    assert blend.prefix == ()
    assert not np.allclose(blend.merged_probs([TEXT])[1], jnlpba.merged_probs([TEXT])[1])
    for span in jnlpba.tag([TEXT])[0]:
        assert TEXT[span.start : span.end].strip() == TEXT[span.start : span.end]
        assert span.start == 0 or not TEXT[span.start - 1].isalnum()
        assert span.end == len(TEXT) or not TEXT[span.end].isalnum()


def test_a_guideline_the_model_lacks_is_a_config_error_naming_the_ones_it_has(guided_dir, tmp_path):
    with pytest.raises(ConfigError, match=r"'BC2GM-IOB'.*JNLPBA, S800-IOB"):
        Tagger.from_dir(guided_dir, guideline="BC2GM-IOB")
    unmarked = shutil.copytree(guided_dir, tmp_path / "unmarked")
    (unmarked / GUIDELINES_FILE).unlink()
    with pytest.raises(ConfigError, match="trained without guideline markers"):
        Tagger.from_config(unmarked, NerConfig(guideline="JNLPBA", known_names=None), device="cpu")


CORPORA = ("JNLPBA", "NCBI-disease-IOB")


def test_own_guideline_in_evaluation_is_the_corpus_marker_where_the_model_has_one(guided_dir, tmp_path):
    for corpus in CORPORA:
        (tmp_path / corpus).mkdir()
        (tmp_path / corpus / "devel.tsv").write_text("Breast\tB-Disease\ncancer\tI-Disease\n\n")
    own = {c: evaluate_conll(guided_dir, tmp_path / c / "devel.tsv", guideline="own")["guideline"] for c in CORPORA}
    assert own == {"JNLPBA": "JNLPBA", "NCBI-disease-IOB": None}
    cfg = Config().model_copy(update={"ner": NerConfig(guideline="S800-IOB")})
    assert evaluate_conll(guided_dir, tmp_path / "JNLPBA" / "devel.tsv", cfg=cfg)["guideline"] == "S800-IOB"


def test_training_shows_a_share_of_sentences_with_their_marker_and_all_classes():
    texts = [f"IL-{i} gene in T cells" for i in range(200)]
    spans = [((0, t.index(" in"), "gene"), (t.index("T"), len(t), "cell_type")) for t in texts]
    sentences = [Sentence(t, s, "JNLPBA") for t, s in zip(texts, spans, strict=True)]
    out, annotated, marks = guided(sentences, {"JNLPBA": {"gene", "cell_type"}}, 0.5, {"JNLPBA": ["cell_type"]})
    assert 60 < marks.count("JNLPBA") < 140 and set(marks) == {"JNLPBA", None}
    for before, after, mark in zip(sentences, out, marks, strict=True):
        if mark:  # its own convention: every class it annotates
            assert after == before
        else:  # the blend: JNLPBA's genes are left out, and its gene columns masked
            assert after.corpus == "JNLPBA (blend)" and [e[2] for e in after.entities] == ["cell_type"]
    assert annotated == {"JNLPBA": {"gene", "cell_type"}, "JNLPBA (blend)": {"cell_type"}}
    tagger = Tagger.from_dir(BUNDLED)
    ids = [None if m is None else 5 for m in marks]
    examples = encode(out, tagger.tokenizer, annotated, max_len=32, markers=ids)
    plain = encode(out, tagger.tokenizer, annotated, max_len=32)
    for ex, ref, marker in zip(examples, plain, ids, strict=True):
        if marker is None:
            assert ex.input_ids == ref.input_ids
        else:
            assert ex.input_ids == [ref.input_ids[0], 5, *ref.input_ids[1:]]
            assert not ex.targets[1].any()
            np.testing.assert_array_equal(np.delete(ex.targets, 1, axis=0), ref.targets)


def test_a_model_trained_with_guidelines_tags_by_each_corpus(tmp_path):
    root = tmp_path / "corpora"
    for corpus, tag in (("NCBI-disease-IOB", "Disease"), ("linnaeus-IOB", "Species")):
        (root / corpus).mkdir(parents=True)
        (root / corpus / "train.tsv").write_text(f"Breast\tB-{tag}\ncancer\tI-{tag}\n\n")
    summary = train(root, tmp_path / "model", base_model=BUNDLED, num_layers=4, guidelines=1.0,
                    training=TrainingSettings(epochs=1, batch_size=2, max_steps=1))  # fmt: skip
    assert summary["guidelines"] == 1.0
    saved = json.loads((tmp_path / "model" / GUIDELINES_FILE).read_text())
    assert saved == marker_tokens(["NCBI-disease-IOB", "linnaeus-IOB"])
    tagger = Tagger.from_dir(tmp_path / "model", guideline="linnaeus-IOB")
    assert tagger.prefix == (tagger.tokenizer.convert_tokens_to_ids(saved["linnaeus-IOB"]),)
    with pytest.raises(ConfigError, match="a share of sentences"):
        train(root, tmp_path / "bad", base_model=BUNDLED, guidelines=1.5)
