"""The package layout: no import circles, and every subpackage says what its job is.

The import graph is built from the source (every ``import``, at module level, inside
functions and under ``if TYPE_CHECKING:``), so a circle hidden in a function-level import
or a type-only import is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

import vfio_migcheck

PACKAGE_DIR = Path(vfio_migcheck.__file__).resolve().parent
ROOT = "vfio_migcheck"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's own modules that ``name`` imports (``from pkg import mod`` included)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            out.update(f"{target}.{alias.name}" for alias in node.names)
    return {m for m in out if m in known and m != name}


def import_graph() -> nx.DiGraph:
    modules = package_modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        graph.add_edges_from((name, dep) for dep in imported_modules(name, path, set(modules)))
    return graph


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "vfio_migcheck.checker.engine" in graph
    assert graph.has_edge("vfio_migcheck.checker.engine", "vfio_migcheck.model.fsm")
    # a function-level import is an edge too (api opens traces lazily)
    assert graph.has_edge("vfio_migcheck.checker.api", "vfio_migcheck.traces.reading")
    assert graph.number_of_edges() > graph.number_of_nodes()


def test_the_cycle_finder_would_notice_a_circle(tmp_path: Path) -> None:
    pkg = tmp_path / "loop"
    pkg.mkdir()
    (pkg / "a.py").write_text("def f():\n    from loop import b\n")
    (pkg / "b.py").write_text("from loop.a import f\n")
    known = {"loop.a", "loop.b"}
    graph = nx.DiGraph()
    graph.add_edges_from(("loop.a", d) for d in imported_modules("loop.a", pkg / "a.py", known))
    graph.add_edges_from(("loop.b", d) for d in imported_modules("loop.b", pkg / "b.py", known))
    assert not nx.is_directed_acyclic_graph(graph)


def test_no_import_circle() -> None:
    graph = import_graph()
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles[:5])


def test_every_subpackage_states_its_job_in_one_line() -> None:
    for init in sorted(PACKAGE_DIR.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init.relative_to(PACKAGE_DIR.parent)} has no docstring"
        first = doc.splitlines()[0].strip()
        assert first.endswith(".") and len(first) > 20, f"{init}: {first!r}"
