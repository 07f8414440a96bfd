"""Tagger end to end on a tiny random BERT with the real uncased WordPiece tokenizer (fast, no Spark).

The classifier's weights are zeroed and its biases set, so its output is known whatever the random
encoder computes: every sub-token is B-gene (p~0.99) and I-disease (p~0.99), nothing else fires.
That pins down what the spans must be while exercising windowing, batching, merging and decoding.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import build_model_dir

from kazu_spark.cli.main import main
from kazu_spark.config import load_config
from kazu_spark.documents.pubtator import read_pubtator
from kazu_spark.errors import ConfigError, InputError, LabelManifestError
from kazu_spark.evaluation.ner import evaluate_conll
from kazu_spark.ner.labels import BIO_LABELS
from kazu_spark.ner.spans import entity_id
from kazu_spark.ner.tagger import Span, Tagger, entities_for_batch, resolve_precision
from kazu_spark.schemas import ENTITY_ROWS

BUNDLED = Path(__file__).resolve().parents[1] / "kazu_spark" / "resources" / "model"
TEXTS = [
    "Mutations in BRCA1 cause breast cancer in humans.",
    "Müller glia, α-synuclein, 乳腺癌 and 🧬 in Sjögren's  syndrome; İstanbul cohort.",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def tagger(model_dir: Path) -> Tagger:
    return Tagger.from_dir(model_dir, precision="fp32", max_batch_tokens=512)


def test_spans_are_exact_code_point_offsets(tagger: Tagger):
    results = tagger.tag(TEXTS)
    assert len(results) == len(TEXTS)
    for text, spans in zip(TEXTS, results, strict=True):
        assert spans and all(isinstance(s, Span) for s in spans)
        for s in spans:
            mention = text[s.start : s.end]
            assert mention and mention == mention.strip()
            assert isinstance(s.confidence, float) and 0.0 <= s.confidence <= 1.0
        # every sub-token is I-disease: one span covering the whole text
        assert [(s.start, s.end) for s in spans if s.entity_class == "disease"] == [(0, len(text.rstrip()))]
        # every sub-token is B-gene: one span per word (the default aggregation, first)
        genes = [s for s in spans if s.entity_class == "gene"]
        assert len(genes) == n_words(tagger, text)
    mentions = {TEXTS[0][s.start : s.end] for s in results[0]}
    assert {"BRCA1", "breast"} <= mentions and "BR" not in mentions
    assert {"乳", "腺", "癌", "Müller"} <= {TEXTS[1][s.start : s.end] for s in results[1]}


def n_words(tagger: Tagger, text: str) -> int:
    """Words of the text by the tokenizer's pre-tokenizer (CJK characters are words of their own), less those of
    punctuation alone and the function words that start or end no entity (``in``, ``and``, ...)."""
    encoding = tagger.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    spans = {}
    for word, (start, end) in zip(encoding.word_ids(), encoding["offset_mapping"], strict=True):
        first, _ = spans.get(word, (start, end))
        spans[word] = (first, end)
    words = [text[start:end] for start, end in spans.values()]
    function = {"and", "or", "the", "an", "of", "with", "by", "to", "for", "from", "on", "at", "in"}
    return sum(any(ch.isalnum() for ch in word) and word not in function for word in words)


@pytest.mark.parametrize("aggregation", ["first", "none"])
def test_long_text_is_tagged_end_to_end(model_dir: Path, aggregation: str):
    tagger = Tagger.from_dir(model_dir, precision="fp32", max_batch_tokens=512, aggregation=aggregation)
    text = " ".join(f"gene{i} variant" for i in range(600))
    [spans] = tagger.tag([text])
    disease = [s for s in spans if s.entity_class == "disease"]
    assert [(s.start, s.end) for s in disease] == [(0, len(text))]
    n_subtokens = len(tagger.tokenizer(text, add_special_tokens=False)["input_ids"])
    assert n_subtokens > 3 * 126
    genes = [text[s.start : s.end] for s in spans if s.entity_class == "gene"]  # every sub-token is B-gene
    if aggregation == "none":  # a span per sub-token with a letter: "gene", "variant"; "##12" alone names nothing
        pieces = tagger.tokenizer.convert_ids_to_tokens(tagger.tokenizer(text, add_special_tokens=False)["input_ids"])
        assert len(genes) == sum(any(ch.isalpha() for ch in piece) for piece in pieces) > n_subtokens // 2
    else:  # a span per word, also for the words that straddle two windows
        assert genes == text.split(" ")


def test_batch_rows_are_tagged_per_section_with_offsets_into_the_document(tagger: Tagger):
    text = "BRCA1 title\n\nbreast cancer in BRCA1 carriers"
    sections = [{"name": "title", "start": 0, "end": 11}, {"name": "body", "start": 13, "end": len(text)}]
    docs = pd.DataFrame(
        {"doc_id": ["d", "e"], "text": [text, ""], "sections": [sections, []], "content_hash": ["h", "x"]}
    )
    rows = entities_for_batch(tagger, docs)
    assert list(rows.columns) == ENTITY_ROWS.fieldNames() and not rows.isna().any().any()
    assert (rows["start"].dtype, rows["end"].dtype, rows["confidence"].dtype) == ("int64", "int64", "float64")
    assert set(rows["doc_id"]) == {"d"} and set(rows["content_hash"]) == {"h"} and set(rows["model"]) == {tagger.name}
    assert all(text[r.start : r.end] == r.mention for r in rows.itertuples())
    disease = rows[rows["entity_class"] == "disease"]  # every sub-token is I-disease: one span per section
    assert disease[["section", "start", "end"]].values.tolist() == [["title", 0, 11], ["body", 13, len(text)]]
    assert disease["entity_id"].tolist() == [
        entity_id("d", "title", 0, 11, "disease"),
        entity_id("d", "body", 13, len(text), "disease"),
    ]
    genes = rows[rows["entity_class"] == "gene"]  # every sub-token is B-gene: a span per word of each section...
    assert genes["mention"].tolist() == ["BRCA1", "title", "breast", "cancer", "BRCA1", "carriers"]  # ... but "in"
    assert rows["entity_id"].is_unique


def test_empty_and_whitespace_texts(tagger: Tagger):
    assert tagger.tag(["", "  \n\t", "BRCA1"])[:2] == [[], []]
    assert tagger.tag([]) == []


def test_name_carries_the_weights_hash(tagger: Tagger):
    assert re.fullmatch(r"model\d*@[0-9a-f]{12}", tagger.name)


def test_label_manifest_mismatch_names_both_lists(tmp_path: Path):
    build_model_dir(tmp_path, labels=tuple(reversed(BIO_LABELS)))
    with pytest.raises(LabelManifestError, match=r"labels.txt \['I-species'.*id2label \['O'"):
        Tagger.from_dir(tmp_path)


def test_precision_choices():
    assert resolve_precision("cpu", "bf16") == "bf16"
    assert resolve_precision("cpu", "auto") in ("fp32", "bf16", "int8")
    assert resolve_precision("cuda", "auto") == "fp16"
    with pytest.raises(ValueError, match="only supported on CUDA"):
        resolve_precision("cpu", "fp16")
    with pytest.raises(ValueError, match="CPU only"):
        resolve_precision("cuda", "int8")


def test_int8_quantises_the_linear_layers_and_keeps_the_spans(model_dir: Path, tagger: Tagger):
    int8 = Tagger.from_dir(model_dir, precision="int8")
    assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in int8.model.modules())
    # the head's output is fixed by its biases, which quantisation keeps in fp32: same spans as fp32
    assert int8.tag(TEXTS) == tagger.tag(TEXTS)


def test_evaluate_conll_scores_only_the_corpus_classes(model_dir: Path, tmp_path: Path):
    corpus = tmp_path / "NCBI-disease-IOB"
    corpus.mkdir()
    conll = corpus / "devel.tsv"
    conll.write_text("-DOCSTART-\tO\n\ncancer\tB-Disease\n\nlung\tO\ncancer\tB-Disease\n\n", encoding="utf-8")
    result = evaluate_conll(model_dir, conll)
    assert result["corpus"] == "NCBI-disease-IOB" and result["sentences"] == 2
    # the forced model tags each whole sentence as one disease: right on sentence 1, too long on 2;
    # its gene spans are not scored because NCBI-disease does not annotate genes
    assert list(result["per_class"]) == ["disease"]
    assert {k: result["overall"][k] for k in ("tp", "fp", "fn")} == {"tp": 1, "fp": 1, "fn": 1}
    # two sentences tagged as one text ("cancer lung cancer"): one span over it all, both gold spans missed
    joined = evaluate_conll(model_dir, conll, sentences_per_text=2)
    assert joined["sentences"] == 2 and joined["sentences_per_text"] == 2
    assert {k: joined["overall"][k] for k in ("tp", "fp", "fn")} == {"tp": 0, "fp": 1, "fn": 2}


def test_evaluate_ner_scores_a_pubtator_file_against_every_gold_mention(
    model_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    """`evaluate ner --conll <PubTator> --corpus BioRED` scores printed text sentence by sentence: every mention of a
    mapped type is gold (tp + fn), SequenceVariant is not, and all five of BioRED's classes are scored."""
    biored = Path(__file__).parent / "data" / "linking" / "biored.pubtator"
    main(["evaluate", "ner", "--model", str(model_dir), "--conll", str(biored), "--corpus", "BioRED", "--json"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    mentions = [m for doc in read_pubtator(str(biored)) for m in doc.mentions if m.corpus_type != "SequenceVariant"]
    assert result["corpus"] == "BioRED" and result["sentences"] == 5
    assert result["overall"]["tp"] + result["overall"]["fn"] == len(mentions) == 17
    assert sorted(result["per_class"]) == ["cell_line", "disease", "drug", "gene", "species"]


def test_evaluate_ner_documents_tags_each_pubtator_document_whole(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """`--documents` scores each PubTator document as one text, title and abstract, as annotate reads it: the
    forced model's disease spans each cover a whole text, so none is right; a CoNLL file or --all-corpora refuse."""
    biored = Path(__file__).parent / "data" / "linking" / "biored.pubtator"
    argv = ["evaluate", "ner", "--model", str(model_dir), "--conll", str(biored), "--corpus", "BioRED", "--json"]
    main([*argv, "--documents"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["documents"], result["sentences"]) == (len(read_pubtator(str(biored))), None) == (2, None)
    assert result["overall"]["tp"] + result["overall"]["fn"] == 17
    assert result["per_class"]["disease"]["fp"] == 2  # one per document
    for refused in (
        [*argv, "--documents", "--sentences-per-text", "2"],
        ["evaluate", "ner", "--model", str(model_dir), "--all-corpora", str(tmp_path), "--documents"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(refused)
        assert exit_info.value.code == 2 and "--documents tags each document" in capsys.readouterr().err
    conll = tmp_path / "NCBI-disease-IOB" / "devel.tsv"
    conll.parent.mkdir()
    conll.write_text("cancer\tB-Disease\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="PubTator"):
        evaluate_conll(model_dir, conll, whole_documents=True)


@pytest.mark.skipif(not (BUNDLED / "model.safetensors").is_file(), reason="bundled model not trained yet")
def test_bundled_model_finds_a_gene_and_a_disease():
    tagger = Tagger.from_dir(BUNDLED)
    text = "Mutations in BRCA1 cause breast cancer in humans."
    [spans] = tagger.tag([text])
    found = {(text[s.start : s.end], s.entity_class) for s in spans}
    assert any(cls == "gene" and "BRCA1" in m for m, cls in found), found
    assert any(cls == "disease" and "cancer" in m for m, cls in found), found
    assert tagger.name.startswith("kazu-spark-tinybern2-student@")


@pytest.mark.spark
def test_evaluate_conll_runs_the_jobs_composition_locally_and_on_spark(spark, tmp_path: Path):
    corpus = tmp_path / "NCBI-disease-IOB"
    corpus.mkdir()
    sentences = [
        [("Patients", "O"), ("with", "O"), ("breast", "B-Disease"), ("cancer", "I-Disease"), ("and", "O"),
         ("asthma", "B-Disease"), (".", "O")],
        [("BRCA1", "O"), ("mutations", "O"), ("cause", "O"), ("ovarian", "B-Disease"), ("cancer", "I-Disease")],
    ]  # fmt: skip
    conll = corpus / "devel.tsv"
    conll.write_text("".join("".join(f"{w}\t{t}\n" for w, t in s) + "\n" for s in sentences), encoding="utf-8")
    local = evaluate_conll(BUNDLED, conll)
    on_spark = evaluate_conll(BUNDLED, conll, spark=spark)
    assert local["overall"] == on_spark["overall"] and local["steps"] == ["model"]
    # the dictionary step alone: its ontology synonyms are the predictions (breast cancer, asthma)
    dictionary = load_config(overrides={"ner.steps": "[dictionary]"})
    found = evaluate_conll(BUNDLED, conll, cfg=dictionary, spark=spark)
    assert found["steps"] == ["dictionary"] and found["overall"]["tp"] >= 2
    with pytest.raises(ConfigError, match="annotate_dataframe"):
        evaluate_conll(BUNDLED, conll, cfg=dictionary)  # more than the model step needs the Spark session
