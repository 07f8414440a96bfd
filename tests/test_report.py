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
from kazu_spark.report.render import CLASS_COLOURS, ReportData, bar_chart, highlight, human, render_report
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
    hostile = "\"><script>alert(1)</script> & 'x'"  # a label that would break out of the title attribute
    spans = [(5, 10, "gene", "HGNC:1100", "BRCA1 DNA repair associated"), (17, 21, "gene", None, None),
             (29, 35, "disease", "MESH:D009369", hostile), (42, 46, "species", "NCBITaxon:10090", None)]  # fmt: skip
    fragment = highlight(text, spans)
    assert "<b>" not in fragment and "&lt;b&gt;" in fragment and "<script>" not in fragment
    parsed = _parse(fragment)
    assert parsed.text == text  # code-point offsets, astral characters included
    assert [(s, e, t) for s, e, t, _ in parsed.marks] == [
        (5, 10, "gene · HGNC:1100 · BRCA1 DNA repair associated"),  # the tooltip: class, concept id, label
        (17, 21, "gene"),  # not linked
        (29, 35, f"disease · MESH:D009369 · {hostile}"),
        (42, 46, "species · NCBITaxon:10090"),
    ]
    assert [parsed.text[s:e] for s, e, _, _ in parsed.marks] == ["BRCA1", "TP53", "cancer", "mice"]
    assert all(CLASS_COLOURS[t.split(" · ")[0]] in style for _, _, t, style in parsed.marks)


def test_numbers_are_rounded_for_people() -> None:
    assert [human(v) for v in (123.63534073299991, 1234567.0, 2.0, 0.04999, 9.87654)] == [
        "124", "1,234,567", "2", "0.05", "9.88",
    ]  # fmt: skip
    assert "123.6353" not in bar_chart(["run"], [123.63534073299991], ["#000"], " s")


def test_overlapping_spans_keep_the_first_and_lose_no_text() -> None:
    spans = [(5, 11, "disease", None, None), (0, 11, "disease", None, None), (5, 17, "cell_type", None, None)]
    parsed = _parse(highlight("lung cancer cells", spans))
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
        {"run_id": r, "command": command, "started_at": now, "finished_at": now, "status": status, "input": "x",
         "config_hash": "h", "model": "m", "counts": counts, "elapsed_seconds": s, "error": None}
        for r, command, status, counts, s in (
            ("r1", "annotate", "succeeded", {"documents": 2}, 4.0),
            ("r2", "annotate", "succeeded", {"documents": 30}, 10.0),
            ("k1", "kg-build", "succeeded", {"documents_recomputed": 20, "kg_nodes": 9}, 123.63534073299991),
            ("k2", "kg-build", "failed", {}, 1.5),
        )
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
    doc = html[html.index("<h3>d1</h3>") :]
    parsed = _parse(doc[doc.index('<div class="doc">') : doc.index("</div>") + 6])
    assert parsed.text == DOCS["d1"]
    assert [(parsed.text[s:e], title) for s, e, title, _ in parsed.marks] == [
        ("BRCA1", "gene · HGNC:1100 · BRCA1 DNA repair associated"),  # the label of ontology_terms
        ("<TP53>", "gene · HGNC:11998 · link label"),  # else the link's
        ("breast cancer", "disease · MESH:D001943 · link label"),
    ]
    concepts = doc[doc.index("</div>") : doc.index("<h3>d2</h3>")]  # the table of the tooltips' concepts
    assert all(c in concepts for c in ("HGNC:1100", "BRCA1 DNA repair associated", "MESH:D001943"))
    d2 = html[html.index("<h3>d2</h3>") :]
    assert _parse(d2[d2.index('<div class="doc">') : d2.index("</div>") + 6]).marks[0][2] == "drug"  # not linked


@pytest.mark.spark
def test_report_charts_each_kind_of_run_with_rounded_numbers(data) -> None:
    html = render_report(data, "tiny")
    annotate = html[html.index("<h3>annotate: documents annotated / second</h3>") :]
    annotate = annotate[: annotate.index("</svg>")]
    assert annotate.count("<rect") == 2 and "0.5 docs/s" in annotate and "3 docs/s" in annotate  # 2 in 4 s, 30 in 10 s
    kg = html[html.index("<h3>kg-build: documents recomputed / second</h3>") :]
    kg = kg[: kg.index("</svg>")]
    assert kg.count("<rect") == 1 and "0.162 docs/s" in kg  # 20 recomputed in 123.6 s; the failed build not charted
    assert "0 docs/s" not in html  # a kg build is not an annotate run without documents
    assert "123.635" not in html and '<td class="n">124</td>' in html  # its elapsed seconds, rounded


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
