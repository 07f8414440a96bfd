"""String normalisation for entity linking, in the spirit of Kazu's ``StringNormalizer``.

An ontology synonym and a mention link when their normalised forms are equal, so ``normalise`` must map
spelling variants of one name onto one key while keeping different names apart. It first decides
whether a string is *symbolic* (gene-symbol-like: ``BRCA1``, ``IL-6``, ``p53``, ``HeLa``) or a *noun
phrase* (``Alzheimer's disease``), because the two need opposite treatment:

* noun phrases: accents dropped, Greek letters spelled out (``α`` -> ``alpha``), lower-cased, every run
  of punctuation/hyphens/whitespace made one space, possessive ``'s`` removed, the last word
  depluralised (``cells`` -> ``cell``, ``therapies`` -> ``therapy``, ``mice`` -> ``mouse``), an eponym's
  possessive ``s`` dropped before a head noun even without its apostrophe (``Crohns disease`` == ``Crohn's disease`` ==
  ``Crohn disease``, ``Graves' disease`` == ``Grave's disease``), British spellings made American
  (``tumour`` -> ``tumor``, ``anaemia`` -> ``anemia``, ``haemorrhage`` -> ``hemorrhage``, as MeSH and
  MEDIC spell them) and Roman numerals turned into
  Arabic ones (``type II diabetes`` and ``type 2 diabetes`` share the key ``type 2 diabetes``).
  Roman numerals are handled conservatively: multi-letter ones (``ii`` .. ``xx``) anywhere as a whole
  word, but ``i``, ``v``, ``x`` and ``xi`` (also a Greek letter) only right after a word such as
  ``type``, ``class`` or ``factor`` -- so ``X chromosome`` stays ``x chromosome``. A Roman numeral word
  does not make a phrase look symbolic: ``Factor VIII`` is the noun phrase ``factor 8``.
* symbols: accents dropped, Greek letters spelled out, everything but letters and digits removed
  (``IL-6`` == ``IL6``, ``TNF-α`` == ``TNFalpha``), and the case *kept*, since case carries meaning in
  symbols (``CAT`` the gene vs ``cat``, ``MS`` vs ``Ms``). The exception is the ``gene`` class, which is
  upper-cased: gene mentions in text are routinely written in mixed case (``Tp53``, ``Brca1``, mouse
  style ``Tsc1``) for the same HGNC symbol, and Kazu's gene normaliser matches them case-insensitively.
  A bare ``a``/``b`` is *not* read as alpha/beta: ``TNFa`` stays apart from ``TNF-alpha``, since ``IgA``,
  ``HbA`` or ``ApoB`` end in a letter that is no Greek abbreviation.

The result is a matching key, not display text (``diabetes`` becomes ``diabete`` on both sides).
Everything is pure Python with precompiled tables, since it runs once per synonym and mention.

Example:
    >>> from kazu_spark.linking.normalise import normalise
    >>> normalise("Alzheimer's Diseases", "disease")
    'alzheimer disease'
    >>> normalise("α-synuclein", "gene"), normalise("IL-6", "gene"), normalise("Tsc1", "gene")
    ('alpha synuclein', 'IL6', 'TSC1')
    >>> normalise("Type II diabetes", "disease") == normalise("type 2 diabetes", "disease")
    True
"""

from __future__ import annotations

import functools
import re
import unicodedata

#: single-letter Roman numerals are only read as numbers after one of these words
_NUMERAL_CONTEXT = frozenset(
    {"type", "class", "grade", "stage", "phase", "group", "factor", "complex", "subtype", "level", "form"}
)
_ROMAN = {
    "i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8", "ix": "9",
    "x": "10", "xi": "11", "xii": "12", "xiii": "13", "xiv": "14", "xv": "15", "xvi": "16", "xvii": "17",
    "xviii": "18", "xix": "19", "xx": "20",
}  # fmt: skip
#: numerals that are also common words or letters: I, V, X (chromosome) and xi (the Greek letter)
_CONTEXT_ONLY_ROMAN = frozenset({"i", "v", "x", "xi"})
#: words ending in s that are not plurals (the rest of the last word's ``s`` rules are in _singular)
_INVARIANT = frozenset(
    {"species", "series", "diabetes", "herpes", "rabies", "scabies", "measles", "mumps", "rickets", "news"}
)
_NOT_PLURAL_ENDINGS = ("ss", "us", "is", "ys", "ous")
#: irregular plurals: ``mice`` must meet ``mouse`` (NCBI Taxonomy gives the genus *Mus* the common name
#: ``mice`` and *Mus musculus* only ``mouse``)
_IRREGULAR = {"mice": "mouse", "lice": "louse", "geese": "goose", "teeth": "tooth", "feet": "foot"}
#: head nouns after which an eponym's ``s`` is a possessive (``Crohns disease``, ``Hodgkins lymphoma``)
_EPONYM_HEADS = frozenset(
    {"disease", "syndrome", "lymphoma", "sarcoma", "disorder", "palsy", "anemia", "anaemia", "tumor", "tumour",
     "ataxia", "dystrophy", "phenomenon", "sign", "ulcer", "encephalopathy", "dementia", "chorea", "neuralgia"}
)  # fmt: skip

#: British -> American spelling fragments (word starts, or anywhere for the unambiguous ones)
_AMERICAN = {
    "haem": "hem", "oedem": "edem", "oesophag": "esophag", "oestr": "estr", "foet": "fet", "anaesth": "anesth",
    "paediatr": "pediatr", "gynaec": "gynec", "coeliac": "celiac", "orthopaed": "orthoped", "aemi": "emi",
    "tumour": "tumor", "behaviour": "behavior", "colour": "color", "humour": "humor", "diarrhoea": "diarrhea",
}  # fmt: skip
_BRITISH = re.compile(
    r"\b(?:haem|oedem|oesophag|oestr|foet|anaesth|paediatr|gynaec|coeliac|orthopaed)|aemi|tumour|behaviour|colour"
    r"|humour|diarrhoea"
)
#: a word: a run of letters or digits; everything else separates words
WORD = re.compile(r"[^\W_]+")
#: what is not a letter or a digit: a symbol's key is the same without its hyphens, spaces and slashes
NON_ALNUM = re.compile(r"[\W_]+")
_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b", re.IGNORECASE)
_MAX_SYMBOL_TOKENS = 2
_MAX_SYMBOL_LENGTH = 20


def _greek_names() -> dict[int, str]:
    """Code point -> spelled-out name for Greek letters (both cases, symbol variants) and the micro sign."""
    table: dict[int, str] = {}
    for code in [*range(0x0391, 0x03AA), *range(0x03B1, 0x03CA), 0x03D0, 0x03D1, 0x03D5, 0x03F5]:
        name = unicodedata.name(chr(code), "")
        if name.startswith("GREEK"):
            words = name.split()  # "GREEK SMALL LETTER ALPHA" or "GREEK LUNATE EPSILON SYMBOL"
            letter = (words[-2] if words[-1] == "SYMBOL" else words[-1]).lower()
            table[code] = "lambda" if letter == "lamda" else letter  # Unicode spells it LAMDA
    table[0x00B5] = "mu"
    return table


_GREEK = _greek_names()
#: the spelled-out names of the Greek letters (``alpha`` ... ``omega``), as the keys write them
GREEK_NAMES = frozenset(_GREEK.values())
#: a spelled-out Greek letter not inside a lower-case word (``NF-kappaB``, ``TNFalpha``, ``IL-1beta``)
_GREEK_NAME_IN_SYMBOL = re.compile(rf"(?<![a-z])(?i:{'|'.join(sorted(GREEK_NAMES, key=len, reverse=True))})(?![a-z])")
_GREEK_SPACED = {code: f" {name} " for code, name in _GREEK.items()}


def _fold(text: str, greek: dict[int, str]) -> str:
    """Drop accents (NFKD minus combining marks) and spell out Greek letters; ASCII input passes through."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(greek)


def spelled_out(text: str) -> str:
    """``text`` without accents and with its Greek letters spelled out, as the matching keys read it: ontologies
    write ``HIF-1alpha`` and ``beta-catenin`` where papers write ``HIF-1α`` and ``β-catenin``.

    Example:
        >>> spelled_out("HIF-1α, β-catenin, Sjögren")
        'HIF-1alpha, beta-catenin, Sjogren'
    """
    return _fold(text, _GREEK)


def names_something(text: str) -> bool:
    """True when ``text`` has a letter (any script): digits and punctuation alone name no concept.

    Example:
        >>> [names_something(s) for s in ("2", "#945", "", "p53", "5-HT", "α")]
        [False, False, False, True, True, True]
    """
    return any(char.isalpha() for char in text)


def is_symbolic(text: str) -> bool:
    """True when ``text`` looks like a symbol rather than a noun phrase.

    Symbolic: at most two whitespace-separated tokens and 20 characters, and either a single token
    with a digit (``tsc1``, ``covid-19``) or no more lower-case letters than upper-case letters and
    digits together, at least one of those present. Greek letters count as one upper-case letter,
    spelled out or not, so ``NF-κB``, ``NF-kappaB`` and ``TNF alpha`` are symbols.

    Example:
        >>> [is_symbolic(s) for s in ("BRCA1", "abcd-1", "IL-6", "HeLa", "breast cancer", "X chromosome")]
        [True, True, True, True, False, False]
    """
    tokens = text.split()
    if len(text) > _MAX_SYMBOL_LENGTH or len(tokens) > _MAX_SYMBOL_TOKENS:
        return False
    if len(tokens) > 1:  # "Factor VIII", "type II": a numeral word is not evidence of a symbol
        text = " ".join(token for token in tokens if token.lower() not in _ROMAN)
    lower = upper = digits = 0
    for char in _GREEK_NAME_IN_SYMBOL.sub("Α", text):
        if char.isdigit():
            digits += 1
        elif char.isupper() or ord(char) in _GREEK:
            upper += 1
        elif char.islower():
            lower += 1
    return (digits > 0 and len(tokens) == 1) or (upper + digits > 0 and upper + digits >= lower)


def _singular(word: str) -> str:
    """Strip an English plural from one lower-case word (``cells``, ``therapies``, ``lesions``, ``mice``)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or not word.endswith("s") or word in _INVARIANT or word.endswith(_NOT_PLURAL_ENDINGS):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("uses"):  # viruses -> virus
        return word[:-2]
    return word[:-1]


def _arabic(words: list[str]) -> list[str]:
    """Replace Roman-numeral words by Arabic digits; ambiguous ones only after a context word."""
    out = []
    for i, word in enumerate(words):
        number = _ROMAN.get(word)
        if number and (word not in _CONTEXT_ONLY_ROMAN or (i > 0 and words[i - 1] in _NUMERAL_CONTEXT)):
            word = number
        out.append(word)
    return out


@functools.lru_cache(maxsize=1 << 17)  # a batch repeats its mentions, and each step of the cascade asks again
def normalise(text: str, entity_class: str) -> str:
    """The matching key of ``text`` for an entity of ``entity_class`` (see the module doc for the rules).

    Returns ``""`` when nothing but punctuation is left; callers should not link on an empty key.

    Example:
        >>> normalise("CD4+ T-cells", "cell_type"), normalise("HeLa", "cell_line")
        ('cd4 t cell', 'HeLa')
        >>> normalise("Sjögren’s syndrome", "disease"), normalise("X chromosome", "disease")
        ('sjogren syndrome', 'x chromosome')
    """
    if is_symbolic(text):
        key = NON_ALNUM.sub("", _fold(text, _GREEK))
        return key.upper() if entity_class == "gene" else key
    lowered = _POSSESSIVE.sub("", _fold(text, _GREEK_SPACED)).lower()
    words = WORD.findall(_BRITISH.sub(lambda m: _AMERICAN[m[0]], lowered))
    if not words:
        return ""
    words[-1] = _singular(words[-1])
    words = [_singular(w) if i + 1 < len(words) and words[i + 1] in _EPONYM_HEADS else w for i, w in enumerate(words)]
    return " ".join(_arabic(words))
