"""The package layout's rules, checked on the import graph that ``ast`` reads from the source (docs/layout.md).

Every ``import`` and ``from ... import`` in a module counts: at the top level, inside functions and under
``if TYPE_CHECKING:``; relative imports are resolved, ``from kazu_spark.x import y`` is an edge to the
submodule ``kazu_spark.x.y`` when ``y`` is one, and a public name of the package root (its lazy
``_EXPORTS``) is an edge to the module that defines it. Docstring examples (``>>>``) are read for the
``tests``/``tools`` rule only: an example may show a module from a higher layer.
"""

from __future__ import annotations

import ast
import doctest
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

PACKAGE = "kazu_spark"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
DOC = ROOT.parent / "docs" / "layout.md"

#: The layers, lowest first (docs/layout.md). A module belongs to the layer of its folder (or, at the package
#: root, of its file); it may import its own folder and the layers below, never a higher layer or a sibling
#: folder of its own layer. The base modules may import each other (no cycle, and see CONFIG_MAY_IMPORT).
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"config", "schemas", "errors", "paths"}),
    frozenset({"runtime"}),
    frozenset({"lakehouse"}),
    frozenset({"documents"}),
    frozenset({"linking"}),
    frozenset({"ontologies"}),
    frozenset({"ner"}),
    frozenset({"kg"}),
    frozenset({"pipeline"}),
    frozenset({"evaluation", "report"}),
    frozenset({"training"}),
    frozenset({"cli"}),
)
BASE = LAYERS[0]

#: ``config`` is typed settings only: it imports no stage, so every stage can import it.
CONFIG_MAY_IMPORT = frozenset({f"{PACKAGE}.{name}" for name in ("paths", "schemas", "errors")})

#: Pure text logic, apart from the Spark glue: these import no pyspark (nor delta, py4j, graphframes), directly
#: or through a package module other than the base ones (``schemas`` builds Spark types when asked: see below).
PURE = (
    "ner.windows",
    "ner.subtokens",
    "ner.batching",
    "ner.decode",
    "ner.labels",
    "ner.model_files",
    "ner.model",
    "ner.tagger",
    "ner.spans",
    "ner.dictionary",
    "ner.thresholds",
    "ner.abbreviations",
    "ner.known_names",
    "ner.guidelines",
    "ner.forward_server",
    "evaluation.thresholds",
    "training.mlm",
    "linking.normalise",
    "linking.variants",
    "linking.abbreviations",
    "linking.families",
    "linking.named_species",
    "linking.fuzzy",
    "linking.disambiguate",
    "linking.encoder",
    "linking.preferences",
    "linking.genus",
    "linking.embedding",
    "linking.ivf",
    "linking.batch",
    "linking.scores",
    "runtime.precision",
    "ontologies.sources",
    "ontologies.parsers",
    "documents.ingest",
    "documents.sentences",
    "documents.labelled",
    "documents.pubtator",
    "documents.pubmed",
    "documents.conll",
    "report.render",
    "evaluation.metrics",
    "training.loop",
    "training.prune",
    "training.model_card",
    "training.train",
    "training.linker",
)
SPARK_PACKAGES = frozenset({"pyspark", "delta", "py4j", "graphframes"})

#: Top-level packages of the repository that the runtime package must never import.
FORBIDDEN = frozenset({"tests", "tools"})


@dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` (a dotted module name, in or outside the package) at ``line``."""

    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} (line {self.line})"


def module_name(path: Path) -> str:
    """``kazu_spark/ner/__init__.py`` -> ``kazu_spark.ner``; ``kazu_spark/ner/spark.py`` -> ``kazu_spark.ner.spark``."""
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


@cache
def root_exports() -> dict[str, str]:
    """The package root's lazy public names: ``{"annotate_frames": "kazu_spark.pipeline.frames", ...}``."""
    tree = ast.parse((ROOT / "__init__.py").read_text())
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in targets):
            return ast.literal_eval(node.value)
    return {}


def resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from`` import reads from (``from . import x`` in ``a.b.c`` -> ``a.b``)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> Iterator[str]:
    """The modules an import statement depends on; a name imported from a package is its submodule if it is one."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    source = resolve(node, module, is_package)
    found = []
    for alias in node.names:
        if source == PACKAGE and alias.name in root_exports():
            found.append(root_exports()[alias.name])
        elif f"{source}.{alias.name}" in modules():
            found.append(f"{source}.{alias.name}")
        else:
            found.append(source)
    yield from dict.fromkeys(found)  # one edge per module a statement reads, in order


def imports_in(tree: ast.AST, module: str, is_package: bool, line_offset: int = 0) -> Iterator[Edge]:
    """Every import anywhere in ``tree`` (top level, functions, ``if TYPE_CHECKING:``) as edges from ``module``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in targets(node, module, is_package):
                yield Edge(module, target, node.lineno + line_offset)


@cache
def code_edges() -> tuple[Edge, ...]:
    """The import graph of the package's code (docstring examples excluded)."""
    edges = []
    for module, path in modules().items():
        edges += imports_in(ast.parse(path.read_text()), module, path.name == "__init__.py")
    return tuple(edges)


def doctest_edges(module: str, path: Path) -> Iterator[Edge]:
    """The imports made by the ``>>>`` examples in ``module``'s docstrings."""
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        docstring = ast.get_docstring(node, clean=False)
        if not docstring:
            continue
        start = node.body[0].lineno  # the docstring's first line
        for example in doctest.DocTestParser().get_examples(docstring):
            try:
                tree = ast.parse(example.source)
            except SyntaxError:
                continue
            yield from imports_in(tree, module, path.name == "__init__.py", start + example.lineno - 1)


def internal(edges: tuple[Edge, ...] | list[Edge]) -> list[Edge]:
    """The edges between two modules of the package (the root's own lazy names excluded)."""
    return [e for e in edges if e.target in modules() and e.target != PACKAGE and e.source != PACKAGE]


def layer_of(module: str) -> tuple[int, str]:
    """``kazu_spark.ner.tagger`` -> (index of ner's layer, "ner"); a folder missing from LAYERS fails the test above."""
    top = module.split(".")[1]
    return next(i for i, layer in enumerate(LAYERS) if top in layer), top


def fmt(edges: list[Edge]) -> str:
    return "\n".join(f"  {edge}" for edge in edges)


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(m for m in modules() if m != PACKAGE and not any(m.split(".")[1] in layer for layer in LAYERS))
    if unplaced:
        pytest.fail(
            "add these modules' folders to LAYERS in tests/test_layout.py and docs/layout.md:\n" + "\n".join(unplaced)
        )


def test_every_folder_is_a_package() -> None:
    """A folder without ``__init__.py`` is a namespace package, which ``find_packages`` leaves out of the wheel."""
    folders = {path.parent for path in modules().values()}
    bare = sorted(str(folder.relative_to(ROOT.parent)) for folder in folders if not (folder / "__init__.py").exists())
    if bare:
        pytest.fail(f"folders with modules but no __init__.py (missing from the wheel): {bare}")


def test_graph_sees_nested_and_relative_imports() -> None:
    """The reader itself: imports inside functions, under TYPE_CHECKING, relative, and of submodules are edges."""
    public, defined_in = next(iter(root_exports().items()))
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import decode\n"
        "from .. import config\n"
        "from kazu_spark.runtime import worker_daemon\n"
        f"from kazu_spark import {public}\n"
        "if TYPE_CHECKING:\n"
        "    from kazu_spark.ner.tagger import Tagger\n"
        "def f():\n"
        "    import kazu_spark.lakehouse.delta\n"
    )
    found = {(e.target, e.line) for e in imports_in(ast.parse(source), f"{PACKAGE}.ner.spark", False)}
    assert {
        (f"{PACKAGE}.ner.decode", 2),
        (f"{PACKAGE}.config", 3),
        (f"{PACKAGE}.runtime.worker_daemon", 4),
        (defined_in, 5),
        (f"{PACKAGE}.ner.tagger", 7),
        (f"{PACKAGE}.lakehouse.delta", 9),
    } <= found


def test_no_upward_or_sideways_import() -> None:
    bad = []
    for edge in internal(code_edges()):
        (src_rank, src_top), (dst_rank, dst_top) = layer_of(edge.source), layer_of(edge.target)
        if dst_rank > src_rank or (dst_rank == src_rank and src_top != dst_top and src_rank != 0):
            bad.append(edge)
    if bad:
        pytest.fail("imports of a higher layer or a sibling folder (layers: docs/layout.md):\n" + fmt(bad))


def cycles(edges: list[Edge]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), and modules importing themselves."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder() -> None:
    edges = [Edge("a", "b", 1), Edge("b", "c", 2), Edge("c", "a", 3), Edge("c", "d", 4), Edge("e", "e", 5)]
    assert sorted(cycles(edges)) == [["a", "b", "c"], ["e"]]
    assert cycles(edges[:2]) == []


def test_no_circular_import() -> None:
    edges = internal(code_edges())
    found = cycles(edges)
    message = "\n".join(
        "cycle among "
        + ", ".join(component)
        + ":\n"
        + fmt([e for e in edges if {e.source, e.target} <= set(component)])
        for component in found
    )
    if found:
        pytest.fail(message)


def test_config_imports_no_domain_module() -> None:
    config = f"{PACKAGE}.config"
    bad = [e for e in internal(code_edges()) if e.source == config and e.target not in CONFIG_MAY_IMPORT]
    if bad:
        pytest.fail(f"config may import only {sorted(CONFIG_MAY_IMPORT)}:\n" + fmt(bad))


def test_pure_modules_import_no_spark() -> None:
    names = [f"{PACKAGE}.{m}" for m in PURE]
    missing = [m for m in names if m not in modules()]
    if missing:
        pytest.fail(f"PURE lists modules that do not exist: {missing}")
    by_source: dict[str, list[Edge]] = {}
    for edge in code_edges():
        by_source.setdefault(edge.source, []).append(edge)
    base = {m for m in modules() if m != PACKAGE and m.split(".")[1] in BASE}
    bad = []
    for pure in names:
        via = {pure: pure}  # module reached -> the chain of imports from ``pure`` to it
        todo = [pure]
        while todo:  # follow package imports through non-base modules: a Spark import there is one here too
            module = todo.pop()
            for edge in by_source.get(module, []):
                if edge.target.split(".")[0] in SPARK_PACKAGES:
                    bad.append(Edge(via[module], edge.target, edge.line))
                    break  # one per module is enough to show the way
                if edge.target in modules() and edge.target not in base | via.keys() | {PACKAGE}:
                    via[edge.target] = f"{via[module]} -> {edge.target}"
                    todo.append(edge.target)
    if bad:
        pytest.fail(
            "pure modules that import Spark, directly or through another module (line: of the last import):\n"
            + fmt(bad)
        )


def test_pure_modules_take_only_plain_schemas() -> None:
    """``schemas`` builds a StructType ``X`` from its plain ``X_COLUMNS`` with pyspark when first asked: a pure
    module imports only names the module defines (``X_COLUMNS``, ``column_names``, ``KEYS``, ...)."""
    from kazu_spark import schemas

    bad = []
    for pure in PURE:
        module = f"{PACKAGE}.{pure}"
        for node in ast.walk(ast.parse(modules()[module].read_text())):
            if isinstance(node, ast.ImportFrom) and resolve(node, module, False) == f"{PACKAGE}.schemas":
                bad += [
                    Edge(module, f"schemas.{a.name}", node.lineno) for a in node.names if a.name not in vars(schemas)
                ]
    if bad:
        pytest.fail("pure modules that import a StructType of schemas (import its X_COLUMNS):\n" + fmt(bad))


def test_package_never_imports_tests_or_tools() -> None:
    bad = []
    for module, path in modules().items():
        edges = [
            *imports_in(ast.parse(path.read_text()), module, path.name == "__init__.py"),
            *doctest_edges(module, path),
        ]
        bad += [e for e in edges if e.target.split(".")[0] in FORBIDDEN]
    if bad:
        pytest.fail("kazu_spark imports the test suite or dev tools (code or docstring examples):\n" + fmt(bad))


def test_imports_name_existing_modules() -> None:
    """An import inside a function or a docstring example runs late: a path left stale by a move shows here."""
    bad = []
    for module, path in modules().items():
        edges = [
            *imports_in(ast.parse(path.read_text()), module, path.name == "__init__.py"),
            *doctest_edges(module, path),
        ]
        bad += [e for e in edges if e.target.split(".")[0] == PACKAGE and e.target not in modules()]
    if bad:
        pytest.fail("imports of kazu_spark modules that do not exist:\n" + fmt(bad))


def test_doctest_imports_are_read() -> None:
    """The reader of docstring examples finds an import on a ``>>>`` line and gives its line in the file."""
    path = ROOT / "linking" / "normalise.py"
    lines = path.read_text().splitlines()
    edges = [
        e for e in doctest_edges(f"{PACKAGE}.linking.normalise", path) if e.target == f"{PACKAGE}.linking.normalise"
    ]
    assert edges, "normalise's module docstring imports normalise in its example"
    assert all(f"from {PACKAGE}.linking.normalise import" in lines[e.line - 1] for e in edges)


def test_package_root_stays_light() -> None:
    """``import kazu_spark`` (on every executor) loads no submodule: the public names resolve on first use."""
    tree = ast.parse((ROOT / "__init__.py").read_text())

    def top_level(nodes: list[ast.stmt]) -> Iterator[ast.stmt]:
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            yield node
            for field in ("body", "orelse", "finalbody", "handlers"):
                yield from top_level(getattr(node, field, []))

    bad = [
        Edge(PACKAGE, target, node.lineno)
        for node in top_level(tree.body)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for target in targets(node, PACKAGE, True)
        if target.split(".")[0] == PACKAGE or (isinstance(node, ast.ImportFrom) and node.level)
    ]
    if bad:
        pytest.fail("kazu_spark/__init__.py imports submodules at import time:\n" + fmt(bad))
    assert root_exports(), "kazu_spark/__init__.py names its public functions in _EXPORTS"


def test_layout_doc_lists_every_module() -> None:
    """docs/layout.md has a line per module (sub-package ``__init__`` files aside), and marks exactly the pure ones."""
    listed = {m[1]: bool(m[2]) for m in re.finditer(r"^- `([\w/]+\.py)`( \(pure\))?: ", DOC.read_text(), re.M)}
    present = {
        path.relative_to(ROOT).as_posix(): path
        for module, path in modules().items()
        if module == PACKAGE or path.name != "__init__.py"
    }
    pure = {f"{m.replace('.', '/')}.py" for m in PURE}
    problems = [f"no such module: {name}" for name in sorted(listed.keys() - present.keys())]
    for name in sorted(present.keys() - listed.keys()):
        first = (ast.get_docstring(ast.parse(present[name].read_text())) or "").split("\n")[0]
        problems.append(f"add: - `{name}`{' (pure)' * (name in pure)}: {first.replace('``', '`')}")
    problems += [f"marked (pure) but not in PURE, or the reverse: {n}" for n, p in listed.items() if p != (n in pure)]
    if problems:
        pytest.fail(f"{DOC.name} is out of date:\n" + "\n".join(problems))


def test_layout_doc_shows_the_layers() -> None:
    text = DOC.read_text()
    rows = [f"| {i} | " + " ".join(f"`{name}`" for name in sorted(layer)) + " |" for i, layer in enumerate(LAYERS)]
    missing = [row for row in rows if row not in text]
    if missing or len(re.findall(r"^\| \d+ \| `", text, re.M)) != len(LAYERS):
        pytest.fail(f"the layer table in {DOC.name} differs from LAYERS; its rows start:\n" + "\n".join(rows))
