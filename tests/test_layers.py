"""The package's layers (nst/__init__.py, "Where things are"): every import points down or
sideways within a layer, never up, and no two modules import each other, directly or round a
cycle. Imports under ``if TYPE_CHECKING:`` are annotations, not imports at run time: the layer
check and the first cycle check leave them out; a second cycle check counts them too.

And the house rules (#31): no file of nst/ over 400 lines, no function over 60 lines of code, and
no import inside a function without a comment saying why. A module's layer is read from its path
(nst/<layer>/...), so a module that moves to another folder changes layer with no edit here."""

import ast
import io
import re
import tokenize
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


def imports(path: Path, type_checking: bool = False) -> set[str]:
    """The nst modules that ``path`` imports at run time (anywhere in it, functions included);
    with ``type_checking``, also those it imports under ``if TYPE_CHECKING:``."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node) and not type_checking:
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


def _find_cycle(graph: dict[str, set[str]]) -> None:
    """Fails naming the import cycles of ``graph`` (module -> the nst modules it imports): one per
    import that leads back to a module on the way to it."""
    state: dict[str, int] = {}
    path: list[str] = []
    cycles: list[str] = []

    def walk(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if n == "nst" or n not in graph:
                continue
            if state.get(n) == 1:
                cycles.append(" -> ".join(path[path.index(n):] + [n]))
            elif n not in state:
                walk(n)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            walk(m)
    assert not cycles, "import cycle: " + "; ".join(cycles)


def test_no_import_cycle():
    _find_cycle(GRAPH)


def test_the_layers_are_what_this_test_says():
    """A new subpackage needs a place in LAYERS (and a line in nst/__init__.py's map)."""
    for module in GRAPH:
        layer_of(module)
    assert "Where things are" in (NST / "__init__.py").read_text()


# -- the house rules (#31): small files, short functions, imports at the top ------------------------

PY_FILES = sorted(NST.rglob("*.py"))
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
PRAGMA = re.compile(r"noqa(:\s*[A-Z]+[0-9]+(\s*,\s*[A-Z]+[0-9]+)*)?|type:\s*ignore(\[[^\]]*\])?|pragma:\s*no\s+(cover|branch)")


def _where(path: Path) -> str:
    return str(path.relative_to(NST.parent))


def _code_lines(source: str) -> set[int]:
    """The line numbers that hold code: some token that is not a comment or a line break (a string
    over several lines holds code on each of them)."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER, tokenize.ENCODING}
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines


def _comments(source: str) -> dict[int, str]:
    """Line number -> the text of the comment on it, linter pragmas (noqa, type: ignore) left out."""
    found: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            text = PRAGMA.sub("", tok.string.lstrip("#")).strip(" -:,;#")
            if text:
                found[tok.start[0]] = text
    return found


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _body_start(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int | None:
    """The first line of ``fn``'s body after its docstring; None when the docstring is all of it."""
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body[0].lineno if body else None


def test_no_file_is_over_400_lines():
    """Every module of nst/ is at most MAX_FILE_LINES lines long, all lines counted."""
    long = [f"{_where(p)}: {n} lines" for p in PY_FILES
            if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES]
    assert not long, f"over {MAX_FILE_LINES} lines (split by concern): " + "; ".join(long)


def test_no_function_is_over_60_lines():
    """Every function and method of nst/ has at most MAX_FUNCTION_LINES lines of code in its body.
    Counted: the lines from the first statement after the docstring to the function's last line
    that hold code (a statement, or part of one that spans lines); not counted: the signature and
    decorators, the docstring, blank lines and lines that hold only a comment. A nested function's
    lines count for it and for the function around it."""
    long = []
    for path in PY_FILES:
        source = path.read_text()
        code = _code_lines(source)
        for fn in _functions(ast.parse(source)):
            start = _body_start(fn)
            n = 0 if start is None else len(code & set(range(start, fn.end_lineno + 1)))
            if n > MAX_FUNCTION_LINES:
                long.append(f"{_where(path)}:{fn.lineno} {fn.name}(): {n} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines of code: " + "; ".join(long)


def _imports_in_functions(tree: ast.AST):
    """The import statements inside a function (at any depth), each once."""
    seen: set[int] = set()
    for fn in _functions(tree):
        for node in ast.walk(fn):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in seen:
                seen.add(id(node))
                yield node


def test_imports_in_a_function_say_why():
    """An ``import`` or ``from ... import`` inside a function (to keep a command torch-free, to break
    a cycle, for an optional dependency, ...) says why in a comment on one of its lines or on a line
    of its own just above it; one such comment serves the run of imports right below it. A linter
    pragma alone (``# noqa``) is no reason. Any other import goes at the top of the module."""
    bare = []
    for path in PY_FILES:
        source = path.read_text()
        comments = _comments(source)
        lines = source.splitlines()
        said: set[int] = set()  # the last lines of the imports that say why, or follow one that does
        for node in sorted(_imports_in_functions(ast.parse(source)), key=lambda n: n.lineno):
            above = node.lineno - 1
            if any(n in comments for n in range(node.lineno, node.end_lineno + 1)) or above in said or \
                    (above in comments and lines[above - 1].lstrip().startswith("#")):
                said.add(node.end_lineno)
            else:
                bare.append(f"{_where(path)}:{node.lineno} `{lines[node.lineno - 1].strip()}`")
    assert not bare, "imports inside a function without a comment saying why (or move them to the top): " + \
        "; ".join(bare)


def test_no_import_cycle_counting_type_checking():
    """As test_no_import_cycle, with the imports under ``if TYPE_CHECKING:`` counted too: two modules
    that need each other only for annotations are still tangled (one of them is in the wrong place)."""
    _find_cycle({module_name(p): imports(p, type_checking=True) for p in PY_FILES})
