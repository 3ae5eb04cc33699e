"""Delta-adjusted tipping-point analysis of the AUC contrasts (Carpenter & Kenward).

Impute once under MAR, then for each delta add delta pain points to the imputed diary days of
the shifted arms, clip, re-analyse and pool: how much worse (or better) would the missing days
have to be for a conclusion to change? See ``docs/missing-data.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from ketapain._json import json_number
from ketapain._options import CONF_LEVEL, MODEL_KIND, check_option, check_scale
from ketapain.errors import DataError, ModelError
from ketapain.stats._daily_grid import DailyModelKind
from ketapain.stats._ddf import DfMethod
from ketapain.stats._degenerate import ModelCheck, Status
from ketapain.stats._design import ModelKind
from ketapain.stats._imputation import (
    AucAnalyser,
    Clip,
    PooledContrast,
    Seed,
    completed_auc,
    finish,
    pool_analysis,
    prepare_imputations,
    resolve_clip,
)

__all__ = ["DEFAULT_DELTAS", "TippingPoint", "TippingPointResult", "tipping_point_auc"]

DEFAULT_DELTAS: tuple[float, ...] = tuple(float(d) for d in np.arange(-3.0, 3.01, 0.5))
"""Default shifts of the tipping-point analysis: -3 to +3 pain points in steps of 0.5."""


@dataclass(frozen=True, slots=True)
class TippingPoint:
    """Where the conclusion about one contrast changes.

    ``conclusion`` at delta = 0 is +1 (significantly positive), -1 (significantly negative) or
    0 (not significant), judged on the Sidak-adjusted p-value at ``alpha``. ``delta_up`` is
    the smallest delta > 0 and ``delta_down`` the largest delta < 0 where it changes (linear
    interpolation of the margin ``s * t - t_crit`` between grid points), ``None`` if it does
    not change within the grid.
    """

    contrast: str
    conclusion: int
    delta_up: float | None
    delta_down: float | None


@dataclass(frozen=True, slots=True)
class TippingPointResult:
    """Result of :func:`tipping_point_auc`: pooled contrasts per delta and the tipping points."""

    value: str
    window: int
    ref: str
    shift_arms: tuple[str, ...]
    alpha: float
    n_imputations: int
    seed: int | None
    conf_level: float
    deltas: np.ndarray
    rows: tuple[tuple[float, PooledContrast], ...]
    tipping: tuple[TippingPoint, ...]
    checks: tuple[tuple[float, ModelCheck], ...] = ()
    """The degenerate-fit verdict per delta (:func:`~ketapain.stats.combine_checks` over the
    imputations); at a not-estimable delta every number is NaN and the search for a tipping
    point stops there (the conclusion beyond it is unknown)."""

    @property
    def check(self) -> ModelCheck:
        """One verdict: the worst over the deltas, with the deltas named."""
        worst = [(d, c) for d, c in self.checks if c.status != "ok"]
        if not worst:
            return ModelCheck("ok")
        status: Status = "not_estimable" if any(not c.estimable for _, c in worst) else "singular"
        return ModelCheck(status, tuple(f"delta {d:+g}: {c.reason}" for d, c in worst if c.status == status))

    def to_frame(self) -> pd.DataFrame:
        """``delta, contrast, estimate, se, df, ci_low, ci_high, p_value, p_sidak``."""
        cols = ["estimate", "se", "df", "ci_low", "ci_high", "p_value", "p_sidak"]
        return pd.DataFrame([{"delta": d, "contrast": c.label, **{k: getattr(c, k) for k in cols}}
                             for d, c in self.rows], columns=["delta", "contrast", *cols])

    def tipping_frame(self) -> pd.DataFrame:
        """``contrast, conclusion, delta_up, delta_down`` (NaN = no change within the grid)."""
        return pd.DataFrame([{"contrast": t.contrast, "conclusion": t.conclusion,
                              "delta_up": np.nan if t.delta_up is None else t.delta_up,
                              "delta_down": np.nan if t.delta_down is None else t.delta_down}
                             for t in self.tipping])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "value": self.value, "window": self.window, "ref": self.ref, "shift_arms": list(self.shift_arms),
            "alpha": self.alpha, "n_imputations": self.n_imputations, "seed": self.seed,
            "conf_level": self.conf_level, "deltas": [float(d) for d in self.deltas],
            "rows": [{"delta": float(d), "contrast": c.label, "estimate": c.estimate, "se": c.se, "df": json_number(c.df),
                      "ci": [c.ci_low, c.ci_high], "p": c.p_value, "p_sidak": c.p_sidak} for d, c in self.rows],
            "tipping": [{"contrast": t.contrast, "conclusion": t.conclusion, "delta_up": json_number(t.delta_up),
                         "delta_down": json_number(t.delta_down)} for t in self.tipping],
            "model_check": self.check.to_dict(),
        }

    def summary(self) -> str:
        """Readable text: one line per contrast with its tipping deltas."""
        words = {1: "significantly > 0", -1: "significantly < 0", 0: "not significant"}
        lines = [f"Tipping point ({', '.join(self.shift_arms)} shifted; {self.n_imputations} imputations, "
                 f"seed {self.seed}; Sidak alpha {self.alpha}; deltas {self.deltas.min():g}..{self.deltas.max():g})"]
        for t in self.tipping:
            up = "none in grid" if t.delta_up is None else f"{t.delta_up:+.2f}"
            down = "none in grid" if t.delta_down is None else f"{t.delta_down:+.2f}"
            lines.append(f"  {t.contrast}: {words[t.conclusion]} at delta 0; changes at {up} / {down}")
        if self.check.status != "ok":
            lines.append(f"Model check: {self.check.status.replace('_', ' ')}: {self.check.reason}")
        return "\n".join(lines)


def _state(c: PooledContrast, crit: float) -> tuple[int, float]:
    """Conclusion and the t statistic."""
    t = c.statistic
    return (int(np.sign(t)) if abs(t) > crit else 0), t


def _tip(deltas: np.ndarray, ts: np.ndarray, crits: np.ndarray, states: np.ndarray, i0: int,
         step: int) -> float | None:
    s0 = states[i0]
    i = i0
    while 0 <= i + step < deltas.size:
        j = i + step
        if not np.isfinite(ts[j]):  # not estimable at this delta: the conclusion beyond is unknown
            return None
        if states[j] != s0:
            if s0 != 0:
                h_i, h_j = s0 * ts[i] - crits[i], s0 * ts[j] - crits[j]  # + then <= 0
            else:
                s1 = states[j]
                h_i, h_j = s1 * ts[i] - crits[i], s1 * ts[j] - crits[j]  # <= 0 then +
            if h_j == h_i:
                return float(deltas[j])
            return float(deltas[i] + (deltas[j] - deltas[i]) * (0.0 - h_i) / (h_j - h_i))
        i = j
    return None


def tipping_point_auc(
    diary: pd.DataFrame,
    allocation: pd.DataFrame,
    *,
    value: str = "avg_pain",
    window: int = 35,
    ref: str,
    deltas: Sequence[float] | np.ndarray = DEFAULT_DELTAS,
    shift_arms: Sequence[str],
    n_imputations: int = 50,
    seed: Seed,
    model: DailyModelKind = "standard",
    analysis_model: ModelKind = "paper",
    alpha: float = 0.05,
    conf_level: float = 0.95,
    df_method: DfMethod = "kenward-roger",
    clip: Clip = "scale",
    subject: str = "patient_id",
    scale: tuple[float, float] = (0.0, 10.0),
) -> TippingPointResult:
    """Delta-adjusted MNAR sensitivity analysis of the MI AUC contrasts, with tipping points.

    Parameters
    ----------
    diary, allocation, value, window, ref, n_imputations, seed, model, analysis_model,
    conf_level, df_method, clip, subject, scale : as :func:`multiple_imputation_auc`.
    deltas : pain points (units of ``scale``) added to every imputed diary day (day >= 1) of ``shift_arms``; 0 is
        added to the grid if absent. Positive = missing days worse than MAR predicts.
    shift_arms : treatments whose imputed days are shifted (e.g. the active arms).
    alpha : significance level of the (Sidak-adjusted) conclusion.

    Returns
    -------
    TippingPointResult

    Notes
    -----
    The MAR draws are made once (same seed, same draws for every delta), so the curves are
    smooth and the delta = 0 rows equal :func:`multiple_imputation_auc` with the same seed.
    Delta is added before clipping to ``clip`` (so near the ends of the scale the effective
    shift is smaller). The conclusion at delta is ``sign(t)`` if the Sidak-adjusted p-value is
    below ``alpha`` (equivalently ``|t| > t_crit``, the ``1 - alpha_k/2`` quantile of
    ``t(df)`` with ``alpha_k = 1 - (1 - alpha)^(1/k)``) and 0 otherwise; the tipping delta is
    the root of the margin ``s * t - t_crit`` interpolated linearly between the two grid points
    around the first change, which is exact when the pooled estimate is linear in delta and SE
    and df do not change.

    Examples
    --------
    >>> from ketapain.examples import load_example
    >>> t = load_example()
    >>> tp = tipping_point_auc(t["diary"], t["allocation"], ref="P", shift_arms=["K", "KM"],
    ...                        deltas=[-1, 0, 1], n_imputations=3, seed=3)
    >>> tp.to_frame().shape
    (9, 9)
    """
    check_option("conf_level", conf_level, CONF_LEVEL)
    check_option("analysis_model", analysis_model, MODEL_KIND)
    grid_d = _delta_grid(alpha, deltas, shift_arms)
    scale = check_scale("scale", scale, error=DataError)
    clip = resolve_clip(clip, scale)
    grid, raw, recorded = prepare_imputations(diary, allocation, value=value, window=window, ref=ref, model=model,
                                   subject=subject, n_imputations=n_imputations, seed=seed, clip=clip, scale=scale)
    bad = [a for a in shift_arms if a not in grid.treatment_levels]
    if bad:
        raise ModelError(f"shift_arms {bad} are not treatments of the allocation ({', '.join(grid.treatment_levels)})")
    shifted = np.isin(np.asarray(grid.treatment_levels, dtype=object)[grid.treatment], list(shift_arms))
    analyser = AucAnalyser(grid, subject=subject, model=analysis_model, df_method=df_method, ref=ref)
    complete = not (~grid.observed).any()
    rows: list[tuple[float, PooledContrast]] = []
    per_delta = []
    checks = []
    for d in grid_d:
        values = finish(grid, raw, np.where(shifted, d, 0.0), clip)
        an = analyser.run(completed_auc(values))
        contrasts, _ = pool_analysis(an, conf_level=conf_level, complete=complete)
        per_delta.append(contrasts)
        checks.append((float(d), an.check))
        rows.extend((float(d), c) for c in contrasts)
    return TippingPointResult(
        value=value, window=grid.window, ref=ref, shift_arms=tuple(shift_arms), alpha=alpha,
        n_imputations=int(n_imputations), seed=recorded, conf_level=conf_level, deltas=grid_d,
        rows=tuple(rows), tipping=tuple(_tipping_points(grid_d, per_delta, alpha)), checks=tuple(checks),
    )


def _delta_grid(alpha: float, deltas: Sequence[float] | np.ndarray, shift_arms: Sequence[str]) -> np.ndarray:
    """The sorted deltas with 0 added; refuses an alpha outside (0, 1), a non-finite delta and an
    empty or text ``shift_arms``."""
    if not 0.0 < alpha < 1.0:
        raise ModelError(f"alpha={alpha} is outside (0, 1)")
    grid_d = np.unique(np.r_[np.asarray(deltas, dtype=float), 0.0])
    if not np.all(np.isfinite(grid_d)):
        raise ModelError(f"deltas={deltas!r} must be finite numbers")
    if isinstance(shift_arms, str) or len(shift_arms) == 0:
        raise ModelError(f"shift_arms={shift_arms!r} must be a non-empty list of treatments")
    return grid_d


def _tipping_points(grid_d: np.ndarray, per_delta: list[tuple[PooledContrast, ...]],
                    alpha: float) -> list[TippingPoint]:
    """Per contrast: the conclusion at delta = 0 (Sidak level over the pairs) and the deltas,
    up and down, where it changes."""
    npairs = len(per_delta[0])
    alpha_k = 1.0 - (1.0 - alpha) ** (1.0 / npairs)
    i0 = int(np.flatnonzero(grid_d == 0.0)[0])
    tipping = []
    for j in range(npairs):
        cs = [pd_[j] for pd_ in per_delta]
        crits = np.array([sps.norm.ppf(1 - alpha_k / 2) if math.isinf(c.df) else sps.t.ppf(1 - alpha_k / 2, c.df)
                          for c in cs])
        states = np.array([_state(c, k)[0] for c, k in zip(cs, crits, strict=True)])
        ts = np.array([c.statistic for c in cs])
        tipping.append(TippingPoint(contrast=cs[0].label, conclusion=int(states[i0]),
                                    delta_up=_tip(grid_d, ts, crits, states, i0, 1),
                                    delta_down=_tip(grid_d, ts, crits, states, i0, -1)))
    return tipping
