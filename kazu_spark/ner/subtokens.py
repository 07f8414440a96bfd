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
is first seen, and one they split differently sends its texts down the full path. A text holding an added
token matched before normalising (``[MASK]``, ``[CLS]``...) takes the full path too.

With WordPiece (the BERT tokenizers) the normalised texts' offsets do not come from the tokenizer either:
it is asked for ids only (``encode_batch_fast``, a third faster), and the offsets and word ids are worked
out in numpy from the words (the kind of each character, space, punctuation or letter, is again asked of
the pre-tokenizer once) and the pieces (a piece without ``##`` starts a word; the pieces of a word cover it
exactly; ``[UNK]`` all of it). Where the pieces do not tile the words so, text by text and word by word,
the batch is tokenised again with offsets.

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
from tokenizers import Encoding, Regex, Tokenizer, models, normalizers, pre_tokenizers
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


#: what the pre-tokenizer makes of a character between two letters (:meth:`Subtokenizer._kind_of`)
SPACE, PUNCTUATION, LETTER, UNKNOWN = 0, 1, 2, -1


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
        self._pieces: tuple[np.ndarray, np.ndarray, int] | None = None  # WordPiece: lengths, continuation, [UNK]
        bert_words = isinstance(self._full.pre_tokenizer, pre_tokenizers.BertPreTokenizer)
        if isinstance(self._full.normalizer, normalizers.BertNormalizer):
            self._bare = Tokenizer.from_str(self._full.to_str())
            self._bare.normalizer = None
            if bert_words:
                self._bare.pre_tokenizer = pre_tokenizers.Split(BERT_WORDS, behavior="removed", invert=True)
            if bert_words and isinstance(self._full.model, models.WordPiece):
                self._pieces = _wordpiece_pieces(self._full)
        # added tokens matched on the raw text ([CLS], [MASK]...): the copy without normaliser would miss them
        self._raw_added = [t.content for t in self._full.get_added_tokens_decoder().values() if not t.normalized]
        self._table: dict[int, str] = {}  # characters normalised to another single character
        self._exact: set[str] = set()  # characters normalised to exactly one character, without context
        self._inexact: set[str] = set()
        self._kinds: dict[str, int] = {}  # normalised characters -> SPACE, PUNCTUATION or LETTER
        self._ascii_kinds = np.array([self._kind_of(chr(c)) for c in range(128)], dtype=np.int8)

    def _kind_of(self, char: str) -> int:
        """How the full pre-tokenizer splits ``a<char>a``: at a space, around punctuation, or not at all."""
        if self._full.pre_tokenizer is None:
            return UNKNOWN
        words = [w for w, _ in self._full.pre_tokenizer.pre_tokenize_str(f"a{char}a")]
        kinds = {("a", "a"): SPACE, ("a", char, "a"): PUNCTUATION, (f"a{char}a",): LETTER}
        return kinds.get(tuple(words), UNKNOWN)

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
                self._kinds.setdefault(out, self._kind_of(out))
                if out != char:
                    self._table[ord(char)] = out
            else:
                self._inexact.add(char)

    def normalised(self, text: str) -> str | None:
        """``text`` as the normaliser leaves it, if every character maps to one character (and no added token
        such as ``[MASK]``, matched before normalising, is in it); else None."""
        if self._bare is None:
            return None
        chars = set(text)
        if not chars <= self._exact:
            self._learn(chars)
            if not chars <= self._exact:
                return None
        out = text.translate(self._table)
        return None if any(t in text or t in out for t in self._raw_added) else out

    def __call__(self, texts: Sequence[str]) -> Subtokens:
        """The sub-tokens of ``texts``: the normalised ones in one batch call, the others in another."""
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
        parts = []
        if bare:
            parts.append((bare, self._bare_subtokens(bare_texts)))
        if full:
            parts.append((full, _stacked(self._full.encode_batch([texts[i] for i in full], add_special_tokens=False))))
        return _in_order(len(texts), parts)

    def _bare_subtokens(self, texts: list[str]) -> Subtokens:
        """Sub-tokens of normalised texts. With WordPiece after BERT's word split, the ids alone come from the
        tokenizer (no offsets: a third faster) and the offsets and word ids from the words found here."""
        assert self._bare is not None
        if self._pieces is not None:
            sizes, ids = _sizes_and_ids(self._bare.encode_batch_fast(texts, add_special_tokens=False))
            found = self._word_offsets(texts, ids, sizes)
            if found is not None:
                return Subtokens(ids, *found, sizes)
        return _stacked(self._bare.encode_batch(texts, add_special_tokens=False))

    def _word_offsets(self, texts: list[str], ids: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, ...] | None:
        """Offsets and word ids of WordPiece ``ids`` of normalised ``texts``, from the texts' words.

        A word is a run of letters or one punctuation character (the kinds the pre-tokenizer gave each
        character); a sub-token without the ``##`` prefix starts a word, and a word's pieces cover it exactly
        (``[UNK]`` all of it). None if the sub-tokens do not tile the words so, text by text and word by word.
        """
        lengths, continuation, unk = self._pieces  # type: ignore[misc]
        joined = "\n".join(texts)  # a space between texts: no word runs across two
        points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        kind = self._ascii_kinds[np.minimum(points, 127)]
        high = np.flatnonzero(points > 127)
        if high.size:
            unique, inverse = np.unique(points[high], return_inverse=True)
            kind[high] = np.array([self._kinds.get(chr(c), UNKNOWN) for c in unique.tolist()], dtype=np.int8)[inverse]
        if (kind == UNKNOWN).any():
            return None
        letter, punctuation = kind == LETTER, kind == PUNCTUATION
        starts = np.flatnonzero(punctuation | (letter & ~np.concatenate([[False], letter[:-1]])))
        ends = np.flatnonzero(punctuation | (letter & ~np.concatenate([letter[1:], [False]]))) + 1
        text_starts = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]])
        first_word = np.searchsorted(starts, text_starts)  # each text's first word
        words_per_text = np.diff(np.append(first_word, len(starts)))
        first = ~continuation[ids]
        text_of = np.repeat(np.arange(len(texts)), sizes)
        if not np.array_equal(np.bincount(text_of[first], minlength=len(texts)), words_per_text):
            return None
        word = np.cumsum(first) - 1  # the batch's word of each sub-token
        size = np.where(ids == unk, (ends - starts)[word], lengths[ids])
        firsts = np.flatnonzero(first)
        if firsts.size and not np.array_equal(np.add.reduceat(size, firsts), ends - starts):
            return None
        before = np.cumsum(size) - size
        begin = starts[word] + before - before[firsts][word] - text_starts[text_of]
        return np.stack([begin, begin + size], axis=1), word - first_word[text_of]


def _wordpiece_pieces(tokenizer: Tokenizer) -> tuple[np.ndarray, np.ndarray, int]:
    """Per vocabulary id: the characters of text a piece covers, and whether it continues a word; [UNK]'s id."""
    model = tokenizer.model
    prefix = model.continuing_subword_prefix
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    lengths = np.zeros(max(vocab.values()) + 1, dtype=np.int64)
    continuation = np.zeros(len(lengths), dtype=bool)
    for token, i in vocab.items():
        continuation[i] = token.startswith(prefix)
        lengths[i] = len(token) - len(prefix) * continuation[i]
    return lengths, continuation, vocab[model.unk_token]


def _sizes_and_ids(encodings: list[Encoding]) -> tuple[np.ndarray, np.ndarray]:
    """The sub-tokens per text and the stacked ids of ``encodings`` (one per text)."""
    sizes = np.fromiter(map(len, encodings), dtype=np.int64, count=len(encodings))
    return sizes, np.fromiter(chain.from_iterable(e.ids for e in encodings), dtype=np.int64, count=int(sizes.sum()))


def _stacked(encodings: list[Encoding]) -> Subtokens:
    """The ids, offsets and word ids of ``encodings`` (one per text) as :class:`Subtokens`."""
    sizes, ids = _sizes_and_ids(encodings)
    n = len(ids)
    flat_offsets = chain.from_iterable(chain.from_iterable(e.offsets for e in encodings))
    offsets = np.fromiter(flat_offsets, dtype=np.int64, count=2 * n).reshape(n, 2)
    word_ids = np.fromiter(chain.from_iterable(e.word_ids for e in encodings), dtype=np.int64, count=n)
    return Subtokens(ids, offsets, word_ids, sizes)


def _in_order(n: int, parts: list[tuple[list[int], Subtokens]]) -> Subtokens:
    """The sub-tokens of ``n`` texts put back in text order from parts holding some of the texts each."""
    sizes = np.zeros(n, dtype=np.int64)
    source = np.zeros(n, dtype=np.int64)  # each text's first row in the parts stacked
    done = 0
    for indices, part in parts:
        sizes[indices] = part.sizes
        source[indices] = done + part.starts
        done += len(part.ids)
    rows = np.repeat(source - (np.cumsum(sizes) - sizes), sizes) + np.arange(done)
    stack = [np.concatenate([getattr(p, f) for _, p in parts]) if parts else np.zeros(0, np.int64)
             for f in ("ids", "offsets", "word_ids")]  # fmt: skip
    if not parts:
        stack[1] = stack[1].reshape(0, 2)
    return Subtokens(stack[0][rows], stack[1][rows], stack[2][rows], sizes)


_SUBTOKENIZERS: weakref.WeakKeyDictionary[PreTrainedTokenizerFast, Subtokenizer] = weakref.WeakKeyDictionary()


def subtokenize(texts: Sequence[str], tokenizer: PreTrainedTokenizerFast) -> Subtokens:
    """:class:`Subtokens` of ``texts`` by ``tokenizer``'s :class:`Subtokenizer` (built on first use, kept while
    the tokenizer lives). Example: see the module docstring."""
    subtokenizer = _SUBTOKENIZERS.get(tokenizer)
    if subtokenizer is None:
        subtokenizer = _SUBTOKENIZERS[tokenizer] = Subtokenizer(tokenizer)
    return subtokenizer(texts)
