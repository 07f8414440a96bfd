"""Render the reliability suite's records (one JSON file per fault) into docs/reliability.md's table.

The suite (``pytest -m reliability``) writes ``build/reliability/*.json``; this script replaces the
table between the ``reliability-table`` markers in docs/reliability.md. ``make reliability`` runs both.

Usage:
    python tests/reliability_report.py [RESULTS_DIR] [DOC]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).parents[1]
START, END = "<!-- reliability-table:start -->", "<!-- reliability-table:end -->"
COLUMNS = (
    ("fault", "fault injected"),
    ("injected", "times injected"),
    ("survived", "survived"),
    ("documents_lost", "documents lost"),
    ("documents_duplicated", "documents duplicated"),
    ("entities_lost", "entities lost"),
    ("entities_duplicated", "entities duplicated"),
    ("peak_worker_rss_mb", "peak worker RSS (MiB)"),
)


def render_table(records: list[dict]) -> str:
    """A markdown table of the records, one row per fault, in test order; absent figures show as "-".

    Example:
        >>> print(render_table([{"fault": "f", "injected": 2, "survived": True, "documents_lost": 0}]))
        | fault injected | times injected | survived | documents lost | documents duplicated | entities lost | entities duplicated | peak worker RSS (MiB) |
        |---|---|---|---|---|---|---|---|
        | f | 2 | yes | 0 | - | - | - | - |
    """  # noqa: E501
    cell = {True: "yes", False: "**no**", None: "-"}
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for record in records:
        values = [record.get(key) for key, _ in COLUMNS]
        lines.append(
            "| " + " | ".join(cell.get(v, str(v)) if isinstance(v, bool | None) else str(v) for v in values) + " |"
        )
    return "\n".join(lines)


def update_doc(results: Path, doc: Path) -> None:
    """Replace the table between the markers of ``doc`` with the records found in ``results``."""
    records = sorted(
        (json.loads(p.read_text(encoding="utf-8")) for p in results.glob("*.json")), key=lambda r: r["test"]
    )
    if not records:
        raise SystemExit(f"no reliability records in {results}: run `pytest -m reliability` first")
    text = doc.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    doc.write_text(f"{head}{START}\n{render_table(records)}\n{END}{tail}", encoding="utf-8")
    print(f"{doc}: {len(records)} faults from {results}")


if __name__ == "__main__":
    update_doc(
        Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "build" / "reliability",
        Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "docs" / "reliability.md",
    )
