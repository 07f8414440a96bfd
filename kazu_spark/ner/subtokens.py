"""Tokenise a batch of texts into stacked sub-token ids, offsets and word ids, BERT's normaliser in Python.

Stacked numpy arrays for the whole batch (:class:`Subtokens`) are what windows and decoding work on.

The fast tokenizer's ``BertNormalizer`` (drop control characters, space out CJK ideographs, strip accents,
lowercase) tracks an alignment for every character: it was a third of the time of tokenising an abstract.
Most characters normalise to exactly one character, without context: ``A`` to ``a``, ``é`` to ``e``, a
no-break space to a space. A text made only of such characters is normalised with one ``str.translate``
and tokenised by a copy of the tokenizer that has no normaliser; as no character is added or removed, its
sub-tokens, code-point offsets and word ids are the full tokenizer's. A text with any other character (a
control character or soft hyphen, which the normaliser removes; a CJK ideograph, which it pads with
spaces; a combining mark) goes through the full tokenizer. What becomes of each character is asked of
the tokenizer's own normaliser once and remembered. Tokenizers with another normaliser always take the
full path.

The copy without normaliser also splits words with one regular expression instead of ``BertPreTokenizer``
(runs of characters that are neither whitespace nor punctuation, and single punctuation characters: the
same rule, faster in the tokenizers library). The two could only disagree on a character whose Unicode
class the two libraries' tables see differently, so each character is also tried in both (``a?a``) when it
is first seen, and one they split differently sends its texts down the full path.

Example:
    >>> from kazu_spark.ner.model import load_tokenizer
    >>> from kazu_spark.paths import resolve_path
    >>> tok = load_tokenizer(resolve_path("pkg://kazu_spark/resources/model"))
    >>> texts = ["Ca²⁺ in Müller glia", "", "IL\\u00ad6"]  # the soft hyphen takes the full path
    >>> sub = subtokenize(texts, tok)
    >>> sub.sizes.tolist(), tok.convert_ids_to_tokens(sub.ids.tolist())[:4]
    ([7, 0, 2], ['ca', '##²', '##⁺', 'in'])
    >>> [texts[0][s:e] for s, e in sub.offsets[:7].tolist()], sub.word_ids[:7].tolist()
    (['Ca', '²', '⁺', 'in', 'Müller', 'g', 'lia'], [0, 0, 0, 1, 2, 3, 3])
    >>> [texts[2][s:e] for s, e in sub.offsets[7:].tolist()]
    ['IL', '6']
"""

from __future__ import annotations

import unicodedata
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from tokenizers import Encoding, Regex, Tokenizer, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast

__all__ = ["Subtokenizer", "Subtokens", "subtokenize"]

#: ``BertPreTokenizer``'s words as one regex split: runs of neither whitespace nor punctuation (Unicode P*
#: and the ASCII symbols Rust counts as ASCII punctuation), and each punctuation character alone
BERT_WORDS = Regex(r"[^\s\p{P}$+<=>^`|~]+|[\p{P}$+<=>^`|~]")


@dataclass(frozen=True)
class Subtokens:
    """The sub-tokens (no special tokens) of a batch of texts, stacked in text order.

    ``ids`` ``[n]``, ``offsets`` ``[n, 2]`` (code points into each sub-token's own text, end exclusive),
    ``word_ids`` ``[n]`` (the pre-tokenizer word of each sub-token, numbered from 0 in each text) and
    ``sizes`` ``[texts]`` (sub-tokens per text): text ``t``'s rows are ``starts[t] : starts[t] + sizes[t]``.
    """

    ids: np.ndarray
    offsets: np.ndarray
    word_ids: np.ndarray
    sizes: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        """The first row of each text."""
        return np.cumsum(self.sizes) - self.sizes

    def split(self, rows: np.ndarray) -> list[np.ndarray]:
        """``rows`` (one per sub-token, stacked like the sub-tokens) cut into one array per text (views)."""
        return np.split(rows, np.cumsum(self.sizes)[:-1])


class Subtokenizer:
    """Tokenises batches of texts into :class:`Subtokens` like ``tokenizer(texts, add_special_tokens=False)``.

    Holds two copies of the tokenizer's backend without truncation or padding: the full one, and (for a
    ``BertNormalizer``) one without normaliser for the texts normalised here (see the module docstring).
    """

    def __init__(self, tokenizer: PreTrainedTokenizerFast) -> None:
        self._full = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        self._full.no_truncation()
        self._full.no_padding()
        self._bare: Tokenizer | None = None
        if isinstance(self._full.normalizer, normalizers.BertNormalizer):
            self._bare = Tokenizer.from_str(self._full.to_str())
            self._bare.normalizer = None
            if isinstance(self._full.pre_tokenizer, pre_tokenizers.BertPreTokenizer):
                self._bare.pre_tokenizer = pre_tokenizers.Split(BERT_WORDS, behavior="removed", invert=True)
        self._table: dict[int, str] = {}  # characters normalised to another single character
        self._exact: set[str] = set()  # characters normalised to exactly one character, without context
        self._inexact: set[str] = set()

    def _same_words(self, char: str) -> bool:
        """Whether the two copies' pre-tokenizers split words alike around (normalised) ``char``."""
        assert self._bare is not None
        probe = f"a{char}a"
        full, bare = self._full.pre_tokenizer, self._bare.pre_tokenizer
        return full is None or bare is None or full.pre_tokenize_str(probe) == bare.pre_tokenize_str(probe)

    def _learn(self, chars: set[str]) -> None:
        """Ask the normaliser what becomes of each new character alone, and both pre-tokenizers how they split it."""
        assert self._full.normalizer is not None
        for char in chars - self._exact - self._inexact:
            out = self._full.normalizer.normalize_str(char)
            # a combining mark (class != 0) may be reordered against its neighbours by NFD: not context-free
            single = len(out) == 1 and unicodedata.combining(char) == 0 and unicodedata.combining(out) == 0
            if single and self._same_words(out):
                self._exact.add(char)
                if out != char:
                    self._table[ord(char)] = out
            else:
                self._inexact.add(char)

    def normalised(self, text: str) -> str | None:
        """``text`` as the normaliser leaves it, if every character maps to one character; else None."""
        if self._bare is None:
            return None
        chars = set(text)
        if not chars <= self._exact:
            self._learn(chars)
            if not chars <= self._exact:
                return None
        return text.translate(self._table)

    def __call__(self, texts: Sequence[str]) -> Subtokens:
        """The sub-tokens of ``texts``: the normalised ones in one batch call, the others in another."""
        encodings: list[Encoding | None] = [None] * len(texts)
        bare: list[int] = []
        bare_texts: list[str] = []
        full: list[int] = []
        for i, text in enumerate(texts):
            normalised = self.normalised(text)
            if normalised is None:
                full.append(i)
            else:
                bare.append(i)
                bare_texts.append(normalised)
        for tokenizer, indices, batch in ((self._bare, bare, bare_texts), (self._full, full, [texts[i] for i in full])):
            if indices:
                assert tokenizer is not None
                for i, encoding in zip(indices, tokenizer.encode_batch(batch, add_special_tokens=False), strict=True):
                    encodings[i] = encoding
        done: list[Encoding] = encodings  # type: ignore[assignment]  # every index was filled above
        sizes = np.fromiter(map(len, done), dtype=np.int64, count=len(done))
        n = int(sizes.sum())
        ids = np.fromiter(chain.from_iterable(e.ids for e in done), dtype=np.int64, count=n)
        flat_offsets = chain.from_iterable(chain.from_iterable(e.offsets for e in done))
        offsets = np.fromiter(flat_offsets, dtype=np.int64, count=2 * n).reshape(n, 2)
        word_ids = np.fromiter(chain.from_iterable(e.word_ids for e in done), dtype=np.int64, count=n)
        return Subtokens(ids, offsets, word_ids, sizes)


_SUBTOKENIZERS: weakref.WeakKeyDictionary[PreTrainedTokenizerFast, Subtokenizer] = weakref.WeakKeyDictionary()


def subtokenize(texts: Sequence[str], tokenizer: PreTrainedTokenizerFast) -> Subtokens:
    """:class:`Subtokens` of ``texts`` by ``tokenizer``'s :class:`Subtokenizer` (built on first use, kept while
    the tokenizer lives). Example: see the module docstring."""
    subtokenizer = _SUBTOKENIZERS.get(tokenizer)
    if subtokenizer is None:
        subtokenizer = _SUBTOKENIZERS[tokenizer] = Subtokenizer(tokenizer)
    return subtokenizer(texts)
