"""The layers, read from the source: faces → ``assistant`` core → ``index``, never back;
app.py, the web app's entry point, is held to the faces' rule.

Every module's imports are parsed with ``ast`` (imports inside functions count too), so a
lazy import cannot slip past. Like httpx's exported-members test, the public surface is
checked as well: every name ``assistant.__all__`` lists exists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import assistant

ROOT = Path(__file__).resolve().parents[1]
FACES = "assistant.faces"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, names: bool = True) -> set[str]:
    """Every module ``path`` imports, absolute, wherever the import statement is; with
    ``names``, also ``pkg.name`` for each ``from pkg import name`` (which may be a module)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            if names:
                found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _graph(package: str) -> dict[str, set[str]]:
    return {
        _module_name(path): _imports(path)
        for path in sorted((ROOT / package).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _leaks(graph: dict[str, set[str]], forbidden: str) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if _within(target, forbidden)
    )


def test_the_graph_is_read() -> None:
    graph = _graph("assistant")
    assert "assistant.core" in graph and "assistant.faces.cli.main" in graph
    assert "assistant.faces.api" in graph["assistant.faces.cli.main"]  # a lazy import
    assert _imports(ROOT / "assistant" / "core.py") >= {"assistant.library", "index.store"}


def test_index_never_imports_assistant() -> None:
    assert _leaks(_graph("index"), "assistant") == []


def test_faces_never_import_index() -> None:
    faces = {m: t for m, t in _graph("assistant").items() if _within(m, FACES)}
    assert faces, "no faces found"
    assert _leaks(faces, "index") == []


def test_the_core_never_imports_a_face() -> None:
    # `python -m assistant` is an entry point, like app.py: it starts the CLI face
    entry = {"assistant.__main__"}
    core = {
        m: t for m, t in _graph("assistant").items() if not _within(m, FACES) and m not in entry
    }
    assert _leaks(core, FACES) == []


def test_faces_use_the_public_surface() -> None:
    """Faces reach the core through ``assistant`` (its ``__all__``) and the evaluation
    package; the modules behind them may move without a face noticing."""
    reached = sorted(
        f"{_module_name(path)} imports {target}"
        for path in sorted((ROOT / "assistant" / "faces").rglob("*.py"))
        for target in _imports(path, names=False)
        if _within(target, "assistant")
        and target != "assistant"
        and not _within(target, FACES)
        and not _within(target, "assistant.evaluation")
    )
    assert reached == []


def test_the_web_app_uses_the_public_surface() -> None:
    """app.py is an entry point, like ``python -m assistant``: it starts the web face and
    reaches the core only through ``assistant`` (its ``__all__``), never ``index``."""
    found = _imports(ROOT / "app.py")
    assert "assistant" in found, "app.py's imports were not read"
    assert _leaks({"app": found}, "index") == []
    public = {"assistant", *(f"assistant.{name}" for name in assistant.__all__)}
    beside = sorted(
        target
        for target in found
        if _within(target, "assistant") and not _within(target, FACES) and target not in public
    )
    assert beside == []


@pytest.mark.parametrize("name", assistant.__all__)
def test_public_names_exist(name: str) -> None:
    assert getattr(assistant, name, None) is not None, name


def test_public_names_are_listed_once() -> None:
    assert len(set(assistant.__all__)) == len(assistant.__all__)


def test_the_drawn_graph_is_current() -> None:
    """docs/architecture.md shows the import graph of today's code (redraw it with
    ``python docs/import_graph.py``)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "docs" / "import_graph.py")
    assert spec is not None and spec.loader is not None
    graph = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(graph)
    drawn = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert graph.mermaid(graph.edges()) in drawn
    layers = {(a, b) for a, b in graph.edges() if a != "assistant.__main__"}  # an entry point
    assert not [
        (a, b) for a, b in layers if graph.layer(a) == "index" and graph.layer(b) != "index"
    ]
    assert not [(a, b) for a, b in layers if graph.layer(a) == "core" and graph.layer(b) == "faces"]
