"""Batch tokenisation with the normaliser done in Python gives exactly what the tokenizer gives.

The reference is the tokenizer's own call (``tokenizer(texts, add_special_tokens=False,
return_offsets_mapping=True)``: its full normaliser, alignments and all) over the bundled sample abstracts and
many random texts of letters, digits, punctuation, spaces and unicode: characters the normaliser maps to one
character (accents, Greek capitals, fullwidth letters, no-break spaces) and ones it removes or pads (soft
hyphens, zero-width joiners, combining accents, control characters, CJK).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from test_word_spans import random_text
from tokenizers import pre_tokenizers

from kazu_spark.ner.model import load_tokenizer
from kazu_spark.ner.subtokens import LETTER, Subtokenizer
from kazu_spark.paths import resolve_path

ODD = ["ΟΔΟΣ Σίσυφος", "e\u0301\u0323x", "İstanbul ǅ ß ﬁ", "a\x00b\x7fc\x1fd\ufffd", "x\u3000y\u2028z", "\u0301"]
# added tokens ([MASK] and [CLS] matched before normalising), empty texts, words beyond 100 characters
ODD += ["the [MASK] of [CLS]x and [cls]", "", "   ", "a" * 150 + " b", "x" * 99 + "\u00e9 ok"]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(resolve_path("pkg://kazu_spark/resources/model"))


def texts() -> list[str]:
    sample = Path(resolve_path("pkg://kazu_spark/resources/sample/abstracts.jsonl")).read_text(encoding="utf-8")
    abstracts = [json.loads(line) for line in sample.splitlines()]
    rng = random.Random(7)
    return [t for a in abstracts for t in (a["title"], a["abstract"])] + [random_text(rng) for _ in range(2000)] + ODD


def test_same_ids_offsets_and_word_ids_as_the_tokenizer(tokenizer):
    batch = texts()
    subtokenizer = Subtokenizer(tokenizer)
    sub = subtokenizer(batch)
    expected = tokenizer(batch, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    ids, offsets, words = sub.split(sub.ids), sub.split(sub.offsets), sub.split(sub.word_ids)
    for i, text in enumerate(batch):
        assert ids[i].tolist() == expected["input_ids"][i], text
        assert [tuple(o) for o in offsets[i].tolist()] == expected["offset_mapping"][i], text
        assert words[i].tolist() == expected.word_ids(i), text
    normalised_here = [subtokenizer.normalised(t) is not None for t in batch]
    assert any(normalised_here) and not all(normalised_here)  # both paths were taken


def test_texts_longer_than_the_tokenizer_truncation_are_not_cut(tokenizer):
    text = "BRCA1 " * 300  # the bundled tokenizer.json truncates at 128; the stage windows instead
    sub = Subtokenizer(tokenizer)([text])
    assert sub.sizes.tolist() == [len(tokenizer(text, add_special_tokens=False)["input_ids"])] and sub.sizes[0] > 512


def test_a_character_the_fast_word_split_treats_differently_takes_the_full_path(tokenizer):
    """The safety net of the regex word split: were it to differ from the tokenizer's own pre-tokenizer on some
    character (here: a split at whitespace only, blind to punctuation), texts with that character still come
    out as the tokenizer tokenises them."""
    subtokenizer = Subtokenizer(tokenizer)
    subtokenizer._bare.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    batch = ["BRCA1 and TP53", "IL-6 (interleukin 6) in mice.", "p53, p21; and Müller glia"]
    sub = subtokenizer(batch)
    expected = tokenizer(batch, add_special_tokens=False, return_offsets_mapping=True)
    assert [ids.tolist() for ids in sub.split(sub.ids)] == expected["input_ids"]
    assert [[tuple(o) for o in offsets.tolist()] for offsets in sub.split(sub.offsets)] == expected["offset_mapping"]
    assert [subtokenizer.normalised(t) is not None for t in batch] == [True, False, False]


def test_offsets_worked_out_from_words_fall_back_when_the_pieces_do_not_tile_them(tokenizer):
    """The check behind offsets computed here: told a wrong kind for '-' (a letter, so 'il-6' one word), the
    pieces no longer tile the words, the batch is tokenised again with offsets, and nothing changes."""
    subtokenizer = Subtokenizer(tokenizer)
    subtokenizer._ascii_kinds[ord("-")] = LETTER
    batch = ["IL-6 and TNF-alpha", "no hyphen here"]
    normalised = [subtokenizer.normalised(t) for t in batch]
    pieces = tokenizer(batch, add_special_tokens=False)["input_ids"]
    sizes = np.array([len(p) for p in pieces])
    assert subtokenizer._word_offsets(normalised, np.concatenate(pieces), sizes) is None
    sub = subtokenizer(batch)
    expected = tokenizer(batch, add_special_tokens=False, return_offsets_mapping=True)
    assert [[tuple(o) for o in offsets.tolist()] for offsets in sub.split(sub.offsets)] == expected["offset_mapping"]
    assert [w.tolist() for w in sub.split(sub.word_ids)] == [expected.word_ids(0), expected.word_ids(1)]
