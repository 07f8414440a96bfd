"""A short form a document defines takes its long form's classes at every use there (``ner.abbreviations``)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import kazu_spark
from kazu_spark.config import Config
from kazu_spark.ner.abbreviations import propagate_abbreviations
from kazu_spark.ner.spans import entity_id
from kazu_spark.pipeline.texts import tag_texts
from kazu_spark.schemas import ENTITY_ROWS_COLUMNS, column_names

TITLE = "Proton pump inhibitors (PPIs) in overactive bladder"
BODY = "PPIs and OAB. Overactive bladder (OAB) is common; OAB1 and OAB-2 are genes. TNF (tumour necrosis factor) rose."
TEXT = f"{TITLE}\n\n{BODY}"
SECTIONS = [
    {"name": "title", "start": 0, "end": len(TITLE)},
    {"name": "body", "start": len(TITLE) + 2, "end": len(TEXT)},
]


def docs(*texts: str) -> pd.DataFrame:
    """One document per text (``d0``, ``d1``, ...): the first with SECTIONS, the others one body section."""
    sections = [SECTIONS] + [[{"name": "body", "start": 0, "end": len(t)}] for t in texts[1:]]
    ids = [f"d{i}" for i in range(len(texts))]
    return pd.DataFrame({"doc_id": ids, "text": list(texts), "sections": sections, "content_hash": ["h"] * len(texts)})


def rows(doc_id: str, text: str, found: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """ENTITY_ROWS for (mention, occurrence '#k', class, confidence): the k-th occurrence of the mention in text."""
    out = []
    for mention, nth, cls, confidence in found:
        start = -1
        for _ in range(int(nth.lstrip("#"))):
            start = text.index(mention, start + 1)
        end = start + len(mention)
        section = next(s["name"] for s in SECTIONS if s["start"] <= start < s["end"]) if doc_id == "d0" else "body"
        out.append({"entity_id": entity_id(doc_id, section, start, end, cls), "doc_id": doc_id, "section": section,
                    "start": start, "end": end, "mention": mention, "entity_class": cls, "confidence": confidence,
                    "model": "m", "content_hash": "h"})  # fmt: skip
    return pd.DataFrame(out, columns=column_names(ENTITY_ROWS_COLUMNS))


def spans(frame: pd.DataFrame, text: str = TEXT) -> list[tuple[str, str, int, str]]:
    """(section, mention, start, class), sorted."""
    assert all(text[s:e] == m for s, e, m in zip(frame["start"], frame["end"], frame["mention"], strict=True))
    return sorted(zip(frame["section"], frame["mention"], frame["start"], frame["entity_class"], strict=True))


def test_every_use_of_a_short_form_takes_its_long_forms_class_and_loses_others() -> None:
    found = [("Proton pump inhibitors", "#1", "drug", 0.9), ("PPIs", "#2", "gene", 0.7)]  # PPIs of the body: gene
    found += [("Overactive bladder", "#1", "disease", 0.8), ("bladder", "#2", "cell_type", 0.5)]  # nested: no say
    found += [("OAB", "#1", "gene", 0.6), ("OAB1", "#1", "gene", 0.9)]
    out = propagate_abbreviations(docs(TEXT), rows("d0", TEXT, found))
    body = len(TITLE) + 2
    at = {m: [i for i in range(len(TEXT)) if TEXT.startswith(m, i)] for m in ("PPIs", "OAB")}
    assert spans(out) == sorted(
        [("title", "Proton pump inhibitors", 0, "drug"), ("title", "PPIs", at["PPIs"][0], "drug"),
         ("body", "PPIs", at["PPIs"][1], "drug"),  # the gene is gone
         ("body", "Overactive bladder", TEXT.index("Overactive"), "disease"),
         ("body", "bladder", TEXT.index("bladder", body), "cell_type"),
         *[("body", "OAB", i, "disease") for i in at["OAB"] if TEXT[i + 3] in " .)"],  # not OAB1, OAB-2
         ("body", "OAB1", TEXT.index("OAB1"), "gene")]
    )  # fmt: skip
    added = out[out["mention"] == "PPIs"]
    assert added["confidence"].tolist() == [0.9, 0.9] and set(added["model"]) == {"m"}
    keys = out[["doc_id", "section", "start", "end", "entity_class"]].itertuples(index=False)
    assert out["entity_id"].tolist() == [entity_id(*key) for key in keys]
    assert out.dtypes.equals(rows("d0", TEXT, found).dtypes)


def test_a_short_form_whose_long_form_is_no_entity_keeps_what_the_model_said() -> None:
    found = [("TNF", "#1", "gene", 0.9), ("OAB", "#2", "disease", 0.7)]  # 'tumour necrosis factor' untagged
    frame = rows("d0", TEXT, found)
    assert propagate_abbreviations(docs(TEXT), frame) is frame


def test_documents_do_not_share_their_definitions() -> None:
    other = "OAB rose."
    found = rows("d0", TEXT, [("Overactive bladder", "#1", "disease", 0.9)])
    out = propagate_abbreviations(docs(TEXT, other), found)
    assert set(out["doc_id"]) == {"d0"} and (out["mention"] == "OAB").sum() == 2  # 'OAB.' and '(OAB)' of d0


BUNDLED = Path(kazu_spark.__file__).parent / "resources" / "model"


@pytest.mark.skipif(not (BUNDLED / "model.safetensors").is_file(), reason="bundled model not trained yet")
def test_the_model_step_tags_every_use_of_a_defined_short_form_unless_switched_off() -> None:
    """The bundled model tags ``overactive bladder`` but not the bare ``OAB`` of later sentences; the document's
    definition makes each a disease (``ner.abbreviations``, on by default). (``OAB`` is a known name too: those are
    switched off where the model alone is meant.)"""
    text = "Patients with overactive bladder (OAB) were treated. The drug reduced OAB episodes. OAB is common."
    later = [m.start() for m in re.finditer("OAB", text)][1:]

    def uses(**ner: object) -> list[tuple[int, str]]:
        """The later uses of ``OAB`` tagged, with their classes."""
        rows = tag_texts([text], Config(ner={"precision": "fp32", **ner}))
        return sorted((a, c) for a, c in zip(rows["start"], rows["entity_class"], strict=True) if a in later)

    assert uses(abbreviations=False, known_names=None) == []
    assert uses(known_names=None) == uses() == [(start, "disease") for start in later]
    rows = tag_texts([text], Config(ner={"precision": "fp32"}))
    assert ("overactive bladder", "disease") in set(zip(rows["mention"], rows["entity_class"], strict=True))


def test_a_gene_tagged_by_the_end_of_its_long_form_takes_the_whole_long_form() -> None:
    """``rapamycin`` of ``mammalian target of rapamycin (mTOR)``: the model tagged the last word of the gene's name and
    the definition says where the name starts. Only where the short form is a gene too, and only for genes: a
    disease's long form may hold a qualifier (``levodopa-induced dyskinesias (LID)``) that is no part of its name."""
    text = (
        "The mammalian target of rapamycin (mTOR) and phosphatase and tensin homolog (PTEN) act. "
        "Calcitonin gene-related peptide (CGRP) rose. Levodopa-induced dyskinesias (LID) occurred. "
        "The phosphatase and tensin homolog (PTEN)-mechanistic target of rapamycin (MTOR) axis."
    )
    found = [("rapamycin", "#1", "gene", 0.8), ("mTOR", "#1", "gene", 0.9), ("tensin homolog", "#1", "gene", 0.7)]
    found += [
        ("related peptide", "#1", "gene", 0.6),
        ("dyskinesias", "#1", "disease", 0.9),
        ("LID", "#1", "disease", 0.7),
    ]
    found += [("rapamycin", "#2", "gene", 0.8), ("MTOR", "#1", "gene", 0.9)]
    out = propagate_abbreviations(docs("", text).iloc[1:], rows("d1", text, found))
    got = {(m, c) for m, c in zip(out["mention"], out["entity_class"], strict=True)}
    assert ("mammalian target of rapamycin", "gene") in got
    assert ("tensin homolog", "gene") in got, "PTEN is no entity: nothing says the gene's name is longer"
    assert ("related peptide", "gene") in got, "CGRP is no entity"
    assert ("dyskinesias", "disease") in got and ("Levodopa-induced dyskinesias", "disease") not in got
    assert ("rapamycin", "gene") in got, "the long form Schwartz-Hearst gives, (PTEN)-mechanistic ..., is no one name"
    assert set(out["entity_id"]) == {
        entity_id("d1", "body", s, e, c) for s, e, c in zip(out["start"], out["end"], out["entity_class"], strict=True)
    }
