"""The layers of ketapain and the checks that keep them (issue 15; docs/architecture.md).

Layers, lowest first; a package imports only packages of its own layer or below:

    foundation (``errors``, ``_options``, ``_json``, ``_atomic``, ``_seeds``, ``_extras``, the
    package root) -> ``data`` -> ``stats``, ``instruments`` -> ``protocol`` -> ``design`` ->
    ``operations`` -> ``simulate`` -> ``analysis`` -> ``report`` -> ``interop`` -> ``capture``
    -> ``cli``; ``examples`` (example files) sits beside ``data``.

Checked here, for every module of src/ketapain (imports anywhere: module level, in functions,
under ``TYPE_CHECKING``):

- no import of a package above its own layer;
- no private module or name (``_x``) of another package (the foundation modules are shared);
- no import cycle between the modules of one package;
- ``import ketapain.<package>`` in a fresh interpreter loads nothing above the package;
- every function holds at most 80 lines of code (docstring, comments and blank lines not
  counted), except those a module names in its docstring on a line
  ``Longer than 80 lines: ``name`` — why``.
"""

from __future__ import annotations

import ast
import io
import json
import re
import subprocess
import sys
import tokenize
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ketapain"
FOUNDATION = ("", "errors", "_options", "_json", "_atomic", "_seeds", "_extras")
LAYERS: tuple[tuple[str, ...], ...] = (
    FOUNDATION,
    ("data", "examples"),
    ("stats", "instruments"),
    ("protocol",),
    ("design",),
    ("operations",),
    ("simulate",),
    ("analysis",),
    ("report",),
    ("interop",),
    ("capture",),
    ("cli",),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
PACKAGES = sorted(p.name for p in SRC.iterdir() if (p / "__init__.py").is_file())
LIMIT = 80


def module_of(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_of(p): p for p in SRC.rglob("*.py")}


def package_of(module: str) -> str:
    """``stats`` for ketapain.stats._lmm; ``errors`` for ketapain.errors; ``""`` for ketapain."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports(path: Path, here: str, source: str | None = None) -> Iterator[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) of every import of ketapain code in the module
    ``here`` (file ``path``, or ``source``), relative imports resolved."""
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    text = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "ketapain":
                    yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] == "ketapain":
                yield node.lineno, module, [alias.name for alias in node.names]


def violations(module: str, path: Path, source: str | None = None) -> list[str]:
    """Upward imports and private names of other packages in ``module``."""
    own = package_of(module)
    out = []
    for line, target, names in imports(path, module, source):
        pkg = package_of(target)
        where = f"{module}:{line}: {target}"
        if pkg not in RANK:
            out.append(f"{where}: {pkg!r} is in no layer (add it to LAYERS and docs/architecture.md)")
            continue
        if RANK[pkg] > RANK[own]:
            out.append(f"{where}: {own or 'ketapain'} imports {pkg}, a layer above it")
        if pkg != own and pkg not in FOUNDATION:
            private = [p for p in target.split(".")[2:] if p.startswith("_")]
            private += [n for n in names if n.startswith("_") and n != "__version__"]
            if private:
                out.append(f"{where}: private {', '.join(private)} of package {pkg}")
    return out


def test_every_package_is_in_a_layer() -> None:
    assert set(PACKAGES) | {m for m in FOUNDATION if m} >= set(RANK) - {""}
    assert set(PACKAGES) <= set(RANK), set(PACKAGES) - set(RANK)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_upward_import_and_no_private_name_across_packages(package: str) -> None:
    found = [v for m, p in MODULES.items() if package_of(m) == package for v in violations(m, p)]
    assert found == []


def test_foundation_modules_import_only_the_foundation() -> None:
    found = [v for m, p in MODULES.items() if package_of(m) in FOUNDATION for v in violations(m, p)]
    assert found == []


def test_the_layer_check_finds_what_it_forbids() -> None:
    """The check can fail: a made-up module of design with an upward import (also inside a
    function) and private names of another package; own and foundation modules are allowed."""
    source = ("from ketapain.simulate import simulate_power\n"
              "from ketapain.stats._batch_array import fit_crossover_arrays\n"
              "from ketapain.stats import _private\n"
              "from ketapain.design._designs import williams\n"
              "from ._samplesize import crossover_power\n"
              "from ketapain._options import check_option\n"
              "def f():\n    import ketapain.analysis\n")
    found = violations("ketapain.design._made_up", SRC / "design" / "_made_up.py", source)
    assert len(found) == 4, found
    assert "design imports simulate, a layer above it" in found[0]
    assert "private _batch_array of package stats" in found[1]
    assert "private _private of package stats" in found[2]
    assert "design imports analysis, a layer above it" in found[3]


# --- cycles between the modules of a package ----------------------------------------------------


def edges(module: str) -> set[str]:
    """The modules ``module`` imports (``from pkg import submodule`` is an edge to the submodule)."""
    out = set()
    for _, target, names in imports(MODULES[module], module):
        subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
        out |= set(subs) if len(subs) == len(names) and names else {target, *subs}
    return out & set(MODULES)


def cycles(modules: set[str], edge: Callable[[str], set[str]] = edges) -> list[list[str]]:
    """The import cycles among ``modules`` (strongly connected components of more than one
    module, or a module importing itself), each sorted; Tarjan's algorithm."""
    graph = {m: edge(m) & modules for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(m: str) -> None:
        index[m] = low[m] = len(index)
        stack.append(m)
        for n in graph[m]:
            if n not in index:
                visit(n)
                low[m] = min(low[m], low[n])
            elif n in stack:
                low[m] = min(low[m], index[n])
        if low[m] == index[m]:
            component = []
            while True:
                n = stack.pop()
                component.append(n)
                if n == m:
                    break
            if len(component) > 1 or m in graph[m]:
                found.append(sorted(component))

    for m in sorted(modules):
        if m not in index:
            visit(m)
    return sorted(found)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_between_the_modules_of_a_package(package: str) -> None:
    assert cycles({m for m in MODULES if package_of(m) == package}) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    """The check can fail: the protocol modules with the edge _messages -> _models (removed in
    issue 15) put back."""
    modules = {m for m in MODULES if package_of(m) == "protocol"}

    def with_cycle(module: str) -> set[str]:
        return edges(module) | ({"ketapain.protocol._models"} if module == "ketapain.protocol._messages" else set())

    assert cycles(modules) == []
    assert cycles(modules, with_cycle) == [["ketapain.protocol._messages", "ketapain.protocol._models"]]


# --- what importing a package loads -------------------------------------------------------------


@pytest.fixture(scope="module")
def loaded() -> dict[str, set[str]]:
    """For every package, the ketapain packages a fresh interpreter has loaded after importing it."""
    code = ("import importlib, json, sys\n"
            "pkg = sys.argv[1]\n"
            "importlib.import_module('ketapain.' + pkg)\n"
            "print(json.dumps(sorted({m.split('.')[1] for m in sys.modules if m.startswith('ketapain.')})))\n")
    out = {}
    for package in PACKAGES:
        done = subprocess.run([sys.executable, "-c", code, package], capture_output=True, text=True, check=True, timeout=120)
        out[package] = set(json.loads(done.stdout))
    return out


@pytest.mark.parametrize("package", PACKAGES)
def test_importing_a_package_loads_nothing_above_it(loaded: dict[str, set[str]], package: str) -> None:
    above = {p for p in loaded[package] if RANK.get(p, -1) > RANK[package]}
    assert above == set()


def test_the_design_layer_stays_light(loaded: dict[str, set[str]]) -> None:
    """``import ketapain.design`` (a Williams square) loads the numerical layers only."""
    assert loaded["design"] <= {*FOUNDATION, "data", "stats", "instruments", "protocol", "design"}


# --- function length ----------------------------------------------------------------------------


def _code_lines(source: str) -> set[int]:
    """Line numbers that hold a code token (not a comment, not blank)."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines


def function_lengths(source: str) -> dict[str, int]:
    """Qualified function name -> lines of code (decorators and signature included, docstring not;
    a nested function counts in its parent and on its own)."""
    tree = ast.parse(source)
    code = _code_lines(source)
    out: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                first = child.body[0]
                doc: set[int] = set()
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                    doc = set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
                start = min([d.lineno for d in child.decorator_list] + [child.lineno])
                span = range(start, (child.end_lineno or child.lineno) + 1)
                out[prefix + child.name] = len([n for n in span if n in code and n not in doc])
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


_EXCEPTION = re.compile(r"^\s*Longer than 80 lines: ``([\w.]+)`` — \S.*$", re.M)


def _documented_exceptions(source: str) -> set[str]:
    doc = ast.get_docstring(ast.parse(source)) or ""
    return set(_EXCEPTION.findall(doc))


@pytest.mark.parametrize("package", [*PACKAGES, "foundation"])
def test_functions_hold_at_most_80_lines_of_code(package: str) -> None:
    paths = [p for m, p in MODULES.items() if (package_of(m) in FOUNDATION if package == "foundation" else package_of(m) == package)]
    too_long = []
    for path in sorted(paths):
        source = path.read_text(encoding="utf-8")
        allowed = _documented_exceptions(source)
        too_long += [f"{path.relative_to(SRC.parent)}: {name} has {n} lines of code"
                     for name, n in function_lengths(source).items() if n > LIMIT and name not in allowed]
    assert too_long == []


def test_the_length_check_counts_code_only() -> None:
    """A docstring and comments do not count; the signature and decorators do; an exception
    needs its reason."""
    body = "\n".join(f"    x{i} = {i}  # note" for i in range(79))
    source = f'@decorator\ndef f(a,\n      b):\n    """Doc.\n\n    More doc.\n    """\n    # a comment\n\n{body}\n'
    assert function_lengths(source) == {"f": 1 + 2 + 79}
    assert _documented_exceptions('"""Mod.\n\nLonger than 80 lines: ``f`` — one table of cases.\n"""\n') == {"f"}
    assert _documented_exceptions('"""Mod.\n\nLonger than 80 lines: ``f``\n"""\n') == set()
