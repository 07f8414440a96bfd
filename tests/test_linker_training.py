"""``kazu-spark train linker``: batches of distinct concepts, a loadable encoder folder, resume, the CLI."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from kazu_spark.cli.main import build_parser
from kazu_spark.cli.train import load_training, training_settings
from kazu_spark.config import load_config
from kazu_spark.linking.encoder import SynonymEncoder
from kazu_spark.runtime import precision
from kazu_spark.training import linker
from kazu_spark.training.linker import concept_batches, corpus_mentions, draw_pairs, train_linker
from kazu_spark.training.loop import TrainingSettings

SYNONYMS = {
    ("disease", "MESH:D1"): ["influenza", "flu", "grippe", "influenza virus infection"],
    ("disease", "MESH:D2"): ["common cold", "coryza", "acute rhinitis"],
    ("disease", "MESH:D3"): ["gout", "podagra", "gouty arthritis"],
    ("gene", "HGNC:11998"): ["TP53", "p53", "tumor protein p53"],
    ("gene", "HGNC:1100"): ["BRCA1", "breast cancer 1", "RNF53"],
    ("species", "NCBITaxon:9606"): ["Homo sapiens", "human", "man"],
}
MENTIONS = {("disease", "MESH:D1"): ["flu-like illness"], ("gene", "HGNC:11998"): ["P53 protein"]}


def _run(out, **loop) -> dict:
    training = TrainingSettings(epochs=10, batch_size=3, seed=5, show_progress=False, **loop)
    return train_linker(SYNONYMS, MENTIONS, out, layers=1, pairs_per_concept=2, training=training, device="cpu")


def test_batches_never_hold_a_concept_twice_and_every_epoch_has_as_many():
    rng = random.Random(0)
    concepts = [f"c{rng.randrange(40)}" for _ in range(500)] + ["busy"] * 30
    counts = set()
    for epoch in range(5):
        batches = concept_batches(concepts, 16, random.Random(epoch))
        counts.add(len(batches))
        assert all(len(b) == 16 and len({concepts[i] for i in b}) == 16 for b in batches)
        assert len({i for b in batches for i in b}) == 16 * len(batches)  # no pair used twice
    assert counts == {530 // 16 - 30}


def test_pairs_are_synonyms_of_one_concept_and_mentions_pair_with_a_synonym():
    pairs = draw_pairs(SYNONYMS, MENTIONS, 2, random.Random(3))
    for concept, left, right in pairs:
        assert right in SYNONYMS[concept]
        assert left in SYNONYMS[concept] or left in MENTIONS[concept]
        assert left != right
    per_concept = {c: sum(p[0] == c for p in pairs) for c in SYNONYMS}
    assert per_concept[("disease", "MESH:D1")] == 3 and per_concept[("disease", "MESH:D2")] == 2


def test_a_big_class_is_capped_per_epoch_and_the_batch_count_stays():
    """Genes outnumber the other classes ~10x in the real sources: a cap keeps them from filling the batches,
    each epoch sees another subset, and the loop's resume still finds as many batches every epoch."""
    genes = {("gene", f"G{i}"): [f"g{i}", f"gene {i}", f"G-{i}"] for i in range(200)}
    synonyms = {**SYNONYMS, **genes}
    mentions = {("species", "NCBITaxon:9606"): [f"patient{i}" for i in range(9)]}  # the largest concept
    most = linker.most_pairs(synonyms, mentions, 2)
    assert most == 2 + 9
    subsets, batch_counts = [], set()
    for epoch in range(4):
        rng = random.Random(epoch)
        pairs = draw_pairs(synonyms, mentions, 2, rng, class_pairs=50)
        by_class = {cls: sum(p[0][0] == cls for p in pairs) for cls in ("gene", "disease", "species")}
        assert by_class == {"gene": 50, "disease": 6, "species": 2 + 9}  # only genes are over the cap
        subsets.append({p[1:] for p in pairs if p[0][0] == "gene"})
        batch_counts.add(len(concept_batches([p[0] for p in pairs], 4, rng, most)))
    assert len({frozenset(s) for s in subsets}) == 4  # a new subset each epoch
    assert batch_counts == {(50 + 6 + 11) // 4 - most}
    counts = linker.pair_counts(synonyms, mentions, 2, class_pairs=50)
    assert counts["gene"]["synonym_pairs"] == 50 and counts["gene"]["synonym_pairs_before_cap"] == 404


def test_tiny_run_saves_a_folder_synonym_encoder_loads(tmp_path, capfd, caplog):
    caplog.set_level("INFO", logger="kazu_spark.training.train")
    summary = _run(tmp_path / "enc", max_steps=3)
    assert any("weights left out" in r.getMessage() and "new: none" in r.getMessage() for r in caplog.records)
    encoder = SynonymEncoder.load(tmp_path / "enc", precision="fp32")
    # the 5 layers cut on purpose in training, and the pooler the encoder does not save: no transformers table
    assert "LOAD REPORT" not in capfd.readouterr().err
    assert encoder.model.config.num_hidden_layers == 1
    assert encoder.settings.extra["layers"] == 1 and summary["steps"] == 3
    vectors = encoder.embed(["Influenza", "gout"])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert "| corpus (devel)" not in (tmp_path / "enc" / "LINKER_CARD.md").read_text()  # no devel: no table
    weights = load_file(tmp_path / "enc" / "model.safetensors")
    save_file({k: v for k, v in weights.items() if "layer.0.output" not in k}, tmp_path / "enc" / "model.safetensors")
    with pytest.raises(ValueError, match="do not fit config.json: missing .*layer.0.output"):
        SynonymEncoder.load(tmp_path / "enc", precision="fp32")  # not an encoder with a random layer


@pytest.mark.parametrize(("native_bf16", "used"), [(False, "fp32"), (True, "bf16")])
def test_auto_precision_trains_in_bf16_only_where_the_cpu_runs_it_natively(
    tmp_path, monkeypatch, native_bf16: bool, used: str
):
    """On an AVX2-only CPU, bf16 autocast is emulated: the encoder trained some fifty times slower than in fp32."""
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: native_bf16)
    assert TrainingSettings().precision == "fp32" and load_config().training.linker.precision == "auto"
    assert _run(tmp_path / "enc", max_steps=1, precision="auto")["precision"] == used


def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path, monkeypatch):
    """4 steps of one batch an epoch (each epoch draws new pairs), checkpoints every 2, a crash in step 3."""
    _run(tmp_path / "straight", max_steps=4)
    real, calls = linker.info_nce, []

    def crash_in_step_3(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        return real(*args)

    monkeypatch.setattr(linker, "info_nce", crash_in_step_3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _run(tmp_path / "second", max_steps=4, checkpoint_dir=tmp_path / "ckpt", checkpoint_every=2)
    monkeypatch.setattr(linker, "info_nce", real)
    resumed = _run(tmp_path / "second", max_steps=4, checkpoint_dir=tmp_path / "ckpt", checkpoint_every=2, resume=True)
    assert (resumed["resumed_from_step"], resumed["steps"]) == (2, 4)
    straight = load_file(tmp_path / "straight" / "model.safetensors")
    second = load_file(tmp_path / "second" / "model.safetensors")
    assert all(torch.equal(straight[k], second[k]) for k in straight)


def test_devel_mentions_map_bare_gene_ids_through_hgnc_entrez_ids(tmp_path):
    corpus = tmp_path / "devel.txt"
    corpus.write_text(
        "1|t|p53 and mice\n1|a|x\n1\t0\t3\tp53\tGeneOrGeneProduct\t7157\n1\t8\t12\tmice\tOrganismTaxon\t10090\n"
        "1\t0\t3\tp53\tGeneOrGeneProduct\t999999\n"
    )
    aliases = {("gene", "NCBIGene:7157"): ("gene", "HGNC:11998")}
    assert corpus_mentions(corpus, aliases, ["gene"]) == [
        ("p53", frozenset({("gene", "HGNC:11998")})),
        ("p53", frozenset()),
    ]


def test_cli_parses_linker_flags_into_the_linker_section():
    args = build_parser(["train"]).parse_args(
        ["train", "linker", "--out", "o", "--time-budget-s", "60", "--device", "cpu", "--resume",
         "--set", "training.linker.layers=3"]
    )  # fmt: skip
    cfg = load_training(args)
    run = training_settings(cfg, "linker", args)
    assert (cfg.training.linker.layers, run.time_budget_s, run.resume, args.device) == (3, 60.0, True, "cpu")
    assert cfg.training.teacher.time_budget_s is None


def test_cli_rejects_an_unknown_linker_setting():
    args = build_parser(["train"]).parse_args(["train", "linker", "--out", "o", "--set", "training.linker.layer=3"])
    with pytest.raises(Exception, match="layer"):
        load_training(args)
