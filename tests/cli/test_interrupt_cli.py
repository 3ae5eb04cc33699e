"""SIGINT, SIGTERM and SIGKILL during ``ketapain demo --out X`` (issue 14), in a real subprocess.

An interruption prints one line saying what was kept, exits 130 (SIGINT) or 143 (SIGTERM), and
leaves X as it was (absent, or the previous demo); a process killed outright leaves a temporary
folder that the next successful run removes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SRC = Path(__file__).resolve().parents[2] / "src"
DEMO = ("demo", "--patients", "6", "--no-pdf", "--quiet", "--seed", "3")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETAPAIN_")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _ketapain(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", "from ketapain.cli import main; main()", *map(str, args)],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _temporaries(out: Path) -> list[str]:
    """Our hidden temporary siblings of ``out`` and of its entries."""
    names = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    if out.is_dir():
        names += [f"{out.name}/{p.name}" for p in out.iterdir() if p.name.startswith(".")]
    return sorted(names)


def _signal_when_staged(proc: subprocess.Popen[str], out: Path, signum: int) -> tuple[int, str]:
    """Send ``signum`` once the demo's temporary folder exists; its exit status and stderr."""
    deadline = time.monotonic() + 120
    while not any(n.endswith(".tmp") for n in _temporaries(out)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the demo never made its temporary folder"
        time.sleep(0.05)
    time.sleep(0.3)   # well inside the simulation or the analysis
    proc.send_signal(signum)
    _stdout, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("finished") / "demo"
    proc = _ketapain(*DEMO, "--out", out)
    _stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    return out


def test_sigint_during_a_first_demo_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "X"
    status, stderr = _signal_when_staged(_ketapain(*DEMO, "--out", out), out, signal.SIGINT)
    assert status == 130
    assert stderr.splitlines() == [f"interrupted: nothing was written; {out} was not created"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_sigterm_during_an_overwrite_keeps_the_previous_demo(finished_demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "X"
    shutil.copytree(finished_demo, out)
    before = _snapshot(out)
    status, stderr = _signal_when_staged(_ketapain(*DEMO, "--out", out, "--overwrite"), out, signal.SIGTERM)
    assert status == 143
    assert stderr.splitlines() == [f"interrupted: nothing was written; {out} is as it was"]
    assert "Traceback" not in stderr
    assert _snapshot(out) == before
    assert _temporaries(out) == []


def test_the_next_run_removes_what_a_killed_run_left(finished_demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "X"
    shutil.copytree(finished_demo, out)
    (out / ".report.tmp-0123456789abcdef0123456789abcdef").mkdir()   # left by earlier versions
    status, _stderr = _signal_when_staged(_ketapain(*DEMO, "--out", out, "--overwrite"), out, signal.SIGKILL)
    assert status == -signal.SIGKILL
    assert any(n.endswith(".tmp") for n in _temporaries(out)), "SIGKILL leaves the temporary folder"
    proc = _ketapain(*DEMO, "--out", out, "--overwrite")
    _stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    assert _temporaries(out) == []
    assert sorted(p.name for p in out.iterdir()) == ["data", "report"]
