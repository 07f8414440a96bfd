"""PubTator corpora with gold annotations (NCBI-disease, BC5CDR, BioRED, S800): documents, mentions, concept ids.

A PubTator file is blocks of ``PMID|t|title``, ``PMID|a|abstract`` and tab-separated annotation lines
``PMID start end mention type ids`` (offsets into ``title + " " + abstract``); relation lines (BC5CDR's
``PMID CID chemical disease``, BioRED's ``PMID Association id id Novel``) are ignored.

Each corpus writes its ids in its own way, so the prefix a *bare* id gets is a rule of its annotation
type (``ID_RULES``), never guessed from the id alone (BioRED's gene ``6528`` and taxon ``9606`` are both
bare numbers):

* MeSH types (NCBI-disease's four, BC5CDR's ``Disease``/``Chemical``, BioRED's ``DiseaseOrPhenotypicFeature``
  and ``ChemicalEntity``): ``D014262``/``C564766`` -> ``MESH:D014262``; ``OMIM:601462`` stays;
* BioRED ``GeneOrGeneProduct``: ``6528`` -> ``NCBIGene:6528``; ``OrganismTaxon`` and S800 ``Species``:
  ``9606`` -> ``NCBITaxon:9606`` (S800 writes the prefix already);
* BioRED ``CellLine``: Cellosaurus ``CVCL_0030`` as written.

A listed type's cell may hold several ids, joined by ``|`` or ``+`` (NCBI-disease composites) or ``,``
/ ``;`` (BioRED); ``-1`` and ``-`` mean "no concept". A type without a rule (BioRED's ``SequenceVariant``,
whose ids contain ``|``) keeps its cell as one id.

Example:
    >>> concept_ids(" D020225|D020227", "CompositeMention"), concept_ids("OMIM:601462", "Disease")
    (('MESH:D020225', 'MESH:D020227'), ('OMIM:601462',))
    >>> concept_ids("6528,20495", "GeneOrGeneProduct"), concept_ids("9606", "OrganismTaxon")
    (('NCBIGene:6528', 'NCBIGene:20495'), ('NCBITaxon:9606',))
    >>> concept_ids("-1", "Chemical"), concept_ids("-", "ChemicalEntity"), concept_ids("c|DEL||9", "SequenceVariant")
    ((), (), ('c|DEL||9',))
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from kazu_spark.paths import resolve_path

_ID_SEPARATORS = re.compile(r"[|+,;]")
_NO_CONCEPT = frozenset({"", "-1", "-"})
_MESH = (re.compile(r"[CD]\d+"), "MESH:")
_NCBI_TAXON = (re.compile(r"\d+"), "NCBITaxon:")

#: annotation type -> (the bare ids it writes, the prefix they get); ``None``: its ids are kept as written
ID_RULES: dict[str, tuple[re.Pattern[str], str] | None] = {
    **dict.fromkeys(("Disease", "SpecificDisease", "DiseaseClass", "Modifier", "CompositeMention", "Chemical"), _MESH),
    "DiseaseOrPhenotypicFeature": _MESH,
    "ChemicalEntity": _MESH,
    "GeneOrGeneProduct": (re.compile(r"\d+"), "NCBIGene:"),
    "OrganismTaxon": _NCBI_TAXON,
    "Species": _NCBI_TAXON,
    "CellLine": None,
}


#: PubTator annotation type -> entity class it is linked as (NCBI-disease's four types, BC5CDR's two, BioRED's
#: five with ids of an ontology, S800's one); other types (BioRED's ``SequenceVariant``) are not evaluated
CORPUS_CLASSES = {
    "Disease": "disease",
    "SpecificDisease": "disease",
    "DiseaseClass": "disease",
    "Modifier": "disease",
    "CompositeMention": "disease",
    "Chemical": "drug",
    "DiseaseOrPhenotypicFeature": "disease",
    "ChemicalEntity": "drug",
    "GeneOrGeneProduct": "gene",
    "OrganismTaxon": "species",
    "CellLine": "cell_line",
    "Species": "species",
}


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


def concept_ids(cell: str, corpus_type: str) -> tuple[str, ...]:
    """The ids of an annotation's id cell, prefixed by the rule of its type (``ID_RULES``); ``()`` for a
    mention without concept (``-1``, ``-`` or an empty cell)."""
    if corpus_type not in ID_RULES:
        return () if cell.strip() in _NO_CONCEPT else (cell.strip(),)
    rule = ID_RULES[corpus_type]
    parts = [part.strip() for part in _ID_SEPARATORS.split(cell) if part.strip() not in _NO_CONCEPT]
    return tuple(rule[1] + part if rule and rule[0].fullmatch(part) else part for part in parts)


def document_ids(paths: Iterable[str]) -> set[str]:
    """The ids of every document of the PubTator files ``paths`` (the documents a curation leaves out).

    Example:
        >>> document_ids([])
        set()
    """
    return {doc.doc_id for path in paths for doc in read_pubtator(path)}


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
                ids = concept_ids(cells[5], cells[4]) if len(cells) > 5 else ()
                doc.mentions.append(GoldMention(cells[0], int(cells[1]), int(cells[2]), cells[3], cells[4], ids))
    return list(docs.values())
