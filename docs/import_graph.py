"""Draw the project's import graph as a Mermaid diagram (docs/architecture.md holds its output).

    python docs/import_graph.py > docs/import-graph.mmd

Nodes are the faces (``assistant/faces/*``), the core's modules and packages (``assistant/*``)
and ``index/*`` modules; an edge is an import anywhere in the source (functions included), read
with ``ast`` as tests/test_layers.py does. The layers must read top to bottom: faces → core →
index, and the test fails otherwise.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def node(module: str) -> str | None:
    """The diagram node a module belongs to (None: outside the project)."""
    parts = module.split(".")
    if parts[0] == "index":
        return ".".join(parts[:2])
    if parts[0] != "assistant" or len(parts) == 1:
        return "assistant" if parts == ["assistant"] else None
    if parts[1] == "faces":
        return ".".join(parts[:3]) if len(parts) > 2 else "assistant.faces"
    return ".".join(parts[:2])


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def edges() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for package in ("assistant", "index"):
        for path in sorted((ROOT / package).rglob("*.py")):
            src = node(module_of(path))
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for n in ast.walk(tree):
                if isinstance(n, ast.Import):
                    targets = [a.name for a in n.names]
                elif isinstance(n, ast.ImportFrom) and n.module and not n.level:
                    targets = [n.module]
                else:
                    continue
                for t in targets:
                    dst = node(t)
                    if src and dst and dst != src and not dst.startswith(src + "."):
                        found.add((src, dst))
    return found


def layer(name: str) -> str:
    if name.startswith("assistant.faces"):
        return "faces"
    return "index" if name.startswith("index") else "core"


def mermaid(pairs: set[tuple[str, str]]) -> str:
    names = sorted({n for pair in pairs for n in pair} - {"assistant.__main__"})
    ident = {n: n.replace(".", "_") for n in names}
    lines = ["flowchart TD"]
    for group in ("faces", "core", "index"):
        lines.append(f"  subgraph {group}")
        lines += [f'    {ident[n]}["{n}"]' for n in names if layer(n) == group]
        lines.append("  end")
    lines += [f"  {ident[a]} --> {ident[b]}" for a, b in sorted(pairs) if a in ident and b in ident]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(mermaid(edges()))
