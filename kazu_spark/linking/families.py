"""Gene family mentions and the members their document names: ``PARs`` in a paper on ``PAR1`` and ``PAR2``.

Papers name a family (``PARs``, ``MMPs``, ``FGFR``) and then its members (``PAR-1``, ``PAR2``, ``MMP-9``,
``FGFR-4``). By itself the family's name is either no gene's name or an alias of some unrelated gene (``PAR``
is an alias of *Map7d1*); what the paper means are the members it names. ``family_members`` finds them, in
one document and class, by the normalised symbols (:func:`~kazu_spark.linking.normalise.normalise`): a member's
symbol is the family's (less a plural ``s``) plus a number of one or two digits, optionally with one letter
(``PAR`` + ``1``, ``MMP`` + ``9``), or a Greek letter or a single letter A-E (``PI3K`` + ``beta``). After a
stem that ends in a digit only the letters count: ``CD31`` is no member of ``CD3``, nor ``IL10`` of ``IL1``.
The stem has at least three characters and is a symbol (letters and digits), never a noun phrase.

Linking (``linking.gene_families``) then gives a family mention its members' concepts (strategy ``family``,
score ``FAMILY_SCORE``) unless one of its own links already is one of them (``BMPs`` linked to *BMP4* in a
paper on BMP2, BMP4 and BMP5 keeps its link).

Example:
    >>> rows = pd.DataFrame({"doc_id": ["d"] * 5, "mention": ["PARs", "PAR-1", "PAR2", "CD3", "CD31"],
    ...                      "entity_class": ["gene"] * 5})
    >>> family_members(rows)[["mention", "member"]].values.tolist()
    [['PARs', 'PAR-1'], ['PARs', 'PAR2']]
"""

from __future__ import annotations

import re

import pandas as pd

from kazu_spark.linking.abbreviations import texts_by_document
from kazu_spark.linking.normalise import normalise

#: the columns :func:`family_members` returns (its Spark schema, as a DDL string)
FAMILY_SCHEMA = "doc_id string, mention string, entity_class string, member string"
_GREEK = "ALPHA|BETA|GAMMA|DELTA|EPSILON|KAPPA"
#: what a member's symbol adds to its family's stem ...
_SUFFIX = re.compile(rf"\d{{1,2}}[A-Z]?|{_GREEK}|[A-E]")
#: ... and after a stem that ends in a digit
_LETTER_SUFFIX = re.compile(rf"{_GREEK}|[A-E]")
_SYMBOL = re.compile(r"[A-Z0-9]{3,}")


def _stem(key: str) -> str | None:
    """The family stem of a normalised symbol (a plural ``s`` dropped), None for a key that is no symbol."""
    stem = key[:-1] if key.endswith("S") and len(key) > 3 else key
    return stem if _SYMBOL.fullmatch(stem) else None


def family_members(mentions: pd.DataFrame) -> pd.DataFrame:
    """(doc_id, mention, entity_class, member) for every mention that names a family and each mention of its
    document and class that names a member of it (module doc); ``mentions``: doc_id, mention, entity_class.
    Sorted, so the answer does not depend on the rows' order."""
    records = []
    for (doc_id, entity_class), texts in sorted(texts_by_document(mentions).items()):
        keys = {text: normalise(text, entity_class) for text in texts}
        for mention, key in sorted(keys.items()):
            stem = _stem(key)
            if stem is None:
                continue
            suffix = _LETTER_SUFFIX if stem[-1].isdigit() else _SUFFIX
            records += [
                (doc_id, mention, entity_class, other)
                for other, other_key in sorted(keys.items())
                if other_key.startswith(stem) and suffix.fullmatch(other_key[len(stem) :])
            ]
    return pd.DataFrame(records, columns=["doc_id", "mention", "entity_class", "member"])
