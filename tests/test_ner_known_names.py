"""Known names (``ner.known_names``): what ``train names`` keeps, where the model step adds them, the bundled file."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from kazu_spark.cli.main import main
from kazu_spark.config import Config, NerConfig, load_config
from kazu_spark.documents.conll import Sentence
from kazu_spark.errors import InputError
from kazu_spark.ner.known_names import (
    MIN_LENGTH,
    KnownName,
    KnownNames,
    count_names,
    load_names,
    read_names,
    select_names,
    write_names,
)
from kazu_spark.paths import resolve_path
from kazu_spark.pipeline.frames import annotate_dataframe
from kazu_spark.pipeline.texts import tag_texts

BIORED = Path(__file__).parent / "data" / "linking" / "biored.pubtator"


def sentence(text: str, marked: list[str], cls: str, corpus: str) -> Sentence:
    """``text`` with each of ``marked`` (at its first place after the previous one) a gold mention of ``cls``."""
    spans, at = [], 0
    for mention in marked:
        at = text.index(mention, at)
        spans.append((at, at + len(mention), cls))
        at += len(mention)
    return Sentence(text, tuple(spans), corpus)


def test_a_name_is_kept_when_marked_most_times_it_is_written_in_every_corpus() -> None:
    """Found twice or more, marked at least 60 % of those times over all corpora and half of them in each corpus that
    writes it twice; counted only in the corpora that annotate its class."""
    corpus_a = [
        sentence("Zorbax binds Zorbax receptors.", ["Zorbax", "Zorbax"], "gene", "A"),
        sentence("Zorbax again, and cells and p99.", ["Zorbax", "cells", "p99"], "gene", "A"),
        sentence("The cells grew and cells died.", [], "gene", "A"),
        sentence("Quix once.", ["Quix"], "gene", "A"),
        sentence("Mixa is Mixa.", ["Mixa", "Mixa"], "gene", "A"),
        sentence("p99 is p99.", ["p99", "p99"], "gene", "A"),
    ]
    corpus_b = [
        sentence("Mixa and Mixa and Mixa.", [], "gene", "B"),  # B annotates genes and does not mark Mixa
        sentence("p99 here.", ["p99"], "gene", "B"),
        sentence("Zorbax in a corpus without genes.", [], "gene", "C"),
    ]
    counts = count_names(corpus_a + corpus_b, {"A": {"gene"}, "B": {"gene"}, "C": {"disease"}})
    by_name = {(c.name, c.corpus): (c.marked, c.found) for c in counts}
    assert by_name[("zorbax", "A")] == (3, 3) and ("zorbax", "C") not in by_name  # C does not annotate genes
    assert by_name[("cells", "A")] == (1, 3)
    kept = select_names(counts)
    assert [(n.name, n.marked, n.found) for n in kept] == [("p99", 4, 4), ("zorbax", 3, 3)]  # Quix: found once
    assert "Mixa".lower() in {n.name for n in select_names(counts, min_corpus_rate=0.0, min_rate=0.4)}


def test_a_name_is_added_only_where_the_model_found_nothing_of_it() -> None:
    """A hit overlapping a model entity of its class, or inside a longer model entity of any class, is not added; a
    hit beside the model's entities, or on the same words as an entity of another class, is, with its rate."""
    names = KnownNames([("Zorbax", "drug", 0.75), ("tumor", "disease", 0.8), ("Jurkat", "cell_line", 0.9)])
    text = "Zorbax treats tumor cells; Jurkat cells and a tumor."
    model = [(14, 25, "cell_type"), (27, 39, "cell_line"), (0, 6, "gene")]
    assert names.missed(text, model) == [(0, 6, "drug", 0.75), (46, 51, "disease", 0.8)]
    assert names.missed(text, []) == [(0, 6, "drug", 0.75), (14, 19, "disease", 0.8), (27, 33, "cell_line", 0.9),
                                      (46, 51, "disease", 0.8)]  # fmt: skip
    assert names.missed("Zorbaxes and tumors", []) == []  # whole words only


def test_the_rule_holds_against_every_model_span_on_random_texts() -> None:
    """``missed`` compares a hit only with the model spans that can reach it; on random texts and spans it keeps
    exactly the hits that the rule, checked against every span, keeps."""
    names = KnownNames([(w, c, 0.7) for w in ("abc", "abc def", "def", "gh ij", "klm") for c in ("gene", "drug")])
    rng = random.Random(7)
    for _ in range(500):
        text = " ".join(rng.choice(["abc", "def", "gh", "ij", "klm", "x"]) for _ in range(rng.randint(1, 12)))
        spans = []
        for _ in range(rng.randint(0, 5)):
            a = rng.randint(0, len(text))
            spans.append((a, rng.randint(a, len(text)), rng.choice(["gene", "drug", "disease"])))
        every = [
            (h.start, h.end, h.entity_class, 0.7)
            for h in names.matcher.find(text)
            if not any(
                (c == h.entity_class and a < h.end and h.start < b)
                or (a <= h.start and h.end <= b and b - a > h.end - h.start)
                for a, b, c in spans
            )
        ]
        assert names.missed(text, spans) == every


def test_known_names_files_round_trip_and_bad_ones_are_refused(tmp_path: Path) -> None:
    names = [KnownName("p53", "gene", 9, 10), KnownName("breast cancer", "disease", 3, 4)]
    assert write_names(names, tmp_path / "n.tsv") == 2
    assert read_names(tmp_path / "n.tsv") == names
    assert load_names(str(tmp_path / "n.tsv")) == [("p53", "gene", 0.9), ("breast cancer", "disease", 0.75)]
    (tmp_path / "bad.tsv").write_text("p53\tgene\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a known-names file"):
        read_names(tmp_path / "bad.tsv")
    (tmp_path / "short.tsv").write_text("name\tentity_class\tmarked\tfound\np53\tgene\t9\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2"):
        read_names(tmp_path / "short.tsv")


def test_the_bundled_names_obey_the_selection_rule() -> None:
    """Every bundled name was found twice or more and marked at least 60 % of those times, is long enough to be
    searched, is of a class the bundled model tags, and of one class but on a tie; the default configuration reads
    it."""
    path = NerConfig().known_names
    assert path == load_config().ner.known_names
    names = read_names(resolve_path(path))
    model_classes = {"cell_line", "cell_type", "disease", "drug", "gene", "species"}
    assert len(names) > 1000 and {n.entity_class for n in names} == model_classes
    assert all(n.found >= 2 and n.marked >= 0.6 * n.found and len(n.name) >= MIN_LENGTH for n in names)
    marks: dict[str, set[int]] = {}
    for n in names:
        marks.setdefault(n.name, set()).add(n.marked)
    assert all(len(times) == 1 for times in marks.values())  # several classes only on a tie


def _names_file(tmp_path: Path) -> str:
    path = tmp_path / "names.tsv"
    write_names([KnownName("marrowleaf", "species", 3, 4)], path)
    return str(path)


def _found(rows: pd.DataFrame) -> list[tuple[str, str]]:
    return sorted(zip(rows["mention"], rows["entity_class"], strict=True))


def test_tag_texts_adds_the_known_names_the_model_misses(tmp_path: Path) -> None:
    """A name the model does not know is tagged when it is a known name, with its rate as confidence and the names'
    fingerprint as the emitter; with ``ner.known_names: null`` it is not."""
    text = ["Patients with breast cancer were seen at the marrowleaf clinic daily."]
    on = Config().model_copy(update={"ner": NerConfig(precision="fp32", known_names=_names_file(tmp_path))})
    off = Config().model_copy(update={"ner": NerConfig(precision="fp32", known_names=None)})
    with_names, without = tag_texts(text, on), tag_texts(text, off)
    assert ("marrowleaf", "species") in _found(with_names) and ("marrowleaf", "species") not in _found(without)
    added = with_names[with_names["mention"] == "marrowleaf"].iloc[0]
    assert added["confidence"] == pytest.approx(0.75) and added["model"].startswith("known-names@")
    assert set(_found(without)) <= set(_found(with_names))


def test_the_spark_stage_ships_the_known_names_from_the_driver(spark: SparkSession, tmp_path: Path) -> None:
    """The NER stage reads the names on the driver and its workers add them as ``tag_texts`` does."""
    cfg = Config().model_copy(update={"ner": NerConfig(precision="fp32", known_names=_names_file(tmp_path))})
    texts = ["Mice given the compound lost BRCA1 expression near the marrowleaf site.", "No name here."]
    docs = spark.createDataFrame([(str(i), t) for i, t in enumerate(texts)], "doc_id string, text string")
    entities, _ = annotate_dataframe(docs, id_col="doc_id", text_col="text", conf=cfg)
    rows = entities.toPandas()
    local = tag_texts(texts, cfg)
    assert ("marrowleaf", "species") in _found(rows)
    assert _found(rows) == _found(local)


def test_train_names_writes_the_names_of_the_train_splits(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``kazu-spark train names`` counts the IOB train splits and a PubTator ``--train-file`` without the documents
    of ``--exclude-documents``, and writes what ``ner.known_names`` reads."""
    folder = tmp_path / "corpora" / "NCBI-disease-IOB"
    folder.mkdir(parents=True)
    lines = ["Crohn\tB-Disease", "disease\tI-Disease", "and\tO", "Crohn\tB-Disease", "disease\tI-Disease", ""]
    (folder / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "devel.txt").write_text("202|t|A devel title.\n\n", encoding="utf-8")
    out = tmp_path / "names.tsv"
    main(["train", "names", "--corpora", str(tmp_path / "corpora"), "--train-file", f"BioRED={BIORED}",
          "--exclude-documents", str(tmp_path / "devel.txt"), "--out", str(out), "--min-found", "1"])  # fmt: skip
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    names = {(n.name, n.entity_class) for n in read_names(out)}
    assert ("crohn disease", "disease") in names and ("HeLa", "cell_line") in names
    assert summary["names"] == len(names) and summary["corpora"] == ["BioRED", "NCBI-disease-IOB"]
    excluded = read_names(out)
    main(["train", "names", "--corpora", str(tmp_path / "corpora"), "--train-file", f"BioRED={BIORED}",
          "--out", str(out), "--min-found", "1"])  # fmt: skip
    assert len(read_names(out)) > len(excluded)  # document 202's names are back
