"""The package's import layers: imports only go down the rank table, and nothing forms a cycle.

Every module under espnet2_speecht5 is read with ``ast``; every import counts, including ones inside
functions (a lazy import is still a dependency), and so does ``import_module("espnet2_speecht5.x")``
with a literal name. A module is mapped to its package (``espnet2_speecht5.nets.decoder`` -> ``nets``).
The top-level ``espnet2_speecht5/__init__.py`` (package ``""``) may import nothing of the package
statically; ``from espnet2_speecht5 import Speech2Text`` counts as an import of the module that its
lazy table ``_LAZY`` names.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = "espnet2_speecht5"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# Lower ranks may not import higher ranks. Same-rank packages may import each other (without forming
# a package-level cycle). Every package under espnet2_speecht5 must be listed here.
RANKS: dict[str, int] = {
    "runtime": 0,
    "data": 1,
    "text": 1,
    "corpus": 1,
    "distributed": 1,
    "nets": 2,
    "features": 2,
    "checkpoint": 3,
    "search": 4,
    "models": 5,
    "vocoder": 5,
    "train": 5,
    "tasks": 6,
    "inference": 6,
    "scoring": 6,
    "export": 6,
    "hub": 6,
    "speaker": 6,
    "report": 6,
    "recipes": 7,
    "bin": 8,
}
# The top-level espnet2_speecht5/__init__.py (package ""): it may import nothing of the package
# (every import of a subpackage runs it first), so it sits below everything.
TOP_RANK = -1
# ...except these modules, which it must run before anything imports ESPnet. They live in runtime
# (rank 0), which imports nothing of the package outside runtime, so no cycle can pass through them.
TOP_LEVEL_IMPORTS = {"espnet2_speecht5.runtime.lazy_typecheck"}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def top_level_lazy() -> dict[str, str]:
    """The top-level package's ``_LAZY`` table: attribute name -> the module that defines it."""
    tree = ast.parse((ROOT / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def _is_ours(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def imports_of(module: str, path: Path, known: set[str], lazy: dict[str, str]) -> list[tuple[int, str]]:
    """(line, target module) for every import of this package in ``path``, resolving relative imports.

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module, else of ``pkg``.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and _is_ours(arg.value):
                    out.append((node.lineno, arg.value))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_ours(alias.name):
                    out.append((node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_pkg:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not _is_ours(target):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if target == PACKAGE and alias.name in lazy:
                    sub = lazy[alias.name]
                out.append((node.lineno, sub if sub in known else target))
    return out


def graph() -> tuple[dict[str, Path], list[tuple[str, int, str]]]:
    modules = all_modules()
    known = set(modules)
    lazy = top_level_lazy()
    edges = []
    for mod, path in modules.items():
        for line, target in imports_of(mod, path, known, lazy):
            # An import of a.b.c also runs a and a.b; the edge that matters is to the named module.
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target != mod:
                edges.append((mod, line, target))
    return modules, edges


def rank(package: str) -> int:
    return TOP_RANK if package == "" else RANKS[package]


def where(modules: dict[str, Path], mod: str, line: int) -> str:
    return f"{modules[mod].relative_to(ROOT.parent)}:{line}"


def find_cycle(nodes: set[str], succ: dict[str, set[str]]) -> list[str] | None:
    """One cycle (as a closed list of nodes) in the directed graph, or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(nodes, WHITE)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = GREY
        stack.append(node)
        for nxt in sorted(succ.get(node, ())):
            if colour[nxt] == GREY:
                return stack[stack.index(nxt) :] + [nxt]
            if colour[nxt] == WHITE:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = BLACK
        return None

    for node in sorted(nodes):
        if colour[node] == WHITE:
            found = visit(node)
            if found:
                return found
    return None


def packages_on_disk() -> set[str]:
    """Every folder directly under the package that holds Python modules (namespace packages included)."""
    return {p.name for p in ROOT.iterdir() if p.is_dir() and any(p.rglob("*.py"))}


def test_every_package_is_ranked():
    missing = sorted(packages_on_disk() - set(RANKS))
    assert not missing, f"packages missing from RANKS in {Path(__file__).name}: {missing}"
    stray = [p for p in ROOT.glob("*.py") if p.name != "__init__.py"]
    assert not stray, f"modules directly under {PACKAGE}/ (put them in a ranked package): {stray}"


def test_what_the_top_level_runs_imports_nothing_outside_runtime():
    modules, edges = graph()
    outside = [f"{where(modules, mod, line)}: imports {target}" for mod, line, target in edges
               if mod in TOP_LEVEL_IMPORTS and package_of(target) != "runtime"]
    assert not outside, "\n".join(outside)


def test_imports_only_go_down():
    modules, edges = graph()
    bad = []
    for mod, line, target in edges:
        src_pkg, dst_pkg = package_of(mod), package_of(target)
        if src_pkg == dst_pkg:
            continue
        if dst_pkg == "bin":
            bad.append(f"{where(modules, mod, line)}: imports {target}; nothing outside bin/ may import bin/")
        elif src_pkg == "":
            if target not in TOP_LEVEL_IMPORTS:
                bad.append(f"{where(modules, mod, line)}: the top-level package imports {target}; it may only "
                           "name modules in its lazy table _LAZY")
        elif rank(src_pkg) < rank(dst_pkg):
            bad.append(
                f"{where(modules, mod, line)}: imports {target}, but {src_pkg or PACKAGE} (rank {rank(src_pkg)})"
                f" is below {dst_pkg} (rank {rank(dst_pkg)})"
            )
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_package_cycle():
    modules, edges = graph()
    succ: dict[str, set[str]] = defaultdict(set)
    witness: dict[tuple[str, str], str] = {}
    for mod, line, target in edges:
        a, b = package_of(mod), package_of(target)
        if a != b:
            succ[a].add(b)
            witness.setdefault((a, b), f"{where(modules, mod, line)} imports {target}")
    cycle = find_cycle(set(RANKS) | packages_on_disk() | {""}, succ)
    assert cycle is None, "package import cycle " + " -> ".join(cycle) + ":\n" + "\n".join(
        witness[(a, b)] for a, b in zip(cycle, cycle[1:])
    )


def test_no_module_cycle():
    modules, edges = graph()
    succ: dict[str, set[str]] = defaultdict(set)
    witness: dict[tuple[str, str], str] = {}
    for mod, line, target in edges:
        succ[mod].add(target)
        witness.setdefault((mod, target), f"{where(modules, mod, line)} imports {target}")
    cycle = find_cycle(set(modules), succ)
    assert cycle is None, "module import cycle " + " -> ".join(cycle) + ":\n" + "\n".join(
        witness[(a, b)] for a, b in zip(cycle, cycle[1:])
    )
