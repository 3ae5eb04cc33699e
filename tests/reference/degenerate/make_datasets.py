"""Write the datasets of tests/reference/degenerate/ (run from the repository root):

    PYTHONPATH=src python tests/reference/degenerate/make_datasets.py

Both are responder outcomes of the demo trial (``ketapain demo --seed 20200154``: the simulated
KETAPAIN trial with 20 patients) at day 7, one row per patient x period with the period's
sequence (columns subject, period, sequence, treatment, y; a period whose responder status is
unknown is left out):

* ``demo_d7_immpact30.csv``: IMMPACT-30 responders, an ordinary estimable GLMM;
* ``demo_d7_immpact50.csv``: IMMPACT-50 responders, the issue-19 case: 9 events, 4 patients
  with any, the KM arm's events only in a patient with all events, so within patients KM is
  quasi-separated and glmer "fits" an odds ratio near 1e-35 with a patient variance near 8,000;
* ``demo_d7_improved.csv``, ``demo_d35_immpact50.csv``: responders whose sequences include one
  with no responder or only responders (sequence separates those patients' rows): glmer drives
  that sequence coefficient to ~+/-33 and the treatment estimates converge to the fit without
  those rows (the analysis's "nuisance separation" limit);
* ``demo_auc_d35.csv``: the primary endpoint (AUC of average pain to day 35, LOCF) per patient
  x period, for the model-based effect size ``d_model`` against lmer + emmeans.
"""

from __future__ import annotations

from pathlib import Path

from ketapain.analysis import run_analysis
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial

HERE = Path(__file__).resolve().parent


def main() -> None:
    proto = load_protocol("ketapain")
    data = simulate_trial(proto, n_patients=20, seed=20200154)
    res = run_analysis(data, proto, seed=20200154, sensitivity=False)
    rp = res.responder_patients
    rp = rp.merge(data.allocation[["patient_id", "period", "sequence"]], on=["patient_id", "period"])
    for day, definition in ((7, "immpact30"), (7, "immpact50"), (7, "improved"), (35, "immpact50")):
        out = rp.loc[rp["day"] == day, ["patient_id", "period", "sequence", "treatment", definition]].dropna()
        out = out.rename(columns={"patient_id": "subject", definition: "y"}).astype({"y": "int64"})
        out.to_csv(HERE / f"demo_d{day}_{definition}.csv", index=False)
    auc = res.patient_auc[res.patient_auc["endpoint"] == "auc_avg_pain_d35"]
    auc = auc[["patient_id", "period", "sequence", "treatment", "auc"]].rename(columns={"patient_id": "subject", "auc": "y"})
    auc.to_csv(HERE / "demo_auc_d35.csv", index=False)


if __name__ == "__main__":
    main()
