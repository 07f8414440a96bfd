"""Loading a Kazu-style model pack: pack root or model folder, label manifests, pickled-weights opt-in.

The pack is laid out like Kazu's: ``<pack>/tinybern2/`` with a config.json whose id2label is numeric,
model.safetensors, the tokenizer files and a labels.txt in Kazu's (alphabetical, non-default) order
that names drugs ``chemical``. The head always fires one column, the manifest's ``B-disease`` (in our
default BIO_LABELS order that column would be ``B-cell_type``), so the class of every span shows
which label order the tagger decoded with.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest
import torch
from conftest import build_model_dir

from kazu_spark.config import load_config
from kazu_spark.errors import LabelManifestError, UnsafeWeightsError
from kazu_spark.ner.labels import BIO_LABELS
from kazu_spark.ner.model import load_token_classifier
from kazu_spark.ner.model_files import resolve_model_dir
from kazu_spark.ner.tagger import Tagger

KAZU_LABELS = [
    *(f"B-{cls}" for cls in ("cell_line", "cell_type", "chemical", "disease", "gene", "species")),
    *(f"I-{cls}" for cls in ("cell_line", "cell_type", "chemical", "disease", "gene", "species")),
    "O",
]
NUMERIC = [f"LABEL_{i}" for i in range(len(KAZU_LABELS))]
FIRED = KAZU_LABELS.index("B-disease")
TEXT = "breast cancer"


def build_pack(pack: Path, labels: list[str] | None = KAZU_LABELS, **kwargs) -> Path:
    """A Kazu-style pack at ``pack`` whose tinybern2 head fires the manifest's B-disease column."""
    build_model_dir(pack / "tinybern2", labels, id2label=kwargs.pop("id2label", NUMERIC), fire=(FIRED,), **kwargs)
    return pack


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_pack(tmp_path_factory.mktemp("kazu_pack"))


def tagged(tagger: Tagger, text: str = TEXT) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.entity_class) for s in tagger.tag([text])[0]]


def test_pack_root_and_model_folder_resolve_to_the_same_folder(pack: Path, tmp_path: Path):
    assert resolve_model_dir(pack) == resolve_model_dir(pack / "tinybern2") == pack / "tinybern2"
    shutil.copytree(pack / "tinybern2", tmp_path / "tinybern")
    assert resolve_model_dir(tmp_path) == tmp_path / "tinybern"
    (tmp_path / "tinybern" / "nothing-here").mkdir()
    with pytest.raises(FileNotFoundError, match="tinybern2/config.json or tinybern/config.json"):
        resolve_model_dir(tmp_path / "tinybern" / "nothing-here")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_model_dir(tmp_path / "no-such-folder")


def test_pack_decodes_with_the_manifest_order(pack: Path):
    tagger = Tagger.from_dir(pack, precision="fp32")
    assert tagger.labels == [label.replace("chemical", "drug") for label in KAZU_LABELS]
    assert tagger.labels != list(BIO_LABELS)
    assert tagger.name.startswith("tinybern2@")
    # sigmoid: every sub-token is a B-disease, so one span per sub-token
    assert tagged(tagger) == [("breast", "disease"), ("cancer", "disease")]


def test_pack_with_the_kazu_softmax_decoder(pack: Path):
    tagger = Tagger.from_dir(pack, precision="fp32", decoder="softmax")
    # softmax: B B -> the first entity, and the outer span that went on through the second B
    [first, outer] = tagger.tag([TEXT])[0]
    assert (first.start, first.end, outer.start, outer.end) == (0, 6, 0, 13)
    assert {first.entity_class, outer.entity_class} == {"disease"}
    assert outer.confidence == pytest.approx(1.0, abs=1e-3)


def test_explicit_labels_replace_a_missing_manifest(tmp_path: Path):
    build_pack(tmp_path, labels=None)
    with pytest.raises(LabelManifestError, match=r"only numeric names \(\['LABEL_0'.*labels.txt.*labels="):
        Tagger.from_dir(tmp_path)
    tagger = Tagger.from_dir(tmp_path, labels=KAZU_LABELS, precision="fp32")
    assert tagged(tagger) == [("breast", "disease"), ("cancer", "disease")]


@pytest.mark.parametrize("id2label", [NUMERIC, [str(i) for i in range(len(KAZU_LABELS))]])
def test_both_numeric_id2label_styles_need_a_label_list(tmp_path: Path, id2label: list[str]):
    build_pack(tmp_path, labels=None, id2label=id2label)
    with pytest.raises(LabelManifestError, match="only numeric names"):
        load_token_classifier(tmp_path)
    assert load_token_classifier(tmp_path, labels=KAZU_LABELS).labels[FIRED] == "B-disease"


def test_explicit_labels_must_agree_with_the_manifest(pack: Path):
    with pytest.raises(LabelManifestError, match=r"labels.txt \['B-cell_line'.*does not match the explicit labels"):
        load_token_classifier(pack, labels=list(BIO_LABELS))


def test_manifest_of_the_wrong_length_names_both_sizes(tmp_path: Path):
    build_pack(tmp_path, labels=KAZU_LABELS[:12])
    with pytest.raises(LabelManifestError, match="labels.txt has 12 labels .* the classifier head has 13 outputs"):
        Tagger.from_dir(tmp_path)


def test_real_id2label_names_must_match_the_manifest(tmp_path: Path):
    build_pack(tmp_path, labels=KAZU_LABELS, id2label=BIO_LABELS)
    with pytest.raises(LabelManifestError, match=r"labels.txt \['B-cell_line'.*config.json id2label \['O'"):
        load_token_classifier(tmp_path)


def test_unknown_classes_are_refused(tmp_path: Path):
    build_pack(tmp_path, labels=[label.replace("species", "protein") for label in KAZU_LABELS])
    with pytest.raises(LabelManifestError, match="unknown entity class 'protein'"):
        load_token_classifier(tmp_path)


def test_pickled_weights_need_the_opt_in(tmp_path: Path):
    build_pack(tmp_path, safetensors=False)
    folder = tmp_path / "tinybern2"
    assert not (folder / "model.safetensors").exists() and (folder / "pytorch_model.bin").is_file()
    with pytest.raises(UnsafeWeightsError, match="allow_pickle_weights=True"):
        Tagger.from_dir(tmp_path)
    tagger = Tagger.from_dir(tmp_path, allow_pickle_weights=True, precision="fp32")
    assert tagged(tagger) == [("breast", "disease"), ("cancer", "disease")]


def test_io_tagged_model(tmp_path: Path):
    labels = ["O", "I-gene", "I-disease"]
    build_model_dir(tmp_path, labels, id2label=labels, fire=(1,))
    with pytest.raises(ValueError, match="decoder: io"):
        Tagger.from_dir(tmp_path)
    tagger = Tagger.from_dir(tmp_path, decoder="io", precision="fp32")
    assert tagged(tagger) == [(TEXT, "gene")]


def test_config_keys():
    cfg = load_config(overrides={"ner.decoder": "softmax", "ner.allow_pickle_weights": "true", "ner.labels": "[O]"})
    assert (cfg.ner.decoder, cfg.ner.allow_pickle_weights, cfg.ner.labels) == ("softmax", True, ["O"])
    assert (load_config().ner.decoder, load_config().ner.labels) == ("sigmoid", None)


def test_pickled_weights_are_read_as_tensors_only(tmp_path: Path):
    build_pack(tmp_path, safetensors=False)
    weights = tmp_path / "tinybern2" / "pytorch_model.bin"
    torch.save({"not_a_tensor": Path("/")}, weights)  # any non-tensor global is refused by weights_only
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        load_token_classifier(tmp_path, allow_pickle_weights=True)


def test_weights_must_cover_the_whole_model(tmp_path: Path):
    build_pack(tmp_path, safetensors=False)
    weights = tmp_path / "tinybern2" / "pytorch_model.bin"
    state = {k: v for k, v in torch.load(weights, weights_only=True).items() if not k.startswith("classifier.")}
    torch.save(state, weights)
    with pytest.raises(ValueError, match=r"missing \['classifier.bias', 'classifier.weight'\]"):
        load_token_classifier(tmp_path, allow_pickle_weights=True)
