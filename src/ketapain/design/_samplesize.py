"""Analytic power and sample size for one within-patient treatment comparison in a crossover.

Conventions (also in ``docs/design.md``)
----------------------------------------
Every patient receives each of the ``p`` treatments once, in a balanced design (Latin or
Williams, efficiency 1 without carry-over, see :func:`ketapain.design.check_design`), and the
analysis has patient, period and treatment effects and no carry-over. ``n`` is the total
number of patients. One observation of a patient is ``y = b + e`` with
``var(b) = sigma_b^2`` (between-patient), ``var(e) = sigma_w^2`` (within-patient); the
SD of one observation is ``sd = sqrt(sigma_b^2 + sigma_w^2)`` and the intra-patient
correlation ``rho = sigma_b^2 / sd^2``. The spread is given in exactly one of three ways:

* ``sd_within = sigma_w``;
* ``sd`` and ``rho``: ``sigma_w^2 = sd^2 (1 - rho)``;
* ``sd_diff``, the SD of a patient's difference between two treatments:
  ``sigma_w^2 = sd_diff^2 / 2``.

A patient's difference between two treatments has variance ``2 sigma_w^2``
(``= 2 sd^2 (1 - rho)``), so the estimated difference has

    se = sqrt(2 sigma_w^2 / n),  ncp = |diff| / se.

``method="normal"``: ``power = Phi(ncp - z_{1-a/2}) + Phi(-ncp - z_{1-a/2})`` (``a`` for
one-sided), whose sample size is the textbook ``n = (z_{1-a/2} + z_{1-b})^2 2 sigma_w^2 / diff^2``.
``method="exact"``: the t test's power from the noncentral t distribution,
``P(T' > t_{1-a/2,df}) + P(T' < -t_{1-a/2,df})``, ``T' ~ t(df, ncp)``, with ``df``

* ``"crossover"`` (default): ``(n - 2)(p - 1)``, the residual df of the model with
  patient, period and treatment (``n p - n - (p - 1) - (p - 1)``); ``n - 2`` for AB/BA;
* ``"rm-anova"``: ``(n - 1)(p - 1)``, patient and treatment only (no period effects);
* ``"paired"``: ``n - 1``, a paired t test on the two treatments' differences.

Multiplicity: ``"bonferroni"`` uses ``a / m``, ``"sidak"`` ``1 - (1 - a)^(1/m)`` for each of
``m`` comparisons (default ``m = p (p - 1) / 2``, all pairs of ``p`` treatments).

References
----------
Chow SC, Shao J, Wang H (2008) *Sample Size Calculations in Clinical Research*, 2nd ed.,
sections 3.1-3.3. Julious SA (2004) Stat Med 23:1921-1986. Senn S (2002) *Cross-over Trials
in Clinical Research*, 2nd ed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy import integrate
from scipy import stats as sps

from ketapain._options import Number, OneOf, check_option
from ketapain.errors import ModelError, parameter

__all__ = ["SampleSizeResult", "crossover_power", "crossover_sample_size"]

Method = Literal["exact", "normal"]
DfMethod = Literal["crossover", "rm-anova", "paired"]
Multiplicity = Literal["bonferroni", "sidak"]
MAX_N = 10_000_000


@dataclass(frozen=True, slots=True)
class SampleSizeResult:
    """Smallest total number of patients reaching the target power, with its inputs.

    Attributes
    ----------
    n : int
        Total number of patients (each receives every treatment).
    power : float
        Power achieved with ``n``.
    target_power, diff, sd, rho, sd_within, sd_diff, alpha, sides, periods : inputs
        ``sd_within`` and ``sd_diff = sqrt(2) sd_within`` are always filled in.
    alpha_per_comparison : float
        ``alpha`` after the multiplicity adjustment (``alpha`` if none).
    method, df_method, multiplicity, n_comparisons, multiple_of : settings
    df : float or None
        Degrees of freedom at ``n`` (None for ``method="normal"``).
    formula : str
        The power formula used, as text.
    """

    n: int
    power: float
    target_power: float
    diff: float
    sd: float | None
    rho: float | None
    sd_within: float
    sd_diff: float
    alpha: float
    alpha_per_comparison: float
    sides: int
    periods: int
    method: str
    df_method: str
    df: float | None
    multiplicity: str | None
    n_comparisons: int
    multiple_of: int
    formula: str

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict: ``n, power, method, inputs: {...}, formula``."""
        return {
            "n": self.n,
            "power": self.power,
            "method": self.method,
            "inputs": {
                "diff": self.diff,
                "sd": self.sd,
                "rho": self.rho,
                "sd_within": self.sd_within,
                "sd_diff": self.sd_diff,
                "alpha": self.alpha,
                "alpha_per_comparison": self.alpha_per_comparison,
                "target_power": self.target_power,
                "sides": self.sides,
                "periods": self.periods,
                "df_method": self.df_method,
                "df": self.df,
                "multiplicity": self.multiplicity,
                "n_comparisons": self.n_comparisons,
                "multiple_of": self.multiple_of,
            },
            "formula": self.formula,
        }

    def summary(self) -> str:
        """Plain-text lines: n and achieved power, then the inputs and the formula."""
        spread = (f"sd = {self.sd:g}, rho = {self.rho:g} -> " if self.sd is not None and self.rho is not None else "")
        mult = (f", {self.multiplicity} for {self.n_comparisons} comparisons -> alpha {self.alpha_per_comparison:.6g}"
                if self.multiplicity else "")
        df = "" if self.df is None else f", df = {self.df:g}"
        lines = [
            f"n = {self.n} patients (power {self.power:.4f}, target {self.target_power:g})",
            f"difference {self.diff:g}; {spread}within-patient SD {self.sd_within:.6g} "
            f"(SD of a patient's difference {self.sd_diff:.6g})",
            f"{self.sides}-sided alpha {self.alpha:g}{mult}; {self.periods} periods; {self.method} ({self.df_method}{df})",
        ]
        if self.multiple_of > 1:
            lines.append(f"n rounded up to a multiple of {self.multiple_of}")
        lines.append(f"formula: {self.formula}")
        return "\n".join(lines)


_POSITIVE = Number(low=0.0, low_open=True)
_OPEN_UNIT = Number(low=0.0, high=1.0, low_open=True, high_open=True)
_DF_FORMULA = OneOf("crossover", "rm-anova", "paired")


def _finite(name: str, value: float) -> float:
    check_option(name, value, Number())
    return float(value)


def _sd_within(sd: float | None, rho: float | None, sd_within: float | None, sd_diff: float | None) -> float:
    given = [name for name, v in (("sd", sd), ("sd_within", sd_within), ("sd_diff", sd_diff)) if v is not None]
    if len(given) != 1:
        got = " and ".join(parameter(name) for name in given) or "none"
        raise ModelError(template="give exactly one of {@sd} (with {@rho}), {@sd_within} or {@sd_diff}; got " + got)
    if rho is not None and sd is None:
        raise ModelError(template="{@rho} is only used with {@sd}; give {@sd} and {@rho}, or {@sd_within}, or {@sd_diff}")
    if sd is not None:
        sd = _finite("sd", sd)
        if rho is None:
            raise ModelError(template="{@sd} needs {@rho}, the intra-patient correlation (or give {@sd_within} or {@sd_diff})")
        rho = _finite("rho", rho)
        check_option("sd", sd, _POSITIVE)
        check_option("rho", rho, Number(low=-1.0, high=1.0, high_open=True, note="1 means no within-patient variance"))
        return sd * math.sqrt(1.0 - rho)
    if sd_within is not None:
        value = _finite("sd_within", sd_within)
        check_option("sd_within", value, _POSITIVE)
        return value
    value = _finite("sd_diff", sd_diff)  # type: ignore[arg-type]
    check_option("sd_diff", value, _POSITIVE)
    return value / math.sqrt(2.0)


def _alpha_adjusted(alpha: float, multiplicity: str | None, n_comparisons: int | None, periods: int) -> tuple[float, int]:
    check_option("alpha", alpha, _OPEN_UNIT)
    check_option("multiplicity", multiplicity, OneOf(None, "bonferroni", "sidak"))
    if multiplicity is None:
        if n_comparisons is not None:
            raise ModelError(template="{@n_comparisons} is only used with {@multiplicity='bonferroni'} or 'sidak'")
        return alpha, 1
    m = periods * (periods - 1) // 2 if n_comparisons is None else n_comparisons
    check_option("n_comparisons", m, Number(low=1, integer=True))
    if multiplicity == "bonferroni":
        return alpha / m, m
    return 1.0 - (1.0 - alpha) ** (1.0 / m), m  # sidak


def _df(n: float, periods: int, df_method: str) -> float:
    """Error df of the paired comparison (``df_method`` checked by :func:`_check_common`)."""
    if df_method == "crossover":
        return (n - 2) * (periods - 1)
    if df_method == "rm-anova":
        return (n - 1) * (periods - 1)
    return n - 1  # paired


def _min_n(periods: int, df_method: str) -> int:
    return 3 if df_method == "crossover" else 2


def _check_common(periods: int, sides: int, method: str, df_method: str) -> None:
    check_option("periods", periods, Number(low=2, integer=True))
    check_option("sides", sides, OneOf(1, 2))
    check_option("method", method, OneOf("exact", "normal"))
    check_option("df_method", df_method, _DF_FORMULA)


def _nct_cdf(x: float, df: float, ncp: float) -> float:
    """``P(T' <= x)``, ``T' ~ t(df, ncp)``; scipy returns NaN far in the tails, then integrate
    ``P(Z + ncp <= x sqrt(V / df)) = E_V[Phi(x sqrt(V / df) - ncp)]`` over ``V ~ chi2(df)``."""
    value = float(sps.nct.cdf(x, df, ncp))
    if math.isfinite(value):
        return min(max(value, 0.0), 1.0)

    def integrand(v: float) -> float:
        return float(sps.norm.cdf(x * math.sqrt(v / df) - ncp) * sps.chi2.pdf(v, df))

    value, _ = integrate.quad(integrand, 0.0, math.inf, limit=200)
    return min(max(value, 0.0), 1.0)


def _power(n: float, ncp_unit: float, a: float, sides: int, method: str, periods: int, df_method: str) -> float:
    ncp = ncp_unit * math.sqrt(n)
    q = 1.0 - a / sides
    if method == "normal":
        z = float(sps.norm.ppf(q))
        p = float(sps.norm.cdf(ncp - z))
        return p + float(sps.norm.cdf(-ncp - z)) if sides == 2 else p
    df = _df(n, periods, df_method)
    crit = float(sps.t.ppf(q, df))
    p = 1.0 - _nct_cdf(crit, df, ncp)
    if sides == 2:
        p += _nct_cdf(-crit, df, ncp)
    return min(max(p, 0.0), 1.0)


def _formula(method: str, sides: int, df_method: str) -> str:
    crit = "1-a/2" if sides == 2 else "1-a"
    base = "ncp = |diff| / sqrt(2 sd_w^2 / n), sd_w^2 = sd^2 (1 - rho) = sd_diff^2 / 2"
    if method == "normal":
        tail = f" + Phi(-ncp - z_{{{crit}}})" if sides == 2 else ""
        return f"power = Phi(ncp - z_{{{crit}}}){tail}; {base}"
    df = {"crossover": "(n - 2)(p - 1)", "rm-anova": "(n - 1)(p - 1)", "paired": "n - 1"}[df_method]
    tail = f" + P(T' < -t_{{{crit},df}})" if sides == 2 else ""
    return f"power = P(T' > t_{{{crit},df}}){tail}, T' ~ noncentral t(df = {df}, ncp); {base}"


def crossover_power(
    n: int,
    *,
    diff: float,
    sd: float | None = None,
    rho: float | None = None,
    sd_within: float | None = None,
    sd_diff: float | None = None,
    alpha: float = 0.05,
    sides: int = 2,
    periods: int = 2,
    method: Method = "exact",
    df_method: DfMethod = "crossover",
    multiplicity: Multiplicity | None = None,
    n_comparisons: int | None = None,
) -> float:
    """Power to detect ``diff`` between two treatments with ``n`` patients in a crossover.

    Parameters
    ----------
    n : int
        Total number of patients, each receiving every treatment (>= 3 for
        ``df_method="crossover"``, else >= 2).
    diff : float
        True difference between the two treatments' means (nonzero; its sign is ignored).
    sd, rho : float, optional
        SD of one observation and intra-patient correlation: ``sd_w^2 = sd^2 (1 - rho)``.
    sd_within : float, optional
        Within-patient SD ``sd_w`` directly.
    sd_diff : float, optional
        SD of a patient's difference between two treatments, ``sqrt(2) sd_w``.
    alpha : float
        Significance level (in total, before any multiplicity adjustment).
    sides : {2, 1}
        Two-sided test (default) or one-sided in the direction of ``diff``.
    periods : int
        Number of periods ``p`` (= number of treatments), >= 2.
    method : {"exact", "normal"}
        Noncentral t (default) or normal approximation.
    df_method : {"crossover", "rm-anova", "paired"}
        Degrees of freedom of the exact test: ``(n-2)(p-1)``, ``(n-1)(p-1)`` or ``n-1``.
    multiplicity : {None, "bonferroni", "sidak"}
        Adjust ``alpha`` for ``n_comparisons`` comparisons (default ``p (p - 1) / 2``).
    n_comparisons : int, optional
        Number of comparisons for ``multiplicity``.

    Returns
    -------
    float
        Power in [0, 1].

    Raises
    ------
    ModelError
        Inputs outside their ranges, or not exactly one way of giving the spread.

    Notes
    -----
    ``se = sqrt(2 sd_w^2 / n)``, ``ncp = |diff| / se``; normal power
    ``Phi(ncp - z_{1-a/2}) + Phi(-ncp - z_{1-a/2})``; exact power from the noncentral t with
    the chosen df. See the module docstring and ``docs/design.md``.

    Examples
    --------
    >>> round(crossover_power(18, diff=57, sd=38, rho=0.5, alpha=0.02), 4)
    0.9997
    >>> round(crossover_power(6, diff=57, sd_diff=38, alpha=0.02, method="normal"), 4)
    0.9112
    """
    _check_common(periods, sides, method, df_method)
    if isinstance(n, bool) or not isinstance(n, int) or n < _min_n(periods, df_method):
        raise ModelError(template="{@n=} must be an integer >= {low} for {@df_method=}",
                         params={"n": n, "low": _min_n(periods, df_method), "df_method": df_method})
    diff = _finite("diff", diff)
    if diff == 0:
        raise ModelError(template="{@diff} must be nonzero: there is no power against a zero difference")
    sw = _sd_within(sd, rho, sd_within, sd_diff)
    a, _ = _alpha_adjusted(alpha, multiplicity, n_comparisons, periods)
    return _power(n, abs(diff) / (sw * math.sqrt(2.0)), a, sides, method, periods, df_method)


def crossover_sample_size(
    diff: float,
    *,
    sd: float | None = None,
    rho: float | None = None,
    sd_within: float | None = None,
    sd_diff: float | None = None,
    alpha: float = 0.05,
    power: float = 0.9,
    sides: int = 2,
    periods: int = 2,
    method: Method = "exact",
    df_method: DfMethod = "crossover",
    multiplicity: Multiplicity | None = None,
    n_comparisons: int | None = None,
    multiple_of: int = 1,
) -> SampleSizeResult:
    """Smallest total number of patients ``n`` with power >= ``power`` (see :func:`crossover_power`).

    Parameters
    ----------
    diff, sd, rho, sd_within, sd_diff, alpha, sides, periods, method, df_method, multiplicity, n_comparisons
        As in :func:`crossover_power`.
    power : float
        Target power in (0, 1).
    multiple_of : int
        Only consider ``n`` that are multiples of this (e.g. the number of sequences, 6 for
        a Williams design with 3 treatments), so that every sequence gets as many patients.

    Returns
    -------
    SampleSizeResult
        ``n``, achieved power, the inputs and the formula.

    Raises
    ------
    ModelError
        Inputs outside their ranges.

    Notes
    -----
    Power increases with ``n``; the search doubles ``n`` until the target is reached, then
    bisects, so the result is the smallest admissible ``n`` (a multiple of ``multiple_of``,
    at least 3 for ``df_method="crossover"``, else 2).

    Examples
    --------
    >>> res = crossover_sample_size(57, sd=38, rho=0.5, alpha=0.02, power=0.9, method="normal")
    >>> res.n, round(res.power, 4)
    (6, 0.9112)
    >>> crossover_sample_size(57, sd=38, rho=0.5, alpha=0.02, power=0.9).n
    10
    """
    _check_common(periods, sides, method, df_method)
    diff = _finite("diff", diff)
    if diff == 0:
        raise ModelError(template="{@diff} must be nonzero: no sample size detects a zero difference")
    check_option("power", power, _OPEN_UNIT)
    check_option("multiple_of", multiple_of, Number(low=1, integer=True))
    sw = _sd_within(sd, rho, sd_within, sd_diff)
    a, m = _alpha_adjusted(alpha, multiplicity, n_comparisons, periods)
    unit = abs(diff) / (sw * math.sqrt(2.0))

    def pw(k: int) -> float:
        return _power(k * multiple_of, unit, a, sides, method, periods, df_method)

    lo = -(-_min_n(periods, df_method) // multiple_of)  # smallest admissible multiplier
    if pw(lo) >= power:
        k = lo
    else:
        hi = lo
        while pw(hi) < power:
            lo, hi = hi, hi * 2
            if hi * multiple_of > MAX_N:
                raise ModelError(f"more than {MAX_N} patients needed for power {power} (diff {diff} is tiny "
                                 f"relative to the within-patient SD {sw:g})")
        while hi - lo > 1:  # pw(lo) < power <= pw(hi)
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if pw(mid) < power else (lo, mid)
        k = hi
    n = k * multiple_of
    return SampleSizeResult(
        n=n,
        power=pw(k),
        target_power=power,
        diff=diff,
        sd=None if sd is None else float(sd),
        rho=None if rho is None else float(rho),
        sd_within=sw,
        sd_diff=sw * math.sqrt(2.0),
        alpha=float(alpha),
        alpha_per_comparison=a,
        sides=sides,
        periods=periods,
        method=method,
        df_method=df_method,
        df=None if method == "normal" else _df(n, periods, df_method),
        multiplicity=multiplicity,
        n_comparisons=m,
        multiple_of=multiple_of,
        formula=_formula(method, sides, df_method),
    )
