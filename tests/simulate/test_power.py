"""Simulation-based power (``ketapain.simulate.simulate_power``) and ``ketapain power``.

References used here: the AUC definition of :func:`ketapain.stats.diary_auc` (compared on
the same simulated diaries); the analytic power of :func:`ketapain.design.crossover_power`
(noncentral t, AB/BA df n - 2), which a simulation of a normal-theory analysis must match
within Monte-Carlo error; and the binomial facts that under the null the rejection rate is
alpha and that ``mc_se = sqrt(p (1 - p) / sims)``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from ketapain.cli import app as cli_app
from ketapain.cli._power import parse_n
from ketapain.design import protocol_sequences
from ketapain.errors import ModelError, ProtocolError
from ketapain.protocol import load_protocol
from ketapain.report import plot_power
from ketapain.simulate import (
    PowerResult,
    arm_effects,
    load_effects,
    load_parameters,
    simulate_power,
)
from ketapain.simulate._power_sim import (
    TRIALS_PER_BLOCK,
    Spec,
    _allocate,
    _simulate_block,
    trials_per_block,
)

NULL_AB = {"L": {"effect_amplitude": 0.0}}
# a constant 1-point reduction in every diary day: AUC difference ~ -28 pain-score-days
ONE_POINT_AB = {"L": {"effect_amplitude": -1.0, "effect_tau_days": 1000.0}}


# --- allocation and dropout --------------------------------------------------------------------

def _spec(protocol: str = "ketapain", *, dropout: float = 0.0, sims: int = 100) -> Spec:
    proto = load_protocol(protocol)
    params = load_parameters()
    ep = proto.primary_endpoint
    return Spec(protocol=proto, parameters=params, entries=tuple(arm_effects(proto, params).values()),
                arms=proto.arm_codes, sequences=protocol_sequences(proto), block_size=proto.randomisation.block_size,
                entropy=11, sims=sims, dropout=dropout, missing="none", model="standard", df_method="kenward-roger",
                alpha=0.05, value=ep.value, window=ep.window_day, impute=ep.impute, time_axis=proto.auc.time_axis,
                pairs=("K - KM", "K - P", "KM - P"))


def test_allocation_balanced_in_whole_blocks() -> None:
    spec = _spec()
    seq, arm = _allocate(spec, np.random.default_rng(1), 50, 18)  # 18 = 3 blocks of 6
    for t in range(50):
        assert np.bincount(seq[t], minlength=6).tolist() == [3] * 6
    # each patient gets every arm once; each period has every arm 6 times
    assert (np.sort(arm, axis=-1) == np.arange(3)).all()
    for p in range(3):
        assert (np.apply_along_axis(np.bincount, 1, arm[:, :, p], minlength=3) == 6).all()


def test_dropout_removes_later_periods_only() -> None:
    auc, _, _ = _simulate_block(_spec(dropout=0.4), 20, 0)
    gone = np.isnan(auc)  # missing="none": every NaN comes from dropout
    assert not gone[:, :, 0].any()
    assert (gone[:, :, 1] <= gone[:, :, 2]).all()  # monotone: after period 2 is lost, 3 is too
    # expected share lost: 0.4 x E[periods lost | leaver] / 3 = 0.4 x 1.5 / 3 = 0.2 (one block of patients)
    share = gone.mean()
    patients = gone.shape[0] * gone.shape[1]
    assert patients >= 2000
    assert abs(share - 0.2) < 4 * math.sqrt(0.2 * 0.8 / patients) * 1.5  # patients' periods are correlated
    assert not np.isnan(_simulate_block(_spec(dropout=0.0), 20, 0)[0]).any()


# --- determinism and split invariance ----------------------------------------------------------

def test_same_seed_same_result_and_seed_matters() -> None:
    a = simulate_power("ab_ba_example", n=[8], sims=60, seed=5)
    b = simulate_power("ab_ba_example", n=[8], sims=60, seed=5)
    c = simulate_power("ab_ba_example", n=[8], sims=60, seed=6)
    assert a.to_dict() == b.to_dict()
    assert a.sd_within != c.sd_within
    g = simulate_power("ab_ba_example", n=[8], sims=60, seed=np.random.default_rng(3))
    assert g.seed == int(np.random.default_rng(3).integers(0, 2**63 - 1))


def test_chunk_size_and_grid_do_not_change_the_result() -> None:
    assert trials_per_block(10, 2, 28) == TRIALS_PER_BLOCK  # ab_ba_example: 2 periods of 28 diary days
    sims = 2 * TRIALS_PER_BLOCK + 30  # two whole blocks and a partial one
    kw = {"sims": sims, "seed": 21, "effects": ONE_POINT_AB}
    ref = simulate_power("ab_ba_example", n=[6, 10], chunk_size=10_000, **kw)
    for chunk in (1, 500, 700):
        got = simulate_power("ab_ba_example", n=[6, 10], chunk_size=chunk, **kw)
        assert got.to_dict() == ref.to_dict()
    # the n = 10 figures do not depend on the other sample sizes of the grid
    alone = simulate_power("ab_ba_example", n=[10], **kw)
    f_ref, f_alone = ref.to_frame(), alone.to_frame()
    pd.testing.assert_frame_equal(f_ref[f_ref.n == 10].reset_index(drop=True), f_alone)


def test_progress_reports_all_trials() -> None:
    seen: list[tuple[int, int]] = []
    simulate_power("ab_ba_example", n=[6, 8], sims=150, seed=1, chunk_size=100, on_progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (300, 300)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_trials_per_block() -> None:
    # min(500, max(1, 2,000,000 // (n P D))): KETAPAIN (3 x 35 days) keeps 500 up to n = 38
    assert trials_per_block(18, 3, 35) == 500 and trials_per_block(38, 3, 35) == 500
    assert trials_per_block(39, 3, 35) == 2_000_000 // (39 * 105) == 488
    assert trials_per_block(10_000, 3, 365) == 1  # one trial bigger than a block: a block of one


# --- Monte-Carlo sanity and agreement with the analytic power ---------------------------------

def test_null_effect_rejects_at_alpha() -> None:
    # no treatment effect: the omnibus rejection rate is alpha = 0.05 within 4 MC SE
    res = simulate_power("ab_ba_example", n=[12], sims=1000, seed=4, effects=NULL_AB)
    row = res.to_frame().set_index("contrast").loc["omnibus"]
    assert abs(row.power - 0.05) < 4 * math.sqrt(0.05 * 0.95 / 1000)
    res3 = simulate_power("ketapain", n=[12], sims=500, seed=4,
                          effects={"K": {"effect_amplitude": 0.0}, "KM": {"effect_amplitude": 0.0}})
    f3 = res3.to_frame().set_index("contrast")
    assert abs(f3.loc["omnibus", "power"] - 0.05) < 4 * math.sqrt(0.05 * 0.95 / 500)
    # each Sidak pair tests at 1 - 0.95^(1/3) = 0.01695
    for pair in res3.contrasts:
        assert f3.loc[pair, "power"] < 0.01695 + 4 * math.sqrt(0.01695 * (1 - 0.01695) / 500)


def test_large_effect_power_tends_to_one() -> None:
    res = simulate_power("ketapain", n=[12], sims=200, seed=2,
                         effects={"K": {"effect_amplitude": -4.0, "effect_tau_days": 1000.0},
                                  "KM": {"effect_amplitude": -4.0, "effect_tau_days": 1000.0}})
    f = res.to_frame().set_index("contrast")
    assert f.loc["omnibus", "power"] == 1.0
    assert f.loc["K - P", "power"] == 1.0 and f.loc["KM - P", "power"] == 1.0
    assert f.loc["K - KM", "power"] < 0.1  # K and KM are equal here
    assert f.loc["K - P", "mean_estimate"] < -100  # ~ -4 x 35 = -140 pain-score-days, attenuated by 0..10 clipping


def test_agrees_with_analytic_power_ab_ba() -> None:
    # AB/BA, complete AUCs (LOCF), Kenward-Roger df = n - 2 = crossover_power's df: the only
    # differences are MC error and the non-normality of rounded diaries.
    res = simulate_power("ab_ba_example", n=[12, 24], sims=1000, seed=3, effects=ONE_POINT_AB)
    f = res.to_frame()
    pair = f[f.contrast == "L - P"]
    assert ((pair.power - pair.analytic_power).abs() < 4 * pair.mc_se).all()
    assert (pair.power > 0.3).all() and (pair.power < 0.95).all()  # informative range
    # with two arms the omnibus F is the square of the t test
    omni = f[f.contrast == "omnibus"]
    assert omni.power.tolist() == pair.power.tolist()
    assert_allclose(omni.analytic_power.to_numpy(), pair.analytic_power.to_numpy(), rtol=1e-6)
    # the analytic column is crossover_power at the simulated difference and SD
    from ketapain.design import crossover_power

    row = pair.iloc[0]
    expected = crossover_power(12, diff=row.mean_estimate, sd_within=res.sd_within[0], periods=2)
    assert row.analytic_power == pytest.approx(expected, rel=1e-12)


def test_mc_se_formula() -> None:
    res = simulate_power("ab_ba_example", n=[8], sims=120, seed=1, effects=ONE_POINT_AB)
    for e in res.estimates:
        assert e.power == e.rejections / 120
        assert e.mc_se == pytest.approx(math.sqrt(e.power * (1 - e.power) / 120), rel=1e-15)


# --- result object and figure -----------------------------------------------------------------

def test_result_object() -> None:
    res = simulate_power("ketapain", n=[6, 9], sims=40, seed=1, model="paper", dropout=0.1)
    assert isinstance(res, PowerResult)
    frame = res.to_frame()
    assert frame.columns[:6].tolist() == ["n", "contrast", "power", "mc_se", "analytic_power", "sims"]
    assert frame.contrast.tolist() == ["omnibus", "K - KM", "K - P", "KM - P"] * 2
    d = json.loads(json.dumps(res.to_dict()))
    assert d["model"] == "paper" and d["dropout"] == 0.1 and d["n"] == [6, 9]
    assert d["effects"]["K"] == {"effect_amplitude": -1.1, "effect_tau_days": 4.0}
    text = res.summary()
    assert "omnibus" in text and "K - P" in text and "seed 1" in text
    with pytest.raises(AttributeError):
        res.sims = 3  # type: ignore[misc]


def test_plot_power_returns_axes() -> None:
    res = simulate_power("ab_ba_example", n=[6, 8], sims=30, seed=1, effects=ONE_POINT_AB)
    ax = plot_power(res)
    assert ax.get_xlabel() == "patients (n)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "omnibus (simulated)" in labels and "L - P (analytic)" in labels


# --- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n": [2]}, "n: 2 is not an integer >= 3"),
    ({"n": [8, 8]}, "repeat"),
    ({"n": []}, "at least one"),
    ({"sims": 0}, "sims=0"),
    ({"dropout": 1.0}, "dropout=1.0"),
    ({"model": "full"}, "model='full' is not one of standard, paper"),
    ({"missing": "some"}, "missing='some'"),
    ({"chunk_size": 0}, "chunk_size=0"),
    ({"seed": -1}, "seed=-1"),
])
def test_bad_arguments(kwargs: dict, match: str) -> None:
    args = {"n": [8], "sims": 10, "seed": 1} | kwargs
    with pytest.raises(ModelError, match=match):
        simulate_power("ab_ba_example", **args)


@pytest.mark.parametrize(("effects", "match"), [
    ({"X": {"effect_amplitude": 1.0}}, "arm 'X' is not an arm of protocol 'ab_ba_example'"),
    ({"L": {"amplitude": 1.0}}, "unknown key 'amplitude'"),
    ({"L": {"effect_tau_days": 0.0}}, "effect_tau_days=0.0 must be > 0"),
    ({"L": {"effect_amplitude": float("nan")}}, "finite number"),
    ({"L": {}}, "needs a table"),
])
def test_bad_effects(effects: dict, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        simulate_power("ab_ba_example", n=[8], sims=10, seed=1, effects=effects)


def test_load_effects(tmp_path) -> None:
    f = tmp_path / "eff.toml"
    f.write_text("[arms.L]\neffect_amplitude = -2.5\neffect_tau_days = 10\n")
    assert load_effects(f) == {"L": {"effect_amplitude": -2.5, "effect_tau_days": 10}}
    (tmp_path / "bad.toml").write_text("[arms\n")
    with pytest.raises(ProtocolError, match="not a valid TOML"):
        load_effects(tmp_path / "bad.toml")
    (tmp_path / "empty.toml").write_text("x = 1\n")
    with pytest.raises(ProtocolError, match=r"needs \[arms.<code>\]"):
        load_effects(tmp_path / "empty.toml")
    with pytest.raises(ProtocolError, match="cannot read"):
        load_effects(tmp_path / "none.toml")


# --- CLI ------------------------------------------------------------------------------------------

APP = cli_app
RUNNER = CliRunner()


@given(a=st.integers(3, 60), span=st.integers(0, 40), step=st.integers(1, 7))
@settings(max_examples=50, deadline=None)
def test_parse_n_range(a: int, span: int, step: int) -> None:
    assert parse_n(f"{a}:{a + span}:{step}") == list(range(a, a + span + 1, step))


def test_parse_n_forms() -> None:
    assert parse_n("12:40:2")[:3] == [12, 14, 16] and parse_n("12:40:2")[-1] == 40
    assert parse_n("12,16,20") == [12, 16, 20]
    assert parse_n("5:7") == [5, 6, 7]


@pytest.mark.parametrize(("args", "match"), [
    (["--patients", "12:x"], "error: --patients '12:x': expected A:B:STEP (A to B inclusive"),
    (["--patients", "20:12:2"], "error: --patients '20:12:2'"),
    (["--patients", "12:20:0"], "error: --patients '12:20:0'"),
    (["--patients", "2,4"], "integers >= 3"),
    (["--patients", "8", "--model", "full"], "error: --model 'full' is not one of standard, paper\n"),
    (["--patients", "8", "--missing", "x"], "error: --missing 'x' is not one of mcar, mar, mnar, none\n"),
    (["--patients", "8", "--dropout", "1.5"], "error: --dropout 1.5 must be a probability in [0, 1)\n"),
    (["--patients", "8", "--sims", "0"], "error: --sims 0 must be an integer in [1, 100000]\n"),
    (["--patients", "8", "--workers", "2", "--scheduler", "tcp://x:1"], "--workers and --scheduler exclude each other"),
    (["--patients", "8", "--workers", "0"], "--workers 0"),
    (["--patients", "8", "--plot", "out.jpg"], "--plot 'out.jpg': the file must end in .png, .svg, .pdf"),
    (["--patients", "8", "--protocol", "nosuch"], "nosuch"),
    (["--sims", "8"], "error: give --patients: A:B:STEP"),
])
def test_cli_errors(args: list[str], match: str) -> None:
    res = RUNNER.invoke(APP, ["power", *args])
    assert res.exit_code == 1
    assert match in res.stderr
    assert res.stderr.startswith("error: ")


def test_cli_effect_file_error(tmp_path) -> None:
    f = tmp_path / "eff.toml"
    f.write_text("[arms.Q]\neffect_amplitude = 1\n")
    res = RUNNER.invoke(APP, ["power", "--protocol", "ab_ba_example", "--patients", "8", "--sims", "5", "--seed", "1",
                              "--effect-file", str(f)])
    assert res.exit_code == 1 and "arm 'Q' is not an arm" in res.stderr


def test_cli_json_and_plot(tmp_path) -> None:
    f = tmp_path / "eff.toml"
    f.write_text("[arms.L]\neffect_amplitude = -1.0\neffect_tau_days = 1000\n")
    out = tmp_path / "curve.svg"
    res = RUNNER.invoke(APP, ["power", "--protocol", "ab_ba_example", "--patients", "6:10:2", "--sims", "50", "--seed", "9",
                              "--effect-file", str(f), "--json", "--plot", str(out)])
    assert res.exit_code == 0, res.stderr
    d = json.loads(res.stdout)
    lib = simulate_power("ab_ba_example", n=[6, 8, 10], sims=50, seed=9, effects=load_effects(f))
    assert d == json.loads(json.dumps(lib.to_dict()))
    assert out.read_text().lstrip().startswith("<?xml")


def test_cli_table_output() -> None:
    res = RUNNER.invoke(APP, ["power", "--protocol", "ab_ba_example", "--patients", "6", "--sims", "20", "--seed", "2"])
    assert res.exit_code == 0, res.stderr
    assert "Simulated power: ab_ba_example" in res.stdout and "L - P" in res.stdout


def test_a_degenerate_trial_fit_is_failed_never_a_rejection(monkeypatch) -> None:
    """issue 19: a fit that converged but trips a degenerate-fit rule counts as failed. Flag
    every other trial as degenerate (the rule itself is tested in tests/stats/test_degenerate):
    rejections can only come from the others, and failed counts the flagged ones."""
    import ketapain.simulate._power_sim as ps

    big = {"K": {"effect_amplitude": -4.0, "effect_tau_days": 1000.0},
           "KM": {"effect_amplitude": -4.0, "effect_tau_days": 1000.0}}
    full = simulate_power("ketapain", n=[12], sims=40, seed=2, effects=big)
    assert full.failed == (0,) and full.to_frame().set_index("contrast").loc["omnibus", "rejections"] == 40

    def every_other(**kw):
        g = kw["estimate"].shape[0]
        return np.arange(g) % 2 == 1

    monkeypatch.setattr(ps, "degenerate_mask", every_other)
    half = simulate_power("ketapain", n=[12], sims=40, seed=2, effects=big)
    assert half.failed == (20,)
    assert half.to_frame().set_index("contrast").loc["omnibus", "rejections"] == 20
