"""Every package the code imports is declared in pyproject.toml (issue 13: a fresh machine is the contract).

``src/`` may import the base dependencies and the optional extras (imported lazily, with a clear
message when missing); ``tests/`` may import the base dependencies and the ``[test]`` extra. A
module is mapped to the distribution that installs it with
:func:`importlib.metadata.packages_distributions`, so ``import yaml`` is checked against
``pyyaml`` and ``import fhir.resources`` against ``fhir.resources``. An import that no installed
distribution provides fails too: CI installs exactly what pyproject.toml declares, in a fresh
virtual environment, so such an import would fail there.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _canonical(re.split(r"[\[<>=!~; ]", requirement.strip(), maxsplit=1)[0])


def _with_extras(requirement: str) -> set[str]:
    """The requirement's distribution, plus those its own extras pull in (``dask[distributed]``
    declares ``distributed``), read from the installed distribution's metadata."""
    name = _requirement_name(requirement)
    out = {name}
    extras = re.search(r"\[([^\]]+)\]", requirement)
    if extras:
        wanted = {e.strip() for e in extras.group(1).split(",")}
        try:
            subs = requires(name) or []
        except PackageNotFoundError:  # not installed: the import check below reports what is missing
            subs = []
        for sub in subs:
            marker = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", sub)
            if marker and marker.group(1) in wanted:
                out.add(_requirement_name(sub))
    return out


def _declared(*groups: str) -> set[str]:
    reqs = list(PYPROJECT["dependencies"])
    for group in groups:
        reqs += PYPROJECT["optional-dependencies"][group]
    return set().union(*(_with_extras(r) for r in reqs))


def _imports(root: Path) -> Iterator[tuple[Path, int, str]]:
    """(file, line, top-level module) of every absolute import under ``root``."""
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                yield path, node.lineno, name.split(".")[0]


def _undeclared(root: Path, allowed: set[str], local: set[str], *, top: Path = ROOT) -> list[str]:
    """One message per import under ``root`` that ``allowed`` distributions do not provide
    (paths shown relative to ``top``)."""
    provided = packages_distributions()
    problems = []
    for path, line, module in _imports(root):
        if module in sys.stdlib_module_names or module in local:
            continue
        dists = {_canonical(d) for d in provided.get(module, [])}
        where = f"{path.relative_to(top)}:{line}: import {module}"
        if not dists:
            problems.append(f"{where}: no installed distribution provides it (declare it in pyproject.toml)")
        elif not dists & allowed:
            problems.append(f"{where}: provided by {', '.join(sorted(dists))}, which pyproject.toml does not declare here")
    return problems


def test_src_imports_only_declared_packages() -> None:
    extras = [g for g in PYPROJECT["optional-dependencies"] if g != "test"]
    assert _undeclared(ROOT / "src", _declared(*extras), {"ketapain"}) == []


def test_tests_import_only_declared_packages() -> None:
    local = {"ketapain", "conftest", "tests"} | {p.stem for p in (ROOT / "tests").rglob("*.py")}
    local |= {p.stem for p in (ROOT / "benchmarks").glob("*.py")}
    assert _undeclared(ROOT / "tests", _declared("test"), local) == []


def test_benchmarks_and_tools_import_only_declared_packages() -> None:
    local = {"ketapain"} | {p.stem for d in ("benchmarks", "tools") for p in (ROOT / d).glob("*.py")}
    allowed = _declared(*PYPROJECT["optional-dependencies"])
    assert _undeclared(ROOT / "benchmarks", allowed, local) + _undeclared(ROOT / "tools", allowed, local) == []


def test_the_check_finds_an_undeclared_import(tmp_path: Path) -> None:
    """The check itself can fail: a module importing an installed but undeclared distribution
    (pip, present in every virtual environment) and one importing a missing package."""
    (tmp_path / "mod.py").write_text("import pip\nfrom no_such_package_xyz import thing\nimport json\n")
    problems = _undeclared(tmp_path, _declared("test"), set(), top=tmp_path)
    assert len(problems) == 2
    assert problems[0].startswith("mod.py:1: import pip: provided by pip")
    assert problems[1].startswith("mod.py:2: import no_such_package_xyz: no installed distribution")


@pytest.mark.parametrize("group", ["dependencies", "test"])
def test_every_requirement_has_a_tested_lower_bound(group: str) -> None:
    """Dependencies are pinned from below (the versions the suite ran with), never unbounded."""
    reqs = PYPROJECT["dependencies"] if group == "dependencies" else PYPROJECT["optional-dependencies"][group]
    assert [r for r in reqs if ">=" not in r] == []
