"""The HTML report: escaped text, exact highlights, right counts from a tiny lakehouse, and a screenshot.

The renderer is pure (pandas in, HTML out) and is checked by parsing its HTML back. The lakehouse test
writes five tiny Delta tables by hand (2 documents, 4 entities, 3 links) so every expected number is
known, then reads them through :func:`report_data`. The screenshot test runs only where Chromium is
installed (``/usr/bin/chromium``), and skips elsewhere.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from kazu_spark.lakehouse.delta import table_path
from kazu_spark.report.data import report_data
from kazu_spark.report.render import CLASS_COLOURS, ReportData, highlight, render_report
from kazu_spark.schemas import TABLES


class _Marks(HTMLParser):
    """Text of an HTML fragment plus each <mark>'s (start, end, title) in that text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text, self.marks, self._open = "", [], None

    def handle_starttag(self, tag, attrs):
        if tag == "mark":
            self._open = (len(self.text), dict(attrs))

    def handle_endtag(self, tag):
        if tag == "mark":
            start, attrs = self._open
            self.marks.append((start, len(self.text), attrs["title"], attrs["style"]))

    def handle_data(self, data):
        self.text += data


def _parse(fragment: str) -> _Marks:
    parser = _Marks()
    parser.feed(fragment)
    return parser


def test_highlight_escapes_text_and_marks_exactly_the_spans() -> None:
    text = '🧬 <b>BRCA1</b> & TP53 cause "cancer" in 🐭 mice'
    spans = [(5, 10, "gene"), (17, 21, "gene"), (29, 35, "disease"), (42, 46, "species")]
    fragment = highlight(text, spans)
    assert "<b>" not in fragment and "&lt;b&gt;" in fragment
    parsed = _parse(fragment)
    assert parsed.text == text  # code-point offsets, astral characters included
    assert [(s, e, t) for s, e, t, _ in parsed.marks] == spans
    assert [parsed.text[s:e] for s, e, _, _ in parsed.marks] == ["BRCA1", "TP53", "cancer", "mice"]
    assert all(CLASS_COLOURS[t] in style for _, _, t, style in parsed.marks)


def test_overlapping_spans_keep_the_first_and_lose_no_text() -> None:
    parsed = _parse(highlight("lung cancer cells", [(5, 11, "disease"), (0, 11, "disease"), (5, 17, "cell_type")]))
    assert parsed.text == "lung cancer cells"
    assert [(s, e) for s, e, _, _ in parsed.marks] == [(0, 11)]


DOCS = {"d1": "BRCA1 and <TP53> in breast cancer.", "d2": "Aspirin helps."}
# (entity_id, doc_id, start, end, class); e1..e3 linked, e4 not
ENTITIES = [("e1", "d1", 0, 5, "gene"), ("e2", "d1", 10, 16, "gene"), ("e3", "d1", 20, 33, "disease"),
            ("e4", "d2", 0, 7, "drug")]  # fmt: skip
LINKS = [("e1", "HGNC:1100"), ("e2", "HGNC:11998"), ("e3", "MESH:D001943")]


def _write(spark, lakehouse: str, table: str, rows: list[dict]) -> None:
    spark.createDataFrame(rows, TABLES[table]).write.format("delta").save(table_path(lakehouse, table))


@pytest.fixture(scope="module")
def tiny_lakehouse(spark, tmp_path_factory) -> str:
    lakehouse = str(tmp_path_factory.mktemp("report") / "lake")
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    docs = [
        {"doc_id": d, "source": "t", "title": None, "text": t,
         "sections": [{"name": "body", "start": 0, "end": len(t)}], "content_hash": d,
         "char_count": len(t), "run_id": "r1", "ingested_at": now}
        for d, t in DOCS.items()
    ]  # fmt: skip
    entities = [
        {"entity_id": e, "doc_id": d, "section": "body", "start": s, "end": x, "mention": DOCS[d][s:x],
         "entity_class": c, "confidence": 0.9, "model": "m", "content_hash": d, "run_id": "r1"}
        for e, d, s, x, c in ENTITIES
    ]  # fmt: skip
    links = [
        {"link_id": f"l{e}", "entity_id": e, "doc_id": "d1", "concept_id": c, "source": "S",
         "default_label": "link label", "matched_synonym": "x", "strategy": "exact", "score": 1.0,
         "ambiguous": False, "confidence_tier": "high", "run_id": "r1"}
        for e, c in LINKS
    ]  # fmt: skip
    terms = [
        {"term_id": "t1", "concept_id": "HGNC:1100", "source": "HGNC", "default_label": "BRCA1 DNA repair associated",
         "synonym": "BRCA1", "synonym_type": "symbol", "normalised_synonym": "brca1", "symbolic": True,
         "entity_class": "gene", "metadata": {}, "source_version": "v", "source_checksum": "0" * 64}
    ]  # fmt: skip
    runs = [
        {"run_id": r, "command": "annotate", "started_at": now, "finished_at": now, "status": "succeeded", "input": "x",
         "config_hash": "h", "model": "m", "counts": {"documents": n}, "elapsed_seconds": s, "error": None}
        for r, n, s in (("r1", 2, 4.0), ("r2", 30, 10.0))
    ]  # fmt: skip
    for table, rows in [("documents", docs), ("entities", entities), ("entity_links", links),
                        ("ontology_terms", terms), ("runs", runs)]:  # fmt: skip
        _write(spark, lakehouse, table, rows)
    return lakehouse


@pytest.fixture(scope="module")
def data(spark, tiny_lakehouse) -> ReportData:
    return report_data(spark, tiny_lakehouse, top=5, documents=2)


@pytest.mark.spark
def test_report_from_a_lakehouse_has_the_right_counts(data) -> None:
    classes = data.classes.set_index("entity_class")[["entities", "linked"]]
    assert {c: tuple(row) for c, row in classes.iterrows()} == {"gene": (2, 2), "disease": (1, 1), "drug": (1, 0)}
    labels = dict(zip(data.top_concepts["concept_id"], data.top_concepts["label"], strict=True))
    assert labels == {
        "HGNC:1100": "BRCA1 DNA repair associated",
        "HGNC:11998": "link label",
        "MESH:D001943": "link label",
    }
    html = render_report(data, "tiny")
    assert "4</span> entities" in html and "75.0%" in html  # 3 of 4 linked
    assert "0.5 docs/s" in html and "3 docs/s" in html  # 2 docs in 4 s, 30 docs in 10 s
    doc = html[html.index("<h3>d1</h3>") :]
    parsed = _parse(doc[doc.index('<div class="doc">') : doc.index("</div>") + 6])
    assert parsed.text == DOCS["d1"]
    assert [parsed.text[s:e] for s, e, _, _ in parsed.marks] == ["BRCA1", "<TP53>", "breast cancer"]


@pytest.mark.spark
@pytest.mark.skipif(not shutil.which("chromium"), reason="Chromium is not installed")
def test_report_screenshot_shows_the_class_colours(data, tmp_path) -> None:
    from PIL import Image

    page, png = tmp_path / "report.html", tmp_path / "report.png"
    page.write_text(render_report(data, "tiny"), encoding="utf-8")
    subprocess.run(
        [shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={png}", "--window-size=1200,2400", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    colours = {c[1] for c in Image.open(png).convert("RGB").getcolors(maxcolors=1 << 20)}
    assert len(colours) > 50  # text, charts and highlights, not a blank page
    for entity_class in ("gene", "disease", "drug"):
        hex_colour = CLASS_COLOURS[entity_class].lstrip("#")
        assert tuple(int(hex_colour[i : i + 2], 16) for i in (0, 2, 4)) in colours, entity_class
