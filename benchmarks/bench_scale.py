"""The 1.05-million-row pipeline: simulate -> AUC -> crossover mixed model, time and peak memory.

Run from the repository root::

    python benchmarks/bench_scale.py [--patients 1000 10000 100000] [--stages all|analysis]

For each number of patients (3 periods x 35 diary days each: 10,000 patients = 1.05 million
diary rows), in a fresh subprocess (so that ``ru_maxrss`` is that size's own peak):

1. ``simulate_trial("ketapain", n_patients=N, seed=1, missing="mcar")`` (the whole TrialData:
   screening, patients, allocation, diary, questionnaires, adverse events, concomitant);
2. ``diary_auc(diary, windows=(35,), impute="locf", anchor=allocation)`` (the primary
   endpoint: trapezoid, infusion axis anchored by pre_infusion_pain, LOCF);
3. ``fit_crossover(auc, outcome="auc", model="paper", df_method="kenward-roger")`` (the
   protocol's analysis without carry-over).

Each stage reports wall time and the process's peak resident memory so far
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, monotone: a stage's own peak shows as an
increase). ``--tracemalloc`` adds the tracemalloc peak of each stage, in a separate run
(tracing slows pandas-heavy code ~10x, so its times are not reported).
``--stages analysis`` skips stage 1 and builds the diary with the array generator instead
(fast path, for 10^5 patients when the full TrialData would be too slow).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings

TRACE = False


def _stage(name: str, fn, out: dict) -> object:
    if TRACE:
        tracemalloc.start()
    t = time.perf_counter()
    value = fn()
    out[f"{name}_s"] = time.perf_counter() - t
    out[f"{name}_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if TRACE:
        out[f"{name}_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return value


def _diary_from_arrays(n: int):
    """Long diary + anchor from the batch generator's diary model (no TrialData)."""
    import numpy as np
    import pandas as pd

    from ketapain.design import protocol_sequences
    from ketapain.protocol import load_protocol
    from ketapain.simulate import arm_effects, load_parameters, simulate_diary
    from ketapain.simulate._power_sim import _allocate

    proto = load_protocol("ketapain")
    params = load_parameters()
    effects = arm_effects(proto, params)
    arms = tuple(effects)
    seqs = protocol_sequences(proto)
    rng = np.random.default_rng(1)

    class _S:  # the two fields _allocate reads
        sequences, block_size = seqs, proto.randomisation.block_size
        arms = proto.arm_codes

    seq, arm = _allocate(_S, rng, 1, n)
    sim = simulate_diary(proto, parameters=params, arms=tuple(effects.values()), treatment=arm[0], rng=rng,
                         missing="mcar")
    diary, pre = sim.items, sim.pre_infusion
    P, D = 3, 35
    long = pd.DataFrame({"patient_id": np.repeat(np.arange(n), P * D),
                         "period": np.tile(np.repeat(np.arange(1, P + 1), D), n),
                         "day": np.tile(np.arange(1, D + 1), n * P), "avg_pain": diary["avg_pain"].ravel()})
    labels = np.array(["-".join(s) for s in seqs], dtype=object)
    alloc = pd.DataFrame({"patient_id": np.repeat(np.arange(n), P), "period": np.tile(np.arange(1, P + 1), n),
                          "sequence": np.repeat(labels[seq[0]], P),
                          "treatment": np.asarray(arms, dtype=object)[arm[0].ravel()],
                          "pre_infusion_pain": pre.ravel()})
    return long, alloc


def run_one(n: int, stages: str) -> dict:
    from ketapain.simulate import simulate_trial
    from ketapain.stats import diary_auc, fit_crossover

    out: dict = {"patients": n, "diary_rows": n * 3 * 35}
    warnings.simplefilter("ignore")
    if stages == "all":
        data = _stage("simulate", lambda: simulate_trial("ketapain", n_patients=n, seed=1, missing="mcar"), out)
        diary, alloc = data.diary, data.allocation
    else:
        diary, alloc = _stage("simulate", lambda: _diary_from_arrays(n), out)
    auc = _stage("auc", lambda: diary_auc(diary, value="avg_pain", windows=(35,), impute="locf",
                                          anchor=alloc[["patient_id", "period", "pre_infusion_pain"]]), out)
    frame = auc.merge(alloc[["patient_id", "period", "sequence", "treatment"]], on=["patient_id", "period"])
    fit = _stage("fit", lambda: fit_crossover(frame, outcome="auc", subject="patient_id", model="paper",
                                              df_method="kenward-roger"), out)
    out["omnibus_p"] = float(fit.treatment_test.p_value)
    out["total_s"] = out["simulate_s"] + out["auc_s"] + out["fit_s"]
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--stages", choices=("all", "analysis"), default="all")
    ap.add_argument("--tracemalloc", action="store_true")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    global TRACE  # noqa: PLW0603 - a command-line switch of this script
    TRACE = args.tracemalloc
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.stages)))
        return
    rows = []
    for n in args.patients:
        proc = subprocess.run([sys.executable, __file__, "--one", str(n), "--stages", args.stages,
                               *(["--tracemalloc"] if TRACE else [])],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"{n}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        key = "peak_mb" if TRACE else "maxrss_mb"
        print(f"| {n:,} | {r['diary_rows']:,} | {r['simulate_s']:.2f} ({r['simulate_' + key]:.0f} MB) | "
              f"{r['auc_s']:.2f} ({r['auc_' + key]:.0f} MB) | {r['fit_s']:.2f} ({r['fit_' + key]:.0f} MB) | "
              f"{r['total_s']:.2f} | {r['maxrss_mb']:.0f} |", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
