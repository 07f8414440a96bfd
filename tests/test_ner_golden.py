"""The NER stage's per-batch function gives the entity rows the previous implementation gave.

``tests/data/ner_golden/entities.json.gz`` holds the entity rows (doc id, section, offsets, class, confidence
to 5 decimals) that ``entities_for_batch`` of commit 0c99fdb (before the vectorised tokenisation, windows
and merging) produced with the bundled model in fp32 on one torch thread, over the bundled sample abstracts
and the three texts of ``EXTRA`` (unicode, removed characters, a long repeated sentence), in batches of 50
documents. Made with ``tests/data/ner_golden/README.md``'s command on that commit. That commit had no
abbreviation step, so the rows are compared without it (``abbreviations=False``; ``tests/test_ner_abbreviations.py``
covers it).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from kazu_spark.documents.ingest import ingest_row
from kazu_spark.ner.tagger import Tagger, entities_for_batch
from kazu_spark.paths import resolve_path
from kazu_spark.schemas import NER_INPUT

GOLDEN = Path(__file__).parent / "data" / "ner_golden" / "entities.json.gz"
EXTRA = [
    "Müller cells express α-synuclein and β2-microglobulin 🧬🦠 in naïve café-au-lait patients; İstanbul cohort: "
    "乳腺癌 (breast cancer) and ＴＮＦ-α, Ca²⁺ ﬁbrosis.\tSjögren's  syndrome\n",
    "BRCA1\u00admutations and TP53\u200b loss in HER2+ breast cancer; "
    "IL\u20116 and TNF\u2011α in Crohn\u2019s disease.",
    "Mutations in BRCA1 cause breast cancer. " * 60,
]


def golden_frame() -> pd.DataFrame:
    """The sample abstracts and ``EXTRA`` as NER input rows, as the golden file's command built them."""
    path = resolve_path("pkg://kazu_spark/resources/sample/abstracts.jsonl")
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
    docs = [
        ingest_row({"source_id": r["pmid"], "title": r["title"], "text": r["abstract"], "source": "s"}) for r in rows
    ]
    docs += [ingest_row({"source_id": f"x{i}", "title": t[:40], "text": t, "source": "s"}) for i, t in enumerate(EXTRA)]
    return pd.DataFrame([{k: d[k] for k in NER_INPUT.fieldNames()} for d in docs])


def test_entities_match_the_previous_implementation() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tagger = Tagger.from_dir(resolve_path("pkg://kazu_spark/resources/model"), precision="fp32")
        frame = golden_frame()
        batches = [frame.iloc[b : b + 50] for b in range(0, len(frame), 50)]
        out = pd.concat([entities_for_batch(tagger, batch, abbreviations=False) for batch in batches])
    finally:
        torch.set_num_threads(threads)
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as fh:
        golden = json.load(fh)
    keep = ["doc_id", "section", "start", "end", "entity_class", "confidence"]
    rows = sorted([d, s, int(a), int(b), c, float(p)] for d, s, a, b, c, p in out[keep].itertuples(index=False))
    assert [r[:5] for r in rows] == [g[:5] for g in golden]
    assert [r[5] for r in rows] == pytest.approx([g[5] for g in golden], abs=1e-4)
    assert (out["mention"] == [t[s:e] for t, s, e in zip(frame.set_index("doc_id").loc[out["doc_id"], "text"],
                                                          out["start"], out["end"], strict=True)]).all()  # fmt: skip
