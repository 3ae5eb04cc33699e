"""``protocol show`` and ``protocol validate`` (a local Typer app with protocol_app, CliRunner)."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.protocol import Protocol, load_protocol

runner = CliRunner()

KETAPAIN_TEXT = (resources.files("ketapain.protocol") / "files" / "ketapain.toml").read_text(encoding="utf-8")


def run(*args: object):
    return runner.invoke(app, ["protocol", *(str(a) for a in args)])


def write(tmp_path: Path, text: str, name: str = "study.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_show_shipped_name() -> None:
    result = run("show", "ketapain")
    assert result.exit_code == 0, result.output
    out = result.output
    for expected in ("NCT02467517", "williams, 3 arms, 3 periods of 35 days, 6 sequences", "blocks of 6",
                     "bag_45ml", "22.5 ml/h", "ketamine 0.5 mg/kg", "placebo (matches", "dn4.total >= 4",
                     "auc_avg_pain_d35", "model paper, carry-over test-drop", "n = 18"):
        assert expected in out, expected


def test_show_visit_windows(tmp_path: Path) -> None:
    text = KETAPAIN_TEXT.replace('name = "end_period_1"\nday = 35', 'name = "end_period_1"\nday = 35\nwindow_days = 7')
    assert text != KETAPAIN_TEXT
    result = run("show", write(tmp_path, text))
    assert result.exit_code == 0, result.output
    assert re.search(r"end_period_1\W+35\W+± 7 days", result.output), result.output
    assert re.search(r"end_period_2\W+70\W+-\W", result.output)


def test_show_json_is_the_model_dump(tmp_path: Path) -> None:
    result = run("show", "ab_ba_example", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data == load_protocol("ab_ba_example").model_dump(mode="json")
    assert Protocol.from_dict(data) == load_protocol("ab_ba_example")


def test_show_file(tmp_path: Path) -> None:
    path = write(tmp_path, KETAPAIN_TEXT)
    result = run("show", path, "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["study"]["id"] == "ketapain"


def test_show_unknown_name() -> None:
    result = run("show", "nope")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "error: nope: no such protocol file; shipped protocols: ab_ba_example, ketapain, oral_ab_ba_example\n"


def test_validate_ok(tmp_path: Path) -> None:
    path = write(tmp_path, KETAPAIN_TEXT)
    result = run("validate", path)
    assert result.exit_code == 0
    assert result.stdout == f"OK: {path}\n"


def test_validate_lists_every_error(tmp_path: Path) -> None:
    text = KETAPAIN_TEXT.replace('df_method = "kenward-roger"', 'df_method = "wald"').replace("period_days = 35\n", "", 1)
    path = write(tmp_path, text, "bad.toml")
    result = run("validate", path)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: bad.toml: design.period_days: required key missing",
        "error: bad.toml: analysis.df_method: 'wald' is not one of kenward-roger, satterthwaite, containment, normal",
    ]


def test_validate_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[study\n", "broken.toml")
    result = run("validate", path)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: broken.toml: TOML syntax error: ")


def test_validate_missing_file(tmp_path: Path) -> None:
    result = run("validate", tmp_path / "absent.toml")
    assert result.exit_code == 1
    assert "absent.toml: no such protocol file" in result.stderr


def test_show_an_oral_protocol() -> None:
    result = run("show", "oral_ab_ba_example")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "administrations" in out and "infusions" not in out.split("administrations")[0]
    assert "120 capsule(s)" in out and "pregabalin 75 mg per capsule" in out and "placebo (matches pregabalin)" in out
    assert "blinding: double-blind" in out
