"""``ketapain fit --by``: one fit per group, JSON lines with the single fit's schema."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.stats import fit_crossover
from ketapain.stats._batch import fit_crossover_batch

SEQS = ["ABC", "ACB", "BAC", "BCA", "CAB", "CBA"]


def write_trials(path: Path, n_trials: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(17)
    rows = [
        (tr, f"S{i:02d}", k + 1, SEQS[i % 6], t, 5 + (t == "B") + 0.3 * i + rng.normal())
        for tr in range(1, n_trials + 1) for i in range(12) for k, t in enumerate(SEQS[i % 6])
    ]
    frame = pd.DataFrame(rows, columns=["trial", "subject", "period", "sequence", "treatment", "y"])
    frame.to_csv(path, index=False)
    return frame


def test_by_json_lines_match_single_fits_and_batch(tmp_path: Path) -> None:
    csv = tmp_path / "trials.csv"
    frame = write_trials(csv)
    res = CliRunner().invoke(app, ["fit", str(csv), "--by", "trial", "--json"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.stdout.strip().splitlines()]
    assert [x["by"] for x in lines] == [{"trial": "1"}, {"trial": "2"}, {"trial": "3"}]
    batch = fit_crossover_batch(frame, outcome="y", by="trial")
    for obj in lines:
        tr = int(obj["by"]["trial"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            single = fit_crossover(frame[frame.trial == tr], outcome="y").to_dict()
        assert set(obj) == {"by", *single}
        assert_allclose(obj["treatment_test"]["p"], single["treatment_test"]["p"], rtol=1e-12)
        b = batch[batch.trial == tr].set_index("term")
        for c in obj["contrasts"]:
            assert_allclose(b.loc[f"{c['a']} - {c['b']}", "estimate"], c["estimate"], rtol=1e-5)


def test_by_reports_failed_group_and_exits_1(tmp_path: Path) -> None:
    csv = tmp_path / "trials.csv"
    frame = write_trials(csv, 2)
    bad = frame[(frame.trial == 2) & frame.subject.isin([f"S{i:02d}" for i in range(6)])]
    pd.concat([frame[frame.trial == 1], bad]).to_csv(csv, index=False)
    res = CliRunner().invoke(app, ["fit", str(csv), "--by", "trial", "--json"])
    assert res.exit_code == 1
    lines = [json.loads(x) for x in res.stdout.strip().splitlines()]
    assert "contrasts" in lines[0] and lines[1]["by"] == {"trial": "2"}
    assert "between-subject variance cannot be estimated" in lines[1]["error"]
    assert "trials.csv: trial=2:" in res.stderr


def test_by_missing_column_is_a_data_error(tmp_path: Path) -> None:
    csv = tmp_path / "trials.csv"
    write_trials(csv, 1)
    res = CliRunner().invoke(app, ["fit", str(csv), "--by", "arm"])
    assert res.exit_code == 1 and "trials.csv: required column(s) 'arm' missing" in res.stderr
