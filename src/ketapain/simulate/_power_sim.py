"""One seed block of a power simulation: simulate trials, compute the primary AUC, fit them all.

A *block* is :func:`trials_per_block` trials of one sample size ``n`` (500, fewer for large
trials), drawn from its own random stream ``SeedSequence(entropy, spawn_key=(n, b))`` (the
``b``-th child of the ``n``-th child of ``SeedSequence(entropy)``) and fitted by one call of the
batched engine. Blocks are the unit of randomness and of computation; tasks (chunks) are runs
of whole blocks. So neither the chunk size nor the number of workers can change a single bit
of the result.

Everything here is a plain function of picklable inputs, so that a Dask worker can run it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ketapain.errors import SingularFitWarning
from ketapain.protocol import Protocol
from ketapain.simulate._diary import simulate_item_block
from ketapain.simulate._params import ArmEffect, Parameters
from ketapain.stats import auc_day_major, degenerate_mask, fit_crossover_arrays

__all__ = ["BLOCK_DIARY_DAYS", "BlockSummary", "Spec", "TRIALS_PER_BLOCK", "block_trials", "run_blocks",
           "trials_per_block"]

TRIALS_PER_BLOCK = 500
"""Most trials per seed block (the unit of randomness and of one batched fit)."""
BLOCK_DIARY_DAYS = 2_000_000
"""Most diary days (trials x n x periods x days) of one block, unless one trial has more (~160 MB of arrays)."""


def trials_per_block(n: int, periods: int, days: int) -> int:
    """Trials of each seed block of sample size ``n``: ``min(500, max(1, 2,000,000 // (n P D)))``.

    KETAPAIN (3 periods x 35 diary days): 500 trials up to n = 38, 190 at n = 100.
    """
    return max(1, min(TRIALS_PER_BLOCK, BLOCK_DIARY_DAYS // (n * periods * days)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """Everything a worker needs to simulate and analyse blocks (picklable)."""

    protocol: Protocol
    parameters: Parameters                # simulator parameters (the diary kernel reads diary, pre_infusion, missing)
    entries: tuple[ArmEffect, ...]        # effect curve of each protocol arm
    arms: tuple[str, ...]                 # protocol arm codes (index = treatment code)
    sequences: tuple[tuple[str, ...], ...]  # the design's sequences (arm codes per period)
    block_size: int                       # randomisation block (a multiple of len(sequences))
    entropy: int
    sims: int
    dropout: float
    missing: str
    model: Literal["standard", "paper"]
    df_method: Literal["kenward-roger", "satterthwaite", "containment", "normal"]
    alpha: float
    value: str                            # diary item of the primary endpoint
    window: int
    impute: Literal["none", "locf", "linear"]
    time_axis: Literal["infusion", "first_diary_day"]
    pairs: tuple[str, ...]                # contrast labels, as the batched engine names them


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockSummary:
    """Sums over the trials of one block (merged in block order by the caller)."""

    n: int
    block: int
    trials: int
    rejected: np.ndarray        # (1 + n_pairs,) int: omnibus, then pairs (Sidak)
    est_sum: np.ndarray         # (n_pairs,) sum of contrast estimates over fitted trials
    fitted: int                 # trials with a fit
    singular: int
    s2_resid_sum: float
    s2_subject_sum: float


def block_trials(sims: int, block: int, per_block: int) -> int:
    """Trials of block ``block`` (of ``per_block`` trials) kept in a run of ``sims`` trials (the
    last one may be partial)."""
    return int(min(per_block, sims - block * per_block))


def _allocate(spec: Spec, rng: np.random.Generator, T: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sequence index (T, n) by permuted blocks of the design's sequences, and arm index (T, n, P)."""
    S = len(spec.sequences)
    bs = spec.block_size
    n_blocks = -(-n // bs)
    content = np.tile(np.arange(S), bs // S)
    keys = rng.random((T, n_blocks, bs))
    seq = content[np.argsort(keys, axis=-1)].reshape(T, n_blocks * bs)[:, :n]
    code = {a: i for i, a in enumerate(spec.arms)}
    table = np.array([[code[a] for a in s] for s in spec.sequences])  # (S, P)
    return seq, table[seq]


def _simulate_block(spec: Spec, n: int, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUC (T, n, P), sequence index (T, n) and arm index (T, n, P) of one block."""
    alloc_seed, diary_seed, drop_seed = np.random.SeedSequence(spec.entropy, spawn_key=(n, block)).spawn(3)
    P = len(spec.sequences[0])
    T = trials_per_block(n, P, spec.protocol.diary.days_per_period)  # always a whole block: no trial depends on ``sims``
    seq, arm = _allocate(spec, np.random.default_rng(alloc_seed), T, n)
    N = T * n
    infusion = spec.time_axis == "infusion"
    scores, pre = simulate_item_block(spec.protocol, parameters=spec.parameters, arms=spec.entries,
                                      treatment=arm.reshape(N, P), seed=diary_seed, item=spec.value,
                                      missing=spec.missing, pre_infusion=infusion, layout="day")
    auc = auc_day_major(scores, pre, window=spec.window, time_axis=spec.time_axis, impute=spec.impute)  # (N, P)
    if spec.dropout > 0:
        r_drop = np.random.default_rng(drop_seed)
        leaves = r_drop.random(N) < spec.dropout
        last = 1 + np.floor(r_drop.random(N) * (P - 1)).astype(int)  # last completed period 1..P-1
        gone = leaves[:, None] & (np.arange(1, P + 1)[None, :] > last[:, None])
        auc = np.where(gone, np.nan, auc)
    return auc.reshape(T, n, P), seq, arm


def _frame(spec: Spec, auc: np.ndarray, seq: np.ndarray, arm: np.ndarray) -> pd.DataFrame:
    T, n, P = auc.shape
    labels = np.array(["-".join(s) for s in spec.sequences], dtype=object)
    arms = np.array(spec.arms, dtype=object)
    return pd.DataFrame({
        "trial": np.repeat(np.arange(T), n * P),
        "subject": np.tile(np.repeat(np.arange(n), P), T),
        "period": np.tile(np.arange(1, P + 1), T * n),
        "sequence": np.repeat(labels[seq.ravel()], P),
        "treatment": arms[arm.ravel()],
        "auc": auc.ravel(),
    })


def _analyse(spec: Spec, n: int, block: int) -> BlockSummary:
    auc, seq, arm = _simulate_block(spec, n, block)
    T = block_trials(spec.sims, block, auc.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)  # counted below, not an error here
        res = fit_crossover_arrays(auc[:T], arm[:T], seq[:T], levels=spec.arms, model=spec.model,
                                   df_method=spec.df_method, on_error="flag")
    # a fit that converged but trips a degenerate-fit rule is counted as failed, never as a
    # rejection (docs/power.md, "Failed fits")
    ok = res.converged & ~degenerate_mask(estimate=res.estimate, se=res.se, df=res.df, df_den=res.f_df_den,
                                          var_subject=res.sigma2_subject, var_residual=res.sigma2_residual)
    rejected = [int(np.sum(ok & (res.f_p_value < spec.alpha)))]
    est = []
    for pair in spec.pairs:
        j = res.pairs.index(pair)
        rejected.append(int(np.sum(ok & (res.p_sidak[:, j] < spec.alpha))))
        e = res.estimate[:, j]
        est.append(float(np.sum(e[ok & ~np.isnan(e)])))
    s2r = res.sigma2_residual[ok]
    s2s = res.sigma2_subject[ok]
    return BlockSummary(n=n, block=block, trials=T, rejected=np.asarray(rejected, dtype=np.int64),
                        est_sum=np.asarray(est), fitted=int(ok.sum()), singular=int(res.singular[ok].sum()),
                        s2_resid_sum=float(np.sum(s2r)), s2_subject_sum=float(np.sum(s2s)))


def run_blocks(spec: Spec, n: int, blocks: tuple[int, ...]) -> list[BlockSummary]:
    """Simulate and analyse the given blocks of sample size ``n`` (one task)."""
    return [_analyse(spec, n, b) for b in blocks]
