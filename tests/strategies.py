"""Hypothesis strategies shared by the tests (one place, per CONTRIBUTING.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

LETTERS = "ABCD"


def _sequences(n_trt: int, kind: str, rng: np.random.Generator) -> list[str]:
    trts = LETTERS[:n_trt]
    if kind == "latin":  # cyclic Latin square: every treatment once per period
        return ["".join(trts[(i + j) % n_trt] for j in range(n_trt)) for i in range(n_trt)]
    if kind == "williams" and n_trt == 3:
        return ["ABC", "ACB", "BAC", "BCA", "CAB", "CBA"]
    # random orders (at least two distinct sequences)
    seqs = {"".join(rng.permutation(list(trts))) for _ in range(4)}
    while len(seqs) < 2:
        seqs.add("".join(rng.permutation(list(trts))))
    return sorted(seqs)


@st.composite
def crossover_datasets(draw: st.DrawFn) -> pd.DataFrame:
    """Random crossover data: 2-4 treatments, Latin/Williams/random sequences, 6-24 subjects,
    random-intercept SD 0-3, residual SD 0.5-2, up to 15% missing outcomes; plus the
    ``carry`` column (previous treatment, 'none' in period 1) for R."""
    seed = draw(st.integers(0, 2**32 - 1))
    n_trt = draw(st.integers(2, 4))
    kind = draw(st.sampled_from(["latin", "williams", "random"]))
    n_subj = draw(st.integers(6, 24))
    sd_b = draw(st.sampled_from([0.0, 0.3, 1.0, 3.0]))
    sd_e = draw(st.sampled_from([0.5, 1.0, 2.0]))
    missing = draw(st.sampled_from([0.0, 0.05, 0.15]))
    rng = np.random.default_rng(seed)
    seqs = _sequences(n_trt, kind, rng)
    effects = dict(zip(LETTERS, rng.normal(0, 1, 4), strict=True))
    rows = []
    for i in range(n_subj):
        seq = seqs[i % len(seqs)]
        b = rng.normal(0, sd_b)
        prev = "none"
        for k, t in enumerate(seq):
            y = 10 + effects[t] + 0.2 * k + b + rng.normal(0, sd_e)
            rows.append((f"S{i:02d}", k + 1, seq, t, y, prev))
            prev = t
    frame = pd.DataFrame(rows, columns=["subject", "period", "sequence", "treatment", "y", "carry"])
    drop = rng.random(len(frame)) < missing
    frame.loc[drop, "y"] = np.nan
    return frame


def fixed_effects_identified(frame: pd.DataFrame, *, with_period: bool = True) -> bool:
    """Independent check (plain pandas/numpy) that a crossover model is estimable on the rows
    with an observed ``y``: the treatment (+ period) + sequence design has full column rank and
    leaves the subject means some between-subject degrees of freedom."""
    obs = frame.dropna(subset=["y"])
    factors = ["treatment", "period", "sequence"] if with_period else ["treatment", "sequence"]
    X = pd.get_dummies(obs[factors].astype(str), drop_first=True, dtype=float)
    X.insert(0, "intercept", 1.0)
    x = X.to_numpy()
    means = pd.DataFrame(x).groupby(obs["subject"].to_numpy()).mean().to_numpy()
    return bool(np.linalg.matrix_rank(x) == x.shape[1] and np.linalg.matrix_rank(means) < means.shape[0])
