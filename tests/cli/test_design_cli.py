"""``ketapain samplesize`` and ``ketapain design`` through Typer's CliRunner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.design import crossover_sample_size

RUNNER = CliRunner()
STATED = ["samplesize", "--diff", "57", "--sd", "38", "--rho", "0.5", "--alpha", "0.02", "--power", "0.9"]


def run(*args: str):
    return RUNNER.invoke(app, list(args))


def test_samplesize_text_for_the_reference_study() -> None:
    res = run(*STATED)
    assert res.exit_code == 0, res.output
    assert "n = 10 patients (power 0.9411" in res.stdout
    assert "within-patient SD 26.87" in res.stdout and "formula:" in res.stdout


def test_samplesize_json_contract() -> None:
    res = run(*STATED, "--periods", "3", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) == {"n", "power", "method", "inputs", "formula"}
    expected = crossover_sample_size(57, sd=38, rho=0.5, alpha=0.02, power=0.9, periods=3)
    assert out["n"] == expected.n == 8
    assert out["power"] == pytest.approx(expected.power)
    assert out["method"] == "exact"
    assert out["inputs"]["periods"] == 3 and out["inputs"]["df"] == 12 and out["inputs"]["rho"] == 0.5


@pytest.mark.parametrize(
    ("extra", "n"),
    [
        (["--calculation", "normal"], 6),
        (["--df-formula", "paired"], 9),
        (["--multiplicity", "bonferroni", "--comparisons", "3"], 12),
        (["--periods", "3", "--multiple-of", "6"], 12),
    ],
)
def test_samplesize_options_reach_the_library(extra: list[str], n: int) -> None:
    res = run(*STATED, *extra, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["n"] == n


def test_samplesize_with_sd_within_or_sd_diff() -> None:
    a = json.loads(run("samplesize", "--diff", "57", "--sd-within", "38", "--alpha", "0.02", "--json").stdout)
    b = json.loads(run("samplesize", "--diff", "57", "--sd-diff", "53.74011537", "--alpha", "0.02", "--json").stdout)
    assert a["n"] == b["n"] == 15


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["samplesize", "--diff", "57", "--sd", "38"],
         "--sd needs --rho, the intra-patient correlation (or give --sd-within or --sd-diff)"),
        (["samplesize", "--diff", "57", "--sd", "38", "--rho", "1"],
         "--rho 1.0 must be a number in [-1, 1) (1 means no within-patient variance)"),
        (["samplesize", "--diff", "57", "--sd-within", "20", "--calculation", "z"],
         "--calculation 'z' is not one of exact, normal"),
        (["samplesize", "--diff", "57", "--sd-within", "20", "--df-formula", "kr"],
         "--df-formula 'kr' is not one of crossover, rm-anova, paired"),
        (["samplesize", "--diff", "57", "--sd-within", "20", "--multiplicity", "holm"],
         "--multiplicity 'holm' is not one of none, bonferroni, sidak"),
        (["design", "balanced", "A,B"], "KIND must be one of"),
        (["design", "williams", "A"], "at least 2 treatments"),
        (["design", "latin", "A,A,B"], "distinct"),
    ],
)
def test_user_errors_exit_1_with_message_on_stderr(args: list[str], message: str) -> None:
    res = run(*args)
    assert res.exit_code == 1
    assert res.stderr.startswith("error: ") and message in res.stderr
    assert res.stdout == ""


def test_design_williams_text() -> None:
    res = run("design", "williams", "P,K,KM")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "williams design, 3 treatments, 6 sequences x 3 periods"
    assert [ln.split()[-1] for ln in lines[1:7]] == ["P-K-KM", "K-KM-P", "KM-P-K", "KM-K-P", "P-KM-K", "K-P-KM"]
    assert "80.00%" in res.stdout and "100.00%" in res.stdout


def test_design_williams_json() -> None:
    res = run("design", "williams", "P,K,KM", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["design"]["labels"][:3] == ["P-K-KM", "K-KM-P", "KM-P-K"]
    assert out["properties"]["carryover_balanced"] is True
    assert out["properties"]["efficiency_carryover"] == pytest.approx(0.8)


@pytest.mark.parametrize(("kind", "n_seq"), [("latin", 4), ("all-orders", 24), ("williams", 4)])
def test_design_other_kinds(kind: str, n_seq: int) -> None:
    res = run("design", kind, "A, B, C, D", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["design"]["n_sequences"] == n_seq and out["design"]["treatments"] == ["A", "B", "C", "D"]
    assert out["properties"]["carryover_balanced"] is (kind != "latin")
