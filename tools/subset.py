"""Cut the bundled ontology subsets for the quickstart out of the full shared ontology files.

A subset keeps, in the source's own format (so the same parsers read it), every concept one of whose
synonyms (at least 3 characters) occurs in the given texts -- case-insensitively, on word boundaries
-- plus the first ``head`` concepts of the file so the dictionaries are not trivially small, and a
taxonomy the model organisms (``MODEL_ORGANISMS``) that a bare genus links. A source
mapped onto another (``xref_target``, e.g. HGNC onto NCBI Gene) is cut by its own concepts, and the
target's subset also keeps the concepts those cross-reference, so the mapped rows all land.

Example:
    >>> from tools.subset import write_subsets, sample_texts
    >>> write_subsets("../shared/data/ontologies", "kazu_spark/resources/ontologies",
    ...               sample_texts())  # doctest: +SKIP
    {'MEDIC': 478, 'CL': 320, 'NCBITaxon': 332, 'NCBIGene': 871, 'NCBIGene-mouse': 998, 'HGNC-NCBIGene': 543,
     'MeSH': 364, 'DOID': 386}
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from kazu_spark.config import MODEL_ORGANISMS, OntologySource
from kazu_spark.ontologies.parsers import obo_stanzas, obograph_id, open_text, parse_source, read_obographs
from kazu_spark.ontologies.sources import default_sources
from kazu_spark.paths import resolve_path

MIN_SYNONYM_LENGTH = 3
_WORDS = re.compile(r"\w+")
_SAMPLE = "pkg://kazu_spark/resources/sample/abstracts.jsonl"


def sample_texts(path: str = _SAMPLE) -> list[str]:
    """Title and abstract of each document of a JSON-lines file (default: the bundled 120 abstracts).

    Example:
        >>> len(sample_texts())
        120
    """
    with open(resolve_path(path), encoding="utf-8") as handle:
        return [f"{doc.get('title') or ''}\n{doc.get('abstract') or ''}" for doc in map(json.loads, handle)]


class TextMatcher:
    """Case-insensitive whole-word occurrence test of phrases in a fixed body of text.

    A phrase is searched with a regex only when all its words are in the text's vocabulary, which
    rules out almost every synonym of a large ontology with a set lookup.
    """

    def __init__(self, texts: Iterable[str]) -> None:
        self.text = "\n".join(texts).lower()
        self.vocabulary = set(_WORDS.findall(self.text))

    def occurs(self, phrase: str) -> bool:
        """True when ``phrase`` (at least 3 characters) occurs in the texts as whole words."""
        phrase = phrase.lower()
        words = _WORDS.findall(phrase)
        if len(phrase) < MIN_SYNONYM_LENGTH or not words or not self.vocabulary.issuperset(words):
            return False
        return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", self.text) is not None


def select_concepts(
    source: OntologySource, matcher: TextMatcher, head: int, always: frozenset[str] = frozenset()
) -> set[str]:
    """Ids of the source's first ``head`` concepts, of those with a synonym occurring in the texts (its own
    concepts, before any ``xref_target`` mapping) and of those of ``always`` that it has."""
    order: dict[str, None] = {}
    found: set[str] = set()
    for row in parse_source(source.model_copy(update={"xref_target": None})):
        order.setdefault(row["concept_id"])
        if row["concept_id"] not in found and matcher.occurs(row["synonym"]):
            found.add(row["concept_id"])
    return found | set(list(order)[:head]) | (always & order.keys())


@contextmanager
def _open_out(path: Path) -> Iterator[TextIO]:
    """Write text, gzip-compressed (with a fixed mtime, so reruns are byte-identical) for ``.gz`` names."""
    if path.suffix != ".gz":
        with open(path, "w", encoding="utf-8", newline="") as handle:
            yield handle
        return
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed,
        io.TextIOWrapper(packed, encoding="utf-8", newline="") as handle,
    ):
        yield handle


def _filter_lines(src: str, dst: Path, keep: Callable[[str], bool]) -> None:
    """Copy the lines of ``src`` for which ``keep(line)`` holds."""
    with open_text(src) as reader, _open_out(dst) as writer:
        writer.writelines(line for line in reader if keep(line))


def _cell(line: str, column: int = 0) -> str:
    cells = line.rstrip("\r\n").split("\t")
    return cells[column].strip('"') if len(cells) > column else ""


def _write_medic(source: OntologySource, keep: set[str], out_dir: Path) -> None:
    _filter_lines(
        source.path, out_dir / Path(source.path).name, lambda line: line.startswith("#") or _cell(line, 1) in keep
    )


def _write_hgnc(source: OntologySource, keep: set[str], out_dir: Path) -> None:
    with open_text(source.path) as reader:
        header = next(csv.reader([reader.readline()], delimiter="\t"))
    column = header.index("hgnc_id")
    _filter_lines(
        source.path,
        out_dir / Path(source.path).name,
        lambda line: line.startswith("hgnc_id\t") or _cell(line, column) in keep,
    )


def _write_gene_info(source: OntologySource, keep: set[str], out_dir: Path) -> None:
    ids = {concept.removeprefix("NCBIGene:") for concept in keep}
    _filter_lines(
        source.path, out_dir / Path(source.path).name, lambda line: line.startswith("#") or _cell(line, 1) in ids
    )


def _write_mesh(source: OntologySource, keep: set[str], out_dir: Path) -> None:
    ids = {concept.removeprefix("MESH:") for concept in keep}
    for path in source.files():
        _filter_lines(path, out_dir / Path(path).name, lambda line: line.startswith("mesh_id\t") or _cell(line) in ids)


def _write_obo(source: OntologySource, keep: set[str], out_dir: Path) -> None:
    with open_text(source.path) as reader, _open_out(out_dir / Path(source.path).name) as writer:
        for header, block in obo_stanzas(reader):
            concept = next((line[3:].strip() for line in block if line.startswith("id:")), None)
            if header != "[Term]" or concept in keep:
                writer.writelines(block)


def _write_obographs(source: OntologySource, keep: set[str], out_dir: Path) -> None:
    document = read_obographs(source.path)
    graphs = []
    for graph in document["graphs"]:
        nodes = [node for node in graph.get("nodes", []) if obograph_id(node["id"]) in keep]
        if nodes:
            ids = {node["id"] for node in nodes}
            edges = [edge for edge in graph.get("edges", []) if edge["sub"] in ids and edge["obj"] in ids]
            graphs.append({"id": graph["id"], "meta": graph.get("meta", {}), "nodes": nodes, "edges": edges})
    with _open_out(out_dir / Path(source.path).name) as writer:
        json.dump({"graphs": graphs}, writer, indent=1, ensure_ascii=False)


_WRITERS = {
    "medic": _write_medic,
    "obo": _write_obo,
    "hgnc": _write_hgnc,
    "gene_info": _write_gene_info,
    "mesh": _write_mesh,
    "doid_json": _write_obographs,
}


def subset_sources(shared_dir: str) -> list[OntologySource]:
    """What gets subset: the default sources plus the Disease Ontology (bundled as an alternative)."""
    doid = OntologySource(
        name="DOID",
        format="doid_json",
        entity_class="disease",
        path=f"{shared_dir.rstrip('/')}/doid-2018-07-05.json.gz",
        id_prefix_filter="DOID:",
    )
    files = [s for s in default_sources(shared_dir) if not s.abbreviate_binomials and not s.path.startswith("pkg://")]
    return [*files, doid]  # not a second view of a file (abbreviated), nor a file the package bundles whole


def write_subsets(shared_dir: str, out_dir: str, texts: Iterable[str], head: int = 300) -> dict[str, int]:
    """Write one subset file (two for MeSH) per source of ``subset_sources(shared_dir)`` into
    ``out_dir``, under the source's file name; returns the number of concepts kept per source."""
    matcher = TextMatcher(texts)
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    sources = subset_sources(shared_dir)
    models = frozenset(MODEL_ORGANISMS.values())  # what a bare model-organism genus links (linking.model_organisms)
    keep = {
        s.name: select_concepts(s, matcher, head, models if s.entity_class == "species" else frozenset())
        for s in sources
    }
    for source in sources:
        if source.xref_target:  # the target concepts the kept ones map onto
            rows = parse_source(source, sources=sources)
            keep[source.xref_target] |= {r["concept_id"] for r in rows if r["metadata"]["xref_of"] in keep[source.name]}
    for source in sources:
        _WRITERS[source.format](source, keep[source.name], target)
    return {name: len(ids) for name, ids in keep.items()}


def main() -> None:
    """``python -m tools.subset --shared DIR --out DIR [--sample JSONL]``: cut the bundled ontology subsets."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", required=True, help="folder with the full ontology files")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--sample", default="pkg://kazu_spark/resources/sample/abstracts.jsonl")
    args = parser.parse_args()
    kept = write_subsets(args.shared, args.out, sample_texts(args.sample))
    print(", ".join(f"{name}: {n:,} concepts" for name, n in kept.items()))


if __name__ == "__main__":
    main()
