"""A labelled corpus file of either format (documents/labelled.py): PubTator text as printed, cut into sentences."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tokenizers.pre_tokenizers import BertPreTokenizer

from kazu_spark.cli.main import main
from kazu_spark.documents.conll import load_label_map, read_conll
from kazu_spark.documents.labelled import read_labelled
from kazu_spark.documents.pubtator import read_pubtator
from kazu_spark.errors import InputError

BIORED = Path(__file__).parent / "data" / "linking" / "biored.pubtator"
TYPES = load_label_map()["BioRED"]


def bert_words(text: str) -> list[tuple[int, int]]:
    return [span for _, span in BertPreTokenizer().pre_tokenize_str(text)]


def write_pubtator(path: Path, title: str, abstract: str, mentions: list[tuple[str, str]]) -> Path:
    """One document; each mention is (its text, its type), found at its first place in ``title + " " + abstract``
    after the previous one's start."""
    text, lines, at = f"{title} {abstract}", [f"1|t|{title}", f"1|a|{abstract}"], 0
    for mention, kind in mentions:
        at = text.index(mention, at)
        lines.append(f"1\t{at}\t{at + len(mention)}\t{mention}\t{kind}\t-")
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return path


def test_every_mapped_mention_becomes_a_gold_span_of_its_sentence() -> None:
    """Each mention of a mapped type is a span of exactly its own text in one sentence, with its class; a type the
    label map lacks (SequenceVariant) is plain text. Sentences are the title and the abstract's sentences."""
    sentences = read_labelled(BIORED, TYPES, corpus="BioRED")
    spans = sorted((s.text[start:end], cls) for s in sentences for start, end, cls in s.entities)
    mentions = [m for doc in read_pubtator(str(BIORED)) for m in doc.mentions]
    assert spans == sorted((m.mention, TYPES[m.corpus_type]) for m in mentions if m.corpus_type in TYPES)
    assert ("HeLa", "cell_line") in spans and not any("delAG" in text for text, _ in spans)
    assert [s.text for s in sentences][:3] == [
        "Metformin and BRCA1 in human HeLa cells.",
        "Humans with type 2 diabetes and mice took aspirin; Crohn disease was rare.",
        "BRCA1 and Brca1 carried c.68_69delAG.",
    ]
    assert {s.corpus for s in sentences} == {"BioRED"}


def test_excluded_documents_give_no_sentence() -> None:
    """``exclude`` leaves out the PubTator documents with those ids (another corpus's devel documents), and only
    those."""
    every = read_labelled(BIORED, TYPES, corpus="BioRED")
    first = read_labelled(BIORED, TYPES, corpus="BioRED", exclude={"202"})
    second = read_labelled(BIORED, TYPES, corpus="BioRED", exclude={"201"})
    assert first and second and first + second == every
    assert first[0].text == "Metformin and BRCA1 in human HeLa cells."
    assert read_labelled(BIORED, TYPES, corpus="BioRED", exclude={"201", "202"}) == []


def test_a_sentence_is_not_cut_inside_a_mention(tmp_path: Path) -> None:
    abstract = "Patients had St. John disease. It was rare."
    plain = write_pubtator(tmp_path / "plain.txt", "A title", abstract, [])
    assert [s.text for s in read_labelled(plain, TYPES)] == [
        "A title",
        "Patients had St.",
        "John disease.",
        "It was rare.",
    ]
    disease = [("St. John disease", "DiseaseOrPhenotypicFeature")]
    annotated = write_pubtator(tmp_path / "a.txt", "A title", abstract, disease)
    sentences = read_labelled(annotated, TYPES)
    assert [s.text for s in sentences] == ["A title", "Patients had St. John disease.", "It was rare."]
    assert sentences[1].entities == ((13, 29, "disease"),)


def test_for_training_a_mention_must_be_whole_words_and_overlap_none_kept(tmp_path: Path) -> None:
    """With the pre-tokenizer's words, `BRCA1` inside `BRCA1s` and `TP53` inside the longer `TP53 genes` are left out
    (the decoder emits whole words, and one span per place); evaluation keeps every gold mention."""
    path = write_pubtator(
        tmp_path / "t.txt",
        "BRCA1s and TP53 genes",
        "",
        [("BRCA1", "GeneOrGeneProduct"), ("TP53 genes", "GeneOrGeneProduct"), ("TP53", "GeneOrGeneProduct")],
    )
    [every] = read_labelled(path, TYPES)
    [whole] = read_labelled(path, TYPES, words=bert_words)
    assert every.entities == ((0, 5, "gene"), (11, 15, "gene"), (11, 21, "gene"))
    assert whole.entities == ((11, 21, "gene"),)


def test_a_mention_that_is_not_the_text_at_its_offsets_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A PubTator file whose offsets do not fit its text is refused with the document and offsets named; the CLI
    prints that as one error line (exit 1), not a traceback."""
    path = tmp_path / "bad.txt"
    path.write_text("7|t|Aspirin helps\n7|a|\n7\t0\t5\tHelps\tChemicalEntity\tD1\n\n", encoding="utf-8")
    message = r"PubTator document 7: mention 'Helps' at 0-5 does not match the text there, 'Aspir'"
    with pytest.raises(InputError, match=message):
        read_labelled(path, TYPES)
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "ner", "--conll", str(path), "--corpus", "BioRED", "--json"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err


def test_a_conll_file_reads_as_before(tmp_path: Path) -> None:
    conll = tmp_path / "NCBI-disease-IOB" / "devel.tsv"
    conll.parent.mkdir()
    conll.write_text("-DOCSTART-\tO\n\nBreast\tB-Disease\ncancer\tI-Disease\n\n", encoding="utf-8")
    types = load_label_map()["NCBI-disease-IOB"]
    assert read_labelled(conll, types, words=bert_words) == read_conll(conll, types)
