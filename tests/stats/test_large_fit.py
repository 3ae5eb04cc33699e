"""Large fits (issue 14: a 5 M-row ``ketapain fit`` within 2 GB): the design is held as its
distinct rows (cells) and the model's sufficient statistics are summed from them.

Below ``_lmm.DENSE_LIMIT`` entries the dense design is still reduced as before (the same
numbers to the last bit: tests/stats pins them); here the cell path is forced on small data
and must agree with the dense one: exactly in everything but ``X'y``, whose summation order
differs (~1e-15 relative), and to ~1e-10 in every reported number.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from ketapain.stats import _lmm, fit_crossover
from ketapain.stats._crossover_lmm import paired_means, paired_values
from ketapain.stats._design import build_design, parse_crossover

SEQS = ("ABC", "BCA", "CAB", "ACB", "BAC", "CBA")


def williams(n_subjects: int = 90, missing: float = 0.1, seed: int = 3) -> pd.DataFrame:
    """A 3x3 Williams crossover with random outcomes, some missing (subjects of 1 to 3 rows)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_subjects):
        seq = SEQS[i % 6]
        b = rng.normal(0.0, 1.0)
        for k in range(3):
            y = 50.0 + {"A": 0.0, "B": 0.5, "C": 1.0}[seq[k]] + 0.2 * k + b + rng.normal(0.0, 1.0)
            rows.append({"subject": f"S{i:03d}", "period": k + 1, "sequence": seq, "treatment": seq[k],
                         "y": np.nan if rng.random() < missing else round(y, 3)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("options", [{}, {"carryover": True}, {"sequence_by_treatment": True}, {"model": "paper"}])
def test_cell_statistics_equal_the_dense_ones(options: dict) -> None:
    design = build_design(parse_crossover(williams(), outcome="y"), **options)
    dense = _lmm.sufficient_stats(design.X, design.y, design.group_codes)
    cells = _lmm.sufficient_stats_cells(design.cell_x, design.cell, design.y, design.group_codes, dense_limit=0)
    for name in ("n", "s", "t", "xtx", "yty"):
        assert np.array_equal(getattr(cells, name), getattr(dense, name)), name
    assert_allclose(cells.xty, dense.xty, rtol=1e-14, atol=0)
    same = _lmm.sufficient_stats_cells(design.cell_x, design.cell, design.y, design.group_codes)
    assert np.array_equal(same.xty, dense.xty)  # small: the dense reduction itself


def test_the_design_has_its_former_layout() -> None:
    """``X`` is built in Fortran order, as ``column_stack(...)[:, keep]`` was: the BLAS sums in
    an order that depends on the layout."""
    design = build_design(parse_crossover(williams(), outcome="y"))
    assert design.X.flags["F_CONTIGUOUS"]
    assert np.array_equal(design.X, design.cell_x[design.cell])
    assert design.cell_x.shape[0] <= 3 * 3 * 6 < design.y.size


def numbers(fit) -> np.ndarray:
    frame = fit.to_frame()
    contrasts = [(c.estimate, c.se, c.df, c.p_value) for c in fit.contrasts]
    tests = [(t.statistic, t.df_den, t.p_value) for t in (fit.treatment_test, fit.carryover_test) if t is not None]
    return np.concatenate([frame[["estimate", "se", "df", "p_value"]].to_numpy().ravel(), np.ravel(contrasts),
                           np.ravel(tests), [fit.variance_subject, fit.variance_residual, fit.loglik]])


@pytest.mark.parametrize("df_method", ["kenward-roger", "satterthwaite"])
def test_a_fit_from_cells_agrees_with_the_dense_fit(monkeypatch: pytest.MonkeyPatch, df_method: str) -> None:
    data = williams(n_subjects=240)
    dense = fit_crossover(data, outcome="y", df_method=df_method)  # type: ignore[arg-type]
    monkeypatch.setattr(_lmm, "DENSE_LIMIT", 0)
    cells = fit_crossover(data, outcome="y", df_method=df_method)  # type: ignore[arg-type]
    assert_allclose(numbers(cells), numbers(dense), rtol=1e-9, atol=1e-13)


def test_paired_means_equal_paired_values() -> None:
    data = williams()
    parsed = parse_crossover(data, outcome="y", ref="B")
    expected = paired_values(data, "subject", "treatment", "y", parsed.treatment_levels)
    actual = paired_means(parsed, parsed.treatment_levels)
    assert np.array_equal(actual.to_numpy(), expected.to_numpy(), equal_nan=True)
    assert list(actual.index) == list(expected.index) and list(actual.columns) == list(expected.columns)


def test_the_optimiser_does_not_keep_the_sums_alive() -> None:
    """scipy's optimisers keep their callable in a reference cycle: the per-subject sums (a
    (G, p) array, 240 MB for 5 M rows) must not hang on it until a garbage collection."""
    design = build_design(parse_crossover(williams(), outcome="y"))
    ss = _lmm.sufficient_stats(design.X, design.y, design.group_codes)
    assert _lmm._closed_form_theta(ss, "REML") is None  # unequal subject sizes: Brent and the polish
    sums = weakref.ref(ss.s)
    gc.collect()
    gc.disable()
    try:
        _lmm._iterate_theta(ss, "REML", 1e-12)
        del ss
        assert sums() is None
    finally:
        gc.enable()


def test_deviance_grid_in_blocks_equals_one_batch(monkeypatch):
    """profiled_deviance_grid makes its (thetas x subjects) weights a block of thetas at a time
    for millions of subjects; blocks give the one-batch values (each theta's sums over subjects
    are the same sums), checked here with blocks of 3 thetas on 400 subjects."""
    from ketapain.stats import _lmm

    rng = np.random.default_rng(14)
    groups = np.repeat(np.arange(400), 3)
    X = np.column_stack([np.ones(groups.size), rng.integers(0, 2, groups.size), np.tile([0.0, 1.0, 0.0], 400)])
    y = rng.normal(size=groups.size) + rng.normal(size=400)[groups]
    ss = _lmm.sufficient_stats(X, y, groups)
    thetas = np.linspace(0.01, 3.0, 17)
    whole = _lmm.profiled_deviance_grid(ss, thetas)
    monkeypatch.setattr(_lmm, "GRID_BLOCK", 3 * 400)
    blocks = _lmm.profiled_deviance_grid(ss, thetas)
    np.testing.assert_allclose(blocks, whole, rtol=1e-13, atol=0)
    assert np.all(np.isfinite(whole)) and whole.argmin() not in (0, thetas.size - 1)  # an interior optimum
