"""Layers run one way: the import graph of app.py, pages/ and backend/ (imports inside functions included) has no
cycle, and no module imports from a layer above its own. The order is written in docs/architecture.md."""
from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Bottom first. A module belongs to the first layer with a prefix of its dotted name.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("backend.vocab", "backend.registry", "backend.config", "backend.options", "backend.batching",
                    "backend.sizes", "backend.csvexport", "backend.timestamps", "backend.processes", "backend.fileio",
                    "backend.pareto", "backend.progress", "backend.raycluster", "backend.kinds", "backend.records",
                    "backend.provenance", "backend.device", "backend.runcolumns")),
    ("engines", ("backend.compare", "backend.significance", "backend.figures", "backend.report", "backend.bench",
                 "backend.retrieval", "backend.codegen", "backend.ranking", "backend.leaderboard",
                 "backend.modelindex", "backend.public_view")),
    ("formats", ("backend.importers",)),
    ("storage", ("backend.store", "backend.rundirs", "backend.staging", "backend.importfiles")),
    ("operations", ("backend.catalog", "backend.reference_data")),
    ("runs", ("backend.runs",)),
    ("read side", ("backend.views", "backend.recipes")),
    ("entry points", ("backend.cli", "backend.__main__", "pages", "app")),
]


def modules() -> dict[str, Path]:
    files = [ROOT / "app.py", *sorted((ROOT / "pages").rglob("*.py")), *sorted((ROOT / "backend").rglob("*.py"))]
    out = {}
    for path in files:
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


@functools.cache  # the same files for every test here: read once
def import_graph() -> dict[str, set[str]]:
    """module -> the modules of ours it imports, anywhere in its file (``from backend import x``: backend.x)."""
    mods = modules()
    graph = {}
    for name, path in mods.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module
                               for a in node.names)
        graph[name] = {t for t in targets if t in mods and t != name}
    return graph


def layer_of(module: str) -> int:
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    if module == "backend":  # the package's own __init__ (empty)
        return 0
    raise AssertionError(f"{module} has no layer: add it to LAYERS and docs/architecture.md")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), or a module importing itself."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_has_no_cycle():
    assert cycles(import_graph()) == []


def test_no_module_imports_from_a_layer_above_its_own():
    upward = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
              for m, targets in import_graph().items() for t in sorted(targets) if layer_of(t) > layer_of(m)]
    assert upward == []


def test_runners_never_import_the_store():
    """A run kind's runner (retrieval.runs, retrieval.training.*, codegen.runs) works in a process or on a Ray
    worker without the DB: nothing it imports, directly or not, opens DuckDB."""
    graph = import_graph()
    for runner in ("backend.retrieval.runs", *(f"backend.retrieval.training.{m}" for m in ("static", "adapters", "kd")),
                   "backend.codegen.runs"):
        seen, todo = set(), [runner]
        while todo:
            for t in graph[todo.pop()] - seen:
                seen.add(t)
                todo.append(t)
        reached = [m for m in seen if m.split(".")[:2] in (["backend", "store"], ["backend", "catalog"],
                                                            ["backend", "staging"])]
        assert reached == [], runner


def test_the_architecture_doc_lists_the_layers_in_order():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    positions = [doc.find(f"**{name}**") for name, _ in LAYERS]
    assert -1 not in positions and positions == sorted(positions), "docs/architecture.md: the layers, bottom first"


@pytest.mark.parametrize("graph, found", [({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
                                          ({"a": {"b"}, "b": {"c"}, "c": set()}, [])])
def test_cycles_are_found(graph, found):
    assert cycles(graph) == found
