"""PubTator corpora with gold annotations (NCBI-disease, BC5CDR): documents, mentions and their concept ids.

A PubTator file is blocks of ``PMID|t|title``, ``PMID|a|abstract`` and tab-separated annotation lines
``PMID start end mention type ids`` (offsets into ``title + " " + abstract``); BC5CDR's relation lines
(``PMID CID chemical disease``) are ignored. Gold ids come as ``D014262`` (MeSH), ``MESH:D014262``,
``OMIM:601462``, composites joined by ``|`` or ``+``, and ``-1`` for "no concept"; ``concept_ids`` maps
them onto the ontologies' prefixed ids.

Example:
    >>> concept_ids(" D020225|D020227"), concept_ids("OMIM:601462"), concept_ids("-1")
    (('MESH:D020225', 'MESH:D020227'), ('OMIM:601462',), ())
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kazu_spark.paths import resolve_path

_MESH_ID = re.compile(r"^[CD]\d+$")
_ID_SEPARATORS = re.compile(r"[|+]")


@dataclass(frozen=True)
class GoldMention:
    """One annotation line: span offsets into ``title + " " + abstract``, corpus type and concept ids."""

    doc_id: str
    start: int
    end: int
    mention: str
    corpus_type: str
    concept_ids: tuple[str, ...]


@dataclass
class PubtatorDocument:
    """A PubTator document: title, abstract and its gold mentions in file order."""

    doc_id: str
    title: str = ""
    abstract: str = ""
    mentions: list[GoldMention] = field(default_factory=list)


def concept_id(raw: str) -> str:
    """One gold id with the ontology prefix: a bare MeSH id (``D``/``C`` + digits) gets ``MESH:``."""
    raw = raw.strip()
    return f"MESH:{raw}" if _MESH_ID.match(raw) else raw


def concept_ids(cell: str) -> tuple[str, ...]:
    """The ids of an annotation's id cell; ``()`` for ``-1`` or an empty cell (a mention without concept)."""
    return tuple(concept_id(part) for part in _ID_SEPARATORS.split(cell) if part.strip() and part.strip() != "-1")


def read_pubtator(path: str) -> list[PubtatorDocument]:
    """Every document of a PubTator file with its annotations (``pkg://`` and relative paths resolved)."""
    docs: dict[str, PubtatorDocument] = {}
    with open(resolve_path(path), encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n\r")
            if "|" in line[:20] and line.split("|", 2)[1:2] in (["t"], ["a"]):
                pmid, kind, text = line.split("|", 2)
                doc = docs.setdefault(pmid, PubtatorDocument(pmid))
                if kind == "t":
                    doc.title = text
                else:
                    doc.abstract = text
                continue
            cells = line.split("\t")
            if len(cells) >= 5 and cells[1].isdigit() and cells[2].isdigit():
                doc = docs.setdefault(cells[0], PubtatorDocument(cells[0]))
                ids = concept_ids(cells[5]) if len(cells) > 5 else ()
                doc.mentions.append(GoldMention(cells[0], int(cells[1]), int(cells[2]), cells[3], cells[4], ids))
    return list(docs.values())
