"""The layers of design / operations / simulate (issue 15): imports point one way, no private
name crosses a package, and ``import ketapain.design`` stays light.

Layers, lowest first; a package may import only packages of its own layer or below:
foundation (``errors``, ``_options``, ``_json``, ``_atomic``, ``_seeds``) -> ``data`` ->
``stats``, ``instruments`` -> ``protocol`` -> ``design`` -> ``operations`` -> ``simulate`` ->
``analysis`` -> ``report`` -> ``interop`` -> ``capture`` -> ``cli``. The foundation modules are
private top-level modules that every package may import; any other ``_name`` (module or
object) of another package is private to it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ketapain

SRC = Path(ketapain.__file__).parent

FOUNDATION = ("errors", "_options", "_json", "_atomic", "_seeds")
LAYERS: tuple[tuple[str, ...], ...] = (
    ("", *FOUNDATION),  # "" is ketapain itself (__version__)
    ("data",),
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

# the files of this part of issue 15 (design / operations / simulate layers, the AUC kernel,
# seeds, the power figure and command)
AREA = sorted([
    *(SRC / "design").glob("*.py"),
    *(SRC / "operations").glob("*.py"),
    *(SRC / "simulate").glob("*.py"),
    SRC / "_seeds.py",
    SRC / "stats" / "_auc.py",
    SRC / "stats" / "_daily_grid.py",
    SRC / "report" / "_power_plot.py",
    SRC / "cli" / "_power.py",
])


def _package(path: Path) -> str:
    """``design`` for src/ketapain/design/_x.py; ``_seeds`` for src/ketapain/_seeds.py."""
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path, text: str) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, absolute module, imported names) of every import of the module ``path`` whose
    source is ``text``, wherever it is (module level, in functions, under ``TYPE_CHECKING``)."""
    tree = ast.parse(text)
    here = ["ketapain", *path.relative_to(SRC).with_suffix("").parts]
    if path.name == "__init__.py":
        here = here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, ()) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + (1 if path.name == "__init__.py" else 0)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.append((node.lineno, module, tuple(a.name for a in node.names)))
    return [(line, m, names) for line, m, names in found if m == "ketapain" or m.startswith("ketapain.")]


def _violations(path: Path, text: str | None = None) -> list[str]:
    own = _package(path)
    out = []
    for line, module, names in _imports(path, path.read_text(encoding="utf-8") if text is None else text):
        parts = module.split(".")[1:]
        target = parts[0] if parts else ""
        where = f"{path.relative_to(SRC.parent)}:{line}: {module}"
        if target not in RANK:
            out.append(f"{where}: unknown package {target!r} (add it to LAYERS)")
            continue
        if RANK[target] > RANK[own]:
            out.append(f"{where}: {own} imports {target}, a layer above it")
        if target != own and target not in FOUNDATION:
            private = [p for p in parts[1:] if p.startswith("_")] + [n for n in names if n.startswith("_")
                                                                    and n != "__version__"]
            if private:
                out.append(f"{where}: private {', '.join(private)} of package {target}")
    return out


def test_area_lists_the_files() -> None:
    assert len(AREA) > 25 and all(p.exists() for p in AREA)
    assert SRC / "simulate" / "_power.py" in AREA and SRC / "design" / "_sequences.py" in AREA


@pytest.mark.parametrize("path", AREA, ids=lambda p: str(p.relative_to(SRC)))
def test_no_upward_import_and_no_private_name_across_packages(path: Path) -> None:
    assert _violations(path) == []


def test_the_checker_finds_what_it_forbids() -> None:
    # the rule itself, on a made-up module of design: an upward import (also inside a function)
    # and private names of another package are caught; own and foundation modules are not
    src = ("from ketapain.simulate import simulate_power\n"
           "from ketapain.stats._batch_array import fit_crossover_arrays\n"
           "from ketapain.stats import _private\n"
           "from ketapain.design._designs import williams\n"
           "from ._samplesize import crossover_power\n"
           "from ketapain._options import check_option\n"
           "def f():\n    import ketapain.analysis\n")
    found = _violations(SRC / "design" / "_made_up.py", src)
    assert len(found) == 4, found
    assert "design imports simulate, a layer above it" in found[0]
    assert "private _batch_array of package stats" in found[1]
    assert "private _private of package stats" in found[2]
    assert "design imports analysis" in found[3]


def _loaded(module: str) -> list[str]:
    code = (f"import json, sys; import {module}; "
            "print(json.dumps(sorted(m for m in sys.modules if m == 'ketapain' or m.startswith('ketapain.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _packages(modules: list[str]) -> set[str]:
    return {m.split(".")[1] for m in modules if "." in m}


def test_import_design_loads_nothing_above_it() -> None:
    loaded = _packages(_loaded("ketapain.design"))
    assert not loaded & {"simulate", "operations", "data", "analysis", "report", "capture", "interop", "cli"}
    assert loaded <= {*FOUNDATION, "stats", "instruments", "protocol", "design"}, loaded
    assert "design" in loaded


@pytest.mark.parametrize("module", ["ketapain.operations", "ketapain.simulate"])
def test_operations_and_simulate_load_nothing_above_them(module: str) -> None:
    own = module.split(".")[1]
    loaded = _packages(_loaded(module))
    assert own in loaded
    assert all(RANK[p] <= RANK[own] for p in loaded), loaded
