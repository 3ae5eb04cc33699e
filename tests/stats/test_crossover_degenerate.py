"""Degenerate and invalid input: a defined result or a clear error, never a crash or silent NaN."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from ketapain.errors import DataError, ModelError, SingularFitWarning, TwoStageTestingWarning
from ketapain.stats import fit_crossover


def williams(n_subjects: int = 12, *, sd_b: float = 1.0, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    seqs = ["ABC", "ACB", "BAC", "BCA", "CAB", "CBA"]
    rows = []
    for i in range(n_subjects):
        b = rng.normal(0, sd_b)
        for k, t in enumerate(seqs[i % 6]):
            rows.append((f"S{i}", k + 1, seqs[i % 6], t, 5 + {"A": 0, "B": -0.5, "C": 0.2}[t] + b + rng.normal()))
    return pd.DataFrame(rows, columns=["subject", "period", "sequence", "treatment", "y"])


def test_constant_outcome_is_a_model_error() -> None:
    data = williams().assign(y=3.0)
    with pytest.raises(ModelError, match="constant"):
        fit_crossover(data)


def test_outcome_fitted_exactly_by_period_is_a_model_error() -> None:
    # issue 18: a hand-made AB/BA trial whose BPI relief was 30 % at the end of period 1 and
    # 40 % at the end of period 2 for everyone; the residual is exactly 0 at theta near 0, where
    # the profiled deviance took log(0) (ValueError: math domain error) instead of refusing
    rows = [(f"S{i}", k, seq, seq[k - 1], 10.0 * (k + 2)) for i, seq in enumerate(["AB", "BA"] * 4) for k in (1, 2)]
    data = pd.DataFrame(rows, columns=["subject", "period", "sequence", "treatment", "y"])
    with pytest.raises(ModelError, match="fitted exactly"):
        fit_crossover(data, ref="B", model="standard", df_method="kenward-roger")


def test_fewer_than_two_subjects() -> None:
    data = williams()
    data.loc[data["subject"] != "S0", "y"] = np.nan
    with pytest.raises(ModelError, match="at least 2"):
        fit_crossover(data)


def test_no_subject_observed_twice() -> None:
    data = williams()
    data.loc[data["period"] > 1, "y"] = np.nan
    with pytest.raises(ModelError):
        fit_crossover(data)


def test_treatment_never_observed() -> None:
    data = williams()
    data.loc[data["treatment"] == "C", "y"] = np.nan
    with pytest.raises(ModelError, match="'C' have no observed y"):
        fit_crossover(data)


def test_infinite_value_names_row_and_column() -> None:
    data = williams()
    data.loc[4, "y"] = np.inf
    with pytest.raises(DataError, match=r"data row 6: y=inf is infinite"):
        fit_crossover(data)


def test_text_outcome_names_row() -> None:
    data = williams().astype({"y": object})
    data.loc[2, "y"] = "abc"
    with pytest.raises(DataError, match=r"data row 4: y='abc' is not a number"):
        fit_crossover(data)


def test_missing_column_lists_what_is_there() -> None:
    with pytest.raises(DataError, match="'sequence'"):
        fit_crossover(williams().drop(columns=["sequence"]))


def test_unknown_options_name_allowed_values() -> None:
    with pytest.raises(ModelError, match="kenward-roger, satterthwaite, containment, normal"):
        fit_crossover(williams(), df_method="wald")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="standard, paper"):
        fit_crossover(williams(), model="full")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="ref='Z' is not a treatment level; levels: A, B, C"):
        fit_crossover(williams(), ref="Z")
    with pytest.raises(ModelError, match="needs method='REML'"):
        fit_crossover(williams(), method="ML", df_method="kenward-roger")


def test_duplicate_period_rows() -> None:
    data = pd.concat([williams(), williams().iloc[[0]]])
    with pytest.raises(DataError, match="already has a row for period"):
        fit_crossover(data)


def test_carryover_aliased_in_ab_ba_is_explained() -> None:
    rows = [(f"S{i}", k + 1, s, t, float(i + k)) for i, s in enumerate(["AB", "BA"] * 4) for k, t in enumerate(s)]
    data = pd.DataFrame(rows, columns=["subject", "period", "sequence", "treatment", "y"])
    data["y"] += np.random.default_rng(0).normal(size=len(data))
    with pytest.raises(ModelError, match=r"carryover\[B\] are aliased.*2x2 AB/BA"):
        fit_crossover(data, carryover=True)
    res = fit_crossover(data)  # without carry-over the 2x2 fits; the carry-over test is not available
    assert res.carryover_test is None
    assert any("carry-over test not available" in n for n in res.notes)


def test_singular_fit_warns_and_reports() -> None:
    data = williams(24, sd_b=0.0, seed=3)
    with pytest.warns(SingularFitWarning, match="boundary"):
        res = fit_crossover(data, df_method="containment")
    assert res.singular and res.variance_subject == 0.0 and res.icc == 0.0
    assert all(math.isfinite(v) for v in res.se)
    assert any("singular" in n for n in res.notes)


def test_subject_with_single_observation_is_used() -> None:
    data = williams()
    data.loc[(data["subject"] == "S1") & (data["period"] > 1), "y"] = np.nan
    res = fit_crossover(data)
    assert res.n_obs == len(data) - 2 and res.n_subjects == 12


def test_previous_period_row_absent_needs_carryover_column() -> None:
    data = williams()
    data = data[~((data["subject"] == "S2") & (data["period"] == 2))]
    with pytest.raises(ModelError, match="no row for the period before period '3'"):
        fit_crossover(data, carryover=True)
    # With an explicit carryover column the same data fit.
    prev = {"S2": {1: "none", 3: "C"}}
    data = data.assign(carryover="none")
    for i, row in data.iterrows():
        p = int(row["period"])
        if p > 1:
            seq = row["sequence"]
            data.loc[i, "carryover"] = prev.get(row["subject"], {}).get(p, seq[p - 2])
    res = fit_crossover(data, carryover=True)
    assert "carryover[B]" in res.terms


def test_log_needs_positive_values() -> None:
    data = williams()
    data.loc[3, "y"] = -1.0
    with pytest.raises(ModelError, match=r"data row 5: y=-1.0 is not > 0"):
        fit_crossover(data, log=True)


def test_log_fit_reports_ratios() -> None:
    data = williams().assign(y=lambda d: np.exp(d["y"] / 5))
    res = fit_crossover(data, log=True)
    for c in res.contrasts:
        assert c.ratio == pytest.approx(math.exp(c.estimate))
        assert c.ratio_ci_low == pytest.approx(math.exp(c.ci_low))
    assert res.formula.startswith("log(y) ~")


def test_two_stage_carryover_warns() -> None:
    with pytest.warns(TwoStageTestingWarning, match="two-stage testing biases"):
        res = fit_crossover(williams(18), carryover="test-drop")
    assert res.carryover_test is not None


def test_no_nan_in_contract() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        res = fit_crossover(williams(24, sd_b=0.0, seed=3)).to_dict()
    import json

    json.dumps(res, allow_nan=False)  # raises ValueError on any NaN/inf


def test_one_subject_per_sequence_cannot_estimate_between_variance() -> None:
    """6 Williams sequences, 6 subjects: intercept + 5 sequence effects fit the 6 subject means
    exactly, leaving 0 between-subject df (the REML profile is flat in theta)."""
    with pytest.raises(ModelError, match="between-subject variance cannot be estimated"):
        fit_crossover(williams(6))


def _pain_auc() -> pd.DataFrame:
    """The shipped example (``ketapain examples``): AUC0-35 of the reference study's twin."""
    from importlib import resources

    with resources.files("ketapain.examples").joinpath("pain_auc.csv").open(encoding="utf-8") as fh:
        return pd.read_csv(fh)


def test_a_single_treatment_is_a_model_error_not_a_crash() -> None:
    """Issue 14: one treatment level raised ZeroDivisionError in the F test."""
    one = pd.DataFrame({"subject": list("aabbcc"), "period": [1, 2] * 3, "sequence": "AA", "treatment": "A",
                        "y": [1, 2, 3, 5, 2, 2.5]})
    with pytest.raises(ModelError, match=r"single treatment \('A'\): nothing to compare") as err:
        fit_crossover(one)
    assert err.value.column == "treatment" and err.value.value == "A"


def test_single_treatment_group_of_fit_by_is_reported_and_the_others_fitted(tmp_path) -> None:
    from typer.testing import CliRunner

    from ketapain.cli import app

    data = _pain_auc()
    broken = data.assign(trial=2, sequence="P-P-P", treatment="P")
    path = tmp_path / "by.csv"
    pd.concat([data.assign(trial=1), broken]).to_csv(path, index=False)
    res = CliRunner().invoke(app, ["fit", str(path), "--by", "trial", "--json"])
    assert res.exit_code == 1
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert [line["by"] for line in lines] == [{"trial": "1"}, {"trial": "2"}]  # values as the file spells them
    assert "contrasts" in lines[0] and "single treatment ('P')" in lines[1]["error"]
    assert "Traceback" not in res.output and "ZeroDivisionError" not in res.output


@pytest.mark.parametrize("scale", [1e-50, 1e-12, 1e-3, 1e3, 1e12, 1e50])
def test_results_are_equivariant_in_the_outcome_scale(scale: float) -> None:
    """Multiplying the outcome by c multiplies estimates by c and leaves P values and
    standardised effect sizes unchanged (exact algebra of the linear mixed model); issue 14
    found a traceback at 1e50 (overflow in the effect size's delta-method variance)."""
    data = _pain_auc()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = fit_crossover(data).to_dict()
        scaled = fit_crossover(data.assign(y=data["y"] * scale)).to_dict()
    est = np.array([r["estimate"] for r in base["fixed_effects"]])
    est_s = np.array([r["estimate"] for r in scaled["fixed_effects"]])
    np.testing.assert_allclose(est_s / scale, est, rtol=1e-8)
    np.testing.assert_allclose([r["p"] for r in scaled["contrasts"]], [r["p"] for r in base["contrasts"]], atol=1e-10)
    np.testing.assert_allclose([r["estimate"] for r in scaled["effect_sizes"]], [r["estimate"] for r in base["effect_sizes"]],
                               atol=1e-10)


def test_an_outcome_beyond_double_precision_is_refused_clearly() -> None:
    data = _pain_auc()
    with pytest.raises(ModelError, match=r"y: values up to \d\.\d+e\+152 in size cannot be fitted in double precision"):
        fit_crossover(data.assign(y=data["y"] * 1e150))
    with pytest.raises(ModelError, match="rescale the outcome"):
        fit_crossover(data.assign(y=data["y"] * 1e-150))
