"""Every design ``ketapain init`` writes, end to end (issue 18): init -> data -> check -> analyze.

For the 2x2 AB/BA, the 3x3 and 4x4 Williams and the replicate ABAB/BABA designs: ``init``
writes the protocol, :func:`ketapain.simulate.simulate_trial` makes a small trial of it (the
simulator takes its arms, periods, visits and diary from the protocol), ``check`` accepts it,
``analyze --no-pdf --no-sensitivity`` reports it, and the report's primary model is the
design's: every treatment comparison (all pairs of arms), period and sequence terms, every
patient in every period.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ketapain.analysis import run_analysis
from ketapain.cli import app
from ketapain.data import TrialData
from ketapain.protocol import Protocol, load_protocol
from ketapain.simulate import simulate_trial

runner = CliRunner()

DESIGNS = [
    # init options, arm codes, periods, sequences, patients
    pytest.param(["--design", "ab/ba"], "AB", 2, {"A-B", "B-A"}, 8, id="ab/ba"),
    pytest.param(["--design", "williams", "--arms", "3"], "ABC", 3,
                 {"A-B-C", "B-C-A", "C-A-B", "A-C-B", "B-A-C", "C-B-A"}, 12, id="williams-3"),
    pytest.param(["--design", "williams", "--arms", "4"], "ABCD", 4, None, 8, id="williams-4"),
    # a replicate design: the per-patient figures show each patient's mean of an arm's periods
    # (report/_paper_outcomes._one_value_per_arm); before, analyze exited 1 drawing them
    pytest.param(["--design", "abab/baba"], "AB", 4, {"A-B-A-B", "B-A-B-A"}, 8, id="abab/baba"),
]
REPLICATE = DESIGNS[3].values


def _checked_trial(folder: Path, options: list[str], codes: str, periods: int, sequences: set[str] | None,
                   n: int) -> tuple[Protocol, TrialData]:
    """``init`` a trial folder, simulate its data into ``folder/data``, ``check`` it."""
    made = runner.invoke(app, ["init", str(folder), *options])
    assert made.exit_code == 0, made.output
    protocol_file = folder / "protocol.toml"
    protocol = load_protocol(protocol_file)
    assert protocol.arm_codes == tuple(codes) and protocol.design.periods == periods

    data = simulate_trial(protocol, seed=20, n_patients=n, missing="none")
    data.write(folder / "data")
    allocation = data.allocation
    assert all(sorted(p) == list(range(1, periods + 1)) for p in allocation.groupby("patient_id")["period"].apply(list))
    used = set(allocation["sequence"])
    if sequences is not None:
        assert used == sequences
    else:  # a 4x4 Williams square: 4 sequences, each arm once in each period and each sequence
        assert len(used) == 4 and all(sorted(s.split("-")) == list(codes) for s in used)
        assert all(sorted(s.split("-")[k] for s in used) == list(codes) for k in range(periods))

    checked = runner.invoke(app, ["check", str(folder / "data"), "--protocol", str(protocol_file)])
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.splitlines()[-1].startswith(f"OK: {folder / 'data'} against protocol 'my_trial'")
    return protocol, data


def _primary_model(models: list[dict[str, Any]], primary: str) -> dict[str, Any]:
    return next(m for m in models if m["section"] == "table2" and m["outcome"] == primary and m["model"] == "standard")


def _primary_pairs(contrasts: list[dict[str, Any]], primary: str) -> set[frozenset[str]]:
    return {frozenset((c["a"], c["b"])) for c in contrasts
            if c["section"] == "table2" and c["outcome"] == primary and c["model"] == "standard"}


@pytest.mark.parametrize(("options", "codes", "periods", "sequences", "n"), DESIGNS)
def test_a_design_from_init_to_the_report(tmp_path: Path, options: list[str], codes: str, periods: int,
                                          sequences: set[str] | None, n: int) -> None:
    folder = tmp_path / "trial"
    protocol, _ = _checked_trial(folder, options, codes, periods, sequences, n)
    protocol_file = folder / "protocol.toml"
    out = tmp_path / "report"
    analysed = runner.invoke(app, ["analyze", str(folder / "data"), "--protocol", str(protocol_file), "--out", str(out),
                                   "--no-pdf", "--no-sensitivity", "--seed", "3", "--quiet"])
    assert analysed.exit_code == 0, analysed.output
    assert (out / "index.html").is_file() and not (out / "report.pdf").exists()
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    study = results["study"]
    assert study["n_patients"] == n and study["periods"] == periods
    assert [a["code"] for a in study["arms"]] == list(codes) and study["reference_arm"] == codes[-1]

    primary = f"auc_avg_pain_d{protocol.design.period_days}"
    model = _primary_model(results["tables"]["models"], primary)
    assert model["formula"] == "auc ~ treatment + period + sequence + (1 | patient_id)"
    assert (model["n_subjects"], model["n_obs"]) == (n, n * periods)
    assert model["treatment_df_num"] == len(codes) - 1
    assert _primary_pairs(results["tables"]["contrasts"], primary) == {frozenset(p) for p in itertools.combinations(codes, 2)}
    table2 = [(r["treatment"], r["n"]) for r in results["tables"]["table2"] if r["endpoint"] == primary]
    assert table2 == [(c, n * periods // len(codes)) for c in codes]  # abab/baba: each arm twice per patient

    html = (out / "index.html").read_text(encoding="utf-8")
    assert f"Randomised {periods}-period crossover" in html and f"{n} patients were analysed." in html
    assert all(f"{a.code} = {a.name}" in html for a in protocol.arms)
    averaged = "A patient who had an arm in several periods is shown at the mean of those periods."
    assert (averaged in html) == (periods > len(codes))  # only the replicate design says it


def test_the_replicate_design_through_the_analysis(tmp_path: Path) -> None:
    # what `analyze` computes for ABAB/BABA:
    # each arm twice per patient, four period levels, two sequences
    options, codes, periods, sequences, n = REPLICATE
    protocol, data = _checked_trial(tmp_path / "trial", options, codes, periods, sequences, n)
    results = run_analysis(data, protocol, seed=3, sensitivity=False)
    primary = f"auc_avg_pain_d{protocol.design.period_days}"
    model = _primary_model(results.models.to_dict("records"), primary)
    assert model["formula"] == "auc ~ treatment + period + sequence + (1 | patient_id)"
    assert (model["n_subjects"], model["n_obs"], model["treatment_df_num"]) == (n, n * periods, 1)
    assert _primary_pairs(results.contrasts.to_dict("records"), primary) == {frozenset(codes)}
    table2 = results.table2[results.table2["endpoint"] == primary]
    assert table2[["treatment", "n"]].values.tolist() == [["A", 2 * n], ["B", 2 * n]]
    auc = results.patient_auc[results.patient_auc["endpoint"] == primary]
    assert auc.groupby(["patient_id", "treatment"]).size().eq(2).all() and sorted(auc["period"].unique()) == [1, 2, 3, 4]
