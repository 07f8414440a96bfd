"""Validate KGX TSV files (``kazu-spark kg export --format kgx``) with the ``kgx`` package's validator, offline.

By default kgx fetches the Biolink model, its predicate map and JSON-LD contexts from GitHub; this loads the
copies in the ``biolink-model`` package (a kgx dependency) instead, so it runs without a network. The graph
is loaded whole, not streamed, so an edge whose subject or object is no node shows up as a node without
``id`` and ``category``. Prints the node and edge counts and the validator's errors (JSON); exits 1 when
there is an error.

kgx pins older numpy and pyarrow than kazu-spark, so give it a virtual environment of its own and run this
file with that Python, from the repository root::

    python -m venv /tmp/kgxenv && /tmp/kgxenv/bin/pip install kgx
    /tmp/kgxenv/bin/python -m tools.kgx_validate OUT_DIR/nodes.tsv OUT_DIR/edges.tsv

Example (needs kgx):
    >>> main(["/tmp/kg-kgx/nodes.tsv", "/tmp/kg-kgx/edges.tsv"])  # doctest: +SKIP
    nodes 397, edges 3781, errors {}
    0
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _offline_biolink() -> None:
    """Point bmt's Toolkit and kgx's JSON-LD contexts at the biolink-model package's schema and prefix map."""
    import biolink_model
    import bmt.toolkit

    root = Path(biolink_model.__path__[0])
    no_predicate_map = {"predicate mappings": []}  # only for mapping old predicates, which these files lack
    bmt.toolkit.Toolkit.__init__.__defaults__ = (str(root / "schema" / "biolink_model.yaml"), no_predicate_map)
    import kgx.config

    prefixes = json.loads((root / "prefixmaps" / "biolink-model-prefix-map.json").read_text())
    for context in ("biolink", "monarch_context", "obo_context"):
        kgx.config.jsonld_context_map[context] = prefixes


def main(files: list[str]) -> int:
    """Validate the KGX TSV ``files``; print counts and errors; return 0 when there is no error, else 1."""
    _offline_biolink()
    from kgx.transformer import Transformer
    from kgx.validator import Validator

    transformer = Transformer()
    transformer.transform(input_args={"filename": files, "format": "tsv"})
    graph = transformer.store.graph
    validator = Validator()
    validator.validate(graph)
    errors = validator.get_errors().get("ERROR", {})
    print(f"nodes {graph.number_of_nodes()}, edges {graph.number_of_edges()}, errors {json.dumps(errors)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
