"""A short form defined in a document takes its long form's class at every use there (Kazu's abbreviation step).

The model reads a sentence at a time, so ``OAB`` three sentences after ``overactive bladder (OAB)`` is a bare
acronym to it: often untagged, sometimes tagged as another class (``PPIs`` as a gene after ``proton pump
inhibitors``). The document says what it is. For each short form a document defines (Schwartz–Hearst,
:func:`~kazu_spark.linking.abbreviations.short_forms_batch`: its first definition), the classes of the entities that
cover its long form and end where it ends (``overactive bladder``, or ``Proton pump inhibitors`` where
Schwartz–Hearst's shortest long form of ``PPIs`` is ``pump inhibitors``; not ``rapamycin`` of ``mammalian target of
rapamycin (mTOR)``) are the short form's classes: every whole-word use of the short form in the document (the one in
the parenthesis included) becomes an entity of each of them, with the long form's confidence and emitter, and an
entity of another class on exactly that span is dropped. A short form whose long form is no entity is left as the
model tagged it: the model may know an acronym the definition's words do not show. A known name
(:mod:`kazu_spark.ner.known_names`) on a use of a defined short form, plural or not, is dropped either way: the
definition, not the training corpora's usual sense, says what the acronym means in this document (``BCR`` is the
gene's symbol in the corpora, *biochemical recurrence* in "biochemical recurrence (BCR)"). Before all this, a gene
that the model tagged by the end of its long form only (``rapamycin`` of ``mammalian target of rapamycin (mTOR)``)
takes the whole long form when its short form is a gene too (:func:`whole_long_forms`).

Measured on whole PubTator documents (title + abstract, the way ``annotate`` reads them; bundled model of session
35, strict spans): BC5CDR devel F1 0.831 -> 0.842, BioRED devel 0.759 -> 0.778 (``docs/distillation.md``).

Example:
    >>> import pandas as pd
    >>> from kazu_spark.ner.spans import entity_id
    >>> text = "Overactive bladder (OAB) is common. OAB and PPIs."
    >>> docs = pd.DataFrame({"doc_id": ["d"], "text": [text], "content_hash": ["h"],
    ...     "sections": [[{"name": "body", "start": 0, "end": len(text)}]]})
    >>> found = [(0, 18, "disease", 0.9), (36, 39, "gene", 0.6)]
    >>> rows = pd.DataFrame([{"entity_id": entity_id("d", "body", s, e, c), "doc_id": "d", "section": "body",
    ...     "start": s, "end": e, "mention": text[s:e], "entity_class": c, "confidence": p, "model": "m",
    ...     "content_hash": "h"} for s, e, c, p in found])
    >>> propagate_abbreviations(docs, rows)[["start", "end", "mention", "entity_class"]].values.tolist()
    [[0, 18, 'Overactive bladder', 'disease'], [20, 23, 'OAB', 'disease'], [36, 39, 'OAB', 'disease']]
"""

from __future__ import annotations

import re

import pandas as pd

from kazu_spark.linking.abbreviations import short_forms_batch, word_uses
from kazu_spark.ner.known_names import is_known_name
from kazu_spark.ner.spans import entity_id

#: classes whose name is its whole long form: ``mammalian target of rapamycin (mTOR)`` names the gene, where a disease
#: or drug long form may hold a qualifier the corpora leave out (``levodopa-induced dyskinesias (LID)``: BC5CDR marks
#: ``dyskinesias``). On devel, growing gene spans gained on the three gene corpora, disease and drug spans lost (BC5CDR)
WHOLE_LONG_FORM_CLASSES = frozenset({"gene"})
#: what the words a long form adds before an entity do not hold: a line break, a bracket or a slash (Schwartz–Hearst
#: starts a long form at a word, and ``(PTEN)-mammalian target of rapamycin`` or ``phosphatidylinositol-3-kinase/
#: phosphatase and tensin homolog`` are a word glued to another name)
_NOT_ONE_NAME = re.compile(r"[\n()\[\]{}/]")


def whole_long_forms(texts: dict[str, str], rows: pd.DataFrame, forms: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with each entity of a :data:`WHOLE_LONG_FORM_CLASSES` class that ends where a defined long form ends,
    and starts inside it, grown to the whole long form, when the short form's first use after the long form (its
    parenthesis, in ``long form (SF)``) is an entity of the same class: the model tagged the end of a long name
    (``rapamycin`` of ``mammalian target of rapamycin (mTOR)``, ``tensin homolog`` of ``phosphatase and tensin
    homolog (PTEN)``) and the definition says where it starts, unless the words it adds hold a bracket, a slash or a
    line break (:data:`_NOT_ONE_NAME`).
    ``forms``: :func:`~kazu_spark.linking.abbreviations.short_forms_batch` of the documents, whose texts ``texts`` holds
    by ``doc_id``.

    Example:
        >>> text = "The mammalian target of rapamycin (mTOR) pathway."
        >>> rows = pd.DataFrame({"entity_id": ["a", "b"], "doc_id": ["d", "d"], "section": "body", "start": [24, 35],
        ...     "end": [33, 39], "mention": ["rapamycin", "mTOR"], "entity_class": "gene", "confidence": 0.9})
        >>> forms = short_forms_batch(pd.DataFrame({"doc_id": ["d"], "text": [text]}))
        >>> whole_long_forms({"d": text}, rows, forms)[["start", "end", "mention"]].values.tolist()
        [[4, 33, 'mammalian target of rapamycin'], [35, 39, 'mTOR']]
    """
    # joined on the end as well as the document: a long document's every gene against its every form (a tiny model
    # tags each word: 114,634 entities x hundreds of forms in a 1,000,000-character one) would not fit a worker
    candidates = rows.assign(row=rows.index)[rows["entity_class"].isin(WHOLE_LONG_FORM_CLASSES)].merge(
        forms.assign(end=forms["long_end"]), on=["doc_id", "end"]
    )
    candidates = candidates[candidates["start"] > candidates["long_start"]]
    if candidates.empty:
        return rows
    spans = set(zip(rows["doc_id"], rows["start"], rows["end"], rows["entity_class"], strict=True))
    grown = rows.copy()
    for index, doc_id, cls, start, short, long_start, long_end in candidates[
        ["row", "doc_id", "entity_class", "start", "short", "long_start", "long_end"]
    ].itertuples(index=False):
        text = texts[doc_id]
        use = next(word_uses(text, short, long_end, joiners="-"), None)
        if (
            _NOT_ONE_NAME.search(text, long_start, start) is not None
            or use is None
            or (doc_id, *use, cls) not in spans
            or (doc_id, long_start, long_end, cls) in spans
        ):
            continue
        spans.add((doc_id, long_start, long_end, cls))
        section = grown.at[index, "section"]
        grown.loc[index, ["entity_id", "start", "mention"]] = [
            entity_id(doc_id, section, long_start, long_end, cls),
            long_start,
            text[long_start:long_end],
        ]
    return grown


def propagate_abbreviations(docs: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (``ENTITY_ROWS`` of the documents ``docs``, ``NER_INPUT`` columns) with every use of a defined short
    form given its long form's classes (the module doc): the rows kept in their order, then the rows added."""
    forms = short_forms_batch(docs[["doc_id", "text"]])
    if forms.empty or rows.empty:
        return rows
    texts = dict(zip(docs["doc_id"], docs["text"], strict=True))
    rows = whole_long_forms(texts, rows, forms)
    sections = dict(zip(docs["doc_id"], docs["sections"], strict=True))
    hashes = dict(zip(docs["doc_id"], docs["content_hash"], strict=True))
    # per document, its spans by (start, end) and by end, in row order: each form and each use looks up its own
    # spans, where a scan of the document's spans per use grew with uses x entities (minutes, in a long document)
    at: dict[str, dict[tuple[int, int], list[tuple]]] = {}  # (row index, class, confidence, model)
    ends: dict[str, dict[int, list[tuple]]] = {}  # (row index, start, class, confidence, model)
    columns = ("doc_id", "start", "end", "entity_class", "confidence", "model")
    for index, doc_id, start, end, cls, confidence, model in zip(rows.index, *(rows[c] for c in columns), strict=True):
        at.setdefault(doc_id, {}).setdefault((start, end), []).append((index, cls, confidence, model))
        ends.setdefault(doc_id, {}).setdefault(end, []).append((index, start, cls, confidence, model))
    dropped: list[int] = []
    added: list[dict] = []
    for doc_id, short, long_start, long_end in forms[["doc_id", "short", "long_start", "long_end"]].itertuples(
        index=False
    ):
        spans = at.get(doc_id, {})
        text = texts[doc_id]
        uses = list(word_uses(text, short, joiners="-", plural=True))  # singular or plural, in order
        known = {index for use in set(uses) for index, _, _, model in spans.get(use, ()) if is_known_name(model)}
        dropped.extend(known)
        classes = {}  # class -> the most confident (confidence, model) of the entities that cover the long form
        for index, start, cls, confidence, model in ends.get(doc_id, {}).get(long_end, ()):
            if start <= long_start and index not in known:
                classes[cls] = max(classes.get(cls, (confidence, model)), (confidence, model))
        if not classes:
            continue
        for start, end in uses:
            if text[start:end] != short:  # the short form as defined only (ASDs, not ASD)
                continue
            section = next((s["name"] for s in sections[doc_id] if s["start"] <= start and end <= s["end"]), None)
            if section is None:
                continue
            here = {cls: index for index, cls, _, _ in spans.get((start, end), ()) if index not in known}
            dropped.extend(index for cls, index in here.items() if cls not in classes)
            for cls, (confidence, model) in classes.items():
                if cls not in here:
                    added.append({"entity_id": entity_id(doc_id, section, start, end, cls), "doc_id": doc_id,
                                  "section": section, "start": start, "end": end, "mention": short,
                                  "entity_class": cls, "confidence": confidence, "model": model,
                                  "content_hash": hashes[doc_id]})  # fmt: skip
    if not dropped and not added:
        return rows
    dropped = sorted(set(dropped))
    pieces = [piece for piece in (rows.drop(index=dropped), pd.DataFrame(added, columns=rows.columns)) if len(piece)]
    if not pieces:  # every row dropped, none added
        return rows.iloc[:0]
    return pd.concat(pieces, ignore_index=True).astype(rows.dtypes)  # (pandas warns of concatenating empty frames)
