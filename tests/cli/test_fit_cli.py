"""``ketapain fit`` through Typer's CliRunner (``demo`` is tested end to end in tests/report)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from ketapain.cli import app

RUNNER = CliRunner()
REF = Path(__file__).resolve().parents[1] / "reference" / "lmm"


def run(*args: str):
    return RUNNER.invoke(app, list(args))


def test_fit_json_contract_matches_stored_r_reference(tmp_path: Path) -> None:
    """Same numbers as tests/reference/lmm/expected/w3_balanced.json (lmerTest KR via pbkrtest)."""
    data = REF / "data" / "w3_balanced.csv"
    res = run("fit", str(data), "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    exp = json.loads((REF / "expected" / "w3_balanced.json").read_text())
    assert set(out) >= {"n_obs", "n_subjects", "model", "fixed_effects", "variance", "icc", "loglik", "aic",
                        "bic", "singular", "treatment_test", "contrasts", "effect_sizes", "residual_normality",
                        "sequence_by_treatment", "carryover_test"}
    assert out["model"]["df_method"] == "kenward-roger" and out["model"]["method"] == "REML"
    assert_allclose(out["treatment_test"]["stat"], exp["kenward_roger"]["treatment"]["stat"], rtol=1e-5)
    assert_allclose(out["treatment_test"]["df_den"], exp["kenward_roger"]["treatment"]["df_den"], rtol=1e-4)
    assert [c["a"] + " - " + c["b"] for c in out["contrasts"]] == exp["kenward_roger"]["pairs"]["contrast"]
    assert {e["kind"] for e in out["effect_sizes"]} == {"total_sd", "d_z", "g_av", "d_model"}  # d_model: issue 19


def test_fit_options_reach_the_model(tmp_path: Path) -> None:
    data = REF / "data" / "w3_carryover.csv"
    out = json.loads(run("fit", str(data), "--json", "--carryover", "--model", "paper", "--df-method", "satterthwaite",
                         "--ref", "B", "--conf-level", "0.9").stdout)
    assert out["model"]["formula"] == "y ~ treatment + sequence + carryover + (1 | subject)"
    assert out["model"]["df_method"] == "satterthwaite" and out["model"]["conf_level"] == 0.9
    terms = [f["term"] for f in out["fixed_effects"]]
    assert "treatment[A]" in terms and "treatment[B]" not in terms and "carryover[A]" in terms
    assert out["carryover_test"]["df_num"] == 2


def test_fit_normal_df_gives_null_denominator() -> None:
    out = json.loads(run("fit", str(REF / "data" / "ab_ba.csv"), "--json", "--df-method", "normal").stdout)
    assert out["treatment_test"]["df_den"] is None
    assert all(f["df"] is None for f in out["fixed_effects"])
    assert out["carryover_test"] is None  # aliased in a 2x2


def test_fit_log_gives_ratios() -> None:
    out = json.loads(run("fit", str(REF / "data" / "lognormal.csv"), "--json", "--log").stdout)
    c = out["contrasts"][0]
    assert out["model"]["outcome_scale"] == "log"
    assert_allclose(c["ratio"], 2.718281828459045 ** c["estimate"], rtol=1e-12)
    assert c["ratio_ci"][0] < c["ratio"] < c["ratio_ci"][1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("subject,period,sequence,treatment,y\nS1,1,AB,A,1\nS1,2,AB,B,abc\n", "data.csv row 3: y='abc' is not a number"),
        ("subject,period,sequence,treatment,y\nS1,1,AB,,1\n", "data.csv row 2: treatment is empty"),
        ("subject,period,treatment,y\nS1,1,A,1\n", "required column(s) 'sequence' missing"),
        (
            "subject,period,sequence,treatment,y\nS1,1,AB,A,1\nS1,1,AB,B,2\n",
            "data.csv row 3: subject='S1' already has a row for period='1'",
        ),
        ("subject,period,sequence,treatment,y\nS1,1,AB,A,inf\n", "data.csv row 2: y='inf' is infinite"),
    ],
)
def test_fit_bad_input_exits_1_with_file_row_column_value(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "data.csv"
    path.write_text(content)
    res = run("fit", str(path), "--json")
    assert res.exit_code == 1
    assert message in res.stderr
    assert res.stdout == ""


def test_fit_model_error_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("subject,period,sequence,treatment,y\nS1,1,AB,A,1\nS1,2,AB,B,2\nS2,1,BA,B,3\nS2,2,BA,A,4\n")
    res = run("fit", str(path), "--df-method", "wald")
    assert res.exit_code == 1
    assert res.stderr == "error: data.csv: --df-method 'wald' is not one of kenward-roger, satterthwaite, containment, normal\n"


def test_version() -> None:
    from ketapain import __version__

    assert run("version").stdout.strip() == __version__


def _verdict(monkeypatch: pytest.MonkeyPatch, status: str, reason: str) -> None:
    """Make the degenerate-fit rules (tested in tests/stats/test_degenerate.py) give ``status``."""
    import ketapain.stats
    from ketapain.stats import ModelCheck

    monkeypatch.setattr(ketapain.stats, "check_crossover_fit", lambda fit: ModelCheck(status, (reason,)))


def test_fit_of_a_degenerate_model_prints_no_number(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 19: a fit the rules call not estimable is an error naming the reasons, never numbers;
    with --by, that group's JSON line is an error and the others are fitted."""
    _verdict(monkeypatch, "not_estimable", "|log OR| of treatment[B] = 37.7 > 10")
    res = run("fit", str(REF / "data" / "w3_balanced.csv"), "--json")
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr == "error: w3_balanced.csv: not estimable (degenerate fit): |log OR| of treatment[B] = 37.7 > 10\n"


def test_fit_by_reports_a_degenerate_group_as_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    data = (REF / "data" / "w3_balanced.csv").read_text().splitlines()
    path = tmp_path / "two.csv"
    path.write_text("\n".join([data[0] + ",trial", *(f"{line},{t}" for t in (1, 2) for line in data[1:])]) + "\n")
    _verdict(monkeypatch, "not_estimable", "random-intercept SD theta = 90.5 > 10 on the logit scale")
    res = run("fit", str(path), "--by", "trial", "--json")
    assert res.exit_code == 1
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert lines == [{"by": {"trial": str(t)}, "error": "not estimable (degenerate fit): random-intercept SD theta = 90.5 > 10 "
                                                   "on the logit scale"} for t in (1, 2)]


def test_fit_of_a_singular_model_warns_and_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    _verdict(monkeypatch, "singular", "boundary (singular) fit: between-patient variance estimated as 0")
    res = run("fit", str(REF / "data" / "w3_balanced.csv"), "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["n_subjects"] > 0
    assert "warning: boundary (singular) fit: between-patient variance estimated as 0\n" in res.stderr
