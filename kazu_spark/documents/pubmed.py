r"""PubMed baseline and update XML (``pubmed25n0001.xml.gz``): citations and deleted PMIDs of one record (pure).

A PubMed file is ``<PubmedArticleSet>`` holding ``<PubmedArticle>`` (and ``<PubmedBookArticle>``) records
and, in update files, ``<DeleteCitation>`` lists of the PMIDs NLM withdrew. The reader
(:mod:`kazu_spark.documents.readers`) cuts a file into records at each ``</PubmedArticle>``
(``RECORD_END``, Spark's text source with that ``lineSep``: gzip read transparently, plain files split
across tasks); this module turns one such record into citations and deletions.

Why not Spark's XML source: it loses text. Inline markup (``<i>``, ``<sup>``, ``<b>`` in titles and
abstracts) becomes separate fields, so "Mutations in <i>BRCA1</i> cause" reads back as ``["Mutations in",
"cause"]`` plus ``i = "BRCA1"``, order gone; and one malformed record turns the rest of its file into a
single corrupt row, so every record after it is dropped unseen. Here each record is parsed on its own:
a malformed one is a ``read_error`` row (quarantined), the next record reads normally, and
``itertext`` keeps inline markup's text in place (``Ca<sup>2+</sup>`` -> ``Ca2+``).

The abstract is its ``AbstractText`` sections in order, one per line, each labelled as PubMed shows it
(``BACKGROUND: ...``): a newline is a hard sentence break (sections never run into each other) and the
abstract stays one plain string, so every entity offset points into the stored text with no mapping.
A record is parsed inside a fresh ``<PubmedArticleSet>`` element, after the file's prolog is cut off,
so no DTD (and no entity declaration) can come with it.

Example:
    >>> record = '''<PubmedArticle><MedlineCitation><PMID Version="1">7</PMID><Article>
    ... <ArticleTitle>Ca<sup>2+</sup> in <i>E. coli</i></ArticleTitle><Abstract>
    ... <AbstractText Label="AIMS">To test.</AbstractText><AbstractText Label="RESULTS">It works.</AbstractText>
    ... </Abstract></Article></MedlineCitation>'''
    >>> parse_record(record)
    [('7', 'Ca2+ in E. coli', 'AIMS: To test.\nRESULTS: It works.', None)]
    >>> deleted_pmids('<DeleteCitation><PMID Version="1">8</PMID><PMID Version="1">9</PMID></DeleteCitation>')
    ['8', '9']
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

#: the end tag the reader cuts files at (one article per record; other elements ride along)
RECORD_END = "</PubmedArticle>"
#: what marks a record holding deletions (the reader parses only those for them)
DELETE_TAG = "<DeleteCitation"
#: the message that starts the read error of a record that is not well-formed PubMed XML
INVALID = "invalid PubMed XML"

#: (source_id, title, text, read_error): one row of ``RAW_DOCUMENTS`` without its source
Row = tuple[str | None, str | None, str | None, str | None]

_ROOT_START = re.compile(r"<PubmedArticleSet(?:\s[^>]*)?>")
_ROOT_END = re.compile(r"</PubmedArticleSet\s*>")
_ARTICLE_START = re.compile(r"<PubmedArticle[\s>]")
_ARTICLE_END = re.compile(r"</PubmedArticle\s*>")
_PMID = re.compile(r"<PMID[^>]*>\s*(\d+)\s*</PMID>")
#: record element -> (its PMID, its title candidates in order, its abstract)
_PATHS = {
    "PubmedArticle": (
        "MedlineCitation/PMID",
        ("MedlineCitation/Article/ArticleTitle",),
        "MedlineCitation/Article/Abstract",
    ),
    "PubmedBookArticle": (
        "BookDocument/PMID",
        ("BookDocument/ArticleTitle", "BookDocument/Book/BookTitle"),
        "BookDocument/Abstract",
    ),
}


class PubmedXmlError(ValueError):
    """A record that is not well-formed XML, or holds an element a PubMed file does not have."""


def _body(record: str) -> str:
    """The record without the file's prolog and root tags, the end tag the reader cut off put back."""
    start = _ROOT_START.search(record)
    body = _ROOT_END.sub("", record[start.end() :] if start else record)
    if len(_ARTICLE_START.findall(body)) > len(_ARTICLE_END.findall(body)):
        body += RECORD_END
    return body


def _elements(record: str) -> list[ET.Element]:
    """The top-level elements of one record, parsed inside a fresh root; ``PubmedXmlError`` if malformed."""
    try:
        root = ET.fromstring(f"<PubmedArticleSet>{_body(record)}</PubmedArticleSet>")
    except ET.ParseError as exc:
        raise PubmedXmlError(f"{INVALID}: {exc}") from exc
    odd = sorted({e.tag for e in root if e.tag not in (*_PATHS, "DeleteCitation")})
    if odd:
        raise PubmedXmlError(f"{INVALID}: unexpected element(s) {odd} in PubmedArticleSet")
    return list(root)


def element_text(element: ET.Element | None) -> str | None:
    """All the text of ``element``, inline markup's included in place, stripped; None when empty or absent.

    Example:
        >>> element_text(ET.fromstring("<t> H<sub>2</sub>O &amp; <i>salt</i> </t>")), element_text(None)
        ('H2O & salt', None)
    """
    text = "".join(element.itertext()).strip() if element is not None else ""
    return text or None


def abstract_text(abstract: ET.Element | None) -> str | None:
    r"""An ``<Abstract>``'s ``AbstractText`` sections in order, one per line, ``Label: `` before a labelled one.

    Example:
        >>> abstract_text(ET.fromstring('<Abstract><AbstractText Label="AIM">A.</AbstractText>'
        ...     '<AbstractText>B.</AbstractText><CopyrightInformation>(c)</CopyrightInformation></Abstract>'))
        'AIM: A.\nB.'
    """
    if abstract is None:
        return None
    sections = []
    for section in abstract.findall("AbstractText"):
        text, label = element_text(section), (section.get("Label") or "").strip()
        if text:
            sections.append(f"{label}: {text}" if label else text)
    return "\n".join(sections) or None


def _citation(element: ET.Element) -> Row:
    pmid_path, title_paths, abstract_path = _PATHS[element.tag]
    title = next(filter(None, (element_text(element.find(p)) for p in title_paths)), None)
    return element_text(element.find(pmid_path)), title, abstract_text(element.find(abstract_path)), None


def parse_record(record: str) -> list[Row]:
    """One record of a PubMed file -> a row per citation in it: (PMID, title, abstract, None).

    A citation without a PMID has a None id (ingestion quarantines it as ``missing_id``); a record that
    is not well-formed is one row with the read error, the PMID it seems to have and the record's XML.

    Example:
        >>> pmid, _, xml, error = parse_record("<PubmedArticle><MedlineCitation><PMID>5</PMID><ArticleTitle>T</i>")[0]
        >>> pmid, error
        ('5', 'invalid PubMed XML: mismatched tag: line 1, column 81')
    """
    try:
        elements = _elements(record)
    except PubmedXmlError as exc:
        body = _body(record).strip()
        pmid = _PMID.search(body)
        return [(pmid[1] if pmid else None, None, body, str(exc))]
    return [_citation(e) for e in elements if e.tag != "DeleteCitation"]


def deleted_pmids(record: str) -> list[str]:
    """The PMIDs the ``<DeleteCitation>`` lists of one record name (none from a malformed record: its
    ``parse_record`` row reports it).

    Example:
        >>> deleted_pmids("<DeleteCitation><PMID>1</PMID></DeleteCitation>"), deleted_pmids("<DeleteCitation>")
        (['1'], [])
    """
    try:
        elements = _elements(record)
    except PubmedXmlError:
        return []
    found = (element_text(p) for e in elements if e.tag == "DeleteCitation" for p in e.findall("PMID"))
    return [pmid for pmid in found if pmid]
