"""``ketapain fit`` progress and memory estimate on stderr (issue 14); not timed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.cli._progress import LARGE_ROWS, Progress, estimate_rows, memory_estimate

SEQS = ["AB", "BA"]


def write(path: Path, n_subjects: int = 8) -> None:
    lines = ["trial,subject,period,sequence,treatment,y"]
    for i in range(n_subjects):
        seq = SEQS[i % 2]
        for k, t in enumerate(seq):
            lines.append(f"{1 + i // 4},S{i},{k + 1},{seq},{t},{5 + i * 0.37 + k * 0.11 + (t == 'B') * 0.5 + (i * k % 3) * 0.2}")
    path.write_text("\n".join(lines) + "\n")


def test_estimate_rows_counts_a_small_file_and_scales_a_large_one(tmp_path: Path) -> None:
    csv = tmp_path / "d.csv"
    write(csv)
    assert estimate_rows(csv) == 16
    big = tmp_path / "big.csv"
    big.write_bytes(b"a,b\n" + b"1,2\n" * 500_000)  # 2 MB: only the first MB is read
    assert estimate_rows(big) == pytest.approx(500_000, rel=1e-3)
    assert estimate_rows(tmp_path / "missing.csv") is None
    # the estimate is the base plus a per-row cost (BENCHMARKS.md "Large fits": peak RSS of
    # 710,000 kB on 1 M rows, 1,770,000 kB on 5 M rows), a little above the measured peaks
    for rows, kb in ((1_000_000, 0.71e6), (5_000_000, 1.77e6)):
        assert kb * 1024 <= memory_estimate(rows) <= 1.1 * kb * 1024
    assert memory_estimate(2_000_000) - memory_estimate(1_000_000) == pytest.approx(memory_estimate(1_000_000) - memory_estimate(0))


@pytest.mark.parametrize("by", [[], ["--by", "trial"]])
def test_progress_on_stderr_only_and_stdout_unchanged(tmp_path: Path, by: list[str]) -> None:
    csv = tmp_path / "d.csv"
    write(csv)
    quiet = CliRunner().invoke(app, ["fit", str(csv), "--json", *by])
    shown = CliRunner().invoke(app, ["fit", str(csv), "--json", "--progress", *by])
    assert quiet.exit_code == shown.exit_code == 0, shown.output
    assert quiet.stderr == ""  # not a terminal and a small file: nothing by default
    assert shown.stdout == quiet.stdout
    [json.loads(line) for line in shown.stdout.splitlines()]
    lines = shown.stderr.splitlines()
    assert lines[0] == "progress: d.csv: ~16 rows; expected peak memory ~450 MB"
    assert all(line.startswith("progress: ") for line in lines)
    stages = [line.split(" (")[0] for line in lines[1:]]
    fitting = ["progress: fitting 2 groups of trial", "progress: group 1/2: trial=1", "progress: group 2/2: trial=2"] if by \
        else ["progress: fitting"]
    assert stages[:2] == ["progress: reading d.csv", "progress: checking 16 rows"]
    assert stages[2:-1] == fitting
    assert stages[-1].startswith("progress: done in ")


def test_default_needs_a_terminal_and_a_large_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv = tmp_path / "d.csv"
    write(csv)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert not Progress(csv, None).enabled  # a terminal, but 16 rows
    monkeypatch.setattr("ketapain.cli._progress.estimate_rows", lambda _path: LARGE_ROWS)
    assert Progress(csv, None).enabled
    assert not Progress(csv, False).enabled  # --no-progress
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert not Progress(csv, None).enabled  # redirected stderr: off unless --progress
    assert Progress(csv, True).enabled
