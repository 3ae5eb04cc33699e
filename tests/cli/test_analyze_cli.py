"""``ketapain demo`` and ``ketapain analyze`` never replace an earlier output without
``--overwrite`` and never touch files they did not write (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial

runner = CliRunner()


@pytest.fixture(scope="module")
def trial_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("trial") / "data"
    simulate_trial(load_protocol("ketapain"), n_patients=6, seed=11).write(folder)
    return folder


def test_demo_refuses_an_earlier_demo_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "X"
    (out / "report").mkdir(parents=True)
    (out / "report" / "index.html").write_text("earlier")
    res = runner.invoke(app, ["demo", "--out", str(out), "--patients", "6", "--no-pdf", "--quiet"])
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [f"error: {out} already holds a demo (report/); pass --overwrite to replace it"]
    assert (out / "report" / "index.html").read_text() == "earlier"


def test_demo_refuses_foreign_files_even_with_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "X"
    (out / "data").mkdir(parents=True)
    (out / "data" / "thesis.docx").write_text("mine")
    res = runner.invoke(app, ["demo", "--out", str(out), "--patients", "6", "--no-pdf", "--quiet", "--overwrite"])
    assert res.exit_code == 1
    assert "thesis.docx" in res.stderr and "refusing to replace it" in res.stderr
    assert sorted(p.name for p in out.rglob("*")) == ["data", "thesis.docx"]


def test_analyze_replaces_a_report_only_with_overwrite(trial_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = ["analyze", str(trial_dir), "--out", str(out), "--seed", "1", "--no-pdf", "--no-sensitivity", "--quiet"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    (out / "index.html").write_text("edited by hand")
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and (out / "index.html").read_text() == "edited by hand"
    assert again.stderr.startswith(f"error: {out} already holds a report (index.html, ") and "--overwrite" in again.stderr
    forced = runner.invoke(app, [*args, "--overwrite"])
    assert forced.exit_code == 0, forced.output
    assert (out / "index.html").read_text().startswith("<!DOCTYPE") and (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
