"""Canonical layouts of ``fit_crossover_batch`` (``_batch_layout``) against the single engine.

Reference: ``fit_crossover`` (same options, no carry-over), unchanged, fitted trial by trial:
every output column of every trial is compared at ``rtol=1e-8`` (the two engines land on the
same root of the derivative of the profiled deviance, or on the same closed form). The trials
have random layouts: sequences allocated at random per trial (unequal counts, sometimes a
sequence with no subjects), subjects in random order, missing periods, trials that must fall
back to the single engine, and the row order of the input shuffled.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ketapain.errors import ModelError, SingularFitWarning
from ketapain.stats import fit_crossover
from ketapain.stats._batch import BATCH_COLUMNS, fit_crossover_batch
from ketapain.stats._batch_layout import build_layouts

SEQS = ["ABC", "ACB", "BAC", "BCA", "CAB", "CBA"]
NUMERIC = [c for c in BATCH_COLUMNS if c not in ("term", "singular", "converged", "error")]


def random_trials(n_trials: int, seed: int, missing: float = 0.0, repeat_layout: int = 0) -> pd.DataFrame:
    """Trials of 8-16 subjects, each subject's sequence drawn at random; ``repeat_layout``
    extra trials reuse trial 0's allocation with subjects renamed and reordered (same layout,
    other outcomes)."""
    rng = np.random.default_rng(seed)
    rows = []
    alloc0 = None
    for tr in range(n_trials + repeat_layout):
        if tr < n_trials:
            n = int(rng.integers(8, 17))
            alloc = rng.integers(0, 6, size=n)
            if tr == 0:
                alloc0 = alloc
        else:
            alloc = rng.permutation(alloc0)
        sd_b = [0.0, 0.7, 2.0][tr % 3]
        for i, s in enumerate(alloc):
            b = rng.normal(0, sd_b)
            for k, t in enumerate(SEQS[s]):
                rows.append((tr, f"S{i:02d}", k + 1, SEQS[s], t, 5 + 0.5 * (t == "B") + 0.2 * k + b + rng.normal()))
    d = pd.DataFrame(rows, columns=["trial", "subject", "period", "sequence", "treatment", "y"])
    d.loc[rng.random(len(d)) < missing, "y"] = np.nan
    return d.sample(frac=1.0, random_state=int(rng.integers(1 << 31))).reset_index(drop=True)


def single_rows(grp: pd.DataFrame, **opts) -> pd.DataFrame:
    """The rows ``fit_crossover_batch`` should give for one trial, from ``fit_crossover``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_crossover(grp, outcome="y", **opts)
    info = {"n_obs": fit.n_obs, "n_subjects": fit.n_subjects, "sigma2_subject": fit.variance_subject,
            "sigma2_residual": fit.variance_residual, "icc": fit.icc, "loglik": fit.loglik, "singular": fit.singular}
    tt = fit.treatment_test
    rows = [{"term": "treatment", "df": tt.df_den, "df_num": float(tt.df_num), "statistic": tt.statistic,
             "p_value": tt.p_value, **info}]
    for c in fit.contrasts:
        rows.append({"term": f"{c.a} - {c.b}", "estimate": c.estimate, "se": c.se, "df": c.df, "statistic": c.statistic,
                     "p_value": c.p_value, "p_sidak": c.p_sidak, "ci_low": c.ci_low, "ci_high": c.ci_high,
                     "ci_sidak_low": c.ci_sidak_low, "ci_sidak_high": c.ci_sidak_high, **info})
    for term, val in (("sigma2_subject", fit.variance_subject), ("sigma2_residual", fit.variance_residual),
                      ("icc", fit.icc)):
        rows.append({"term": term, "estimate": val, **info})
    return pd.DataFrame(rows).reindex(columns=[c for c in BATCH_COLUMNS if c not in ("converged", "error")])


def check_against_single(data: pd.DataFrame, **opts) -> int:
    """Every trial, every column: batched = single engine (rtol 1e-8); returns the trials fitted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        res = fit_crossover_batch(data, outcome="y", by="trial", on_error="flag", **opts)
    assert list(res.columns) == ["trial", *BATCH_COLUMNS]
    assert list(res.trial.unique()) == sorted(data.trial.unique())
    fitted = 0
    for tr, grp in data.groupby("trial"):
        got = res[res.trial == tr].reset_index(drop=True)
        try:
            want = single_rows(grp, **opts)
        except ModelError as exc:
            # one observed treatment: the batch's own message (docs/batch.md), else the single engine's
            allowed = (str(exc), "1 treatment level observed; a crossover comparison needs at least 2")
            assert len(got) == 1 and got.error.iloc[0] in allowed and not got.converged.iloc[0]
            continue
        fitted += 1
        assert got.term.tolist() == want.term.tolist()
        assert (got.singular == want.singular).all() and got.converged.all() and got.error.isna().all()
        for col in NUMERIC:
            a, b = got[col].to_numpy(dtype=float), want[col].to_numpy(dtype=float)
            assert (np.isnan(a) == np.isnan(b)).all(), (tr, col)
            assert (np.isinf(a) == np.isinf(b)).all(), (tr, col)
            fin = np.isfinite(b)
            a, b = a[fin], b[fin]
            tol = 1e-8 * np.abs(b) + 1e-12 * np.maximum(1.0, np.abs(b))  # relative, absolute near 0
            assert (np.abs(a - b) <= tol).all(), (tr, col, a, b)
    return fitted


@pytest.mark.parametrize("df_method", ["kenward-roger", "containment", "normal", "satterthwaite"])
def test_random_allocation_complete(df_method) -> None:
    data = random_trials(12, seed=5, repeat_layout=3)
    assert check_against_single(data, df_method=df_method) >= 12


@pytest.mark.parametrize("df_method", ["kenward-roger", "containment"])
def test_random_allocation_missing_periods(df_method) -> None:
    data = random_trials(12, seed=6, missing=0.12, repeat_layout=2)
    assert check_against_single(data, df_method=df_method) >= 10


@pytest.mark.parametrize(("method", "model", "df_method"), [("ML", "standard", "normal"),
                                                             ("REML", "paper", "kenward-roger")])
def test_ml_and_paper_model(method, model, df_method) -> None:
    data = pd.concat([random_trials(6, seed=7), random_trials(4, seed=8, missing=0.1).assign(trial=lambda d: d.trial + 6)])
    assert check_against_single(data, method=method, model=model, df_method=df_method) >= 9


def test_fallback_trials_mixed_in() -> None:
    """Trials the vectorised path must hand to the single engine sit among ordinary ones:
    constant outcome, one subject, one observed treatment, one subject per sequence (the
    between-subject variance is not identified)."""
    good = random_trials(5, seed=9)
    const = good[good.trial == 0].assign(trial=10, y=3.0)
    one = good[(good.trial == 1) & (good.subject == "S00")].assign(trial=11)
    one_trt = good[good.trial == 2].assign(trial=12)
    one_trt.loc[one_trt.treatment != "A", "y"] = np.nan
    per_seq = random_trials(1, seed=10).assign(trial=13)
    per_seq = per_seq[per_seq.subject.isin(per_seq.groupby("sequence").subject.min())]
    data = pd.concat([good, const, one, one_trt, per_seq], ignore_index=True).sample(frac=1.0, random_state=3)
    assert check_against_single(data) == 5


def test_layouts_are_canonical() -> None:
    """Trials with the same sequence counts and missingness share one layout whatever the
    subject labels and the order of subjects and rows; other counts get another layout."""
    rng = np.random.default_rng(4)
    alloc = np.array([0, 0, 1, 2, 2, 2, 3, 5])  # sequence 4 has no subject
    trials = [rng.permutation(alloc) for _ in range(4)] + [np.array([0, 1, 1, 2, 2, 2, 3, 5])]
    table = np.array([["ABC".index(c) for c in s] for s in SEQS])
    bpos, slot, pc, trt, seq = (np.concatenate(v) for v in zip(*[
        (np.full(3 * a.size, b), np.repeat(np.arange(a.size), 3), np.tile(np.arange(3), a.size),
         table[a].reshape(-1), np.repeat(a, 3)) for b, a in enumerate(trials)], strict=True))
    order = rng.permutation(bpos.size)
    seq_col = np.array([-1, 5, 6, 7, -1, 8])  # intercept, B, C, period 2, 3, sequences 2, 3, 4, 6
    cols = (np.where(trt > 0, trt, -1)[order], np.where(pc > 0, 2 + pc, -1)[order], seq_col[seq][order])
    lay = build_layouts(bpos[order], slot[order], np.array([a.size for a in trials]), pc[order], cols,
                        rng.normal(size=bpos.size), 3, 9)
    assert lay.inv.tolist()[:4] == [lay.inv[0]] * 4 and lay.inv[4] != lay.inv[0]
    assert lay.counts.shape == (2, 5)  # five subject types (sequences 1, 2, 3, 4, 6)
    np.testing.assert_array_equal(lay.n_obs, 3 * np.array([a.size for a in trials]))
