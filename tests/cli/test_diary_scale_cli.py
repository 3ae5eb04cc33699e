"""A VAS 0..100 trial from the command line, as a statistician starts one: ``ketapain init``,
edit ``[diary] scale_max``, simulate data into the folder, ``ketapain check``, ``ketapain analyze``.
Before, ``check`` and ``analyze`` refused every diary value above 10."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from ketapain.cli import app

runner = CliRunner()


def test_init_edit_scale_check_analyze_a_vas_trial(tmp_path: Path) -> None:
    trial, sim, report = tmp_path / "trial", tmp_path / "sim", tmp_path / "report"
    assert runner.invoke(app, ["init", str(trial), "--design", "ab/ba"]).exit_code == 0
    toml = trial / "protocol.toml"
    text = toml.read_text(encoding="utf-8")
    assert "scale_max = 10\n" in text
    toml.write_text(text.replace("scale_max = 10\n", "scale_max = 100\n"), encoding="utf-8")
    res = runner.invoke(app, ["simulate", "--protocol", str(toml), "--out", str(sim), "--seed", "1", "--patients", "10"])
    assert res.exit_code == 0, res.output
    for f in sim.iterdir():
        shutil.copy(f, trial / f.name)
    assert pd.read_csv(trial / "diary.csv")["avg_pain"].max() > 10

    checked = runner.invoke(app, ["check", str(trial)])
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.splitlines()[-1].startswith(f"OK: {trial} against protocol 'my_trial'")

    res = runner.invoke(app, ["analyze", str(trial), "--out", str(report), "--seed", "1", "--no-pdf", "--quiet"])
    assert res.exit_code == 0, res.output
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    assert results["study"]["diary_scale"] == [0.0, 100.0]
    assert results["settings"]["sensitivity"]["tipping_deltas"][0] == -30.0
    html = (report / "index.html").read_text(encoding="utf-8")
    assert "Pre-infusion pain (0-100 scale)" in html and "NRS 0-10" not in html
    assert "delta = -30 to 30 pain points on the 0-100 scale" in html

    for fmt in ("odm", "adam"):  # export read the folder on the protocol's scale (it read 0..10 first)
        res = runner.invoke(app, ["export", str(trial), "--format", fmt, "--out", str(tmp_path / fmt)])
        assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["import", str(next((tmp_path / "odm").glob("*.xml"))), "--format", "odm",
                              "--out", str(tmp_path / "back")])
    assert res.exit_code == 0, res.output
    assert pd.read_csv(tmp_path / "back" / "diary.csv")["avg_pain"].max() > 10

    diary = pd.read_csv(trial / "diary.csv", dtype=str, keep_default_na=False)
    diary.loc[3, "avg_pain"] = "101"
    diary.to_csv(trial / "diary.csv", index=False)
    checked = runner.invoke(app, ["check", str(trial)])
    assert checked.exit_code == 1
    assert "diary.csv row 5: avg_pain=101 is outside 0..100" in checked.output
    res = runner.invoke(app, ["analyze", str(trial), "--out", str(tmp_path / "again"), "--seed", "1", "--no-pdf"])
    assert res.exit_code == 1 and "nothing analysed" in res.output
