"""Every package the code imports is declared in pyproject.toml (issue 13: a fresh machine is the
contract), and the optional extras mirror the layers (issue 15).

``src/`` may import the base dependencies; each package of ``src/ketapain`` may import in
addition the extras of its own layer (:data:`LAYER_EXTRAS`): ``capture`` the ``[capture]`` web
stack (and ``[postgres]``), ``interop`` the ``[interop]`` formats, both anywhere (their
``__init__`` refuses to import without the extra, naming it); ``design``/``simulate``/``cli``
the ``[dask]`` extra (and ``cli`` the web server), inside functions only, so that the base
install imports them. ``tests/`` may import the base dependencies and the ``[test]`` extra. A
module is mapped to the distribution that installs it with
:func:`importlib.metadata.packages_distributions`, so ``import yaml`` is checked against
``pyyaml`` and ``import fhir.resources`` against ``fhir.resources``. An import that no installed
distribution provides fails too: CI installs exactly what pyproject.toml declares, in a fresh
virtual environment, so such an import would fail there.

A missing extra is one line naming it (checked in-process, with the extra's modules hidden),
and the base install alone, in a fresh virtual environment, runs ``ketapain demo`` without the
web stack.
"""

from __future__ import annotations

import ast
import importlib.abc
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketapain._extras import EXTRAS, missing_extra
from ketapain.cli import app

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SRC = ROOT / "src" / "ketapain"
CI = os.environ.get("CI", "").lower() in ("1", "true")

LAYER_EXTRAS: dict[str, tuple[str, ...]] = {
    "capture": ("capture", "postgres"),
    "interop": ("interop",),
    "design": ("dask",),
    "simulate": ("dask",),
    "cli": ("capture", "dask"),
}
"""Package of src/ketapain -> the extras it may import (others: the base dependencies only)."""

GATED = {"capture", "interop"}
"""Packages that need their extra as a whole (``__init__`` calls ``require_extra``): they may
import it at module level; the others only inside functions."""


def _canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _canonical(re.split(r"[\[<>=!~; ]", requirement.strip(), maxsplit=1)[0])


def _requirement_extras(requirement: str) -> set[str]:
    extras = re.search(r"\[([^\]]+)\]", requirement)
    return {e.strip() for e in extras.group(1).split(",")} if extras else set()


def _with_extras(requirement: str) -> set[str]:
    """The requirement's distribution, plus those its own extras pull in (``dask[distributed]``
    declares ``distributed``), read from the installed distribution's metadata; a reference to
    this project's own extras (``ketapain[capture]``) is expanded from pyproject.toml."""
    name = _requirement_name(requirement)
    wanted = _requirement_extras(requirement)
    if name == _canonical(PYPROJECT["name"]):
        return _declared(*wanted) - {name}
    out = {name}
    if wanted:
        try:
            subs = requires(name) or []
        except PackageNotFoundError:  # not installed: the import check below reports what is missing
            subs = []
        for sub in subs:
            marker = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", sub)
            if marker and marker.group(1) in wanted:
                out.add(_requirement_name(sub))
    return out


def _declared(*groups: str, base: bool = True) -> set[str]:
    reqs = list(PYPROJECT["dependencies"]) if base else []
    for group in groups:
        reqs += PYPROJECT["optional-dependencies"][group]
    return set().union(*(_with_extras(r) for r in reqs))


def _imports(root: Path) -> Iterator[tuple[Path, int, str, bool]]:
    """(file, line, top-level module, inside a function?) of every absolute import under ``root``
    (a folder or one file)."""
    for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        lazy = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
                for n in ast.walk(f) if n is not f}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                yield path, node.lineno, name.split(".")[0], id(node) in lazy


def _undeclared(root: Path, allowed: set[str], local: set[str], *, top: Path = ROOT,
                lazy_only: set[str] = frozenset()) -> list[str]:
    """One message per import under ``root`` that ``allowed`` distributions do not provide
    (paths shown relative to ``top``); distributions in ``lazy_only`` may be imported inside
    functions only."""
    provided = packages_distributions()
    problems = []
    for path, line, module, lazy in _imports(root):
        if module in sys.stdlib_module_names or module in local:
            continue
        dists = {_canonical(d) for d in provided.get(module, [])}
        where = f"{path.relative_to(top)}:{line}: import {module}"
        if not dists:
            problems.append(f"{where}: no installed distribution provides it (declare it in pyproject.toml)")
        elif not dists & allowed:
            problems.append(f"{where}: provided by {', '.join(sorted(dists))}, which pyproject.toml does not declare here")
        elif not lazy and dists & allowed <= lazy_only:
            problems.append(f"{where}: an optional extra of this layer; import it inside the function that needs it")
    return problems


def _src_layers() -> Iterator[tuple[str, Path]]:
    """(layer, folder or file) for every package and top-level module of src/ketapain."""
    for entry in sorted(SRC.iterdir()):
        if entry.is_dir() and (entry / "__init__.py").exists():
            yield entry.name, entry
        elif entry.suffix == ".py":
            yield "", entry


@pytest.mark.parametrize(("layer", "root"), list(_src_layers()), ids=[p.name for _, p in _src_layers()])
def test_src_imports_only_its_layers_packages(layer: str, root: Path) -> None:
    """Base dependencies everywhere; an extra only in its layer (lazily outside capture/interop)."""
    base = _declared()
    own = _declared(*LAYER_EXTRAS.get(layer, ()), base=False) - base
    lazy_only = set() if layer in GATED else own
    assert _undeclared(root, base | own, {"ketapain"}, top=SRC, lazy_only=lazy_only) == []


def test_layer_extras_are_declared() -> None:
    """Every extra named here exists in pyproject.toml, and every extra but ``test`` is a layer's."""
    extras = set(PYPROJECT["optional-dependencies"]) - {"test"}
    assert set().union(*LAYER_EXTRAS.values()) == extras
    assert set(EXTRAS) == extras


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_extras_modules_match_pyproject(extra: str) -> None:
    """``ketapain._extras`` looks for modules that the extra's distributions provide, one at
    least per distribution (so a missing distribution is noticed)."""
    provided = packages_distributions()
    dists = _declared(extra, base=False)
    by_module = {m: {_canonical(d) for d in provided.get(m.split(".")[0], [])} for m in EXTRAS[extra].modules}
    assert {m: d for m, d in by_module.items() if not d & dists} == {}
    direct = {_requirement_name(r) for r in PYPROJECT["optional-dependencies"][extra]}
    assert direct - set().union(*by_module.values()) == set()


def test_base_excludes_the_layers_extras() -> None:
    """The base install holds neither the web stack nor the exporters."""
    base = _declared()
    for extra in ("capture", "interop"):
        assert _declared(extra, base=False) & base == set(), extra


def test_test_extra_installs_every_extra() -> None:
    """The README's test command (``pip install -e '.[test]'``) does all the set-up."""
    test = _declared("test", base=False)
    for extra in set(PYPROJECT["optional-dependencies"]) - {"test"}:
        assert _declared(extra, base=False) <= test, extra


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
    (pip, present in every virtual environment), one importing a missing package, and one
    importing a lazy-only extra at module level."""
    (tmp_path / "mod.py").write_text("import pip\nfrom no_such_package_xyz import thing\nimport json\nimport fastapi\n\n\n"
                                     "def f():\n    import fastapi\n")
    problems = _undeclared(tmp_path, _declared("test"), set(), top=tmp_path, lazy_only={"fastapi"})
    assert len(problems) == 3
    assert problems[0].startswith("mod.py:1: import pip: provided by pip")
    assert problems[1].startswith("mod.py:2: import no_such_package_xyz: no installed distribution")
    assert problems[2].startswith("mod.py:4: import fastapi: an optional extra of this layer")


@pytest.mark.parametrize("group", ["dependencies", *PYPROJECT["optional-dependencies"]])
def test_every_requirement_has_a_tested_lower_bound(group: str) -> None:
    """Dependencies are pinned from below (the versions the suite ran with), never unbounded;
    a reference to this project's own extras (``ketapain[capture,...]``) carries no version."""
    reqs = PYPROJECT["dependencies"] if group == "dependencies" else PYPROJECT["optional-dependencies"][group]
    own = _canonical(PYPROJECT["name"])
    assert [r for r in reqs if ">=" not in r and _requirement_name(r) != own] == []
    assert [r for r in reqs if _requirement_name(r) == own and not _requirement_extras(r) <= set(EXTRAS)] == []


# --- a missing extra: one line naming it ---------------------------------------------------------


class _Refuse(importlib.abc.MetaPathFinder):
    """A meta-path finder that refuses some top-level modules, as if they were not installed."""

    def __init__(self, roots: set[str]) -> None:
        self.roots = roots

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname.split(".")[0] in self.roots:
            raise ModuleNotFoundError(f"No module named {fullname!r} (hidden by the test)", name=fullname)


@pytest.fixture
def hide(monkeypatch: pytest.MonkeyPatch):
    """``hide("fastapi")``: the module cannot be imported until the test ends, and the layers
    that import it are imported afresh (the originals come back afterwards)."""

    def _hide(*roots: str) -> None:
        layers = ("ketapain.capture", "ketapain.interop")
        for name in list(sys.modules):
            if name.split(".")[0] in roots or name.startswith(layers):
                monkeypatch.delitem(sys.modules, name)
        monkeypatch.setattr(sys, "meta_path", [_Refuse(set(roots)), *sys.meta_path])
        for layer in layers:
            if hasattr(sys.modules["ketapain"], layer.split(".")[1]):
                monkeypatch.delattr(sys.modules["ketapain"], layer.split(".")[1])

    return _hide


CAPTURE_LINE = "error: ketapain {} needs the web stack: pip install 'ketapain[capture]'\n"
INTEROP_LINE = "error: ketapain {} needs the import/export formats: pip install 'ketapain[interop]'\n"


@pytest.mark.parametrize(("hidden", "args", "line"), [
    ("fastapi", ["serve", "--port", "1"], CAPTURE_LINE.format("serve")),
    ("sqlalchemy", ["audit", "verify", "--db", "sqlite:///nowhere.sqlite"], CAPTURE_LINE.format("audit verify")),
    ("pyreadstat", ["export", "trial", "--format", "odm", "--out", "out"], INTEROP_LINE.format("export")),
    ("fhir", ["import", "bundle.json", "--format", "fhir", "--out", "out"], INTEROP_LINE.format("import")),
])
def test_a_command_without_its_extra_says_which_to_install(hide, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          hidden: str, args: list[str], line: str) -> None:
    monkeypatch.chdir(tmp_path)
    hide(hidden)
    result = CliRunner().invoke(app, args)
    assert (result.exit_code, result.stderr, result.stdout) == (1, line, "")
    assert not (tmp_path / "out").exists() and not (tmp_path / "nowhere.sqlite").exists()


@pytest.mark.parametrize(("layer", "hidden"), [("capture", "uvicorn"), ("capture", "argon2"), ("interop", "pyreadstat")])
def test_importing_a_layer_without_its_extra_names_it(hide, layer: str, hidden: str) -> None:
    hide(hidden)
    with pytest.raises(ImportError) as info:
        __import__(f"ketapain.{layer}")
    assert str(info.value) == missing_extra(layer)
    assert f"pip install 'ketapain[{layer}]'" in str(info.value)


def test_with_every_extra_nothing_is_missing() -> None:
    assert {extra: missing_extra(extra) for extra in EXTRAS} == dict.fromkeys(EXTRAS)


# --- the base install, alone, in a fresh virtual environment ---------------------------------------


def test_base_install_runs_the_demo_without_the_web_stack(tmp_path: Path) -> None:
    """``pip install -e .`` in a brand-new virtual environment runs ``ketapain demo``; the
    extras' modules are absent there and ``ketapain serve`` says what to install.

    pip reaches the package index (or its cache); offline, outside CI, the test is skipped.
    """
    venv, work = tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "VIRTUAL_ENV", "PIP_TARGET", "PIP_PREFIX")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=120)
    pip = subprocess.run([str(python), "-m", "pip", "install", "-q", "-e", str(ROOT)], env=env, check=False,
                         capture_output=True, text=True, timeout=600)
    if pip.returncode != 0:
        tail = "\n".join(pip.stderr.strip().splitlines()[-5:])
        if not CI:
            pytest.skip(f"could not install the base package (offline?):\n{tail}")
        pytest.fail(f"pip install -e {ROOT} failed:\n{tail}")
    probe = ("import importlib.util, json; from ketapain._extras import EXTRAS; print(json.dumps(sorted("
             "m for e in EXTRAS.values() for m in e.modules if importlib.util.find_spec(m.split('.')[0]))))")
    present = subprocess.run([str(python), "-c", probe], env=env, cwd=work, capture_output=True, text=True, check=True)
    assert present.stdout.strip() == "[]"
    demo = subprocess.run([str(venv / "bin" / "ketapain"), "demo", "--patients", "6", "--seed", "5", "--no-pdf",
                           "--quiet"], env=env, cwd=work, capture_output=True, text=True, timeout=600, check=False)
    assert demo.returncode == 0, demo.stderr
    assert (work / "ketapain-demo" / "report" / "index.html").is_file()
    assert (work / "ketapain-demo" / "report" / "results.json").is_file()
    serve = subprocess.run([str(venv / "bin" / "ketapain"), "serve"], env=env, cwd=work, capture_output=True,
                           text=True, timeout=120, check=False)
    assert (serve.returncode, serve.stderr) == (1, CAPTURE_LINE.format("serve"))
    assert not list(work.glob("*.sqlite*"))
