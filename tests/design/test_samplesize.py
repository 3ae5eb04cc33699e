"""Power and sample size for crossover comparisons, and the reference study's n = 18.

docs/reference-study.md ("Sample size as stated"): pilot 28-day AUC 164 +- 38, 35% reduction = 57, two-sided
alpha 2%, power 90%, intra-individual correlation 0.5, no carry-over -> 18 patients (20 enrolled).
"""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import stats as sps

from ketapain.design import SampleSizeResult, crossover_power, crossover_sample_size
from ketapain.errors import ModelError

DIFF, SD, RHO, ALPHA, POWER = 57.0, 38.0, 0.5, 0.02, 0.9
Z_99 = 2.3263478740  # z_{1 - 0.02/2}
Z_90 = 1.2815515655  # z_{0.90}
Z_BONF = 2.7130518885  # z_{1 - 0.02/(2*3)}, Bonferroni for 3 comparisons

# Each variant: (description, keyword arguments for crossover_sample_size, n it gives).
# sd_diff = SD of a patient's difference between two treatments.
VARIANTS = [
    # --- the stated inputs, used as stated: sd_diff = sqrt(2 (1 - 0.5)) 38 = 38 ---
    # normal: n = ((2.32635 + 1.28155) 38 / 57)^2 = (3.60790 * 0.66667)^2 = 2.40527^2 = 5.785 -> 6
    ("as stated, normal approximation", dict(sd=SD, rho=RHO, method="normal"), 6),
    # noncentral t, paired t test on the two treatments' differences, df = n - 1
    ("as stated, exact, paired t (df n-1)", dict(sd=SD, rho=RHO, df_method="paired"), 9),
    # noncentral t, AB/BA crossover (Chow, Shao & Wang 2008, 3.3, with sigma_w), df = n - 2
    ("as stated, exact, AB/BA crossover (df n-2)", dict(sd=SD, rho=RHO), 10),
    # 3-period crossover, subject + period + treatment: df = 2(n - 2)
    ("as stated, exact, 3 periods (df 2(n-2))", dict(sd=SD, rho=RHO, periods=3), 8),
    # 3 periods, subject + treatment only (RM-ANOVA): df = 2(n - 1)
    ("as stated, exact, 3 periods, RM-ANOVA (df 2(n-1))", dict(sd=SD, rho=RHO, periods=3, df_method="rm-anova"), 8),
    # 8 rounded up to a multiple of the 6 Williams sequences
    ("as stated, exact, 3 periods, multiple of 6", dict(sd=SD, rho=RHO, periods=3, multiple_of=6), 12),
    # one-sided alpha 0.02, normal: ((2.05375 + 1.28155) * 0.66667)^2 = 4.944 -> 5
    ("one-sided alpha 2%, normal", dict(sd=SD, rho=RHO, sides=1, method="normal"), 5),
    ("one-sided alpha 2%, exact AB/BA", dict(sd=SD, rho=RHO, sides=1), 8),
    # alpha 0.05 two-sided, normal: ((1.95996 + 1.28155) * 0.66667)^2 = 4.670 -> 5
    ("alpha 5%, normal", dict(sd=SD, rho=RHO, alpha=0.05, method="normal"), 5),
    ("alpha 5%, exact AB/BA", dict(sd=SD, rho=RHO, alpha=0.05), 8),
    # Bonferroni for 3 pairwise comparisons, alpha 0.02/3, normal:
    # ((2.71305 + 1.28155) * 0.66667)^2 = 7.092 -> 8
    ("Bonferroni x3, normal", dict(sd=SD, rho=RHO, method="normal", multiplicity="bonferroni", n_comparisons=3), 8),
    ("Bonferroni x3, exact paired (df n-1)", dict(sd=SD, rho=RHO, df_method="paired", multiplicity="bonferroni", n_comparisons=3), 11),
    ("Bonferroni x3, exact AB/BA (df n-2)", dict(sd=SD, rho=RHO, multiplicity="bonferroni", n_comparisons=3), 12),
    ("Bonferroni x3, exact, 3 periods", dict(sd=SD, rho=RHO, periods=3, multiplicity="bonferroni"), 10),
    ("Sidak x3, exact, 3 periods", dict(sd=SD, rho=RHO, periods=3, multiplicity="sidak"), 10),
    ("Bonferroni x3, exact, 3 periods, multiple of 6", dict(sd=SD, rho=RHO, periods=3, multiplicity="bonferroni", multiple_of=6), 12),
    # --- misreadings of the spread ---
    # "SD of the differences = 38": identical to the stated inputs, since sqrt(2 (1 - 0.5)) = 1
    ("sd_diff = sd = 38 (misreading), normal", dict(sd_diff=SD, method="normal"), 6),
    # sd_w = 38 sqrt(1 - 0.5) = 26.87 used as the SD of the differences (factor 2 forgotten)
    ("sd_diff = sd sqrt(1-rho) = 26.87, exact AB/BA", dict(sd_diff=SD * math.sqrt(0.5)), 7),
    # correlation ignored (rho = 0): sd_diff = sqrt(2) 38 = 53.74; normal: 2 * 5.785 = 11.571 -> 12
    ("rho ignored (0), normal", dict(sd=SD, rho=0.0, method="normal"), 12),
    ("rho ignored (0), exact paired", dict(sd=SD, rho=0.0, df_method="paired"), 15),
    ("rho ignored (0), exact AB/BA", dict(sd=SD, rho=0.0), 15),
    ("sd_within = sd = 38 (same as rho 0), exact AB/BA", dict(sd_within=SD), 15),
    ("rho ignored (0), exact, 3 periods", dict(sd=SD, rho=0.0, periods=3), 14),
    ("rho ignored (0), exact AB/BA, multiple of 6", dict(sd=SD, rho=0.0, multiple_of=6), 18),
    ("rho ignored (0), exact, 3 periods, multiple of 6", dict(sd=SD, rho=0.0, periods=3, multiple_of=6), 18),
    ("rho ignored (0), normal, multiple of 6", dict(sd=SD, rho=0.0, method="normal", multiple_of=6), 12),
    # rho 0 + Bonferroni, normal: 2 * 7.092 = 14.184 -> 15
    ("rho ignored + Bonferroni x3, normal", dict(sd=SD, rho=0.0, method="normal", multiplicity="bonferroni", n_comparisons=3), 15),
    (
        "rho ignored + Bonferroni x3, normal, multiple of 6",
        dict(sd=SD, rho=0.0, method="normal", multiplicity="bonferroni", n_comparisons=3, multiple_of=6),
        18,
    ),
    (
        "rho ignored + Bonferroni x3, exact paired (df n-1)",
        dict(sd=SD, rho=0.0, df_method="paired", multiplicity="bonferroni", n_comparisons=3),
        18,
    ),
    ("rho ignored + Bonferroni x3, exact AB/BA", dict(sd=SD, rho=0.0, multiplicity="bonferroni", n_comparisons=3), 19),
    ("rho ignored + Bonferroni x3, exact, 3 periods", dict(sd=SD, rho=0.0, periods=3, multiplicity="bonferroni"), 17),
]


def test_reference_study_sample_size_variants() -> None:
    """Every variant tried to reproduce n = 18, with the n it gives (table in docs/design.md).

    With the inputs as stated (correlation 0.5), no crossover formula gives 18: the answer is
    6 (normal) to 10 (exact), 12 at most with Bonferroni for 3 comparisons or rounding up to 6
    sequences. 18 appears only when the correlation is ignored (rho = 0), combined with
    Bonferroni or rounding up to a multiple of 6, or with a parallel-group formula (below).
    """
    got = {name: crossover_sample_size(DIFF, **{"alpha": ALPHA, "power": POWER, **kw}).n for name, kw, _ in VARIANTS}
    assert got == {name: n for name, _, n in VARIANTS}
    uses_stated_rho = {name for name, kw, _ in VARIANTS if kw.get("rho") == RHO}
    assert all(got[name] <= 12 for name in uses_stated_rho)
    assert {name for name, n in got.items() if n == 18} == {
        "rho ignored (0), exact AB/BA, multiple of 6",
        "rho ignored (0), exact, 3 periods, multiple of 6",
        "rho ignored + Bonferroni x3, normal, multiple of 6",
        "rho ignored + Bonferroni x3, exact paired (df n-1)",
    }

    # Independent hand computation of the normal-approximation sizes (unrounded):
    # n = ((z_{1-a/2} + z_{1-b}) sd_diff / diff)^2
    base = ((Z_99 + Z_90) * 38.0 / 57.0) ** 2
    assert_allclose(base, 5.785306, rtol=1e-6)  # -> 6
    assert_allclose(2 * base, 11.570612, rtol=1e-6)  # rho ignored -> 12
    assert_allclose(((Z_BONF + Z_90) * 38.0 / 57.0) ** 2, 7.091936, rtol=1e-6)  # -> 8
    assert_allclose(2 * ((Z_BONF + Z_90) * 38.0 / 57.0) ** 2, 14.183873, rtol=1e-6)  # -> 15 -> 18 (x6)
    assert_allclose([Z_99, Z_90, Z_BONF], sps.norm.ppf([0.99, 0.9, 1 - 0.02 / 6]), rtol=1e-9)

    # Not a crossover formula: two parallel groups, n per group = 2 sd^2 (z_{.99} + z_{.90})^2 / diff^2
    # = 2 * 1444 * 13.0169 / 3249 = 11.57 -> 12 per group (24); with ANCOVA on a baseline
    # correlated 0.5 (factor 1 - rho^2 = 0.75): 8.68 -> 9 per group = 18 in total.
    per_group = 2 * SD**2 * (Z_99 + Z_90) ** 2 / DIFF**2
    assert math.ceil(per_group) == 12
    assert 2 * math.ceil(per_group * (1 - RHO**2)) == 18

    # Omnibus F test of 3 treatments (one reduced by 57), 3-period crossover, df (2, 2(n-2)):
    # noncentrality n * (19^2 + 19^2 + 38^2) / (38^2 * 0.5) = 3 n; smallest n with power >= 0.9:
    def f_power(n: int) -> float:
        df2 = 2 * (n - 2)
        return float(sps.ncf.sf(sps.f.ppf(1 - ALPHA, 2, df2), 2, df2, 3.0 * n))

    assert min(n for n in range(3, 40) if f_power(n) >= POWER) == 8

    # 18 plus 10% expected drop-out: 18 / 0.9 = 20 enrolled.
    assert math.ceil(18 / 0.9) == 20


def test_normal_power_matches_hand_computation() -> None:
    # n = 6: ncp = 57 / (38 / sqrt(6)) = 3.67423; power = Phi(3.67423 - 2.32635) + Phi(-3.67423 - 2.32635)
    ncp = 57.0 / (38.0 / math.sqrt(6.0))
    expected = sps.norm.cdf(ncp - Z_99) + sps.norm.cdf(-ncp - Z_99)
    assert_allclose(crossover_power(6, diff=DIFF, sd=SD, rho=RHO, alpha=ALPHA, method="normal"), expected, rtol=1e-9)
    assert_allclose(expected, 0.911153, atol=1e-6)


def test_exact_power_matches_noncentral_t() -> None:
    # AB/BA, n = 10, df = 8, ncp = 57 / sqrt(2 * 722 / 10) = 4.74342
    ncp = 57.0 / math.sqrt(2 * 722.0 / 10)
    crit = sps.t.ppf(0.99, 8)
    expected = sps.nct.sf(crit, 8, ncp) + sps.nct.cdf(-crit, 8, ncp)
    got = crossover_power(10, diff=DIFF, sd_within=math.sqrt(722.0), alpha=ALPHA)
    assert_allclose(got, expected, rtol=1e-9)


def test_three_ways_of_giving_the_spread_agree() -> None:
    sw = SD * math.sqrt(1 - RHO)
    p1 = crossover_power(12, diff=DIFF, sd=SD, rho=RHO, alpha=ALPHA, periods=3)
    p2 = crossover_power(12, diff=DIFF, sd_within=sw, alpha=ALPHA, periods=3)
    p3 = crossover_power(12, diff=DIFF, sd_diff=sw * math.sqrt(2), alpha=ALPHA, periods=3)
    assert_allclose([p2, p3], [p1, p1], rtol=1e-12)


def test_result_contents_and_dict() -> None:
    res = crossover_sample_size(DIFF, sd=SD, rho=RHO, alpha=ALPHA, power=POWER, periods=3, multiplicity="bonferroni")
    assert isinstance(res, SampleSizeResult)
    assert res.n_comparisons == 3 and res.alpha_per_comparison == pytest.approx(0.02 / 3)
    assert res.df == 2 * (res.n - 2)
    assert res.power == pytest.approx(crossover_power(res.n, diff=DIFF, sd=SD, rho=RHO, alpha=ALPHA, periods=3, multiplicity="bonferroni"))
    d = res.to_dict()
    assert set(d) == {"n", "power", "method", "inputs", "formula"}
    assert d["inputs"]["sd_diff"] == pytest.approx(38.0)
    assert "noncentral t" in d["formula"] and "(n - 2)(p - 1)" in d["formula"]
    assert "n = 10 patients" in res.summary()
    normal = crossover_sample_size(DIFF, sd=SD, rho=RHO, alpha=ALPHA, method="normal")
    assert normal.df is None and "Phi" in normal.formula


def test_sidak_is_slightly_less_strict_than_bonferroni() -> None:
    b = crossover_sample_size(DIFF, sd=SD, rho=RHO, multiplicity="bonferroni", n_comparisons=5)
    s = crossover_sample_size(DIFF, sd=SD, rho=RHO, multiplicity="sidak", n_comparisons=5)
    assert s.alpha_per_comparison == pytest.approx(1 - 0.95**0.2) and s.alpha_per_comparison > b.alpha_per_comparison
    assert s.power >= b.power


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(diff=57), "give exactly one of sd (with rho), sd_within or sd_diff; got none"),
        (dict(diff=57, sd=38), "sd needs rho, the intra-patient correlation (or give sd_within or sd_diff)"),
        (dict(diff=57, sd=38, rho=0.5, sd_within=20), "give exactly one of sd (with rho), sd_within or sd_diff; got sd and sd_within"),
        (dict(diff=57, sd_within=20, rho=0.5), "rho is only used with sd; give sd and rho, or sd_within, or sd_diff"),
        (dict(diff=57, sd=38, rho=1.0), "rho=1.0 must be a number in [-1, 1) (1 means no within-patient variance)"),
        (dict(diff=57, sd=-1, rho=0.5), "sd=-1.0 must be a number > 0"),
        (dict(diff=0, sd=38, rho=0.5), "diff must be nonzero: no sample size detects a zero difference"),
        (dict(diff=float("nan"), sd=38, rho=0.5), "diff=nan must be a number"),
        (dict(diff=57, sd=38, rho=0.5, alpha=1.5), "alpha=1.5 must be a number in (0, 1)"),
        (dict(diff=57, sd=38, rho=0.5, power=1.0), "power=1.0 must be a number in (0, 1)"),
        (dict(diff=57, sd=38, rho=0.5, periods=1), "periods=1 must be an integer >= 2"),
        (dict(diff=57, sd=38, rho=0.5, sides=3), "sides=3 is not one of 1, 2"),
        (dict(diff=57, sd=38, rho=0.5, method="z"), "method='z' is not one of exact, normal"),
        (dict(diff=57, sd=38, rho=0.5, df_method="kr"), "df_method='kr' is not one of crossover, rm-anova, paired"),
        (dict(diff=57, sd=38, rho=0.5, multiplicity="holm"), "multiplicity='holm' is not one of None, bonferroni, sidak"),
        (dict(diff=57, sd=38, rho=0.5, n_comparisons=3), "n_comparisons is only used with multiplicity='bonferroni' or 'sidak'"),
        (dict(diff=57, sd=38, rho=0.5, multiplicity="bonferroni", n_comparisons=0), "n_comparisons=0 must be an integer >= 1"),
        (dict(diff=57, sd=38, rho=0.5, multiple_of=0), "multiple_of=0 must be an integer >= 1"),
        (dict(diff=1e-9, sd=38, rho=0.5), "more than"),
    ],
)
def test_invalid_inputs_raise_model_error(kwargs: dict, message: str) -> None:
    """Each message names the parameter, the value and what is allowed (in Python's words)."""
    diff = kwargs.pop("diff")
    with pytest.raises(ModelError, match="^" + re.escape(message)):
        crossover_sample_size(diff, **kwargs)


def test_power_rejects_too_few_patients() -> None:
    with pytest.raises(ModelError, match=re.escape("n=2 must be an integer >= 3 for df_method='crossover'")):
        crossover_power(2, diff=1, sd_within=1)
    assert 0 < crossover_power(2, diff=1, sd_within=1, df_method="paired") < 1


# --- properties -------------------------------------------------------------------------------

methods = st.sampled_from(["exact", "normal"])
sides = st.sampled_from([1, 2])
periods = st.integers(2, 4)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(3, 200), diff=st.floats(0.1, 10), sw=st.floats(0.5, 10), method=methods, sides=sides, p=periods)
def test_power_increases_with_n_and_diff_and_decreases_with_sd(n: int, diff: float, sw: float, method: str, sides: int, p: int) -> None:
    def pw(n: int = n, diff: float = diff, sw: float = sw) -> float:
        return crossover_power(n, diff=diff, sd_within=sw, method=method, sides=sides, periods=p)  # type: ignore[arg-type]

    base = pw()
    assert 0.0 <= base <= 1.0
    assert pw(n=n + 1) >= base - 1e-12
    assert pw(diff=diff * 1.1) >= base - 1e-12
    assert pw(sw=sw * 1.1) <= base + 1e-12


@settings(max_examples=60, deadline=None)
@given(
    diff=st.floats(0.2, 10),
    sw=st.floats(0.5, 10),
    target=st.floats(0.5, 0.99),
    method=methods,
    sides=sides,
    p=periods,
    multiple=st.integers(1, 6),
)
def test_returned_n_is_the_smallest_reaching_the_target(
    diff: float, sw: float, target: float, method: str, sides: int, p: int, multiple: int
) -> None:
    res = crossover_sample_size(
        diff,
        sd_within=sw,
        power=target,
        method=method,
        sides=sides,
        periods=p,  # type: ignore[arg-type]
        multiple_of=multiple,
    )
    assert res.n % multiple == 0 and res.power >= target
    smaller = res.n - multiple
    if smaller >= 3:
        assert crossover_power(smaller, diff=diff, sd_within=sw, method=method, sides=sides, periods=p) < target  # type: ignore[arg-type]
