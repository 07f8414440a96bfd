"""Abbreviation definitions in running text, by the Schwartz–Hearst algorithm (PSB 2003).

An abbreviation is *defined* where a short form and its long form stand side by side with one of them
in parentheses: ``chronic obstructive pulmonary disease (COPD)`` or, less often,
``COPD (chronic obstructive pulmonary disease)``. Schwartz and Hearst's rules, followed here:

* candidates come from ``<words> (<text>)``; the parenthesised text is cut at its first ``, `` or ``; ``
  (and, beyond the paper, ``: ``: ``phenobarbital (PB: 15 mg per rat)``).
  When it has more than two words or is longer than the words before it, it is the long form and the
  word right before the parenthesis the short form;
* a short form has 2-10 characters, at most two words, at least one letter, and starts with a letter or
  digit;
* the long form candidate is the clause before the parenthesis (back to ``. ``, ``, ``, ``; `` or a line
  break), at most ``min(|S| + 5, 2|S|)`` words for a short form of ``|S|`` characters;
* the best long form is the shortest suffix of that candidate in which the short form's letters and
  digits appear in order, read right to left, the short form's first character at the start of a word;
  it must be longer than the short form and must not end with it or contain it as a word.

A short form a document uses without defining it (``OAB`` in an abstract whose title says
``overactive bladder``) is matched by :func:`spelled_short_forms` against the document's other mentions of
its class, by the same letter rule.

scispacy ships the same algorithm but needs spaCy documents; this is a hand-written pure-Python version
over plain strings with code-point offsets, following the published pseudo-code.

Example:
    >>> text = "Chronic obstructive pulmonary disease (COPD) is common. COPD kills."
    >>> find_abbreviations(text)
    [Abbreviation(short='COPD', short_start=39, long='Chronic obstructive pulmonary disease', long_start=0)]
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from typing import NamedTuple

import pandas as pd

_PARENTHESIS = re.compile(r"(?<=\s)\(([^()]+)\)")
_CLAUSE_END = re.compile(r"[.,;]\s|\n")
_WORD_SPLIT = re.compile(r"[\s\-]+")
_MAX_SHORT_CHARS = 10
#: the words that ``_WORD_SPLIT`` separates, with their offsets
_WORD = re.compile(r"[^\s\-]+")
#: the function words a long form's initials may skip (``Centers for Disease Control``: CDC); a small list, not
#: scikit-learn's 318 stop words, whose import would add ~2 s to every NER worker
_SKIPPED_WORDS = frozenset({"a", "an", "and", "by", "for", "in", "of", "on", "or", "the", "to", "with"})
#: an acronym: upper-case letters and digits (2 letters at least), hyphens, and a plural ``s``
_ACRONYM = re.compile(r"(?=(?:[^A-Z]*[A-Z]){2})[A-Z0-9][A-Z0-9-]*[A-Z0-9](?P<plural>s?)")


def word_uses(
    text: str, word: str, start: int = 0, *, joiners: str = "", plural: bool = False
) -> Iterator[tuple[int, int]]:
    r"""Spans of the whole-word uses of ``word`` in ``text`` from ``start``: no letter, digit, ``_`` or one of
    ``joiners`` just before or after it, as the pattern ``(?<![\w<joiners>])word(?![\w<joiners>])`` finds them,
    without compiling a pattern per word (a batch's thousands of short forms thrashed ``re``'s cache: compiling took
    a sixth of the NER stage's per-batch work around the encoder). With ``plural``, a use may add an ``s``, and the
    word's own plural ``s`` is optional (``ASDs``: ``ASD`` too).

    Example:
        >>> text = "ASD, ASDs, mASD, ASD-like, ASD_1"
        >>> list(word_uses(text, "ASDs", joiners="-", plural=True)), list(word_uses(text, "ASD"))
        ([(0, 3), (5, 9)], [(0, 3), (17, 20)])
    """
    if plural and word.endswith("s") and len(word) > 2:
        word = word[:-1]

    def apart(i: int) -> bool:  # no word character or joiner at ``i``
        return i < 0 or i >= len(text) or not (text[i].isalnum() or text[i] == "_" or text[i] in joiners)

    at = text.find(word, start) if word else -1
    while at >= 0:
        end = at + len(word)
        if apart(at - 1):
            if plural and text.startswith("s", end) and apart(end + 1):
                end += 1
            elif not apart(end):
                end = -1
            if end >= 0:
                yield at, end
                at = text.find(word, end)
                continue
        at = text.find(word, at + 1)


class Abbreviation(NamedTuple):
    """A short form defined by a long form in the same text, with their code-point offsets."""

    short: str
    short_start: int
    long: str
    long_start: int


def _is_short_form(candidate: str) -> bool:
    return (
        2 <= len(candidate) <= _MAX_SHORT_CHARS
        and len(candidate.split()) <= 2
        and candidate[0].isalnum()
        and any(c.isalpha() for c in candidate)
    )


def _initials_long_form(short: str, long: str) -> str | None:
    """The shortest suffix of ``long`` whose words (split at spaces and hyphens) start, in order, with every
    letter and digit of ``short``, each word but a function word (``_SKIPPED_WORDS``) spelling one; None when no
    suffix does."""
    chars = [c.lower() for c in short if c.isalnum()]
    if not chars:
        return None
    for word in reversed(list(_WORD.finditer(long))):
        if word.group()[0].lower() == chars[-1]:
            chars.pop()
            if not chars:
                return long[word.start() :]
        elif word.group().lower() not in _SKIPPED_WORDS:
            return None
    return None


def best_long_form(short: str, long: str) -> str | None:
    """The shortest suffix of ``long`` that explains ``short`` (Schwartz–Hearst ``findBestLongForm``), or a
    longer one whose word initials spell it.

    Each letter or digit of ``short``, right to left, must occur in ``long`` to the left of the previous
    one, and the first must start a word of ``long``. None when ``long`` cannot explain ``short``. The
    shortest such suffix may take a letter from inside a word (``TTF-1``: the ``t`` of ``Transcription``);
    where a longer suffix spells every character by a word's initial (``Thyroid Transcription Factor-1``), every
    word but a function word spelling one, that one is the definition, as Ab3P's first-letter strategies rank it over
    inner letters (not ``pathways that involve phosphoinositide 3-kinase`` for ``PI3K``).

    Example:
        >>> best_long_form("HSF", "the heat shock transcription factor")
        'heat shock transcription factor'
        >>> best_long_form("TTF-1", "and Thyroid Transcription Factor-1")
        'Thyroid Transcription Factor-1'
        >>> best_long_form("PKC", "the effect of protein kinase") is None
        True
    """
    s, j = len(short) - 1, len(long) - 1
    while s >= 0:
        char = short[s].lower()
        if not char.isalnum():
            s -= 1
            continue
        while j >= 0 and (long[j].lower() != char or (s == 0 and j > 0 and long[j - 1].isalnum())):
            j -= 1
        if j < 0:
            return None
        j -= 1
        s -= 1
    shortest = long[long.rfind(" ", 0, j + 1) + 1 :]
    spelt = _initials_long_form(short, long)
    return spelt if spelt is not None and len(spelt) > len(shortest) else shortest


def _accept(short: str, long: str) -> bool:
    """The published checks on a found long form: length, no short form inside, word-count limits."""
    letters = sum(c.isalnum() for c in short)
    words = len([w for w in _WORD_SPLIT.split(long) if w])
    return (
        len(long) > len(short) and next(word_uses(long, short), None) is None and words <= min(letters * 2, letters + 5)
    )


def _definition(short: str, short_start: int, candidate: str, candidate_start: int) -> Abbreviation | None:
    short = short.strip()
    if not _is_short_form(short):
        return None
    letters = sum(c.isalnum() for c in short)
    words = [m for m in re.finditer(r"\S+", candidate)][-min(letters * 2, letters + 5) :]
    if not words:
        return None
    window = candidate[words[0].start() :].rstrip()
    long = best_long_form(short, window)
    if long is None or not _accept(short, long):
        return None
    return Abbreviation(short, short_start, long, candidate_start + words[0].start() + window.rfind(long))


def find_abbreviations(text: str) -> list[Abbreviation]:
    """Every abbreviation defined in ``text`` (see the module doc), in order of appearance.

    Example:
        >>> find_abbreviations("levels of tumor necrosis factor alpha (TNF-alpha) rose (p < 0.05)")
        [Abbreviation(short='TNF-alpha', short_start=39, long='tumor necrosis factor alpha', long_start=10)]
        >>> find_abbreviations("HMM (hidden Markov model) decoding")[0].long
        'hidden Markov model'
    """
    found = []
    clause_ends = [m.end() for m in _CLAUSE_END.finditer(text)]  # once: per parenthesis a bisect, not a rescan
    for match in _PARENTHESIS.finditer(text):
        inner, inner_start = match.group(1), match.start(1)
        cut = min((i for i in (inner.find(", "), inner.find("; "), inner.find(": ")) if i >= 0), default=len(inner))
        inner = inner[:cut]
        before_end = match.start() - 1
        ended = bisect_right(clause_ends, before_end)  # the clause ends wholly before the parenthesis
        clause_start = clause_ends[ended - 1] if ended else 0
        before = text[clause_start:before_end]
        if len(inner.split()) > 2 or len(inner.strip()) > len(before.strip()):
            word = re.search(r"(\S+)\s*$", before)  # long form inside the parentheses, short form before
            if word is None:
                continue
            definition = _definition(word.group(1), clause_start + word.start(1), inner, inner_start)
        else:
            definition = _definition(inner, inner_start + len(inner) - len(inner.lstrip()), before, clause_start)
        if definition is not None:
            found.append(definition)
    return found


def short_forms_batch(documents: pd.DataFrame) -> pd.DataFrame:
    """Abbreviations defined in a batch of documents (doc_id, text): one row per (document, short form)
    with its first definition's long form and span.

    Example:
        >>> docs = pd.DataFrame({"doc_id": ["d"], "text": ["Crohn disease (CD) and CD4 T cells. CD flares."]})
        >>> short_forms_batch(docs).to_dict("records")
        [{'doc_id': 'd', 'short': 'CD', 'long': 'Crohn disease', 'long_start': 0, 'long_end': 13}]
    """
    records = []
    for doc_id, text in zip(documents["doc_id"], documents["text"], strict=True):
        seen = set()
        for abbreviation in find_abbreviations(text):
            if abbreviation.short not in seen:
                seen.add(abbreviation.short)
                end = abbreviation.long_start + len(abbreviation.long)
                records.append((doc_id, abbreviation.short, abbreviation.long, abbreviation.long_start, end))
    return pd.DataFrame.from_records(records, columns=["doc_id", "short", "long", "long_start", "long_end"])


def _initials_spelled(short: str, long: str) -> int:
    """How many of ``short``'s letters and digits, in order, are initials of ``long``'s words (their longest
    common subsequence).

    Example:
        >>> _initials_spelled("SLE", "systemic lupus erythematosus"), _initials_spelled("SLE", "status epilepticus")
        (3, 2)
    """
    letters = [c.lower() for c in short if c.isalnum()]
    initials = [w[0].lower() for w in _WORD_SPLIT.split(long) if w]
    row = [0] * (len(initials) + 1)
    for letter in letters:
        diagonal = 0
        for j, initial in enumerate(initials, 1):
            diagonal, row[j] = row[j], diagonal + 1 if letter == initial else max(row[j], row[j - 1])
    return row[-1]


def _expands(short: str, long: str) -> bool:
    """Whether ``long`` reads as an expansion of ``short`` where no parenthesis says so: it does not start
    with the short form (``PDGFRbeta`` is a variant of ``PDGF``, not its long form), and its last word has the
    short form's last letter (``platelet-derived growth factor receptor beta`` names more than ``PDGF``).

    Example:
        >>> _expands("OAB", "overactive bladder"), _expands("PDGF", "PDGFRbeta"), _expands("PDGF", "PDGF receptor")
        (True, False, False)
    """
    return not long.lower().startswith(short.lower()) and short[-1].lower() in _last_word(long)


def _last_word(text: str) -> str:
    """The last word of ``text``, lower case (``""`` when it has none)."""
    words = [w for w in _WORD_SPLIT.split(text) if w]
    return words[-1].lower() if words else ""


def texts_by_document(mentions: pd.DataFrame) -> dict[tuple[str, str], set[str]]:
    """(doc_id, entity_class) -> the distinct mention texts of that document and class (``mentions``: doc_id,
    mention, entity_class; a null mention names nothing): what the rules that read a document's other mentions
    (:func:`spelled_short_forms`, :func:`~kazu_spark.linking.families.family_members`) group by. Plain dicts, not
    a pandas groupby: they run on every partition of the tasks engine.

    Example:
        >>> texts_by_document(pd.DataFrame({"doc_id": ["d", "d", "d"], "mention": ["OAB", None, "OAB"],
        ...                                 "entity_class": ["disease"] * 3}))
        {('d', 'disease'): {'OAB'}}
    """
    groups: dict[tuple[str, str], set[str]] = {}
    rows = zip(mentions["doc_id"], mentions["mention"], mentions["entity_class"], strict=True)
    for doc_id, mention, entity_class in rows:
        if isinstance(mention, str):
            groups.setdefault((doc_id, entity_class), set()).add(mention)
    return groups


def spelled_short_forms(mentions: pd.DataFrame) -> pd.DataFrame:
    """Acronym mentions and the long form another mention of their class in the same document spells
    (``mentions``: doc_id, mention, entity_class): one row (doc_id, mention, entity_class, long) each.

    An acronym (upper case, 2-10 characters, a plural ``s`` allowed) is a short form when a longer mention
    of its document and class explains it by the Schwartz–Hearst
    rule of :func:`best_long_form` (and the published checks), does not start with the acronym and ends
    with a word that has its last letter (:func:`_expands`). Of several, the one whose word initials spell
    most of the acronym wins (``SLE``: ``systemic lupus erythematosus``, not ``status epilepticus``), then the
    shortest, then the first in alphabetical order, so the answer does not depend on the rows' order. Linking
    uses a row only where the document does not define the acronym in parentheses (:func:`short_forms_batch`).

    Example:
        >>> rows = pd.DataFrame({"doc_id": ["d"] * 3, "mention": ["overactive bladder", "OAB", "PGs"],
        ...                      "entity_class": ["disease", "disease", "drug"]})
        >>> spelled_short_forms(rows).to_dict("records")
        [{'doc_id': 'd', 'mention': 'OAB', 'entity_class': 'disease', 'long': 'overactive bladder'}]
    """
    records = []
    for (doc_id, entity_class), texts in sorted(texts_by_document(mentions).items()):
        acronyms = {text: match for text in texts if (match := _ACRONYM.fullmatch(text)) and _is_short_form(text)}
        if not acronyms:
            continue  # no acronym to explain: the other texts' last words are not needed
        longs = [(text, _last_word(text)) for text in sorted(texts.difference(acronyms))]
        for short, acronym in sorted(acronyms.items()):
            letters = short[: len(short) - len(acronym["plural"])]
            found = [
                long
                for text, last_word in longs
                if letters[-1].lower() in last_word  # what _expands asks of the suffix's last word, the text's
                and (long := best_long_form(letters, text)) is not None
                and _accept(short, long)
                and _expands(letters, long)
            ]
            if found:
                best = min(found, key=lambda long: (-_initials_spelled(letters, long), len(long), long))
                records.append((doc_id, short, entity_class, best))
    return pd.DataFrame.from_records(records, columns=["doc_id", "mention", "entity_class", "long"])
