"""The linking table of docs/linking.md: ``kazu-spark evaluate linking`` on every devel corpus, as markdown.

Each corpus is one run of the command the table names (``python -m kazu_spark.cli.main evaluate linking
--conf CONF --pubtator DATA/<corpus>/devel.txt --json``, in a child process), so a row is exactly what its
command prints. One row per (corpus, class): gold mentions with an id, accuracy@1 on gold mentions,
accuracy over the mentions whose gold id is in the ontology, the share that is not, and end-to-end
(mention, concept) F1. A second table gives, per (corpus, class) and linking step, the gold mentions whose
top link that step made and how many are right (its precision on gold mentions); the run time of each
corpus follows. Run from the repository root:

    nice -n 5 python -m tools.linking_table > /tmp/linking_table.md    # every corpus, end to end
    python -m tools.linking_table --corpus s800 --gold-only             # one corpus, no NER

``--out DIR`` keeps each corpus's JSON result (error kinds and examples) as ``DIR/<corpus>.json`` and every
gold mention linked wrong or not at all as ``DIR/<corpus>.misses.tsv`` (``evaluate linking --misses``).

Example:
    >>> gold = {"species": {"evaluated": 4, "accuracy": 0.5, "in_ontology_accuracy": 1.0, "not_in_ontology_share": 0.5}}
    >>> print(markdown_rows("s800", {"gold_mentions": gold}, "kazu-spark evaluate linking ..."))
    | S800 | species | 4 | 0.500 | 1.000 | 0.500 | - | `kazu-spark evaluate linking ...` |
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

#: corpus folder under ``--data`` -> its name in the table, in table order
CORPORA = {"ncbi-disease": "NCBI-disease", "bc5cdr": "BC5CDR", "biored": "BioRED", "s800": "S800"}
HEADER = (
    "| corpus | class | gold mentions with id | accuracy@1 | in-ontology accuracy | not in ontology "
    "| end-to-end mention F1 | command |\n|---|---|---|---|---|---|---|---|"
)


def command(corpus: str, conf: str, data: str, gold_only: bool, sets: Sequence[str] = ()) -> list[str]:
    """The ``kazu-spark evaluate linking`` arguments of one corpus's devel split (``sets``: ``--set`` values).

    Example:
        >>> command("s800", "c.yaml", "data", True, ["linking.embedding.model=build/linker"])[-3:]
        ['--gold-only', '--set', 'linking.embedding.model=build/linker']
    """
    args = ["evaluate", "linking", "--conf", conf, "--pubtator", f"{data}/{corpus}/devel.txt"]
    return args + (["--gold-only"] if gold_only else []) + [a for s in sets for a in ("--set", s)]


STRATEGY_HEADER = "| corpus | class | step | gold mentions it linked | right | precision |\n|---|---|---|---|---|---|"


def strategy_rows(corpus: str, result: dict) -> list[str]:
    """One row per (class, linking step) of a result's ``by_strategy`` (the step that made each top link).

    Example:
        >>> gold = {"disease": {"by_strategy": {"exact": {"linked": 4, "correct": 3, "precision": 0.75}}}}
        >>> strategy_rows("ncbi-disease", {"gold_mentions": gold})
        ['| NCBI-disease | disease | exact | 4 | 3 | 0.750 |']
    """
    return [
        f"| {CORPORA.get(corpus, corpus)} | {name} | {step} | {m['linked']} | {m['correct']} | {m['precision']:.3f} |"
        for name, by_class in result["gold_mentions"].items()
        for step, m in by_class.get("by_strategy", {}).items()
    ]


def markdown_rows(corpus: str, result: dict, shown_command: str) -> str:
    """One table row per evaluated class of a corpus's ``evaluate linking`` result (module doc)."""
    mention_scores = result.get("end_to_end", {}).get("mention", {})
    rows = []
    for name, m in result["gold_mentions"].items():
        if name == "overall":
            continue
        f1 = f"{mention_scores[name]['f1']:.3f}" if name in mention_scores else "-"
        ratios = " | ".join(f"{m[k]:.3f}" for k in ("accuracy", "in_ontology_accuracy", "not_in_ontology_share"))
        cells = [CORPORA.get(corpus, corpus), name, str(m["evaluated"]), ratios, f1, f"`{shown_command}`"]
        rows.append(f"| {' | '.join(cells)} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    """Run the evaluations one after the other and print the markdown table, then the run times."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--conf", default="conf/ontologies-shared-curated.yaml")
    p.add_argument("--data", default="../shared/data/linking", help="folder of <corpus>/devel.txt")
    p.add_argument("--corpus", action="append", choices=list(CORPORA), help="repeatable (default: all)")
    p.add_argument("--gold-only", action="store_true", help="skip end to end (no NER: much faster)")
    p.add_argument("--out", help="folder for each corpus's JSON result")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="passed to each run (repeatable)")
    args = p.parse_args(argv)
    rows, steps, times = [], [], []
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    for corpus in args.corpus or list(CORPORA):
        cli = command(corpus, args.conf, args.data, args.gold_only, args.set)
        extra = ["--misses", str(Path(args.out) / f"{corpus}.misses.tsv")] if args.out else []
        started = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-m", "kazu_spark.cli.main", *cli, *extra, "--json"],
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        if run.returncode:
            sys.exit(f"{corpus}: evaluate linking failed ({run.returncode}):\n{run.stderr[-3000:]}")
        result = json.loads(run.stdout.strip().splitlines()[-1])
        if args.out:
            (Path(args.out) / f"{corpus}.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
        rows.append(markdown_rows(corpus, result, " ".join(["kazu-spark", *cli])))
        steps.extend(strategy_rows(corpus, result))
        times.append(f"{CORPORA[corpus]} {seconds:.0f} s")
        print(f"{corpus}: {seconds:.0f} s", file=sys.stderr)
    print("\n".join([HEADER, *rows, "", STRATEGY_HEADER, *steps]))
    print(f"\nRun time per corpus (one `evaluate linking` process each): {', '.join(times)}.")


if __name__ == "__main__":
    main()
