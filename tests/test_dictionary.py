"""Dictionary NER: Aho-Corasick search with case and word-boundary rules, and the merge policies."""

from __future__ import annotations

import os
import pickle
import random
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from kazu_spark.config import DictionaryConfig
from kazu_spark.ner.dictionary import DictionaryMatcher, Hit, entities_for_batch
from kazu_spark.ner.spans import entity_id
from kazu_spark.ner.spark import dictionary_entities
from kazu_spark.ner.steps import merge_step_entities
from kazu_spark.schemas import ENTITIES, NER_INPUT, ddl

ENTRIES = [
    ("breast cancer", "disease", "MEDIC"),
    ("cancer", "disease", "MEDIC"),
    ("BRCA1", "gene", "HGNC"),
    ("CAT", "gene", "HGNC"),
    ("MS", "disease", "MEDIC"),
    ("was", "gene", "HGNC"),
    ("aspirin", "drug", "MeSH"),
    ("aspirin", "drug", "ChEBI"),
    ("HeLa", "cell_line", "Cellosaurus"),
]


@pytest.fixture(scope="module")
def matcher() -> DictionaryMatcher:
    return DictionaryMatcher.build(ENTRIES, min_length=2, blocklist=["WAS"])


def spans(matcher: DictionaryMatcher, text: str) -> list[tuple[str, str, str]]:
    return [(text[h.start : h.end], h.entity_class, h.source) for h in matcher.find(text)]


def test_noun_phrases_ignore_case_symbols_keep_it(matcher: DictionaryMatcher) -> None:
    text = "BREAST CANCER, Breast cancer; BRCA1 not Brca1; CAT not cat; MS not Ms; HeLa not hela"
    assert spans(matcher, text) == [
        ("BREAST CANCER", "disease", "MEDIC"),
        ("Breast cancer", "disease", "MEDIC"),
        ("BRCA1", "gene", "HGNC"),
        ("CAT", "gene", "HGNC"),
        ("MS", "disease", "MEDIC"),
        ("HeLa", "cell_line", "Cellosaurus"),
    ]


def test_word_boundaries_longest_match_blocklist_and_one_source(matcher: DictionaryMatcher) -> None:
    assert spans(matcher, "cancers, anticancer, BRCA12, breast cancer-free") == [("breast cancer", "disease", "MEDIC")]
    assert spans(matcher, "it was aspirin (MS)") == [("aspirin", "drug", "ChEBI"), ("MS", "disease", "MEDIC")]


def test_short_synonyms_are_not_searched() -> None:
    assert DictionaryMatcher.build(ENTRIES, min_length=3).find("MS and CAT") == [(7, 10, "gene", "HGNC")]


def test_offsets_survive_case_folding_that_changes_length(matcher: DictionaryMatcher) -> None:
    text = "İstanbul: breast cancer"  # 'İ'.lower() is two code points
    [hit] = matcher.find(text)
    assert text[hit.start : hit.end] == "breast cancer"


def test_matcher_pickles_and_batch_rows_point_into_the_text(matcher: DictionaryMatcher) -> None:
    text = "BRCA1 title\n\nbreast cancer body"
    sections = [{"name": "title", "start": 0, "end": 11}, {"name": "body", "start": 13, "end": len(text)}]
    docs = pd.DataFrame({"doc_id": ["d"], "text": [text], "sections": [sections], "content_hash": ["h"]})
    rows = entities_for_batch(pickle.loads(pickle.dumps(matcher)), docs).to_dict("records")
    assert [(r["section"], r["mention"], r["model"]) for r in rows] == [
        ("title", "BRCA1", "dictionary:HGNC"),
        ("body", "breast cancer", "dictionary:MEDIC"),
    ]
    assert all(text[r["start"] : r["end"]] == r["mention"] for r in rows)
    assert rows[1]["entity_id"] == entity_id("d", "body", 13, 26, "disease") and rows[1]["confidence"] == 1.0


@pytest.mark.spark
def test_dictionary_entities_merged_by_policy(spark: SparkSession) -> None:
    text = "Breast cancer in BRCA1 carriers."
    documents = spark.createDataFrame(
        [("d", text, [{"name": "body", "start": 0, "end": len(text)}], "h")],
        ddl(NER_INPUT),
    )
    terms = spark.createDataFrame(ENTRIES, "synonym string, entity_class string, source string")  # the columns used
    found = dictionary_entities(documents, terms, DictionaryConfig(sources=["MEDIC", "HGNC"]))
    # the model found "cancer" (overlaps the dictionary's "Breast cancer") and "carriers" as a disease
    model = spark.createDataFrame(
        [
            (entity_id("d", "body", s, e, "disease"), "d", "body", s, e, text[s:e], "disease", 0.7, "m", "h", "r")
            for s, e in ((7, 13), (23, 31))
        ],
        ENTITIES,
    ).drop("run_id")
    steps = {  # ner.steps order and ner.merge policy
        "union": ([model, found], "union"),
        "model_first": ([model, found], "first_wins"),
        "dictionary_first": ([found, model], "first_wins"),
    }
    kept = {
        name: sorted((r["mention"], r["model"]) for r in merge_step_entities(frames, policy).collect())
        for name, (frames, policy) in steps.items()
    }
    assert kept["union"] == [
        ("BRCA1", "dictionary:HGNC"),
        ("Breast cancer", "dictionary:MEDIC"),
        ("cancer", "m"),
        ("carriers", "m"),
    ]
    assert kept["model_first"] == [("BRCA1", "dictionary:HGNC"), ("cancer", "m"), ("carriers", "m")]
    assert kept["dictionary_first"] == [
        ("BRCA1", "dictionary:HGNC"),
        ("Breast cancer", "dictionary:MEDIC"),
        ("carriers", "m"),
    ]


def test_overlaps_resolved_as_longest_then_leftmost_per_class_on_a_long_text() -> None:
    """Per class the longest hit wins over those it overlaps, then the leftmost: the same hits as comparing
    each hit with every kept one (the rule as first written), on a text with thousands of overlapping hits."""
    entries = [(w, c, "S") for w in ("a b", "b c", "a b c", "c d", "b", "d e f", "e") for c in ("gene", "disease")]
    matcher = DictionaryMatcher.build(entries)
    rng = random.Random(5)
    text = " ".join(rng.choice("abcdef") for _ in range(3_000))
    found = matcher.find(text)
    brute: list = []
    every = sorted({h for w in ("a b", "b c", "a b c", "c d", "b", "d e f", "e") for h in _all_hits(text, w)})
    for hit in sorted(every, key=lambda h: (h.start - h.end, h.start, h.entity_class)):
        if not any(k.entity_class == hit.entity_class and k.start < hit.end and hit.start < k.end for k in brute):
            brute.append(hit)
    assert found == sorted(brute) and len(found) > 1_000


def _all_hits(text: str, word: str) -> list[Hit]:
    """Every word-bounded occurrence of ``word`` in ``text``, for both classes."""
    found = []
    for match in re.finditer(rf"(?<!\w)(?={re.escape(word)}(?!\w))", text):
        found += [Hit(match.start(), match.start() + len(word), c, "S") for c in ("disease", "gene")]
    return found


def test_a_symbol_and_a_noun_phrase_on_one_span_give_the_smallest_source_in_every_process() -> None:
    """``BAD`` is a symbol and ``Bad`` a noun phrase of the gene class, from two entries (known names: two rates).
    The order of a set of hits chose between them, and string hashes differ per process: a known name's confidence
    changed from run to run. Each process here has its own hash seed."""
    code = (
        "from kazu_spark.ner.dictionary import DictionaryMatcher as M; "
        "print(M.build([('BAD', 'gene', 'b'), ('Bad', 'gene', 'a')]).find('the BAD protein')[0].source)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    sources = {
        subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONHASHSEED": str(seed)}, capture_output=True,
                       text=True, check=True).stdout.strip()
        for seed in range(8)
    }  # fmt: skip
    assert sources == {"a"}
