"""Simulation-based power: simulate the trial many times, analyse each one as the SAP says.

:func:`simulate_power` draws the in-silico trial's diaries for every sample size with the
block generator of the diary model (``_diary.simulate_item_block``: only the endpoint's item),
computes the primary endpoint's AUC (:func:`ketapain.stats.auc_arrays`), fits the crossover
mixed model to all trials with the batched engine and counts significant results. Work is
split into seed blocks (``_power_sim``) so that the result does not depend on the chunk size
or on the Dask workers. The figure is :func:`ketapain.report.plot_power`. See ``docs/power.md``.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from ketapain._json import json_safe
from ketapain._options import MISSING_MODE, MODEL_KIND, Number, check_option
from ketapain._seeds import SeedLike, resolve_seed
from ketapain.design import crossover_power, protocol_sequences
from ketapain.errors import ModelError, ProtocolError
from ketapain.protocol import Protocol, load_protocol
from ketapain.simulate._core import MAX_POWER_SIMS, check_size, protocol_arms
from ketapain.simulate._params import ArmEffect, Parameters, load_parameters
from ketapain.simulate._power_sim import (
    BlockSummary,
    Spec,
    run_blocks,
    trials_per_block,
)

__all__ = ["SWEEP_MALLOC_ENV", "PowerEstimate", "PowerResult", "load_effects", "local_cluster", "simulate_power"]

_EFFECT_KEYS = tuple(f.name for f in dataclasses.fields(ArmEffect))  # effect_amplitude, effect_tau_days


@dataclass(frozen=True, slots=True)
class PowerEstimate:
    """Power of one test at one sample size.

    Attributes
    ----------
    n : int
        Randomised patients per trial.
    contrast : str
        ``"omnibus"`` (F test of treatment) or a pair ``"a - b"`` (Sidak-adjusted t test).
    rejections : int
        Trials with P < alpha (omnibus ``p_value``; pairs ``p_sidak``).
    sims : int
        Simulated trials; a trial that could not be fitted counts as not significant.
    power : float
        ``rejections / sims``.
    mc_se : float
        Monte-Carlo standard error ``sqrt(power (1 - power) / sims)``.
    analytic_power : float
        Analytic power at the simulated mean difference and within-patient SD (see
        :func:`simulate_power`, Notes); NaN when there is none.
    mean_estimate : float
        Mean contrast estimate (AUC units, pain-score-days) over fitted trials; NaN for the
        omnibus row.
    """

    n: int
    contrast: str
    rejections: int
    sims: int
    power: float
    mc_se: float
    analytic_power: float
    mean_estimate: float


@dataclass(frozen=True, slots=True)
class PowerResult:
    """Result of :func:`simulate_power`: power per sample size and test.

    ``estimates`` holds one :class:`PowerEstimate` per n x test; ``sd_within`` and ``icc``
    (per n) are the means over fitted trials of the model's residual SD (square root of the
    mean residual variance) and intraclass correlation; ``failed`` and ``singular`` count
    trials without a fit and boundary fits per n.
    """

    protocol_id: str
    endpoint: str
    n: tuple[int, ...]
    sims: int
    seed: int
    alpha: float
    model: str
    df_method: str
    dropout: float
    missing: str
    effects: Mapping[str, ArmEffect]
    contrasts: tuple[str, ...]
    estimates: tuple[PowerEstimate, ...]
    sd_within: tuple[float, ...]
    icc: tuple[float, ...]
    failed: tuple[int, ...]
    singular: tuple[int, ...]
    analytic_method: str = field(default="")

    def to_frame(self) -> pd.DataFrame:
        """One row per n x test: ``n, contrast, power, mc_se, analytic_power, sims,
        rejections, mean_estimate``."""
        cols = ["n", "contrast", "power", "mc_se", "analytic_power", "sims", "rejections", "mean_estimate"]
        return pd.DataFrame([{c: getattr(e, c) for c in cols} for e in self.estimates], columns=cols)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe mapping: settings, per-n fit summaries and the estimates (NaN -> None)."""
        return json_safe({
            "protocol": self.protocol_id, "endpoint": self.endpoint, "n": self.n, "sims": self.sims,
            "seed": self.seed, "alpha": self.alpha, "model": self.model, "df_method": self.df_method,
            "dropout": self.dropout, "missing": self.missing,
            "effects": {a: dataclasses.asdict(v) for a, v in self.effects.items()}, "contrasts": self.contrasts,
            "analytic_method": self.analytic_method,
            "per_n": [{"n": n, "sd_within": s, "icc": i, "failed": f, "singular": g}
                      for n, s, i, f, g in zip(self.n, self.sd_within, self.icc, self.failed, self.singular, strict=True)],
            "estimates": self.to_frame().to_dict(orient="records"),
        })

    def summary(self) -> str:
        """A readable table: power (MC SE) and analytic power per n and test."""
        lines = [
            (f"Simulated power: {self.protocol_id}, endpoint {self.endpoint}, {self.sims} trials per n, "
             f"seed {self.seed}"),
            (f"model {self.model}, df {self.df_method}, alpha {self.alpha:g}; dropout {self.dropout:g}, "
             f"missing days {self.missing}; pairs Sidak-adjusted"),
            "effects: " + ", ".join(f"{a} {v.effect_amplitude:+g} x exp(-d/{v.effect_tau_days:g})"
                                    for a, v in self.effects.items()),
        ]
        tests = ("omnibus", *self.contrasts)
        head = f"{'n':>5}" + "".join(f"  {t:>22}" for t in tests) + f"  {'sd_within':>9}  {'failed':>6}"
        lines += [head, "-" * len(head)]
        by = {(e.n, e.contrast): e for e in self.estimates}
        for k, n in enumerate(self.n):
            cells = []
            for t in tests:
                e = by[(n, t)]
                a = "" if math.isnan(e.analytic_power) else f" [{e.analytic_power:.3f}]"
                cells.append(f"  {f'{e.power:.3f} ({e.mc_se:.3f}){a}':>22}")
            lines.append(f"{n:>5}" + "".join(cells) + f"  {self.sd_within[k]:>9.2f}  {self.failed[k]:>6}")
        lines.append("power (Monte-Carlo SE) [analytic: " + self.analytic_method + "]")
        return "\n".join(lines)


def load_effects(path: str | PathLike[str]) -> dict[str, dict[str, float]]:
    """Read arm effect curves from a TOML file with ``[arms.<code>]`` tables.

    Each table may give ``effect_amplitude`` (diary-scale points added on day d as
    ``amplitude * exp(-d / tau)``) and ``effect_tau_days``, as in the simulator's parameter
    file; arms not listed keep the simulator's curves.

    Raises
    ------
    ProtocolError
        Unreadable file, invalid TOML, or no ``[arms]`` table.
    """
    p = Path(path)
    try:
        values = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProtocolError(f"{p}: cannot read the effect file ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"{p}: not a valid TOML effect file ({exc})") from None
    arms = values.get("arms")
    if not isinstance(arms, Mapping) or not arms:
        raise ProtocolError(f"{p}: needs [arms.<code>] tables with effect_amplitude and/or effect_tau_days")
    return {str(k): dict(v) if isinstance(v, Mapping) else v for k, v in arms.items()}


def _entries(protocol: Protocol, params: Parameters, effects: Mapping[str, Any] | None) -> tuple[ArmEffect, ...]:
    """Effect curve of every protocol arm: the simulator's, with ``effects`` overriding (checked)."""
    arms, _, entries = protocol_arms(protocol, params)
    out = list(entries)
    for code, over in (effects or {}).items():
        if code not in arms:
            raise ProtocolError(template="{@effects}: arm {code} is not an arm of protocol {study} (arms: {arms})",
                                params={"code": repr(code), "study": repr(protocol.study.id), "arms": ", ".join(arms)})
        if not isinstance(over, Mapping) or not over:
            raise ProtocolError(template="{@effects}: arm {code} needs a table with {keys}",
                                params={"code": repr(code), "keys": " and/or ".join(_EFFECT_KEYS)})
        for key, value in over.items():
            if key not in _EFFECT_KEYS:
                raise ProtocolError(template="{@effects}: arm {code}: unknown key {key}; allowed {keys}",
                                    params={"code": repr(code), "key": repr(key), "keys": ", ".join(_EFFECT_KEYS)})
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ProtocolError(template="{@effects}: arm {code}: {key}={value} must be a finite number",
                                    params={"code": repr(code), "key": key, "value": repr(value)})
            if key == "effect_tau_days" and value <= 0:
                raise ProtocolError(template="{@effects}: arm {code}: effect_tau_days={value} must be > 0",
                                    params={"code": repr(code), "value": repr(value)})
            i = arms.index(code)
            out[i] = dataclasses.replace(out[i], **{key: float(value)})
    return tuple(out)


def _check(n: Sequence[int], sims: int, dropout: float, model: str, chunk_size: int, missing: str,
           min_n: int) -> tuple[int, ...]:
    if isinstance(n, int | np.integer):
        n = (int(n),)
    ns = tuple(n)
    if not ns:
        raise ModelError(template="{@n} must list at least one sample size")
    for v in ns:
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < min_n:
            raise ModelError(template="{@n}: {v} is not an integer >= {min_n} (patients per trial)",
                             params={"v": repr(v), "min_n": min_n})
    if len(set(ns)) != len(ns):
        raise ModelError(template="{@n}: sample sizes repeat ({ns})", params={"ns": ", ".join(map(str, ns))})
    check_option("sims", sims, Number(low=1, high=MAX_POWER_SIMS, integer=True))
    check_option("chunk_size", chunk_size, Number(low=1, integer=True))
    check_option("dropout", dropout, Number(low=0.0, high=1.0, high_open=True, what="a probability"))
    check_option("model", model, MODEL_KIND)
    check_option("missing", missing, MISSING_MODE)
    return tuple(int(v) for v in ns)


def _pairs(arms: Sequence[str]) -> tuple[str, ...]:
    lv = sorted(arms)  # the batched engine's order: code-point order, reference first
    return tuple(f"{a} - {b}" for i, a in enumerate(lv) for b in lv[i + 1:])


def _analytic_pair(n_eff: int, diff: float, sd_within: float, alpha: float, periods: int, k: int) -> float:
    if not (math.isfinite(diff) and math.isfinite(sd_within) and sd_within > 0) or n_eff < 3:
        return math.nan
    mult: Literal["sidak"] | None = "sidak" if k > 1 else None
    if diff == 0.0:
        return 1.0 - (1.0 - alpha) ** (1.0 / k)
    return crossover_power(n_eff, diff=diff, sd_within=sd_within, alpha=alpha, periods=periods, method="exact",
                           df_method="crossover", multiplicity=mult, n_comparisons=k if k > 1 else None)


def _analytic_omnibus(n_eff: int, means: np.ndarray, sd_within: float, alpha: float, periods: int) -> float:
    t = means.size
    if not (np.all(np.isfinite(means)) and math.isfinite(sd_within) and sd_within > 0) or n_eff < 3 or t != periods:
        return math.nan
    df1, df2 = t - 1, (n_eff - 2) * (periods - 1)
    lam = n_eff * float(np.sum((means - means.mean()) ** 2)) / sd_within**2
    crit = sps.f.ppf(1.0 - alpha, df1, df2)
    return float(sps.ncf.sf(crit, df1, df2, lam)) if lam > 0 else alpha


def _tasks(ns: tuple[int, ...], sims: int, chunk_size: int, periods: int,
           days: int) -> list[tuple[int, tuple[int, ...]]]:
    out = []
    for n in ns:
        per_block = trials_per_block(n, periods, days)
        n_blocks = -(-sims // per_block)
        per_task = max(1, -(-chunk_size // per_block))
        out += [(n, tuple(range(s, min(s + per_task, n_blocks)))) for s in range(0, n_blocks, per_task)]
    return out


def simulate_power(
    protocol: Protocol | str,
    *,
    n: Sequence[int],
    sims: int,
    seed: SeedLike,
    effects: Mapping[str, Mapping[str, float]] | None = None,
    dropout: float = 0.0,
    model: Literal["standard", "paper"] = "standard",
    missing: str = "mcar",
    parameters: Parameters | str | PathLike[str] | Mapping[str, Any] | None = None,
    chunk_size: int = 500,
    client: Any = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> PowerResult:
    """Power of the protocol's primary analysis by simulating ``sims`` trials per sample size.

    Parameters
    ----------
    protocol : Protocol or str
        The study (arms, design sequences, randomisation block, diary length, primary endpoint:
        item, window, imputation, time axis; ``analysis.alpha`` and ``analysis.df_method``).
    n : sequence of int
        Randomised patients per trial, each >= 3 (distinct values).
    sims : int
        Simulated trials per sample size.
    seed : int, numpy Generator or None
        Randomness. None draws fresh entropy, recorded in ``PowerResult.seed``.
    effects : mapping, optional
        Arm code -> ``{"effect_amplitude": A, "effect_tau_days": tau}`` (either key), replacing
        the simulator's effect curve ``A exp(-d / tau)`` (diary-scale points on diary day d) of that
        arm; e.g. from :func:`load_effects`.
    dropout : float, default 0
        Probability that a patient leaves the trial; the last completed period is uniform on
        1..P-1, later periods are missing (their AUC is NaN, the patient stays in the model).
    model : {"standard", "paper"}
        Treatment + period + sequence, or treatment + sequence (the paper's).
    missing : {"mcar", "mar", "mnar", "none"}, default "mcar"
        Missing diary days, as :func:`ketapain.simulate.simulate_trial`.
    parameters : optional
        Simulator parameters (default: the shipped KETAPAIN twin).
    chunk_size : int, default 500
        Trials per task, rounded up to whole seed blocks (500 trials; fewer for large trials,
        see Notes). Does not change the result.
    client : dask.distributed.Client, optional
        Run the tasks on this cluster (``client.map``) instead of in this process.
    on_progress : callable(done, total), optional
        Called with simulated trials done / total after each task.

    Returns
    -------
    PowerResult

    Raises
    ------
    ModelError
        Invalid ``n``, ``sims``, ``dropout``, ``model``, ``missing``, ``chunk_size`` or seed;
        more than 100,000 ``sims``, more than 10,000 patients, or more than 10,000,000 diary
        days in one trial (``docs/power.md``, "Limits"), checked before anything is drawn.
    ProtocolError
        ``effects`` names an unknown arm or key, or a bad value.

    Notes
    -----
    Per trial: sequences by permuted blocks of the design's sequences (the protocol's
    ``randomisation.block_size``; strata and random block sizes are ignored: they do not
    change the diary model), the primary endpoint's diary item drawn from the model of
    :func:`ketapain.simulate.simulate_diary` (latent pain, AR(1) noise, arm effect curves,
    rounding and clipping to the protocol's diary scale, missing days) by its block generator (``docs/simulate.md``: only the
    item, the pre-infusion anchor and the missing days are drawn), the primary AUC as
    :func:`ketapain.stats.diary_auc` (trapezoid; infusion axis anchored at day 0 by
    ``pre_infusion_pain``; the endpoint's imputation, LOCF for KETAPAIN), then
    ``fit_crossover_batch`` (REML, no carry-over, the protocol's df method). Power is the
    share of the ``sims`` trials with omnibus P < alpha, and per pair Sidak P < alpha (not
    gated by the omnibus test). ``mc_se = sqrt(p (1 - p) / sims)``.

    Analytic power (beside it): for a pair, :func:`ketapain.design.crossover_power` (exact
    noncentral t, df (n' - 2)(P - 1), Sidak over the k pairs when k > 1) with ``diff`` = the
    mean simulated estimate and ``sd_within`` = sqrt(mean fitted residual variance); for the
    omnibus test the noncentral F with df (t - 1, (n' - 2)(P - 1)) and
    ``lambda = n' sum_j (mu_j - mu)^2 / sd_within^2``, mu_j the treatment means implied by
    the mean estimates. ``n' = floor(n (1 - dropout))``, the expected completers. They
    assume normal errors, a balanced design and complete data.

    Seeds: the trials of sample size n come in blocks of ``T = min(500, max(1, 2,000,000 //
    (n P D)))`` (P periods, D diary days; KETAPAIN: 500 up to n = 38); block b (trials
    ``T b .. T b + T - 1``) uses ``SeedSequence(seed, spawn_key=(n, b))``, i.e.
    ``SeedSequence(seed).spawn(n + 1)[n].spawn(b + 1)[b]``, always simulates T trials (the
    last block keeps the first ``sims - T b``), is fitted on its own, and blocks are summed in
    order, so neither ``chunk_size``, the client nor the other sample sizes change the result.

    Examples
    --------
    >>> res = simulate_power("ab_ba_example", n=[8], sims=20, seed=1,
    ...                      effects={"L": {"effect_amplitude": -3.0, "effect_tau_days": 30.0}})
    >>> res.to_frame()[["n", "contrast", "sims"]].to_dict(orient="records")
    [{'n': 8, 'contrast': 'omnibus', 'sims': 20}, {'n': 8, 'contrast': 'L - P', 'sims': 20}]
    """
    proto = load_protocol(protocol) if isinstance(protocol, str) else protocol
    ns = _check(n, sims, dropout, model, chunk_size, missing, 3)
    check_size(proto, n_patients=max(ns), n_trials=1, name="n", error=ModelError)  # a block holds >= 1 trial
    params = load_parameters(parameters)
    entries = _entries(proto, params, effects)
    sequences = protocol_sequences(proto)
    arms = tuple(proto.arm_codes)
    ep = proto.primary_endpoint
    entropy = resolve_seed(seed, generator_bits=63, error=ModelError).value
    pairs = _pairs(arms)
    spec = Spec(
        protocol=proto, parameters=params, entries=entries,
        arms=arms, sequences=sequences, block_size=int(proto.randomisation.block_size), entropy=entropy,
        sims=int(sims), dropout=float(dropout), missing=missing, model=model,
        df_method=proto.analysis.df_method, alpha=float(proto.analysis.alpha), value=ep.value,
        window=int(ep.window_day), impute=ep.impute, time_axis=proto.auc.time_axis, pairs=pairs)
    tasks = _tasks(ns, int(sims), int(chunk_size), proto.design.periods, proto.diary.days_per_period)
    total = len(ns) * int(sims)
    summaries = _run(spec, tasks, client, on_progress, total)
    return _collect(spec, ns, summaries, effects_of=dict(zip(arms, entries, strict=True)))


SWEEP_MALLOC_ENV: dict[str, str] = {"MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024),
                                    "MALLOC_TRIM_THRESHOLD_": str(1024 * 1024 * 1024)}
"""glibc's malloc settings of a power-sweep process: arrays up to 32 MB (glibc's largest mmap
threshold) come from the heap and freed memory stays in it up to 1 GB, so the several-MB
arrays of every block (trials x patients x periods x days) reuse the same pages instead of
being mmap-ed and page-faulted afresh. Measured on the reference sweep (n = 18, 20,000
trials): 13,400-14,200 instead of 11,000-12,800 trials per CPU second, peak RSS unchanged
(223 MB against 218 MB); both settings are needed (either alone gains nothing).
``local_cluster`` gives them to its workers (unless the environment of the process that starts
it already sets them: Dask's nanny does not override a variable that is set); ``ketapain
power`` applies them to itself when it runs the sweep serially. Results never depend on them."""


def local_cluster(workers: int) -> Any:
    """A ``dask.distributed.LocalCluster`` of ``workers`` single-threaded worker processes for
    power sweeps, each started with glibc's malloc set by :data:`SWEEP_MALLOC_ENV`.

    Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` in every worker; an explicit trim
    threshold also switches off glibc's dynamic mmap threshold, so every large numpy
    temporary is mmap-ed and page-faulted afresh: the simulation then runs ~40% slower in a
    worker than in the client (measured: 2,000 trials in 1.01 s against 0.72 s).
    :data:`SWEEP_MALLOC_ENV` replaces it. The HTTP port of the scheduler (health, metrics;
    the dashboard when bokeh is installed) is a free one (":0"), where the default 8787 warns
    when another cluster runs.

    Parameters
    ----------
    workers : int
        Worker processes (one thread each).

    Returns
    -------
    dask.distributed.LocalCluster
        Use as a context manager and pass ``Client(cluster)`` to :func:`simulate_power`.
    """
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in SWEEP_MALLOC_ENV.items()}):
        return LocalCluster(n_workers=workers, processes=True, threads_per_worker=1, dashboard_address=":0")


def _run(spec: Spec, tasks: list[tuple[int, tuple[int, ...]]], client: Any,
         on_progress: Callable[[int, int], None] | None, total: int) -> list[BlockSummary]:
    out: list[BlockSummary] = []
    done = 0
    if client is None:
        for n_, blocks in tasks:
            part = run_blocks(spec, n_, blocks)
            out.extend(part)
            done += sum(s.trials for s in part)
            if on_progress is not None:
                on_progress(done, total)
        return out
    from dask.distributed import as_completed

    spec_f = client.scatter(spec, broadcast=True)
    futures = client.map(run_blocks, [spec_f] * len(tasks), [t[0] for t in tasks], [t[1] for t in tasks], pure=False)
    for fut in as_completed(futures):
        part = fut.result()
        out.extend(part)
        done += sum(s.trials for s in part)
        if on_progress is not None:
            on_progress(done, total)
    return out


def _collect(spec: Spec, ns: tuple[int, ...], summaries: list[BlockSummary],
             effects_of: dict[str, ArmEffect]) -> PowerResult:
    by_n: dict[int, list[BlockSummary]] = {}
    for s in sorted(summaries, key=lambda s: (s.n, s.block)):  # fixed order: sums never depend on the split
        by_n.setdefault(s.n, []).append(s)
    k = len(spec.pairs)
    P = len(spec.sequences[0])
    levels = sorted(spec.arms)
    estimates: list[PowerEstimate] = []
    sdw, iccs, failed, singular = [], [], [], []
    for n_ in ns:
        parts = by_n[n_]
        rejected = np.sum([p.rejected for p in parts], axis=0)
        fitted = sum(p.fitted for p in parts)
        s2r = math.fsum(p.s2_resid_sum for p in parts) / fitted if fitted else math.nan
        s2s = math.fsum(p.s2_subject_sum for p in parts) / fitted if fitted else math.nan
        mean_est = (np.sum([p.est_sum for p in parts], axis=0) / fitted) if fitted else np.full(k, np.nan)
        sd = math.sqrt(s2r) if fitted else math.nan
        sdw.append(sd)
        iccs.append(s2s / (s2s + s2r) if fitted else math.nan)
        failed.append(spec.sims - fitted)
        singular.append(sum(p.singular for p in parts))
        n_eff = math.floor(n_ * (1.0 - spec.dropout))
        means = np.array([0.0] + [-float(mean_est[spec.pairs.index(f"{levels[0]} - {b}")]) for b in levels[1:]])
        a_omni = _analytic_omnibus(n_eff, means, sd, spec.alpha, P)
        for j, test in enumerate(("omnibus", *spec.pairs)):
            p = float(rejected[j]) / spec.sims
            if j == 0:
                analytic, est = a_omni, math.nan
            else:
                est = float(mean_est[j - 1])
                analytic = _analytic_pair(n_eff, est, sd, spec.alpha, P, k)
            estimates.append(PowerEstimate(n=n_, contrast=test, rejections=int(rejected[j]), sims=spec.sims,
                                           power=p, mc_se=math.sqrt(p * (1.0 - p) / spec.sims),
                                           analytic_power=float(analytic), mean_estimate=est))
    method = ("noncentral t / F at the simulated mean differences and residual SD, "
              "df (n'-2)(P-1), n' = floor(n (1 - dropout))" + (", Sidak over pairs" if k > 1 else ""))
    return PowerResult(
        protocol_id=spec.protocol.study.id, endpoint=spec.protocol.primary_endpoint.name, n=ns, sims=spec.sims,
        seed=spec.entropy, alpha=spec.alpha, model=spec.model, df_method=spec.df_method, dropout=spec.dropout,
        missing=spec.missing, effects=effects_of,
        contrasts=spec.pairs, estimates=tuple(estimates), sd_within=tuple(sdw), icc=tuple(iccs),
        failed=tuple(failed), singular=tuple(singular), analytic_method=method)
