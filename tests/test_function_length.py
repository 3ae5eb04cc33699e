"""Functions are short: at most 80 lines of code each (issue 15), in the packages listed here.

A function's length counts the lines that hold its code: not its docstring, comments or blank
lines (a nested function counts in its parent and on its own). A module may keep a longer
function where splitting it would hurt clarity, by naming it in its docstring with the reason,
on a line ``Longer than 80 lines: ``name`` — why``.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ketapain"
LIMIT = 80
PACKAGES = ("capture", "interop", "protocol")
"""Packages held to the budget (the others join as their long functions are split)."""


def _code_lines(source: str) -> set[int]:
    """Line numbers that hold a code token (not a comment, not blank)."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines


def function_lengths(source: str) -> dict[str, int]:
    """Qualified function name -> lines of code (decorators and signature included, docstring not)."""
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


def allowed_long(source: str) -> set[str]:
    """The functions a module's docstring names on a ``Longer than 80 lines:`` line."""
    doc = ast.get_docstring(ast.parse(source)) or ""
    return {name for line in doc.splitlines() if line.startswith(f"Longer than {LIMIT} lines:")
            for name in re.findall(r"``([\w.]+)``", line)}


@pytest.mark.parametrize("package", PACKAGES)
def test_functions_are_at_most_80_lines(package: str) -> None:
    too_long = []
    for path in sorted((SRC / package).rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        exempt = allowed_long(source)
        for name, n in function_lengths(source).items():
            if n > LIMIT and name not in exempt:
                too_long.append(f"{path.relative_to(SRC)}: {name} has {n} lines of code (at most {LIMIT})")
    assert too_long == []


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exception_is_still_needed(package: str) -> None:
    """A documented exception names a function that exists and is still over the budget."""
    stale = []
    for path in sorted((SRC / package).rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lengths = function_lengths(source)
        stale += [f"{path.relative_to(SRC)}: {name}" for name in allowed_long(source) if lengths.get(name, 0) <= LIMIT]
    assert stale == []


def test_the_count_leaves_out_docstrings_comments_and_blank_lines() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(LIMIT - 2))
    source = f'def f():\n    """Doc.\n\n    More doc.\n    """\n    # a comment\n\n{body}\n    return x0\n'
    assert function_lengths(source) == {"f": LIMIT}
    longer = source.replace("    return x0", "    y = 1\n    return x0")
    assert function_lengths(longer) == {"f": LIMIT + 1}
    nested = "class C:\n    def m(self):\n        def inner():\n            return 1\n        return inner\n"
    assert function_lengths(nested) == {"C.m": 4, "C.m.inner": 2}
    assert allowed_long(f'"""Mod.\n\nLonger than {LIMIT} lines: ``f`` — why.\n"""\n') == {"f"}
