"""The house rules, read from the source (no imports executed):

* tiers import only downwards: ``geodata`` never imports ``layers``, ``dashboard``,
  ``callbacks`` or ``api``; ``layers`` never imports ``geodata``, ``dashboard``, ``callbacks``
  or ``api``; ``callbacks`` never imports ``api``; the shared vocabulary imports nothing;
* no import cycle between modules (lazy imports inside functions count too);
* no module imports another module's ``_private`` names;
* no module outside ``tests/`` and ``bench/`` is longer than :data:`MAX_LINES`.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("geodata", "layers", "dashboard", "callbacks", "api", "gridcmd", "bench")
MAX_LINES = 500

#: tier → tiers it must not import.
FORBIDDEN = {
    "geodata": {"layers", "dashboard", "callbacks", "api"},
    "layers": {"geodata", "dashboard", "callbacks", "api"},
    "callbacks": {"api"},
    "gridcmd.vocab": {"geodata", "layers", "dashboard", "callbacks", "api", "gridcmd", "app"},
    "gridcmd.zoom": {"geodata", "layers", "dashboard", "callbacks", "api", "gridcmd", "app"},
    "gridcmd.i18n": {"geodata", "layers", "dashboard", "callbacks", "api", "app"},
}


def _modules() -> dict[str, Path]:
    out = {"app": ROOT / "app.py"}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            if "migrations" in rel.parts:
                continue
            name = ".".join(rel.parts)
            out[name.removesuffix(".__init__")] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module ``name`` refers to (a module, or the module a name lives in)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> list[tuple[str, list[str]]]:
    """``(imported module, imported names)`` of every import statement in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [a.name for a in node.names]
            for n in names:  # ``from pkg import module`` imports the module
                if f"{base}.{n}" in MODULES:
                    out.append((f"{base}.{n}", []))
            out.append((base, [n for n in names if f"{base}.{n}" not in MODULES]))
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        for target, _ in _imports(module, path):
            resolved = _resolve(target)
            if resolved and resolved != module:
                graph[module].add(resolved)
    return graph


def _tier(module: str) -> str:
    for key in sorted(FORBIDDEN, key=len, reverse=True):
        if module == key or module.startswith(key + "."):
            return key
    return module.split(".")[0]


def test_tiers_import_only_downwards():
    bad = [
        f"{a} -> {b}"
        for a, targets in _graph().items()
        for b in targets
        if b.split(".")[0] in FORBIDDEN.get(_tier(a), ()) or b in FORBIDDEN.get(_tier(a), ())
    ]
    assert not bad, "imports against the tiers:\n" + "\n".join(sorted(bad))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    nodes = set(graph) | {t for targets in graph.values() for t in targets}
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_no_import_cycles():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_private_names_of_another():
    bad = []
    for module, path in MODULES.items():
        for target, names in _imports(module, path):
            if _resolve(target) in (None, module):
                continue
            bad += [f"{module}: {target}.{n}" for n in names if n.startswith("_")]
    assert not bad, "private names imported:\n" + "\n".join(sorted(bad))


@pytest.mark.parametrize("pkg", [p for p in PACKAGES if p != "bench"] + ["app"])
def test_no_module_is_too_long(pkg):
    long = {
        name: n
        for name, path in MODULES.items()
        if name.split(".")[0] == pkg
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules (over {MAX_LINES} lines): {long}"
