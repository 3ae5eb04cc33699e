"""Effect sizes: d_z (noncentral-t CI), g_av (Bonett CI), total-SD (delta method)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from ketapain.errors import ModelError
from ketapain.stats import cohens_dz, fit_crossover, hedges_g_av, total_sd_effect

YA = np.array([5.0, 6, 7, 8, 6, 9])
YB = np.array([4.0, 6, 5, 7, 6, 6])


def test_dz_matches_r_noncentral_t_inversion() -> None:
    """Reference from R 4.2 (uniroot on pt with ncp, tol 1e-13):

    ya <- c(5,6,7,8,6,9); yb <- c(4,6,5,7,6,6); d <- ya-yb; n <- 6
    dz <- mean(d)/sd(d); t <- dz*sqrt(n)
    uniroot(function(x) pt(t, n-1, ncp=x) - 0.975, c(-20, 20))$root/sqrt(n)   # lower
    uniroot(function(x) pt(t, n-1, ncp=x) - 0.025, c(-20, 20))$root/sqrt(n)   # upper
    -> 0.9979654098964 -0.0323839160579 1.9691608118605
    (R warns that pnt may not reach full precision: atol 1e-6 on the limits.)
    """
    es = cohens_dz("A", "B", YA, YB)
    assert_allclose(es.estimate, 0.9979654098964, rtol=1e-12)
    assert_allclose([es.ci_low, es.ci_high], [-0.0323839160579, 1.9691608118605], atol=1e-6)
    assert es.kind == "d_z" and es.n == 6


def test_g_av_by_hand() -> None:
    """D = 1,0,2,1,0,3 -> mean 7/6. var(ya) = 2.1666..., var(yb) = 1.0666...; s^2 = 1.6166...
    d_av = (7/6)/sqrt(1.61667) = 0.917581; J = 1 - 3/(4*5 - 1) = 16/19."""
    es = hedges_g_av("A", "B", YA, YB)
    sa2, sb2 = np.var(YA, ddof=1), np.var(YB, ddof=1)
    assert_allclose([sa2, sb2], [13 / 6, 16 / 15], rtol=1e-12)
    d = (7 / 6) / math.sqrt((13 / 6 + 16 / 15) / 2)
    assert_allclose(es.estimate, d * 16 / 19, rtol=1e-12)
    r = np.corrcoef(YA, YB)[0, 1]
    s2 = (sa2 + sb2) / 2
    v = d**2 * (sa2**2 + sb2**2 + 2 * r**2 * sa2 * sb2) / (8 * 5 * s2**2) + (sa2 + sb2 - 2 * r * math.sqrt(sa2 * sb2)) / (5 * s2)
    assert_allclose([es.ci_low, es.ci_high], [16 / 19 * (d - 1.959963984540054 * math.sqrt(v)),
                                              16 / 19 * (d + 1.959963984540054 * math.sqrt(v))], rtol=1e-9)


def test_total_sd_delta_method_by_hand() -> None:
    cov = np.array([[0.5, -0.1], [-0.1, 0.2]])
    es = total_sd_effect("A", "B", difference=3.0, difference_var=1.0, sigma2_subject=6.0, sigma2=3.0,
                         varcomp_cov=cov, n_subjects=10)
    # d = 3/3 = 1; var = 1/9 + 9 * (0.5 + 0.2 - 0.2) / (4 * 729) = 0.111111 + 0.0015432
    var = 1 / 9 + 9 * 0.5 / (4 * 9**3)
    assert_allclose(es.estimate, 1.0)
    assert_allclose(es.ci_high - es.estimate, 1.959963984540054 * math.sqrt(var), rtol=1e-12)


def test_paired_effect_sizes_need_three_pairs() -> None:
    with pytest.raises(ModelError, match="at least 3"):
        cohens_dz("A", "B", np.array([1.0, 2.0, np.nan]), np.array([1.0, 3.0, 2.0]))


def test_crossover_reports_every_kind_for_every_pair() -> None:
    rng = np.random.default_rng(2)
    import pandas as pd

    rows = [(f"S{i}", k + 1, s, t, 5 + rng.normal() + i % 3) for i, s in enumerate(["ABC", "BCA", "CAB"] * 4)
            for k, t in enumerate(s)]
    data = pd.DataFrame(rows, columns=["subject", "period", "sequence", "treatment", "y"])
    res = fit_crossover(data)
    kinds = {(e.a, e.b, e.kind) for e in res.effect_sizes}
    assert kinds == {(a, b, k) for a, b in [("A", "B"), ("A", "C"), ("B", "C")] for k in ("total_sd", "d_z", "g_av")}
    for e in res.effect_sizes:
        assert e.ci_low < e.estimate < e.ci_high
    # total_sd = contrast / sqrt(total variance)
    c = res.contrasts[0]
    ts = next(e for e in res.effect_sizes if e.kind == "total_sd" and (e.a, e.b) == (c.a, c.b))
    assert_allclose(ts.estimate, c.estimate / math.sqrt(res.variance_subject + res.variance_residual), rtol=1e-12)
