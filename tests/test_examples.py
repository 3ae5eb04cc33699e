"""``ketapain examples`` / :func:`ketapain.examples.write_examples`: the example input files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.errors import DataError
from ketapain.examples import EXAMPLE_FILES, load_example, write_examples

ROOT = Path(__file__).resolve().parents[1]


def test_writes_every_file_and_refuses_to_overwrite(tmp_path: Path) -> None:
    written = write_examples(tmp_path / "ex")
    assert sorted(p.name for p in written) == sorted(EXAMPLE_FILES)
    (tmp_path / "ex" / "pain_auc.csv").write_text("mine")
    with pytest.raises(DataError, match=r"already holds .*pain_auc\.csv.*; pass overwrite=True to replace them"):
        write_examples(tmp_path / "ex")
    assert (tmp_path / "ex" / "pain_auc.csv").read_text() == "mine"
    write_examples(tmp_path / "ex", overwrite=True)
    assert (tmp_path / "ex" / "pain_auc.csv").read_text().startswith("subject,period,sequence,treatment,y\n")
    assert sorted(p.name for p in (tmp_path / "ex").iterdir()) == sorted(EXAMPLE_FILES)  # no temporary files left


def test_cli_lists_what_each_file_holds(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["examples", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    for name, what in EXAMPLE_FILES.items():
        assert f"{tmp_path / name}" in res.stdout and what in res.stdout


def test_the_shipped_derived_files_are_what_the_tool_makes() -> None:
    """tools/make_examples.py is the one source of the derived files (no hand edits, no drift)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_examples", ROOT / "tools" / "make_examples.py")
    tool = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(tool)  # type: ignore[union-attr]
    tables = load_example()
    shipped = ROOT / "src" / "ketapain" / "examples"
    for name, text in tool.derived_files(tables["allocation"], tables["diary"]).items():
        assert (shipped / name).read_text(encoding="utf-8") == text, name


def test_pain_auc_by_hand() -> None:
    """y of pain_auc.csv is the trapezoidal AUC of avg_pain over days 0..35, day 0 = the
    pre-infusion score, missing days carried forward: recomputed here with plain numpy."""
    tables = load_example()
    diary, alloc = tables["diary"], tables["allocation"]
    auc = pd.read_csv(ROOT / "src" / "ketapain" / "examples" / "pain_auc.csv", dtype={"subject": str})
    for (pid, period), expected in auc.set_index(["subject", "period"])["y"].items():
        pre = alloc.loc[(alloc.patient_id == pid) & (alloc.period == period), "pre_infusion_pain"].item()
        days = diary[(diary.patient_id == pid) & (diary.period == period)].sort_values("day")
        y = np.concatenate([[pre], days["avg_pain"].to_numpy()[:35]])
        for i in range(1, len(y)):  # LOCF
            if np.isnan(y[i]):
                y[i] = y[i - 1]
        assert expected == pytest.approx(float(np.sum((y[1:] + y[:-1]) / 2)), abs=1e-4), (pid, period)


def test_answer_files_score_and_screen() -> None:
    from ketapain.instruments import get_instrument, score
    from ketapain.operations import evaluate_eligibility
    from ketapain.protocol import load_protocol

    folder = ROOT / "src" / "ketapain" / "examples"
    hads = score(get_instrument("hads"), json.loads((folder / "hads_answers.json").read_text()))
    assert (hads["anxiety"], hads["depression"]) == (11, 8)  # odd items 2+2+2+1+1+2+1, even 1+1+1+2+2+1+0
    answers = json.loads((folder / "screening_answers.json").read_text())
    items = answers.pop("dn4_items")
    assert evaluate_eligibility(load_protocol("ketapain"), answers, dn4_items=items).eligible
