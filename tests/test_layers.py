"""The package's layers (nst/__init__.py, "Where things are"): every import points down or
sideways within a layer, never up, and no two modules import each other, directly or round a
cycle. Imports under ``if TYPE_CHECKING:`` are annotations, not imports at run time, and are left out."""

import ast
from pathlib import Path

import pytest

NST = Path(__file__).resolve().parents[1] / "nst"

# Lowest first. A module may import from its own layer and the layers below it.
LAYERS = ["base", "pixels", "net", "core", "jobs", "cli", "entry"]
BASE = {"nst.errors", "nst.units"}
ENTRY = {"nst", "nst.__main__", "nst.launch"}


def layer_of(module: str) -> str:
    if module in BASE:
        return "base"
    if module in ENTRY:
        return "entry"
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in LAYERS:
        return parts[1]
    raise AssertionError(f"{module} is in no layer: put it in a subpackage or in BASE/ENTRY of this test")


def module_name(path: Path) -> str:
    parts = path.relative_to(NST.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or \
        (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def imports(path: Path) -> set[str]:
    """The nst modules that ``path`` imports at run time (anywhere in it, functions included)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "nst")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] == "nst":
                for a in node.names:  # `from . import x` imports the module nst.x
                    sub = f"{source}.{a.name}"
                    found.add(sub if (NST.parent / (sub.replace(".", "/") + ".py")).exists()
                              or (NST.parent / sub.replace(".", "/")).is_dir() else source)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    found.discard(me)
    return found


GRAPH = {module_name(p): imports(p) for p in sorted(NST.rglob("*.py"))}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module):
    mine = LAYERS.index(layer_of(module))
    up = sorted(m for m in GRAPH[module]
                if m != "nst" and LAYERS.index(layer_of(m)) > mine)  # the package root is lazy: no layer
    assert not up, f"{module} ({layer_of(module)}) imports from a higher layer: {up}"


def test_no_import_cycle():
    state: dict[str, int] = {}
    path: list[str] = []

    def walk(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(GRAPH.get(m, ())):
            if n == "nst" or n not in GRAPH:
                continue
            if state.get(n) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(n):] + [n]))
            if n not in state:
                walk(n)
        path.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            walk(m)


def test_the_layers_are_what_this_test_says():
    """A new subpackage needs a place in LAYERS (and a line in nst/__init__.py's map)."""
    for module in GRAPH:
        layer_of(module)
    assert "Where things are" in (NST / "__init__.py").read_text()
