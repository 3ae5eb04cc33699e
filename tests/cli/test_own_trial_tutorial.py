"""docs/own-trial.md is a contract (issue 18): its commands run, in order, on its own files.

The tutorial marks what the test does with HTML comments before each fenced block:

- ``<!-- own-trial-run -->`` (or ``<!-- own-trial-run: exit 1 -->``): a ``bash`` block whose
  commands run one by one, as a user runs them (a subprocess through the ``ketapain`` script,
  a fresh HOME), in one scratch folder, and exit 0 (or 1);
- ``<!-- own-trial-output -->``: a ``text`` block, the output of the command before it: each of
  its lines is a line of that command's stdout or stderr, in order;
- ``<!-- own-trial-file: PATH -->``: a file written at PATH, as shown;
- ``<!-- own-trial-excerpt: PATH -->``: lines of PATH, one after the other, as it stands at
  that point (written by ``init``, or the hand-written diary sheet
  ``tests/data/own_trial/diary.csv``, copied in first: its excerpt is its first lines);
- ``<!-- own-trial-edit: PATH -->``: a ``diff`` block; each ``-`` line occurs once in PATH and
  is replaced by the ``+`` lines that follow it.

The trial is PREGA-X, written by hand (no simulation): 10 patients, oral pregabalin against
placebo, AB/BA, two 14-day periods.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from test_readme import user_env

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "own-trial.md"
DIARY_SHEET = ROOT / "tests" / "data" / "own_trial" / "diary.csv"
TIME_LIMIT_S = 600


@dataclass(frozen=True)
class Step:
    kind: str  # run, output, file, excerpt, edit
    arg: str  # the exit code of a run ("0" or "1"), the path of a file, excerpt or edit
    text: str
    line: int  # line of the opening fence


def tutorial_steps() -> list[Step]:
    """The marked fenced blocks of docs/own-trial.md, in order."""
    lines = TUTORIAL.read_text(encoding="utf-8").splitlines()
    steps = []
    for i, line in enumerate(lines):
        mark = re.fullmatch(r"<!-- own-trial-(run|output|file|excerpt|edit)(?::\s*(.+?))?\s*-->", line)
        if not mark:
            continue
        assert re.fullmatch(r"```\w*", lines[i + 1]), f"docs/own-trial.md line {i + 1}: no fenced block after it"
        end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith("```"))
        kind, arg = mark.group(1), mark.group(2) or ""
        if kind == "run":
            arg = {"": "0", "exit 1": "1"}[arg]
        steps.append(Step(kind, arg, "\n".join(lines[i + 2:end]) + "\n", i + 2))
    return steps


def apply_edit(path: Path, diff: str) -> None:
    text = path.read_text(encoding="utf-8")
    removed: str | None = None
    added: list[str] = []
    pairs = []
    for line in diff.splitlines():
        if line.startswith("-"):
            if removed is not None:
                pairs.append((removed, added))
            removed, added = line[1:], []
        elif line.startswith("+"):
            added.append(line[1:])
    assert removed is not None
    pairs.append((removed, added))
    for old, new in pairs:
        assert text.count(old + "\n") == 1, f"{path.name}: {old!r} is not one line of the file"
        text = text.replace(old + "\n", "".join(n + "\n" for n in new))
    path.write_text(text, encoding="utf-8")


def test_every_tutorial_step_runs_in_order(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    (work / "sheets").mkdir(parents=True)
    shutil.copy(DIARY_SHEET, work / "sheets" / "diary.csv")
    diary_excerpt = next(s.text for s in tutorial_steps() if s.kind == "excerpt" and s.arg == "sheets/diary.csv")
    assert DIARY_SHEET.read_text(encoding="utf-8").startswith(diary_excerpt)
    env = user_env(home)
    steps = tutorial_steps()
    assert [s.kind for s in steps].count("run") >= 7
    outputs: list[str] = []
    last: subprocess.CompletedProcess[str] | None = None
    for step in steps:
        where = f"docs/own-trial.md line {step.line}"
        if step.kind == "file":
            (work / step.arg).parent.mkdir(parents=True, exist_ok=True)
            (work / step.arg).write_text(step.text, encoding="utf-8")
        elif step.kind == "excerpt":
            assert step.text in (work / step.arg).read_text(encoding="utf-8"), where
        elif step.kind == "edit":
            apply_edit(work / step.arg, step.text)
        elif step.kind == "run":
            commands = [ln for ln in step.text.splitlines() if ln.strip() and not ln.startswith("#")]
            for command in commands:
                last = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True,
                                      timeout=TIME_LIMIT_S, check=False)
                assert last.returncode == int(step.arg), f"{where}: {command}\n{last.stdout}\n{last.stderr}"
                assert "Traceback" not in last.stderr, f"{where}: {command}\n{last.stderr}"
                outputs.append(command)
        else:  # output: every shown line, in order, among the command's lines
            assert last is not None, where
            printed = last.stdout.splitlines() + last.stderr.splitlines()
            shown = step.text.splitlines()
            assert [ln for ln in printed if ln in shown] == shown, f"{where}:\n{last.stdout}\n{last.stderr}"
    assert outputs[0].startswith("ketapain init ") and outputs[-1].startswith("ketapain analyze ")

    # what the tutorial says the report holds
    report = work / "prega_x" / "report"
    for name in ("index.html", "report.pdf", "results.json", "tables/table2.csv", "tables/pairwise.csv"):
        assert (report / name).is_file(), name
    assert list((report / "figures").glob("*.svg")) and list((report / "figures").glob("*.png"))
    html = (report / "index.html").read_text(encoding="utf-8")
    title = "PREGA-X: oral pregabalin versus placebo in chronic post-surgical pain, an AB/BA crossover"
    assert title in html and "10 patients were analysed." in html
    assert "night" not in html.lower() and "KETAPAIN" not in html
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    assert results["study"]["title"] == title and results["study"]["n_patients"] == 10
    assert [(a["code"], a["name"]) for a in results["study"]["arms"]] == [
        ("A", "pregabalin 75 mg twice daily"), ("B", "placebo")]
    table2 = pd.read_csv(report / "tables" / "table2.csv")
    primary = table2[table2["endpoint"] == "auc_avg_pain_d14"]
    assert primary[["treatment", "n"]].values.tolist() == [["A", 10], ["B", 10]]
    pairwise = pd.read_csv(report / "tables" / "pairwise.csv")
    row = pairwise[(pairwise["section"] == "table2") & (pairwise["outcome"] == "auc_avg_pain_d14")]
    assert len(row) == 1 and {row["a"].item(), row["b"].item()} == {"A", "B"}
    assert 0 < row["p_value"].item() < 0.05  # pregabalin's lower diary pain, written into the sheet
    pgic = [r for r in results["tables"]["table3"] if r["instrument"] == "pgic"]
    # PGIC at the end of each period only: no baseline, every patient in both arms
    assert [(r["timepoint"], r["n"]) for r in pgic] == [("A", 10), ("B", 10)]
    explained = {w["kind"] for w in results["warnings"]}
    assert "no_screening_log" in explained
    # no pain before the periods: responders are not analysed, said once (not as separations)
    responders = [(w["kind"], w["message"]) for w in results["warnings"] if w["section"] == "responders"]
    assert responders == [("not_analysed", "responders not analysed: every definition compares the period's mean "
                                           "pain with its pain before the period (allocation.pre_infusion_pain), "
                                           "blank on every row")]


def test_the_diary_sheet_is_the_hand_written_trial() -> None:
    # the sheet behind the tutorial: 10 patients x 2 periods x 14 days, both sequences, on the
    # 0..10 scale, a few blank days, A lower than B in every patient's weekly course
    sheet = pd.read_csv(DIARY_SHEET, dtype={"Patient": str})
    assert len(sheet) == 280 and sheet["Patient"].nunique() == 10
    assert sheet.groupby("Patient")["Day"].count().eq(28).all() and sheet["Day"].between(1, 14).all()
    sequences = sheet.groupby("Patient")["Treatment"].agg(lambda t: "".join(dict.fromkeys(t)))
    assert sequences.value_counts().to_dict() == {"AB": 5, "BA": 5}
    pain = sheet["Average pain"].dropna()
    assert pain.between(0, 10).all() and sheet["Average pain"].isna().sum() == 4
    by_arm = sheet.groupby(["Patient", "Treatment"])["Average pain"].mean().unstack()
    assert (by_arm["A"] < by_arm["B"]).all()


def test_every_route_of_init_is_in_the_tutorial() -> None:
    from ketapain.protocol import TEMPLATE_ROUTES

    text = TUTORIAL.read_text(encoding="utf-8")
    assert all(f"`{route}`" in text for route in TEMPLATE_ROUTES)
