"""Cut the bundled ontology subsets for the quickstart out of the full shared ontology files.

A subset keeps, in the source's own format (so the same parsers read it), every concept one of whose
synonyms (at least 3 characters) occurs in the given texts -- case-insensitively, on word boundaries, as
written or with Greek letters spelled out -- plus the first ``head`` concepts of the file so the dictionaries
are not trivially small, and a taxonomy the model organisms (``MODEL_ORGANISMS``) that a bare genus links. A source
mapped onto another (``xref_target``, e.g. HGNC onto NCBI Gene) is cut by its own concepts, and the
target's subset also keeps the concepts those cross-reference, so the mapped rows all land; a source used whole
from a package (the drug names, mapped onto MeSH) makes the target keep the concepts its synonyms found in the
texts map onto. The bundled
train-split curations (``write_curations``) are cut to the same texts, and the subsets keep the concepts they
link to, so a curated synonym's link carries the ontology's name of its concept.

Example:
    >>> from tools.subset import curated_concepts, write_subsets, sample_texts
    >>> write_subsets("../shared/data/ontologies", "kazu_spark/resources/ontologies",
    ...               sample_texts(), always=curated_concepts())  # doctest: +SKIP
    {'MEDIC': 507, 'CL': 317, 'NCBITaxon': 332, 'NCBIGene': 880, 'NCBIGene-mouse': 1006, 'HGNC-NCBIGene': 550,
     'MeSH': 379, 'DOID': 386}
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TextIO

from kazu_spark.config import MODEL_ORGANISMS, OntologySource
from kazu_spark.documents.pubtator import document_ids
from kazu_spark.linking.normalise import spelled_out
from kazu_spark.ontologies.parsers import obo_stanzas, obograph_id, open_text, parse_source, read_obographs
from kazu_spark.ontologies.sources import BUNDLED_CURATION_CLASSES, BUNDLED_CURATIONS, curation_sources, default_sources
from kazu_spark.paths import resolve_path

MIN_SYNONYM_LENGTH = 3
_WORDS = re.compile(r"\w+")
#: the plural endings :class:`TextMatcher` finds a phrase's last word with
_PLURAL_ENDS = ("s", "es")
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
    """Case-insensitive whole-word occurrence test of phrases in a fixed body of text, as written, in the plural and
    with its Greek letters spelled out (:func:`~kazu_spark.linking.normalise.spelled_out`): the linker finds
    ``beta-catenin`` for ``β-catenin`` and *dendritic cell* for ``Dendritic cells``, so the subset must hold them.

    A phrase is searched with a regex only when all its words are in the text's vocabulary (a plural word counts
    as its singular too), which rules out almost every synonym of a large ontology with a set lookup.

    Example:
        >>> matcher = TextMatcher(["HIF-1α and β-catenin in dendritic cells and macrophages"])
        >>> matcher.occurs("HIF-1alpha"), matcher.occurs("beta-catenin"), matcher.occurs("catenin beta")
        (True, True, False)
        >>> matcher.occurs("dendritic cell"), matcher.occurs("macrophage"), matcher.occurs("dendritic cel")
        (True, True, False)
    """

    def __init__(self, texts: Iterable[str]) -> None:
        written = "\n".join(texts)
        spelled = spelled_out(written)
        self.text = (written if spelled == written else f"{written}\n{spelled}").lower()
        words = set(_WORDS.findall(self.text))
        self.vocabulary = words | {w[: -len(end)] for w in words for end in _PLURAL_ENDS if w.endswith(end)}

    def occurs(self, phrase: str) -> bool:
        """True when ``phrase`` (at least 3 characters) occurs in the texts as whole words, its last one perhaps
        in the plural."""
        phrase = phrase.lower()
        words = _WORDS.findall(phrase)
        if len(phrase) < MIN_SYNONYM_LENGTH or not words or not self.vocabulary.issuperset(words):
            return False
        return re.search(rf"(?<!\w){re.escape(phrase)}(?:e?s)?(?!\w)", self.text) is not None


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


def write_subsets(
    shared_dir: str,
    out_dir: str,
    texts: Iterable[str],
    head: int = 300,
    always: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, int]:
    """Write one subset file (two for MeSH) per source of ``subset_sources(shared_dir)`` into
    ``out_dir``, under the source's file name; returns the number of concepts kept per source.
    ``always``: entity class -> ids its sources keep whatever the texts (the bundled curations' concepts,
    so a curated synonym's link carries the ontology's name of its concept)."""
    matcher = TextMatcher(texts)
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    sources = subset_sources(shared_dir)
    models = frozenset(MODEL_ORGANISMS.values())  # what a bare model-organism genus links (linking.model_organisms)
    extra = always or {}
    keep = {
        s.name: select_concepts(
            s,
            matcher,
            head,
            (models if s.entity_class == "species" else frozenset()) | extra.get(s.entity_class, frozenset()),
        )
        for s in sources
    }
    for source in sources:
        if source.xref_target:  # the target concepts the kept ones map onto
            rows = parse_source(source, sources=sources)
            keep[source.xref_target] |= {r["concept_id"] for r in rows if r["metadata"]["xref_of"] in keep[source.name]}
    for source in default_sources(shared_dir):
        if source.xref_target and source not in sources:  # a file used whole (drug names): the target concepts
            rows = parse_source(source, sources=sources)  # that its synonyms found in the texts map onto
            keep[source.xref_target] |= {r["concept_id"] for r in rows if matcher.occurs(r["synonym"])}
    for source in sources:
        _WRITERS[source.format](source, keep[source.name], target)
    return {name: len(ids) for name, ids in keep.items()}


def write_curations(
    linking_dir: str, out_dir: str, texts: Iterable[str], classes: Collection[str] = BUNDLED_CURATION_CLASSES
) -> dict[str, int]:
    """Cut each train split of ``curation_sources(linking_dir)`` of ``classes`` to the annotations of its
    curated types whose mention text occurs in ``texts``, as ``out_dir/<corpus>/train.txt`` (PubTator
    annotation lines only, so ``parse_pubtator_curations`` reads them as it reads the whole file), leaving
    out the documents the source excludes; returns the number of annotations kept per corpus.

    A text is kept with every annotation it has, so the majority concept of each kept text is the whole
    file's. Example:
        >>> write_curations("../shared/data/linking", "kazu_spark/resources/curations",
        ...                 sample_texts())  # doctest: +SKIP
        {'ncbi-disease': 495, 'bc5cdr': 1026, 'biored': 981}
    """
    matcher = TextMatcher(texts)
    by_path: dict[str, list[OntologySource]] = {}
    for source in curation_sources(linking_dir, classes=classes):
        by_path.setdefault(source.path, []).append(source)
    kept: dict[str, int] = {}
    for path, sources in by_path.items():
        types = {t for s in sources for t in s.annotation_types}
        excluded = document_ids(sources[0].exclude_documents)
        corpus = Path(path).parent.name
        target = Path(out_dir) / corpus / "train.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        _filter_lines(path, target, partial(_curated, types=types, excluded=excluded, matcher=matcher))
        kept[corpus] = len(target.read_text(encoding="utf-8").splitlines())
    return kept


def _curated(line: str, types: set[str], excluded: set[str], matcher: TextMatcher) -> bool:
    """A PubTator annotation line of one of ``types``, with ids, outside the ``excluded`` documents, whose
    mention occurs in the matcher's texts."""
    cells = line.rstrip("\r\n").split("\t")
    is_annotation = len(cells) > 5 and cells[1].isdigit() and cells[2].isdigit()
    return is_annotation and cells[0] not in excluded and cells[4] in types and matcher.occurs(cells[3].strip())


def curated_concepts(curations_dir: str = BUNDLED_CURATIONS) -> dict[str, frozenset[str]]:
    """Entity class -> the concepts the cut curations under ``curations_dir`` link to (``write_curations``)."""
    concepts: dict[str, set[str]] = {}
    for source in curation_sources(curations_dir, exclude_devel=False, classes=BUNDLED_CURATION_CLASSES):
        concepts.setdefault(source.entity_class, set()).update(r["concept_id"] for r in parse_source(source))
    return {entity_class: frozenset(ids) for entity_class, ids in concepts.items()}


def main() -> None:
    """``python -m tools.subset --shared DIR --out DIR [--sample JSONL]``: cut the bundled ontology subsets;
    with ``--curations DIR`` (the shared ``linking`` folder), first the train-split curations into
    ``--curations-out``. The subsets keep the concepts of the curations there, cut now or before."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", required=True, help="folder with the full ontology files")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--sample", default="pkg://kazu_spark/resources/sample/abstracts.jsonl")
    parser.add_argument("--curations", help="the shared data's linking folder (<corpus>/train.txt)")
    parser.add_argument("--curations-out", default="kazu_spark/resources/curations")
    args = parser.parse_args()
    texts = sample_texts(args.sample)
    if args.curations:
        cut = write_curations(args.curations, args.curations_out, texts)
        print(", ".join(f"{corpus}: {n:,} curated annotations" for corpus, n in cut.items()))
    kept = write_subsets(args.shared, args.out, texts, always=curated_concepts(args.curations_out))
    print(", ".join(f"{name}: {n:,} concepts" for name, n in kept.items()))


if __name__ == "__main__":
    main()
