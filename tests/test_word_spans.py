"""Word-level decoding: spans start and end on the tokenizer's word boundaries, never inside a word.

The property test draws many texts (random letters, digits, punctuation, spaces and unicode, and the
bundled sample abstracts), random probabilities for their sub-tokens, and checks every decoder and
aggregation against words found independently of the code under test: the tokenizer's own normaliser
and pre-tokenizer run on the text (``tokenizers.PreTokenizedString``), not ``word_ids()``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from tokenizers import PreTokenizedString

from kazu_spark.ner.decode import decode_batch, word_probs
from kazu_spark.ner.labels import BIO_LABELS
from kazu_spark.ner.model import load_tokenizer
from kazu_spark.ner.windows import make_windows_batch
from kazu_spark.paths import resolve_path

LABELS = list(BIO_LABELS)
SAMPLE = Path(resolve_path("pkg://kazu_spark/resources/sample/abstracts.jsonl"))
#: characters the random texts are drawn from, by kind; separators split words, the rest build them
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
PUNCTUATION = "-()[];:,./'\"%+=<>_&*#@!?"
UNICODE = "éüßøåçñαβγκΔμ²³⁺⁻₂ﬁＴＮＦ中文癌😀🧬Яжعربي\u0301\u00ad\u200d"
SPACES = "  \t\n\u00a0"


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(resolve_path("pkg://kazu_spark/resources/model"))


def words_of(text: str, tokenizer) -> list[tuple[int, int]]:
    """The text's words, code-point ``(start, end)``, by the tokenizer's own normaliser and pre-tokenizer."""
    backend = tokenizer.backend_tokenizer
    pieces = PreTokenizedString(text)
    pieces.normalize(lambda normalized: backend.normalizer.normalize(normalized))
    backend.pre_tokenizer.pre_tokenize(pieces)
    return [offsets for _, offsets, _ in pieces.get_splits(offset_referential="original", offset_type="char")]


def split_words(spans, words: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans with a boundary strictly inside a word (the same word's characters on both sides)."""
    inside = {cut for start, end in words for cut in range(start + 1, end)}
    return [(s.start, s.end) for s in spans if s.start in inside or s.end in inside]


def random_text(rng: random.Random) -> str:
    """Words of letters, digits, punctuation and unicode, joined by runs of spaces (or nothing)."""
    kinds = [LETTERS, DIGITS, PUNCTUATION, UNICODE]
    words = [
        "".join(rng.choice(rng.choices(kinds, weights=[6, 2, 1, 2])[0]) for _ in range(rng.randint(1, 14)))
        for _ in range(rng.randint(0, 12))
    ]
    return "".join(word + "".join(rng.choices(SPACES, k=rng.randint(0, 2))) for word in words)


def random_probs(rng: np.random.Generator, n: int) -> np.ndarray:
    """``[n, labels]`` probabilities, dense enough that spans start and end nearly everywhere."""
    fires = rng.random((n, len(LABELS))) < 0.35
    return np.where(fires, rng.uniform(0.5, 1.0, fires.shape), rng.uniform(0.0, 0.5, fires.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def cases(tokenizer):
    """400 random texts and the sample's 120 abstracts: texts, their windowed sub-tokens and their words."""
    rng = random.Random(16)
    abstracts = [json.loads(line)["abstract"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    texts = [random_text(rng) for _ in range(400)] + abstracts
    return texts, make_windows_batch(texts, tokenizer), [words_of(text, tokenizer) for text in texts]


@pytest.mark.parametrize("decoder", ["sigmoid", "softmax", "io"])
def test_no_span_splits_a_word(cases, decoder):
    texts, docs, words = cases
    rng = np.random.default_rng(16)
    probs = [random_probs(rng, len(doc.offsets)) for doc in docs]
    offsets, word_ids = [doc.offsets for doc in docs], [doc.word_ids for doc in docs]
    found = {
        how: decode_batch(probs, offsets, texts, LABELS, 0.5, decoder, word_ids=word_ids, aggregation=how)
        for how in ("first", "mean", "max", "none")
    }
    for how in ("first", "mean", "max"):
        assert sum(map(len, found[how])) > 1000  # the property is tried on many spans
        broken = {t: split_words(spans, w) for t, spans, w in zip(texts, found[how], words, strict=True)}
        assert not {t: b for t, b in broken.items() if b}, how
    # the same probabilities decoded per sub-token do split words: the check can fail
    assert sum(len(split_words(spans, w)) for spans, w in zip(found["none"], words, strict=True)) > 100


def test_word_probs_pool_each_word_by_first_mean_and_max():
    probs = [
        np.array([[0.9, 0.1], [0.3, 0.7], [0.0, 0.2], [0.6, 0.5]], dtype=np.float32),  # words 0 0 0 1
        np.zeros((0, 2), dtype=np.float32),  # an empty text between two others
        np.array([[0.25, 0.0], [0.75, 1.0]], dtype=np.float32),  # one word of two sub-tokens
    ]
    offsets = [np.array([[0, 2], [2, 4], [4, 5], [6, 9]]), np.zeros((0, 2), dtype=np.int64), np.array([[0, 3], [3, 4]])]
    word_ids = [np.array([0, 0, 0, 1]), np.zeros(0, dtype=np.int64), np.array([0, 0])]
    expected = {
        "first": [[[0.9, 0.1], [0.6, 0.5]], [], [[0.25, 0.0]]],
        "mean": [[[0.4, 1 / 3], [0.6, 0.5]], [], [[0.5, 0.5]]],
        "max": [[[0.9, 0.7], [0.6, 0.5]], [], [[0.75, 1.0]]],
    }
    for how, rows in expected.items():
        pooled, spans = word_probs(probs, offsets, word_ids, how)
        assert len(pooled) == 3
        for got, want in zip(pooled, rows, strict=True):
            np.testing.assert_allclose(got, np.array(want, dtype=np.float32).reshape(-1, 2), rtol=1e-6)
        assert [s.tolist() for s in spans] == [[[0, 5], [6, 9]], [], [[0, 4]]]
        assert pooled[1].shape == (0, 2)


def decode_words(probs: np.ndarray, how: str, decoder: str = "sigmoid") -> list[tuple[str, str]]:
    """Spans of "PTEN loss in rectal cancer": sub-tokens PT EN loss in rec tal cancer, 5 words."""
    text = "PTEN loss in rectal cancer"
    offsets = np.array([[0, 2], [2, 4], [5, 9], [10, 12], [13, 16], [16, 19], [20, 26]])
    word_ids = np.array([0, 0, 1, 2, 3, 3, 4])
    [spans] = decode_batch([probs], [offsets], [text], LABELS, 0.5, decoder, word_ids=[word_ids], aggregation=how)
    return [(text[s.start : s.end], s.entity_class) for s in spans]


def tagged(rows: dict[tuple[int, str], float]) -> np.ndarray:
    probs = np.zeros((7, len(LABELS)), dtype=np.float32)
    for (token, label), p in rows.items():
        probs[token, LABELS.index(label)] = p
    return probs


def test_first_takes_the_word_from_its_first_sub_token():
    # the model starts a gene on PT but not on EN, and a disease on tal (inside "rectal") only
    probs = tagged({(0, "B-gene"): 0.9, (5, "B-disease"): 0.8, (6, "I-disease"): 0.9})
    assert decode_words(probs, "none") == [("PT", "gene"), ("tal cancer", "disease")]
    assert decode_words(probs, "first") == [("PTEN", "gene"), ("cancer", "disease")]


def test_mean_averages_the_sub_tokens_of_a_word():
    probs = tagged({(0, "B-gene"): 0.9, (1, "B-gene"): 0.2, (4, "B-disease"): 0.4, (5, "B-disease"): 0.8})
    # PTEN: B-gene (0.9 + 0.2) / 2 = 0.55 >= 0.5; rectal: (0.4 + 0.8) / 2 = 0.6
    assert decode_words(probs, "mean") == [("PTEN", "gene"), ("rectal", "disease")]
    probs[1, LABELS.index("B-gene")] = 0.0  # (0.9 + 0) / 2 < 0.5: no gene
    assert decode_words(probs, "mean") == [("rectal", "disease")]


def test_max_takes_the_strongest_sub_token_of_a_word():
    probs = tagged({(1, "B-gene"): 0.7, (5, "B-disease"): 0.6, (6, "I-disease"): 0.9})
    assert decode_words(probs, "max") == [("PTEN", "gene"), ("rectal cancer", "disease")]
    assert decode_words(probs, "first") == [("cancer", "disease")]


@pytest.mark.parametrize("how", ["first", "mean", "max"])
def test_every_decoder_decodes_words(how):
    one_hot = np.full((7, len(LABELS)), 0.0, dtype=np.float32)
    one_hot[:, LABELS.index("O")] = 1.0
    for token, label in [(0, "B-gene"), (1, "B-gene"), (4, "B-disease"), (5, "I-disease"), (6, "I-disease")]:
        one_hot[token] = 0.0
        one_hot[token, LABELS.index(label)] = 1.0
    expected = [("PTEN", "gene"), ("rectal cancer", "disease")]
    assert decode_words(one_hot, how, "sigmoid") == expected
    assert decode_words(one_hot, how, "softmax") == expected
    assert decode_words(one_hot, how, "io") == expected


def test_aggregation_needs_word_ids_and_a_known_name():
    probs, offsets = [np.zeros((1, len(LABELS)))], [np.array([[0, 2]])]
    with pytest.raises(ValueError, match="needs the word_ids"):
        decode_batch(probs, offsets, ["ab"], LABELS, aggregation="first")
    with pytest.raises(ValueError, match="aggregation must be one of first, mean, max"):
        decode_batch(probs, offsets, ["ab"], LABELS, word_ids=[np.array([0])], aggregation="sum")  # type: ignore[arg-type]
