"""The HTML run report: pure rendering from small pandas frames (no Spark here).

:func:`render_report` turns a :class:`ReportData` (built from a lakehouse by
:func:`kazu_spark.report.data.report_data`) into one self-contained HTML page: inline CSS and inline
SVG bar charts, no scripts and no external assets, so it opens offline and can be mailed around. It
shows entities per class, the fraction linked, top concepts per class, throughput per run (one chart per
kind of run: annotate, kg build) and a few documents with their entities highlighted in their class
colour, each entity's concept id and label in its tooltip and the document's concepts in a table below
it. All text is HTML-escaped; entity offsets are code-point offsets into the document text (Python
``str`` indices); numbers are rounded for people (:func:`human`).

Example:
    >>> highlight("BRCA1 & cancer", [(0, 5, "gene", "HGNC:1100", "BRCA1"), (8, 14, "disease", None, None)])
    '<mark class="ent" style="background:#8ecae6" title="gene · HGNC:1100 · BRCA1">BRCA1</mark> &amp; \
<mark class="ent" style="background:#ffafcc" title="disease">cancer</mark>'
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: background colour per entity class (light, so black text stays readable)
CLASS_COLOURS = {
    "gene": "#8ecae6",
    "disease": "#ffafcc",
    "drug": "#b5e48c",
    "species": "#ffd166",
    "cell_type": "#cdb4db",
    "cell_line": "#f4a261",
}
#: colour of a class not in CLASS_COLOURS
OTHER_COLOUR = "#d9d9d9"
#: runs.command -> (the runs.counts key its throughput counts, what that is): one chart per kind of run
RUN_RATES = {
    "annotate": ("documents", "documents annotated / second"),
    "kg-build": ("documents_recomputed", "documents recomputed / second"),
}


def class_colour(entity_class: str) -> str:
    """The highlight colour of an entity class."""
    return CLASS_COLOURS.get(entity_class, OTHER_COLOUR)


@dataclass
class ReportData:
    """What the report shows, one small frame per section.

    * ``classes``: entity_class, entities, linked (entities with at least one link);
    * ``top_concepts``: entity_class, concept_id, label, mentions (the top few per class);
    * ``runs``: run_id, command, started_at, status, elapsed_seconds and the ``RUN_RATES`` counts (documents,
      documents_recomputed; null where a run has none);
    * ``documents``: doc_id, text; ``entities``: doc_id, start, end, entity_class, concept_id and label (of
      those documents; concept_id and label null for an entity without a link).
    """

    classes: pd.DataFrame
    top_concepts: pd.DataFrame
    runs: pd.DataFrame
    documents: pd.DataFrame
    entities: pd.DataFrame


def human(value: float) -> str:
    """``value`` rounded for people: whole numbers (and any from 100 on) with thousands separators, others
    to 3 significant digits, never in exponent notation; an empty string for a missing value.

    Example:
        >>> [human(v) for v in (123.63534073299991, 1234567, 3.0, 0.5, 12.3456, 0.0001234, float("nan"))]
        ['124', '1,234,567', '3', '0.5', '12.3', '0.000123', '']
    """
    if pd.isna(value):
        return ""
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return np.format_float_positional(value, precision=3, fractional=False, trim="-")


def highlight(text: str, spans: Iterable[tuple[int, int, str, str | None, str | None]]) -> str:
    """``text`` HTML-escaped with each span ``(start, end, class, concept_id, label)`` wrapped in a coloured
    ``<mark>`` whose tooltip (``title``) names the class and, for a linked entity, its concept id and label.

    Spans are code-point offsets. Where spans overlap, the earlier (then longer) one is shown and the
    other left out, since HTML cannot colour crossing spans.
    """
    out, pos = [], 0
    for start, end, entity_class, concept_id, label in sorted(spans, key=lambda s: (s[0], -s[1])):
        if start < pos or not 0 <= start < end <= len(text):
            continue
        out.append(html.escape(text[pos:start]))
        tip = " · ".join(str(part) for part in (entity_class, concept_id, label) if not pd.isna(part))
        colour, title = class_colour(entity_class), html.escape(tip)
        out.append(
            f'<mark class="ent" style="background:{colour}" title="{title}">{html.escape(text[start:end])}</mark>'
        )
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def bar_chart(labels: Sequence[str], values: Sequence[float], colours: Sequence[str], unit: str = "") -> str:
    """A horizontal SVG bar chart, one bar per label, the value printed at the bar's end.

    Example:
        >>> svg = bar_chart(["gene", "drug"], [3, 1], ["#8ecae6", "#b5e48c"])
        >>> svg.count("<rect"), 'width="400.0"' in svg
        (2, True)
    """
    row, label_w, bar_w = 24, 180, 400
    top = max(values, default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 90}" height="{row * len(labels) + 4}">'
    ]
    for i, (label, value, colour) in enumerate(zip(labels, values, colours, strict=True)):
        y, width = i * row + 2, bar_w * value / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">{html.escape(str(label))}</text>'
            f'<rect x="{label_w}" y="{y}" width="{width:.1f}" height="{row - 6}" fill="{colour}"/>'
            f'<text x="{label_w + width + 6:.1f}" y="{y + 16}">{human(value)}{html.escape(unit)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse}td,th{padding:.2em .8em;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right}svg text{font-size:13px;fill:#222}
.doc{border:1px solid #ddd;border-radius:6px;padding:.8em;margin:.8em 0;line-height:1.7;white-space:pre-wrap}
mark.ent{padding:0 .15em;border-radius:3px}.legend span{margin-right:1em;padding:0 .4em;border-radius:3px}
.kpi{font-size:2em;font-weight:bold}
"""


def _table(frame: pd.DataFrame, numeric: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = (
            f'<td class="n">{human(v)}</td>' if c in numeric else f"<td>{html.escape(str(v))}</td>"
            for c, v in zip(frame.columns, record, strict=True)
        )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _sections(data: ReportData) -> list[str]:
    classes = data.classes.sort_values("entities", ascending=False)
    total, linked = int(classes["entities"].sum()), int(classes["linked"].sum())
    colours = [class_colour(c) for c in classes["entity_class"]]
    share = (classes["linked"] / classes["entities"].where(classes["entities"] > 0)).fillna(0.0)
    out = [
        "<h2>Entities per class</h2>",
        f'<p><span class="kpi">{total:,}</span> entities, <span class="kpi">{linked / total if total else 0:.1%}'
        "</span> linked to an ontology concept</p>",
        bar_chart(list(classes["entity_class"]), list(classes["entities"]), colours),
        "<h2>Fraction linked per class</h2>",
        bar_chart(list(classes["entity_class"]), [round(100 * s, 1) for s in share], colours, "%"),
        "<h2>Top concepts per class</h2>",
    ]
    for entity_class, group in data.top_concepts.groupby("entity_class", sort=True):
        out.append(f"<h3>{html.escape(str(entity_class))}</h3>")
        out.append(_table(group[["concept_id", "label", "mentions"]], numeric=("mentions",)))
    out += ["<h2>Throughput per run</h2>", *_run_charts(data.runs), "<h2>Documents</h2>"]
    out.append(
        '<p class="legend">'
        + "".join(f'<span style="background:{class_colour(c)}">{html.escape(c)}</span>' for c in CLASS_COLOURS)
        + "</p>"
    )
    for doc in data.documents.itertuples(index=False):
        ents = data.entities[data.entities["doc_id"] == doc.doc_id].sort_values(["start", "end"])
        spans = zip(ents["start"], ents["end"], ents["entity_class"], ents["concept_id"], ents["label"], strict=True)
        out.append(f'<h3>{html.escape(str(doc.doc_id))}</h3><div class="doc">{highlight(doc.text, spans)}</div>')
        concepts = ents.groupby(["concept_id", "label", "entity_class"], sort=False).size().rename("mentions")
        if len(concepts):  # the tooltips' concepts, in order of first mention
            out.append(_table(concepts.reset_index(), numeric=("mentions",)))
    return out


def _run_charts(runs: pd.DataFrame) -> list[str]:
    """Per kind of run (``RUN_RATES``; runs.command), a chart of its succeeded runs' throughput; then every run."""
    runs = runs.sort_values("started_at").assign(started_at=lambda r: r["started_at"].astype(str).str[:19])
    out = []
    for command, (count, what) in RUN_RATES.items():
        done = runs[(runs["command"] == command) & (runs["status"] == "succeeded")]
        if len(done):
            rate = [n / s if s else 0.0 for n, s in zip(done[count].fillna(0), done["elapsed_seconds"], strict=True)]
            out += [
                f"<h3>{html.escape(command)}: {what}</h3>",
                bar_chart(list(done["started_at"]), rate, ["#5e60ce"] * len(rate), " docs/s"),
            ]
    columns = ["run_id", "command", "started_at", "status", *(c for c, _ in RUN_RATES.values()), "elapsed_seconds"]
    numeric = (*(c for c, _ in RUN_RATES.values()), "elapsed_seconds")
    return [*out, _table(runs[columns], numeric=numeric)]


def render_report(data: ReportData, title: str = "kazu-spark report") -> str:
    """The whole report as one self-contained HTML document."""
    body = "\n".join(_sections(data))
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head>\n<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
